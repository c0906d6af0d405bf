"""URL configuration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path

from taskforces.views import dashboard


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness check for load balancers and docker-compose."""
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("healthz/", healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("notifications/", include("coordination.notification_urls")),
    path("", include("agencies.urls")),
    path("", include("taskforces.urls")),
]
