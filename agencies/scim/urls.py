"""``/scim/v2/`` (wired in the project's URLconf)."""

from django.urls import path

from . import views

app_name = "scim"

urlpatterns = [
    path(
        "ServiceProviderConfig",
        views.ServiceProviderConfig.as_view(),
        name="service-provider-config",
    ),
    path("ResourceTypes", views.ResourceTypes.as_view(), name="resource-types"),
    path("ResourceTypes/<str:name>", views.ResourceTypes.as_view(), name="resource-type"),
    path("Schemas", views.Schemas.as_view(), name="schemas"),
    path("Schemas/<str:schema_id>", views.Schemas.as_view(), name="schema"),
    path("Users", views.Users.as_view(), name="users"),
    path("Users/<str:pk>", views.UserDetail.as_view(), name="user"),
]
