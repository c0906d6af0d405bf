"""Django admin for the core (people, audit trail) and the admin machinery every app uses.

The admin obeys the same rules as the rest of Concord:

* lists and pages show only what the permission core lets the viewer see
  (``Model.objects.restrict(user, "view")`` wherever a policy is registered), so a portal
  administrator sees nothing inside task forces, as everywhere else;
* every change that has rules goes through its service: forms save by calling the
  service (:class:`ServiceFormMixin`), lifecycle moves are admin actions that call the
  service and report refusals as messages (:func:`apply_each`, :func:`reason_action`);
* nothing is deleted through the admin: records end through their lifecycle instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models, transaction
from django.db.models import F, FilteredRelation, Q
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.backends.base import BaseEngine
from django.template.response import TemplateResponse

from .models import (
    ApiToken,
    AuditEvent,
    Event,
    IdempotencyKey,
    LiveChange,
    Notification,
    NotificationPreference,
    OutboundEmail,
    UsedLink,
    User,
    UserSession,
)
from .permissions import PermissionDenied, policy_for, restrict
from .validators import REASON_LENGTH
from .web.forms import prose_field

# --- shared machinery ------------------------------------------------------------------


def acting_user(request: HttpRequest) -> User:
    """The signed-in person behind an admin request (the admin lets in only signed-in staff)."""
    return cast(User, request.user)


def describe(error: Exception) -> str:
    """A refusal from a service, as one sentence for an admin message."""
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, PermissionDenied):
        explanation = error.explanation
        return getattr(explanation, "reason", "") or str(explanation)
    return str(error)


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names when the form
    has that field, otherwise at the top of the form (with the field's name)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, field_messages in error.message_dict.items():
        if field in form.fields:
            form.add_error(field, field_messages)
        elif field == NON_FIELD_ERRORS:
            form.add_error(None, field_messages)
        else:
            label = field.replace("_", " ").capitalize()
            form.add_error(None, [f"{label}: {message}" for message in field_messages])


@functools.cache
def _engine() -> BaseEngine:
    return engines["django"]


@functools.cache
def _change_list_with_description() -> Any:
    # Built from a string so the apps need no template files of their own for it.
    return _engine().from_string(
        '{% extends "admin/change_list.html" %}{% load static %}'
        # no style attribute: the Content Security Policy refuses inline styles
        "{% block extrastyle %}{{ block.super }}"
        '<link rel="stylesheet" href="{% static \'css/admin.css\' %}">{% endblock %}'
        "{% block content_subtitle %}{{ block.super }}"
        '<p class="help concord-description">{{ concord_description }}</p>'
        "{% endblock %}"
    )


class ConcordModelAdmin(admin.ModelAdmin):
    """The base of every Concord admin: permission-filtered lists, no deletion, and an
    optional ``description`` shown above the list (say where changes are made)."""

    description: str = ""

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return self.permitted(super().get_queryset(request), request.user)

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        """What the viewer may see, from the permission core when the model has a policy."""
        try:
            policy_for(queryset.model)
        except LookupError:
            return queryset
        return restrict(queryset, user, "view")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @property
    def change_list_template(self) -> Any:  # type: ignore[override]
        return _change_list_with_description() if self.description else None

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"concord_description": self.description, **(extra_context or {})}
        return super().changelist_view(request, context)


class ReadOnlyAdmin(ConcordModelAdmin):
    """A record the admin only shows: it is made and changed elsewhere (see ``description``)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ServiceFormMixin:
    """Save the admin's add and change forms through a service.

    The service runs when the form is validated (inside the admin's transaction, in a
    savepoint), so a refusal becomes form errors and nothing is saved; the admin then
    logs and redirects with the object the service returned. Subclasses implement
    :meth:`save_through_service`.
    """

    def save_through_service(
        self, request: HttpRequest, form: forms.ModelForm, change: bool
    ) -> models.Model:
        raise NotImplementedError

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        base: type[forms.ModelForm] = super().get_form(  # type: ignore[misc]
            request, obj, change=change, **kwargs
        )
        model_admin = self

        class ServiceForm(base):  # type: ignore[valid-type,misc]
            service_result: models.Model | None = None

            def _post_clean(self) -> None:
                super()._post_clean()
                if self.errors:
                    return
                try:
                    with transaction.atomic():
                        self.service_result = model_admin.save_through_service(
                            request, self, change
                        )
                except ValidationError as error:
                    add_service_errors(self, error)
                except PermissionDenied as error:
                    self.add_error(None, describe(error))

        ServiceForm.__name__ = base.__name__
        return ServiceForm

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        return form.service_result

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Already saved by the service while the form was validated."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Related objects (many-to-many fields) are the service's business too."""


def apply_each(
    request: HttpRequest,
    objects: Iterable[models.Model],
    call: Callable[[Any], Any],
    *,
    done: str,
) -> int:
    """Call a service for each object, each in its own transaction; report refusals as
    error messages (one per object) and the successes in one message."""
    succeeded = 0
    for obj in objects:
        try:
            call(obj)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, f"{obj}: {describe(error)}")
        else:
            succeeded += 1
    if succeeded:
        messages.success(request, f"{done}: {succeeded}.")
    return succeeded


class ReasonForm(forms.Form):
    reason = prose_field(
        max_length=REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Recorded in the audit trail and told to the people affected.",
    )


REASON_PAGE = """{% extends "admin/base_site.html" %}
{% load l10n admin_urls %}
{% block bodyclass %}{{ block.super }} app-{{ opts.app_label }} model-{{ opts.model_name }}{% endblock %}
{% block breadcrumbs %}<div class="breadcrumbs">
<a href="{% url 'admin:index' %}">Home</a>
&rsaquo; <a href="{% url 'admin:app_list' app_label=opts.app_label %}">{{ opts.app_config.verbose_name }}</a>
&rsaquo; <a href="{% url opts|admin_urlname:'changelist' %}">{{ opts.verbose_name_plural|capfirst }}</a>
&rsaquo; {{ title }}</div>{% endblock %}
{% block content %}
<p>{{ intro }}</p>
<ul>{% for obj in queryset %}<li>{{ obj }}</li>{% endfor %}</ul>
<form method="post">{% csrf_token %}
{% for obj in queryset %}<input type="hidden" name="{{ action_checkbox_name }}" value="{{ obj.pk|unlocalize }}">{% endfor %}
<input type="hidden" name="action" value="{{ action }}">
<fieldset class="module aligned">{% for field in form %}<div class="form-row">
{{ field.errors }}{{ field.label_tag }} {{ field }}
{% if field.help_text %}<div class="help">{{ field.help_text }}</div>{% endif %}</div>{% endfor %}
</fieldset>
<div class="submit-row"><input type="submit" name="apply" value="{{ submit }}" class="default">
<a href="{% url opts|admin_urlname:'changelist' %}" class="button cancel-link">Cancel</a></div>
</form>
{% endblock %}"""


@functools.cache
def _reason_page() -> Any:
    return _engine().from_string(REASON_PAGE)


def reason_action(
    *,
    name: str,
    description: str,
    intro: str,
    call: Callable[..., Any],
    done: str,
) -> Callable[[admin.ModelAdmin, HttpRequest, models.QuerySet[Any]], HttpResponse | None]:
    """An admin action whose service needs a written reason: the first step asks for it
    on a confirmation page, the second calls ``call(obj, by=user, reason=reason)`` for
    each selected object."""

    def action(
        model_admin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet[Any]
    ) -> HttpResponse | None:
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            apply_each(
                request,
                queryset,
                lambda obj: call(obj, by=acting_user(request), reason=reason),
                done=done,
            )
            return None
        context = {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": description,
            "intro": intro,
            "queryset": queryset,
            "form": form,
            "action": name,
            "submit": description,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, _reason_page(), context)

    action.__name__ = name
    return admin.action(description=description, permissions=["change"])(action)


# --- the core's models -----------------------------------------------------------------


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """People. Accounts are created by agency administrators (``add_member``) and portal
    administrators by ``createsuperuser``; agency, roles and access come from memberships
    and role assignments, so only personal details and the password are edited here."""

    ordering = ("last_name", "first_name", "email")
    list_display = (
        "email",
        "first_name",
        "last_name",
        "job_title",
        "agency_name",
        "is_active",
        "is_portal_admin",
    )
    list_filter = ("is_portal_admin", "is_active", "is_staff", "memberships__role")
    search_fields = ("email", "first_name", "last_name", "job_title")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal details", {"fields": ("first_name", "last_name", "job_title", "phone")}),
        (
            "Access (changed through memberships, role assignments and createsuperuser)",
            {
                "fields": (
                    "is_active",
                    "is_portal_admin",
                    "is_staff",
                    "is_superuser",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = (
        "email",
        "is_active",
        "is_portal_admin",
        "is_staff",
        "is_superuser",
        "groups",
        "user_permissions",
        "last_login",
        "date_joined",
    )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[User]:
        # The agency column in the same query: at most one active membership per person.
        return (
            super()
            .get_queryset(request)
            .annotate(
                active_membership=FilteredRelation(
                    "memberships", condition=Q(memberships__is_active=True)
                )
            )
            .annotate(_agency_name=F("active_membership__agency__name"))
        )

    @admin.display(description="agency", ordering="_agency_name")
    def agency_name(self, obj: User) -> str:
        return getattr(obj, "_agency_name", None) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail: appended to by the services, never edited."""

    description = "The audit trail is written by the services and cannot be changed."
    list_display = (
        "created_at",
        "actor_label",
        "actor_agency_label",
        "action",
        "object_type",
        "object_repr",
        "outcome",
    )
    list_filter = ("outcome", "object_type")
    search_fields = ("actor_label", "actor_agency_label", "action", "object_repr", "object_id")
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Notifications are personal: each person sees only their own, here as in their
    notification centre (they may speak of task forces the viewer has no part in)."""

    description = (
        "Your own notifications only: what other people are told is theirs to see. "
        "The notification workers write them."
    )
    list_display = ("title", "kind", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("title",)

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset.filter(recipient_id=user.pk)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The notification outbox, for operators checking that workers keep up. Events name
    objects by kind and id only; their content stays behind the permission core."""

    description = (
        "The outbox of notification events. An event without a dispatch time is waiting "
        "for a worker; the sweeper re-queues any older than a minute."
    )
    list_display = ("created_at", "kind", "object_type", "object_id", "dispatched_at", "attempts")
    list_filter = ("kind",)
    search_fields = ("kind", "object_id", "key")
    fields = ("kind", "key", "object_type", "object_id", "created_at", "dispatched_at", "attempts")
    show_full_result_count = False


@admin.register(LiveChange)
class LiveChangeAdmin(ReadOnlyAdmin):
    """The live pages' outbox, for operators checking that the relay keeps up. Rows name
    objects by kind and id only; who hears of them is decided when they are sent."""

    description = (
        "The outbox of live page changes. A change without a publication time is waiting "
        "for the relay; the sweeper publishes any older than a few seconds."
    )
    list_display = ("created_at", "topic", "object_type", "object_id", "published_at", "attempts")
    list_filter = ("object_type",)
    search_fields = ("topic", "object_id")
    fields = ("topic", "regions", "object_type", "object_id", "created_at", "published_at")
    show_full_result_count = False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    """Preferences are personal: each person sees their own, and sets them in the portal."""

    description = "Your own notification preferences; change them on the Notifications page."
    list_display = ("kind", "delivery")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset.filter(user_id=user.pk)


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    """API tokens are personal: each person sees their own (never a secret: only hashes are
    stored) and creates or revokes them on their tokens page."""

    description = "Your own API tokens. Create and revoke them from the portal's tokens page."
    list_display = ("name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")
    fields = ("name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset.filter(owner_id=user.pk)


@admin.register(UsedLink)
class UsedLinkAdmin(ReadOnlyAdmin):
    """One-time links already used (``coordination.accounts.onetime``): what for, and when. Only a
    digest of each link is kept."""

    description = "One-time links already used. Written when a link is used, never edited."
    list_display = ("purpose", "used_at")
    fields = ("purpose", "digest", "used_at")
    list_filter = ("purpose",)

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset if user.is_portal_admin else queryset.none()


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    """The mail outbox (``coordination.notifications.mail``): what is waiting, what was sent, the last
    error. The body is not shown: it may hold a one-time link."""

    description = (
        "E-mails on their way out. The workers send and retry them; nothing is edited here."
    )
    list_display = ("subject", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    fields = (
        "message_id",
        "to",
        "subject",
        "status",
        "attempts",
        "claimed_at",
        "sent_at",
        "last_error",
        "created_at",
    )

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset if user.is_portal_admin else queryset.none()


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    """API create requests' Idempotency-Key values while they are kept (not the answers)."""

    description = "Idempotency keys of API creates, kept until they expire."
    list_display = ("user", "key", "status_code", "created_at", "expires_at")
    fields = ("user", "key", "status_code", "created_at", "expires_at")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset if user.is_portal_admin else queryset.none()


@admin.register(UserSession)
class UserSessionAdmin(ReadOnlyAdmin):
    """Browser sessions, with whose they are (the session engine keeps the person's id
    beside each): portal administrators see that someone is signed in and until when,
    never what the session holds."""

    description = (
        "Browser sessions and whose they are. Ended by signing out, by expiry, or at once "
        "when an agency's identity provider deactivates the person (SCIM)."
    )
    list_display = ("session_key_start", "user_id", "expire_date")
    fields = ("user_id", "expire_date")

    @admin.display(description="session")
    def session_key_start(self, obj: UserSession) -> str:
        return f"{obj.session_key[:6]}…"  # the key itself signs a browser in: never shown

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset if user.is_portal_admin else queryset.none()
