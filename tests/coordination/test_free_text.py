"""Every free-text field and every plan date, wherever input arrives (models, page forms,
API serializers), refuses control characters, direction overrides in names and titles,
over-long text and absurd dates (coordination/validators.py; docs/input.md).

The fields are found by walking the project, not listed by hand: a new model field, form
field or serializer field without the checks fails here. Fields the portal writes itself
(hashes, audit entries, notifications it composes) are named in ``SYSTEM_WRITTEN`` with
the reason; each must exist, so the list cannot rot.
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from rest_framework import serializers

from coordination.api.representation import ReadSerializer
from coordination.validators import EARLIEST_DAY, latest_day

APPS = ("coordination", "agencies", "taskforces")

# Model fields no person types: the portal fills them itself.
SYSTEM_WRITTEN = {
    "taskforces.TimelineEntry.action": "an action code",
    "taskforces.TimelineEntry.actor_label": "copied from the person at the time",
    "taskforces.TimelineEntry.object_type": "a model label",
    "taskforces.TimelineEntry.summary": "the code's words for the action",
    "taskforces.TimelineEntry.significant_at": "the moment it was marked significant",
    "taskforces.HandoverBrief.acknowledged_at": "the moment it was acknowledged",
    "coordination.User.password": "a password hash",
    "coordination.AuditEvent.actor_label": "copied from the person at the time",
    "coordination.AuditEvent.actor_agency_label": "copied from the agency at the time",
    "coordination.AuditEvent.action": "an action code",
    "coordination.AuditEvent.object_type": "a model label",
    "coordination.AuditEvent.object_id": "a primary key",
    "coordination.AuditEvent.object_repr": "str() of the object, already validated",
    "coordination.AuditEvent.user_agent": "a request header, truncated, shown escaped",
    "coordination.AuditEvent.prev_hash": "a hash",
    "coordination.AuditEvent.hash": "a hash",
    "coordination.Event.kind": "an event code",
    "coordination.Event.key": "an idempotency key the code builds",
    "coordination.Event.object_type": "a model label",
    "coordination.Event.object_id": "a primary key",
    "coordination.Notification.kind": "a notification code",
    "coordination.Notification.title": "composed from validated names and titles",
    "coordination.Notification.body": "composed from validated text",
    "coordination.Notification.link": "a URL the code reverses",
    "coordination.Notification.group_key": "a code",
    "coordination.NotificationPreference.kind": "a notification code",
    "coordination.ApiToken.prefix": "generated",
    "coordination.ApiToken.key_hash": "a hash",
    "taskforces.CalendarFeed.key_hash": "a hash",
    "taskforces.CalendarFeed.prefix": "generated",
    "taskforces.RoleTemplate.slug": "the catalogue's code (SlugField refuses the rest)",
    "agencies.AgreementCoverage.valid_from": "copied from the agreement by triggers",
    "agencies.AgreementCoverage.valid_until": "copied from the agreement by triggers",
    "coordination.Notification.email_bundle": "a bundle's name, which the code builds",
    "coordination.UsedLink.purpose": "a code",
    "coordination.UsedLink.digest": "a hash",
    "coordination.OutboundEmail.message_id": "generated when the e-mail is queued",
    "coordination.OutboundEmail.from_email": "the portal's sender address",
    "coordination.OutboundEmail.subject": "composed by the code that sends the e-mail",
    "coordination.OutboundEmail.body": "composed by the code that sends the e-mail",
    "coordination.OutboundEmail.last_error": "the mail server's error",
    "coordination.IdempotencyKey.key": "a request header, checked by coordination.api.idempotency",
    "coordination.IdempotencyKey.fingerprint": "a hash",
    "agencies.OffboardingJob.reason": "copied from the validated offboarding reason",
    "agencies.OffboardingJob.error": "a worker's error",
}
# Moments the portal stamps when something happens (not plans people type).
SYSTEM_WRITTEN |= dict.fromkeys(
    [
        "coordination.User.last_login",
        "coordination.User.date_joined",
        "coordination.AuditEvent.created_at",
        "coordination.Event.dispatched_at",
        "coordination.Event.external_sent_at",
        "coordination.Notification.email_claimed_at",
        "coordination.Notification.emailed_at",
        "coordination.Notification.read_at",
        "coordination.ApiToken.expires_at",  # now plus a chosen number of days
        "coordination.ApiToken.last_used_at",
        "coordination.ApiToken.revoked_at",
        "agencies.Agency.status_changed_at",
        "agencies.Membership.ended_at",
        "agencies.SharingAgreement.in_force_at",
        "agencies.SharingAgreement.terminated_at",
        "taskforces.TaskForce.status_changed_at",
        "taskforces.Participation.responded_at",
        "taskforces.RoleAssignment.ended_at",
        "taskforces.RoleAssignment.recertified_at",
        "taskforces.CalendarFeed.last_used_at",
        "taskforces.CalendarFeed.revoked_at",
        "coordination.OutboundEmail.claimed_at",
        "coordination.OutboundEmail.sent_at",
        "coordination.IdempotencyKey.created_at",
        "coordination.IdempotencyKey.expires_at",
        "agencies.OffboardingJob.started_at",
        "agencies.OffboardingJob.finished_at",
    ],
    "a moment the portal stamps",
)

# Forms and serializers that take queries or describe answers, not text to keep.
NOT_INPUT = {
    "coordination.audit.views.AuditFilterForm": "an audit search (filtersets bound it)",
    "coordination.accounts.signin.ResetPasswordOnceForm": "allauth's new-password form: passwords only",
    "taskforces.reports.views.ReportQuery": "a report's query string (numbers and choices)",
    "taskforces.api.serializers.AcknowledgementSerializer": "an answer, never read",
    "coordination.api.errors.ErrorDetailSerializer": "the error shape, for the schema",
    "coordination.api.errors.ErrorSerializer": "the error shape, for the schema",
}

CONTROL = "Harbour\x02plan"
OVERRIDE = "Harbour\u202eplan"
ISOLATE = "Harbour\u2067plan"
BREAK = "Harbour\nplan"
PROSE_OK = "Line one\r\n\tLine two \u202eעברית\u202c and a mark \u200f."
LINE_OK = "\u200fנמל\u200f (N1)"  # fits the shortest field (an acronym)
TOO_EARLY = datetime.date(1999, 12, 31)
TOO_LATE = latest_day() + datetime.timedelta(days=1)
ABSURD = (datetime.date(1, 1, 1), datetime.date(9999, 12, 31), TOO_EARLY, TOO_LATE)


# Modules with no forms or serializers, some of which cannot be imported in tests.
SKIPPED_MODULES = (".migrations", ".management", ".settings", ".wsgi", ".asgi")


def project_modules() -> Iterator[Any]:
    for app in APPS:
        package = importlib.import_module(app)
        yield package
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{app}."):
            if any(part in info.name for part in SKIPPED_MODULES):
                continue
            yield importlib.import_module(info.name)


def project_classes(base: type) -> list[type]:
    found: dict[str, type] = {}
    for module in project_modules():
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, base) and cls.__module__ == module.__name__:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [cls for label, cls in sorted(found.items()) if label not in NOT_INPUT]


def label(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- models ---------------------------------------------------------------------------------


def model_fields(kinds: tuple[type, ...]) -> list[tuple[str, models.Field]]:
    fields = []
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            for field in model._meta.get_fields():
                if not isinstance(field, kinds) or field.choices or not field.editable:
                    continue
                name = f"{model._meta.label}.{field.name}"
                if name not in SYSTEM_WRITTEN:
                    fields.append((name, field))
    return fields


TEXT_FIELDS = model_fields((models.CharField, models.TextField))
DATE_FIELDS = [
    (name, field)
    for name, field in model_fields((models.DateField,))  # DateTimeField is one too
    if not (field.auto_now or field.auto_now_add)
]


def test_the_walk_finds_the_fields_of_the_issue() -> None:
    names = {name for name, _ in TEXT_FIELDS}
    assert {"agencies.Agency.status_reason", "taskforces.Update.body"} <= names
    assert {"taskforces.Objective.title", "coordination.User.first_name"} <= names
    dates = {name for name, _ in DATE_FIELDS}
    assert {"taskforces.Objective.target_date", "agencies.SharingAgreement.valid_until"} <= dates


def test_every_system_written_field_exists() -> None:
    for name in SYSTEM_WRITTEN:
        app_model, field = name.rsplit(".", 1)
        apps.get_model(app_model)._meta.get_field(field)


URL_FIELDS = (models.URLField, forms.URLField, serializers.URLField)


def refuses(check: Any, value: Any, field: Any = None) -> bool:
    """Whether ``check`` refuses ``value``; for a web address field the text is tried as
    the path of an address, so it is the character, not the address's shape, refused."""
    if isinstance(field, URL_FIELDS) and isinstance(value, str):
        value = f"https://example.org/{value}"
    try:
        check(value)
    except (ValidationError, serializers.ValidationError):
        return True
    return False


def run_model_validators(field: models.Field, value: Any) -> None:
    field.run_validators(value)


@pytest.mark.parametrize(("name", "field"), TEXT_FIELDS, ids=[n for n, _ in TEXT_FIELDS])
def test_model_text_field_is_bounded_and_refuses_control_characters(name, field) -> None:
    def check(value: Any) -> None:
        run_model_validators(field, value)

    assert field.max_length, f"{name} has no maximum length"
    assert refuses(check, "x" * (field.max_length + 1), field), f"{name} takes over-long text"
    assert refuses(check, CONTROL, field), f"{name} takes U+0002"
    if isinstance(field, models.TextField):
        assert not refuses(check, PROSE_OK, field), f"{name} refuses ordinary prose"
    else:
        for value in (OVERRIDE, ISOLATE, BREAK):
            assert refuses(check, value, field), f"{name} takes {value!r}"


@pytest.mark.parametrize(("name", "field"), DATE_FIELDS, ids=[n for n, _ in DATE_FIELDS])
def test_model_date_field_is_bounded(name, field) -> None:
    for day in ABSURD:
        value: Any = day
        if isinstance(field, models.DateTimeField):
            value = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
        assert refuses(lambda v: run_model_validators(field, v), value), f"{name} takes {day}"
    if not isinstance(field, models.DateTimeField):
        assert not refuses(lambda v: run_model_validators(field, v), EARLIEST_DAY)
        assert not refuses(lambda v: run_model_validators(field, v), latest_day())


# --- page forms -----------------------------------------------------------------------------


def form_fields() -> list[tuple[str, forms.Field]]:
    fields = []
    for form in project_classes(forms.BaseForm):
        for name, field in form.base_fields.items():
            if issubclass(form, forms.ModelForm) and name not in form.declared_fields:
                continue  # made from the model field, whose checks the form runs (above)
            fields.append((f"{label(form)}.{name}", field))
    return fields


FORM_FIELDS = form_fields()
FORM_TEXT = [
    (n, f)
    for n, f in FORM_FIELDS
    if isinstance(f, forms.CharField) and not isinstance(f, forms.ChoiceField)
]
FORM_DATES = [
    (n, f) for n, f in FORM_FIELDS if isinstance(f, (forms.DateField, forms.DateTimeField))
]


def test_the_walk_finds_the_forms() -> None:
    names = {n for n, _ in FORM_TEXT}
    assert "taskforces.forms.UpdateForm.body" in names
    assert "agencies.forms.DecisionForm.reason" in names
    assert "taskforces.forms.ObjectiveForm.target_date" in {n for n, _ in FORM_DATES}


@pytest.mark.parametrize(("name", "field"), FORM_TEXT, ids=[n for n, _ in FORM_TEXT])
def test_form_text_field_is_bounded_and_refuses_control_characters(name, field) -> None:
    assert field.max_length, f"{name} has no maximum length"
    assert refuses(field.clean, "x" * (field.max_length + 1), field)
    assert refuses(field.clean, CONTROL, field), f"{name} takes U+0002"
    if isinstance(field.widget, forms.Textarea):
        assert not refuses(field.clean, PROSE_OK, field), f"{name} refuses ordinary prose"
    elif not isinstance(field, forms.EmailField):
        assert refuses(field.clean, OVERRIDE, field), f"{name} takes U+202E"
        assert refuses(field.clean, ISOLATE, field), f"{name} takes U+2067"
        if not isinstance(field, URL_FIELDS):
            assert not refuses(field.clean, LINE_OK), f"{name} refuses a name with RLM marks"


@pytest.mark.parametrize(("name", "field"), FORM_DATES, ids=[n for n, _ in FORM_DATES])
def test_form_date_field_is_bounded(name, field) -> None:
    for day in ABSURD:
        text = day.isoformat()
        if isinstance(field, forms.DateTimeField):
            text = f"{text} 12:00"
        assert refuses(field.clean, text), f"{name} takes {day}"
    if isinstance(field, forms.DateField):
        assert not refuses(field.clean, EARLIEST_DAY.isoformat())


# --- API serializers ------------------------------------------------------------------------


def serializer_fields() -> list[tuple[str, serializers.Field]]:
    fields = []
    for serializer in project_classes(serializers.Serializer):
        if issubclass(serializer, ReadSerializer):
            continue  # output only: every field is read-only by design
        for name, field in serializer().get_fields().items():
            if not field.read_only:
                fields.append((f"{label(serializer)}.{name}", field))
    return fields


API_FIELDS = serializer_fields()
API_TEXT = [(n, f) for n, f in API_FIELDS if isinstance(f, serializers.CharField)]
API_DATES = [
    (n, f)
    for n, f in API_FIELDS
    if isinstance(f, (serializers.DateField, serializers.DateTimeField))
]


def test_the_walk_finds_the_serializers() -> None:
    names = {n for n, _ in API_TEXT}
    assert "taskforces.api.serializers.UpdateCreateSerializer.body" in names
    assert "coordination.api.serializers.ReasonSerializer.reason" in names
    dates = {n for n, _ in API_DATES}
    assert "agencies.api.serializers.AgreementCreateSerializer.valid_until" in dates


def one_line(field: serializers.CharField) -> bool:
    return (field.style or {}).get("base_template") != "textarea.html"


@pytest.mark.parametrize(("name", "field"), API_TEXT, ids=[n for n, _ in API_TEXT])
def test_api_text_field_is_bounded_and_refuses_control_characters(name, field) -> None:
    check = field.run_validation
    assert field.max_length, f"{name} has no maximum length"
    assert refuses(check, "x" * (field.max_length + 1), field)
    assert refuses(check, CONTROL, field), f"{name} takes U+0002"
    if not one_line(field):
        assert not refuses(check, PROSE_OK, field), f"{name} refuses ordinary prose"
    elif not isinstance(field, serializers.EmailField):
        assert refuses(check, OVERRIDE, field), f"{name} takes U+202E"
        assert refuses(check, ISOLATE, field), f"{name} takes U+2067"
        assert refuses(check, BREAK, field), f"{name} takes a line break"
        if not isinstance(field, URL_FIELDS):
            assert not refuses(check, LINE_OK), f"{name} refuses a name with RLM marks"


@pytest.mark.parametrize(("name", "field"), API_DATES, ids=[n for n, _ in API_DATES])
def test_api_date_field_is_bounded(name, field) -> None:
    for day in ABSURD:
        text = day.isoformat()
        if isinstance(field, serializers.DateTimeField):
            text = f"{day.isoformat()}T12:00:00Z"
        assert refuses(field.run_validation, text), f"{name} takes {day}"
