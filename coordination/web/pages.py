"""Small helpers every page uses: pagination with validated page numbers, fetching an
object through the permission core, and carrying service errors onto forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django import forms
from django.core.exceptions import BadRequest, ObjectDoesNotExist, ValidationError
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from coordination import audit
from coordination.permissions import PermissionDenied

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from coordination.models import User

M = TypeVar("M", bound=Model)

PAGE_SIZE = 25


class AuthenticatedHttpRequest(HttpRequest):
    """The request a view behind ``login_required`` receives: its ``user`` is a signed-in
    person, never ``AnonymousUser``. For type checking only (Django gives every request
    the same class): annotate such views with it instead of casting ``request.user``."""

    user: User
    htmx: HtmxDetails  # django-htmx's middleware sets it on every request


def paginate(
    request: HttpRequest, queryset: QuerySet[Any], per_page: int = PAGE_SIZE, param: str = "page"
) -> Page:
    """The requested page; a page number that is not a positive whole number, or past the
    end, is a clear 400 error rather than a silently different page. ``param`` names the
    query parameter, for pages that show several lists."""
    raw = request.GET.get(param, "1")
    if not raw.isdigit() or int(raw) < 1:
        raise BadRequest("The page number must be a whole number of at least 1.")
    paginator = Paginator(queryset, per_page)
    number = int(raw)
    if number > paginator.num_pages:
        raise BadRequest(f"There are only {paginator.num_pages} pages.")
    return paginator.page(number)


def filter_list(request: HttpRequest, filterset: Any) -> QuerySet[Any]:
    """What a list page (and its CSV export) shows: the filterset's queryset, filtered
    when the query string holds anything but the page number; a bad filter is a 400 that
    names each wrong parameter."""
    if not (request.GET.keys() - {"page"}):
        return filterset.queryset
    if not filterset.is_valid():
        problems = "; ".join(
            f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items()
        )
        raise BadRequest(f"Invalid filter — {problems}")
    return filterset.qs


def query_without_page(request: HttpRequest) -> str:
    """The query string without the page number (for pagination and export links)."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def visible_or_404(queryset: QuerySet[M], user: Any, pk: Any, action: str = "view") -> M:
    """The object if the person may ``action`` it; otherwise "not found" — the same answer
    whether it exists or not, so hidden objects do not leak. An existing object refused
    this way is recorded in the audit trail."""
    try:
        found = queryset.restrict(user, action).get(pk=pk)  # type: ignore[attr-defined]
    except (ObjectDoesNotExist, ValueError, TypeError):
        found = None
    return or_404(found, user, queryset.model, pk)


def or_404(found: M | None, user: Any, model: type[M], pk: Any) -> M:
    """``found``, the object ``pk`` as a read that lets through only what the person may
    see found it; when it found nothing, "not found", recorded as ``visible_or_404``
    records it."""
    if found is None:
        audit.record_hidden_object(actor=user, model=model, pk=pk)
        raise Http404("Not found.")
    return found


def apply_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: keyed messages on their fields when
    the form has them, the rest at the top of the form."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


def run_service(form: forms.BaseForm, call: Callable[[], Any]) -> Any:
    """Call a service; on ValidationError record it on the form and return None."""
    try:
        return call()
    except ValidationError as error:
        apply_errors(form, error)
        return None


class PermissionDeniedMiddleware:
    """Turns the core's PermissionDenied (raised by services) into a 403 page that says why."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DjangoPermissionDenied):
            # Django's own refusal: recorded, then answered by its 403 handler
            audit.record_refusal(actor=request.user, reason=str(exception))
            return None
        if not isinstance(exception, PermissionDenied):
            return None
        explanation = exception.explanation
        reason = getattr(explanation, "reason", None) or str(explanation)
        audit.record_refusal(actor=request.user, reason=reason, obj=exception.obj)
        response = TemplateResponse(request, "403.html", {"reason": reason}, status=403)
        return response.render()


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 page that says what was wrong (Django's default shows no reason)."""
    response = TemplateResponse(request, "400.html", {"exception": str(exception)}, status=400)
    return response.render()
