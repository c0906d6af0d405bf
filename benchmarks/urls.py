"""The benchmark's URLconf (``coordination.settings.benchmark`` only): every production URL,
plus ``/bench/bare/``, a Django view doing one query, the yardstick the API's
requests per second are compared with. Production's URLconf is unchanged."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from agencies.models import Agency
from coordination.urls import handler400
from coordination.urls import urlpatterns as concord_urlpatterns

__all__ = ["handler400", "urlpatterns"]


def bare(request: HttpRequest) -> JsonResponse:
    """One indexed query and a small JSON answer, through the same middleware."""
    first = Agency.objects.order_by("pk").values_list("pk", "name").first()
    return JsonResponse({"agency": list(first) if first else None})


urlpatterns = [path("bench/bare/", bare, name="bench-bare"), *concord_urlpatterns]
