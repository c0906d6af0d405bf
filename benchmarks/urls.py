"""The benchmark's URLconf (``coordination.settings.benchmark`` only): every production URL,
plus two bare views, the yardsticks the app's requests per second are compared with:

* ``/bench/bare/``: one indexed read and a small JSON answer;
* ``/bench/bare-insert/`` (POST): one row inserted into a benchmark-only table and a small
  JSON answer.

Both pass through the same middleware as every other request (sessions, CSRF, sign-in,
audit context, ...); the insert is CSRF-exempt as token-authenticated API calls are.
Production's URLconf is unchanged."""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from agencies.models import Agency
from coordination.urls import handler400, handler403, handler404, handler500
from coordination.urls import urlpatterns as concord_urlpatterns

from .models import BareRow

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def bare(request: HttpRequest) -> JsonResponse:
    """One indexed query and a small JSON answer, through the same middleware."""
    first = Agency.objects.order_by("pk").values_list("pk", "name").first()
    return JsonResponse({"agency": list(first) if first else None})


@csrf_exempt  # as the API's token-authenticated writes are (DRF views are CSRF-exempt)
@require_POST
def bare_insert(request: HttpRequest) -> JsonResponse:
    """One INSERT of one row and a small JSON answer, through the same middleware."""
    row = BareRow.objects.create(note="bare insert")
    return JsonResponse({"id": row.pk}, status=201)


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("bench/bare-insert/", bare_insert, name="bench-bare-insert"),
    *concord_urlpatterns,
]
