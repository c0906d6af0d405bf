"""The API's URLs, included at /api/ by the project's URLconf:

* ``/api/v1/...`` — the resources (the apps' routes and the core's own);
* ``/api/schema/`` — the OpenAPI 3 schema; ``/api/docs/`` — its documentation, served
  from this server's static files (no CDN);
* anything else under /api/ — 404 in the API's error shape.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from . import views
from .errors import not_found

app_name = "api"

router = SimpleRouter()
router.register("notifications", views.NotificationViewSet, basename="notification")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")

urlpatterns = [
    path("v1/", include("agencies.api.urls")),
    path("v1/", include("taskforces.api.urls")),
    path("v1/", include("mutualaid.api.urls")),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves the page's own script from this URL (?script) instead of inline,
    # so the documentation keeps the Content Security Policy with no exception.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^", not_found),
]
