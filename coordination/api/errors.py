"""One error shape for every failure the API answers::

    {"error": {"status": 400, "code": "invalid", "message": "...",
               "fields": {"name": ["This field is required."]}}}

``fields`` names the request fields (or query parameters) that were wrong; it is empty
when the error is not about particular fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ObjectDoesNotExist,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from coordination import audit
from coordination.permissions import PermissionDenied
from coordination.web import pages

NON_FIELD_KEY = "non_field_errors"


def _text(value: str) -> str:
    """``value`` as text that can be encoded: a lone surrogate echoed from a request (a
    field name, a refused choice) is written as its escape, ``\\ud800``."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(
    status_code: int, code: str, message: str, fields: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "status": status_code,
            "code": code,
            "message": _text(message),
            "fields": {
                _text(field): [_text(str(m)) for m in messages]
                for field, messages in (fields or {}).items()
            },
        }
    }


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error details as ``{"field": [...], "items.0": [...]}``."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = NON_FIELD_KEY if key in (NON_FIELD_ERRORS, "non_field_errors") else str(key)
            for field, messages in _flatten(value, f"{prefix}{name}.").items():
                flat.setdefault(field, []).extend(messages)
        return flat
    key = prefix[:-1] if prefix else NON_FIELD_KEY
    if isinstance(detail, list):
        if any(isinstance(item, (Mapping, list)) for item in detail):
            flat = {}
            for index, item in enumerate(detail):
                if not item:
                    continue
                if isinstance(item, (Mapping, list)):
                    for field, messages in _flatten(item, f"{prefix}{index}.").items():
                        flat.setdefault(field, []).extend(messages)
                else:
                    flat.setdefault(key, []).append(str(item))
            return flat
        return {key: [str(item) for item in detail]}
    return {key: [str(detail)]}


def _summary(fields: Mapping[str, list[str]]) -> str:
    messages = [message for values in fields.values() for message in values]
    if not messages:
        return "The request is not valid."
    if len(messages) == 1:
        return messages[0]
    return "The request is not valid: " + " ".join(messages)


def _django_validation_fields(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            (NON_FIELD_KEY if field == NON_FIELD_ERRORS else field): list(messages)
            for field, messages in error.message_dict.items()
        }
    return {NON_FIELD_KEY: list(error.messages)}


def _record_refusal(context: Mapping[str, Any], message: str, obj: Any) -> None:
    """A refusal, in the audit trail (the refused service's transaction has rolled back)."""
    request = context.get("request")
    if request is not None:
        audit.record_refusal(actor=request.user, reason=message, obj=obj)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every error the API raises, in the one shape.

    Services speak Django (``ValidationError``) and the permission core
    (``PermissionDenied``, whose explanation gives the reason); both are translated here
    so no view needs to catch them."""
    headers: dict[str, str] = {}
    fields: dict[str, list[str]] = {}
    status_code: int
    code: str
    message: str
    if isinstance(exc, DjangoValidationError):
        status_code, code = status.HTTP_400_BAD_REQUEST, "invalid"
        fields = _django_validation_fields(exc)
        message = _summary(fields)
    elif isinstance(exc, PermissionDenied):
        status_code, code = status.HTTP_403_FORBIDDEN, "permission_denied"
        explanation = exc.explanation
        message = getattr(explanation, "reason", None) or str(explanation)
        _record_refusal(context, message, exc.obj)
    elif isinstance(exc, (Http404, ObjectDoesNotExist)):
        status_code, code, message = status.HTTP_404_NOT_FOUND, "not_found", "Not found."
    elif isinstance(exc, DjangoPermissionDenied):
        status_code, code = status.HTTP_403_FORBIDDEN, "permission_denied"
        message = str(exc) or "You may not do this."
        _record_refusal(context, message, None)
    elif isinstance(exc, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        # the request-size limits in settings (DATA_UPLOAD_MAX_*), met while reading the body
        status_code, code = status.HTTP_400_BAD_REQUEST, "invalid"
        message = "The request body is too large (at most 1 MiB), or carries a file."
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        if isinstance(exc, exceptions.ValidationError):
            code = "invalid"
            fields = _flatten(exc.detail)
            message = _summary(fields)
        else:
            detail = exc.detail
            code = str(
                detail.code if isinstance(detail, exceptions.ErrorDetail) else exc.default_code
            )
            message = str(detail)
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            authenticate_header = context.get("view") and context["view"].get_authenticate_header(
                context["request"]
            )
            if authenticate_header:
                headers["WWW-Authenticate"] = authenticate_header
            else:  # pragma: no cover - the token authenticator always offers a challenge
                status_code = status.HTTP_403_FORBIDDEN
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            headers["Retry-After"] = str(int(wait))
    else:
        return None  # a real bug: let Django answer 500 and log it
    set_rollback()
    return Response(
        error_body(status_code, code, message, fields), status=status_code, headers=headers
    )


# --- answers made outside DRF: Django's error handlers and middleware ------------------------

API_PREFIX = "/api/"

# What a status means, for answers whose maker said nothing more (a server error, Django's
# own refusals before any view runs).
GENERIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid", "The request is not valid."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You may not do this."),
    404: ("not_found", "Not found."),
    405: ("method_not_allowed", "This method is not allowed here."),
    500: ("server_error", "A server error occurred."),
}


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def generic_error_content(status_code: int) -> bytes:
    """The error shape for a bare status: a code and a sentence, no detail of the cause
    (which goes to the log, never to the client)."""
    code, message = GENERIC_ERRORS.get(status_code, ("", ""))
    if not code:
        phrase = HTTPStatus(status_code).phrase
        code, message = phrase.lower().replace(" ", "_").replace("-", "_"), f"{phrase}."
    return JSONRenderer().render(error_body(status_code, code, message))


def json_error(status_code: int) -> HttpResponse:
    return HttpResponse(
        generic_error_content(status_code), status=status_code, content_type="application/json"
    )


class JsonErrorMiddleware:
    """Outermost middleware: an error answer under /api/ that is not JSON (Django's 500
    page after an unexpected exception in a view or a middleware, its debug pages, a
    refusal made by a view that renders HTML or YAML) becomes the error shape, with the
    same status and headers. Exceptions raised outside it reach the handlers below."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_request(request)
            and not response.streaming
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            response.content = generic_error_content(response.status_code)
            response["Content-Type"] = "application/json"
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response


def _page_or_json(
    status_code: int, page: Callable[..., HttpResponse]
) -> Callable[..., HttpResponse]:
    def handler(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if is_api_request(request):
            return json_error(status_code)
        return page(request, *args, **kwargs)

    handler.__name__ = f"handler{status_code}"
    handler.__doc__ = (
        f"Django's handler{status_code}: JSON under /api/, the portal's page elsewhere."
    )
    return handler


bad_request = _page_or_json(400, pages.bad_request)
permission_denied = _page_or_json(403, defaults.permission_denied)
page_not_found = _page_or_json(404, defaults.page_not_found)
server_error = _page_or_json(500, defaults.server_error)


@csrf_exempt  # an answer, not a form: there is nothing here to forge a request to
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any path under /api/ that names no resource: the same 404, byte for byte, as for an
    object that does not exist."""
    content = JSONRenderer().render(error_body(404, "not_found", "Not found."))
    return HttpResponse(content, status=404, content_type="application/json")


# --- the shape, for the schema -------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    """What went wrong: the HTTP status, a machine-readable code, a sentence for people,
    and the fields (or query parameters) at fault."""

    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # declared here because a class attribute named "fields" would shadow DRF's own
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Messages per field or query parameter; empty when none applies.",
        )
        return fields


class ErrorSerializer(serializers.Serializer):
    """Every error response's body."""

    error = ErrorDetailSerializer()
