"""The mutual aid pages (namespace ``mutualaid``)."""

from django.urls import path

from . import views

app_name = "mutualaid"

urlpatterns = [
    path("task-forces/<int:pk>/mutual-aid/", views.request_list, name="list"),
    path("task-forces/<int:pk>/mutual-aid/new/", views.request_create, name="create"),
    path("task-forces/<int:pk>/mutual-aid/export.csv", views.requests_csv, name="csv"),
    path("resource-requests/<int:pk>/", views.request_detail, name="request"),
    path("resource-requests/<int:pk>/offer/", views.offer_create, name="offer"),
    path("resource-requests/<int:pk>/cancel/", views.request_cancel, name="cancel"),
    path("resource-requests/<int:pk>/ics-213rr/", views.ics_213rr, name="ics-213rr"),
    path("resource-offers/<int:pk>/accept/", views.offer_accept, name="accept"),
    path("resource-offers/<int:pk>/decline/", views.offer_decline, name="decline"),
    path("resource-offers/<int:pk>/withdraw/", views.offer_withdraw, name="withdraw"),
    path("commitments/<int:pk>/step/", views.commitment_step, name="commitment-step"),
    path("mutual-aid/capabilities/", views.capabilities, name="capabilities"),
    path(
        "mutual-aid/capabilities/<int:pk>/remove/",
        views.capability_remove,
        name="capability-remove",
    ),
]
