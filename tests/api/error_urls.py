"""A test-only URLconf: the project's URLs plus views that fail in ways no production
view should, to see what the API answers when something goes wrong unexpectedly."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coordination import urls as project


class Unexpected(Exception):
    """A bug: nothing catches it."""


def crash(request: HttpRequest) -> HttpResponse:
    raise Unexpected("SECRET-DETAIL in a plain Django view")


class CrashingApiView(APIView):
    def get(self, request: Request) -> Response:
        raise Unexpected("SECRET-DETAIL in a DRF view")


urlpatterns = [
    path("api/v1/crash/", crash),
    path("api/v1/crash-drf/", CrashingApiView.as_view()),
    path("crash/", crash),
    *project.urlpatterns,
]

handler400 = project.handler400
handler403 = project.handler403
handler404 = project.handler404
handler500 = project.handler500
