"""Every edit form of the portal, in the browser: opened by someone allowed to use it and
submitted without touching anything, it changes nothing; and every form that shows a
stored date or time shows exactly that date or time.

Editing an objective or a task unchanged used to erase its date: the form rendered
``08/12/2026`` into an ``<input type="date">``, which shows nothing for it, so the browser
sent an empty date (issue 15, item 15).

The edit forms are the pages of tests/security/pages.py's catalogue whose form ``data``
changes an existing object. Each page with a form there is named below as an edit form or
as not one (with the reason), so a new edit form cannot be left out silently.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from coordination.notifications import KINDS, preferences_for
from taskforces import services
from taskforces.models import Objective, RoleAssignment, Task
from tests.conftest import build_world
from tests.security import pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TARGET = datetime.date(2026, 12, 8)
DUE = datetime.date(2026, 11, 30)
UNTIL = datetime.datetime(2030, 1, 15, 17, 45, tzinfo=datetime.UTC)


def _objective(w: SimpleNamespace) -> Objective:
    """An objective with every field the form shows filled in: a target date, an
    operational period, contributing agencies."""
    objective = pages.objective(w)
    return services.update_objective(
        objective=objective,
        by=w.lead_liaison,
        title=objective.title,
        description="Keep the lower town dry.",
        owner_agency=w.lead,
        contributing_agencies=[w.partner],
        status=Objective.Status.ON_TRACK,
        priority=Objective.Priority.HIGH,
        target_date=TARGET,
        marking=objective.marking,
        period=pages.period(w),
    )


def _task(w: SimpleNamespace) -> Task:
    task = pages.task(w)
    return services.update_task(
        task=task,
        by=w.lead_liaison,
        title=task.title,
        description="Two hundred bags.",
        assignee=w.lead_staff,
        assigned_role=None,
        due_date=DUE,
        status=Task.Status.IN_PROGRESS,
        period=pages.period(w),
    )


def _assignment(w: SimpleNamespace) -> RoleAssignment:
    return services.set_assignment_end(
        assignment=w.lead_staff_assignment, until=UNTIL, by=w.lead_liaison
    )


def _preferences(w: SimpleNamespace) -> SimpleNamespace:
    """The lead staff member's preferences, one of them not the default."""
    from coordination.notifications import set_preferences

    kind = next(name for name, k in sorted(KINDS.items()) if not k.critical)
    set_preferences(user=w.lead_staff, choices={kind: "digest"})
    return w.lead_staff


def _settings(w: SimpleNamespace) -> Any:
    """The lead staff member, with a time zone of their own chosen."""
    from coordination.models import User

    User.objects.filter(pk=w.lead_staff.pk).update(time_zone="Europe/Paris")
    return User.objects.get(pk=w.lead_staff.pk)


def _state(obj: Any) -> dict[str, Any]:
    """Everything stored about ``obj``: its fields and many-to-many links; for a person's
    preferences, the rows."""
    if isinstance(obj, SimpleNamespace) or obj.__class__.__name__ == "User":
        return {"preferences": preferences_for(obj)}
    obj = type(obj).objects.get(pk=obj.pk)
    state = model_to_dict(obj)
    for field in obj._meta.concrete_fields:
        state[field.attname] = getattr(obj, field.attname)
    return state


@dataclass(frozen=True)
class EditForm:
    """An edit page: how to make its object (with every field filled), how to find the
    form on the page and the button that submits it."""

    obj: Callable[[SimpleNamespace], Any]
    button: str
    # The page the form is on, when it is not the URL's own page (the task's status form
    # sits on the task page).
    on_page: Callable[[SimpleNamespace], str] | None = None


EDIT_FORMS: dict[str, EditForm] = {
    "taskforces:edit": EditForm(lambda w: w.tf, "Save"),
    "taskforces:objective-edit": EditForm(_objective, "Save"),
    "taskforces:task-edit": EditForm(_task, "Save"),
    "taskforces:task-status": EditForm(
        _task,
        "Update status",
        on_page=lambda w: reverse("taskforces:task", args=[pages.task(w).pk]),
    ),
    "taskforces:period-edit": EditForm(pages.period, "Save"),
    "taskforces:assignment-until": EditForm(_assignment, "Save"),
    "agencies:membership-role": EditForm(pages.lead_staff_membership, "Change role"),
    "notifications:preferences": EditForm(_preferences, "Save preferences"),
    "agencies:identity-provider": EditForm(pages.lead_identity_provider, "Save"),
    "settings": EditForm(_settings, "Save settings"),
}

# Pages of the catalogue with a form that are not edit forms: they create something, or
# take a decision or an action that has no "unchanged" (nothing in them is pre-filled
# from the object).
NOT_EDIT_FORMS: dict[str, str] = {
    "notifications:mark-read": "an action button (mark one notification read)",
    "notifications:mark-all-read": "an action button",
    "token-revoke": "an action button (revoke a token)",
    "agencies:membership-resend-invitation": "an action button (e-mail the invitation again)",
    "agencies:apply": "creates an application",
    "agencies:review": "a decision on an application (begin review, approve, reject)",
    "agencies:status": "a decision (suspend, reinstate, offboard) with a new reason",
    "agencies:invite": "creates a person and their membership",
    "agencies:agreement-new": "proposes a new agreement",
    "agencies:agreement": "accept or terminate with a new reason: actions, not edits",
    "agencies:membership-end": "ends a membership with a new reason",
    "taskforces:create": "creates a task force",
    "taskforces:status": "moves a task force's lifecycle on (a chosen next state)",
    "taskforces:invite": "invites an agency",
    "taskforces:role-create": "creates a role",
    "taskforces:objective-create": "creates an objective",
    "taskforces:update-create": "posts an update",
    "taskforces:respond": "accepts or declines an invitation",
    "taskforces:withdraw": "withdraws an agency with a new reason",
    "taskforces:assign": "assigns a person to a role",
    "taskforces:assignment-end": "ends an assignment with a new reason",
    "taskforces:task-create": "creates a task",
    "taskforces:acknowledge": "an action button (acknowledge an update)",
    "taskforces:period-create": "creates an operational period",
    "taskforces:period-delete": "a confirmation to delete a period",
    "taskforces:calendar": "makes a new calendar feed address",
    "taskforces:calendar-revoke": "an action button (revoke a feed)",
    "agencies:identity-provider-enable": "an action button (enable or disable)",
    "agencies:sign-in-request-decide": "a decision on a request (approve, decline)",
    "agencies:identity": "the agency's passkey requirement: one yes/no choice, audited when it changes",
    "agencies:scim-token-new": "issues a new SCIM token",
    "agencies:scim-token-revoke": "an action button (revoke a SCIM token)",
    "mfa_edit_webauthn": "allauth's own form renaming a passkey or security key",
    "mfa_remove_webauthn": "a confirmation to remove a passkey or security key",
    "mutualaid:create": "raises a resource request",
    "mutualaid:offer": "makes an offer",
    "mutualaid:accept": "a decision on an offer (accept a quantity)",
    "mutualaid:decline": "a decision on an offer with a new reason",
    "mutualaid:withdraw": "an action button (withdraw an offer)",
    "mutualaid:cancel": "cancels a request with a new reason",
    "mutualaid:commitment-step": "moves a commitment on (a chosen next state)",
    "mutualaid:capabilities": "publishes a kind of resource the agency can provide",
    "mutualaid:capability-remove": "an action button (withdraw a published resource)",
    "taskforces:handover-write": "writes a handover brief (once per assignment and period)",
    "taskforces:handover-acknowledge": "an action button (acknowledge a brief)",
    "taskforces:objective-status": "moves an objective on the board (a chosen next status)",
    "taskforces:timeline-log": "writes a log entry",
    "taskforces:timeline-significant": "an action button (mark an entry significant or not)",
}


def test_every_page_with_a_form_is_named_an_edit_form_or_not() -> None:
    with_form = {name for name, page in pages.PAGES.items() if page.data is not None}
    named = set(EDIT_FORMS) | set(NOT_EDIT_FORMS)
    assert with_form - named == set(), "name these pages in EDIT_FORMS or NOT_EDIT_FORMS"
    assert set(EDIT_FORMS) <= set(pages.PAGES)
    assert set(NOT_EDIT_FORMS) <= with_form
    # The preferences page is an edit form the catalogue opens without form data.
    assert "notifications:preferences" in EDIT_FORMS


def _open_as(page, sign_in, visit: pages.Visit, path: str):
    sign_in(page, visit.user.email)
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page


@pytest.mark.parametrize("name", sorted(EDIT_FORMS))
def test_an_edit_form_submitted_unchanged_changes_nothing(
    name: str, open_page, sign_in, shot
) -> None:
    w = build_world()
    edit = EDIT_FORMS[name]
    obj = edit.obj(w)
    visit = pages.PAGES[name].open(w)
    path = edit.on_page(w) if edit.on_page else reverse(name, kwargs=visit.kwargs)
    before = _state(obj)

    page = _open_as(open_page(), sign_in, visit, path)
    if edit.on_page is None:
        form = page.locator('main form[method="post"]').filter(
            has=page.get_by_role("button", name=edit.button, exact=True)
        )
    else:
        form_url = reverse(name, kwargs=visit.kwargs)
        form = page.locator(f'main form[action="{form_url}"]')
    expect(form).to_have_count(1)
    shot(page, "before")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        form.get_by_role("button", name=edit.button, exact=True).click()
    assert answer.value.status < 400, f"{name}: the unchanged form was refused"
    page.wait_for_load_state()
    shot(page, "after")
    expect(page.locator(".govuk-error-message, .govuk-error-summary")).to_have_count(0)

    after = _state(obj)
    changed = {
        key: (before[key], after.get(key)) for key in before if before[key] != after.get(key)
    }
    assert not changed, f"{name} submitted unchanged changed (before, after): {changed}"


# --- forms that show a stored date or time ------------------------------------------------------


@dataclass(frozen=True)
class Prefilled:
    """A page whose form shows stored dates or times: the object it is made for, and for
    each input (by its id) the value the browser must show."""

    obj: Callable[[SimpleNamespace], Any]
    values: Callable[[Any], dict[str, str]]
    query: str = ""


def _local(moment: datetime.datetime) -> str:
    # the portal's date-time input: day/month/year and 24-hour time (coordination.web.widgets)
    return timezone.localtime(moment).strftime("%d/%m/%Y %H:%M")


def _day(value: datetime.date) -> str:
    return value.strftime("%d/%m/%Y")


# By form class (tests/coordination/test_date_widgets.py finds every form with a date), the
# page that shows it filled in from a stored value.
PREFILLED: dict[str, tuple[str, Prefilled]] = {
    "taskforces.forms.ObjectiveForm": (
        "taskforces:objective-edit",
        Prefilled(_objective, lambda o: {"id_target_date": _day(o.target_date)}),
    ),
    "taskforces.forms.TaskForm": (
        "taskforces:task-edit",
        Prefilled(_task, lambda t: {"id_due_date": _day(t.due_date)}),
    ),
    "taskforces.forms.PeriodForm": (
        "taskforces:period-edit",
        Prefilled(
            pages.period,
            lambda p: {"id_starts_at": _local(p.starts_at), "id_ends_at": _local(p.ends_at)},
        ),
    ),
    "taskforces.forms.AssignmentUntilForm": (
        "taskforces:assignment-until",
        Prefilled(_assignment, lambda a: {"id_until": _local(a.ends_at)}),
    ),
}
# Forms with a date that never show a stored one: they make something new (their dates
# start empty or at a default), or are filters that echo what the query string said.
NOT_PREFILLED: dict[str, str] = {
    "agencies.forms.AgreementForm": "proposes a new agreement; nothing stored to show",
    "taskforces.forms.AssignRoleForm": "makes a new assignment; nothing stored to show",
    "coordination.audit.views.AuditEventFilter": "a filter: shows the query string back",
    "taskforces.filtersets.TaskListFilter": "a filter: shows the query string back",
    "taskforces.filtersets.TimelineFilter": "a filter: shows the query string back",
    "taskforces.forms.LogEntryForm": "writes a new log entry; its time starts empty (now)",
}


def test_every_form_with_a_date_is_named_prefilled_or_not() -> None:
    from tests.coordination.test_date_widgets import FIELDS

    forms_with_dates = {where.rsplit(".", 1)[0] for where, _field in FIELDS}
    assert forms_with_dates == set(PREFILLED) | set(NOT_PREFILLED)


@pytest.mark.parametrize("form_class", sorted(PREFILLED))
def test_a_form_shows_the_stored_date(form_class: str, open_page, sign_in, shot) -> None:
    w = build_world()
    name, prefilled = PREFILLED[form_class]
    obj = prefilled.obj(w)
    obj = type(obj).objects.get(pk=obj.pk)
    expected = prefilled.values(obj)
    assert all(expected.values()), "the object must have every date set"
    visit = pages.PAGES[name].open(w)

    page = _open_as(open_page(), sign_in, visit, reverse(name, kwargs=visit.kwargs))
    shot(page, "form")
    for input_id, value in expected.items():
        expect(page.locator(f"#{input_id}")).to_have_value(value)
