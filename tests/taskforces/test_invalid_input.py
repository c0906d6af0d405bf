"""Bad input to every service gets a clear error, keyed by the field at fault, and
changes nothing: every table the services write is compared, row by row, before and after.

Each case is a function of the ``world`` that does any set-up it needs and returns the
call that must be refused, so the set-up is not counted as a change.
``ensure_role_templates`` and ``expire_assignments`` take no input and are left out;
``acknowledge_update`` takes none but the update (its refusals are permission rules,
tested in ``test_objectives_tasks_updates.py``).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Agency, Membership, SharingAgreement
from coordination.models import AuditEvent, User
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import (
    Acknowledgement,
    Objective,
    Participation,
    Role,
    RoleAssignment,
    RoleTemplate,
    Task,
    TaskForce,
    TaskForceGroupObjectPermission,
    Update,
)

from ..conftest import role_named
from ..factories import person

Case = Callable[[SimpleNamespace], Callable[[], Any]]

TABLES = [
    User,
    User.groups.through,
    Group,
    Agency,
    Membership,
    SharingAgreement,
    SharingAgreement.parties.through,
    TaskForce,
    TaskForceGroupObjectPermission,
    Participation,
    RoleTemplate,
    Role,
    Role.eligible_agencies.through,
    RoleAssignment,
    Objective,
    Objective.contributing_agencies.through,
    Task,
    Update,
    Update.ack_roles.through,
    Update.ack_agencies.through,
    Acknowledgement,
    AuditEvent,
]
HOUR = datetime.timedelta(hours=1)


# Build the world once for this module (see conftest.module_world).
pytestmark = pytest.mark.usefixtures("module_world")


def db_state() -> dict[str, list[dict[str, Any]]]:
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in TABLES}


def assert_refused(world: SimpleNamespace, case: Case, field: str) -> None:
    call = case(world)
    before = db_state()
    with pytest.raises(ValidationError) as error:
        call()
    assert hasattr(error.value, "error_dict"), f"not keyed by field: {error.value}"
    assert field in error.value.message_dict, error.value.message_dict
    assert all(error.value.message_dict[field]), "an empty message is not a clear error"
    assert db_state() == before


def resolved(w: SimpleNamespace, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` with each callable replaced by its value for this world (computed while
    the case is prepared, before the state is recorded)."""
    return {name: value(w) if callable(value) else value for name, value in changes.items()}


def cases(*rows: tuple[str, Case, str]) -> Any:
    return pytest.mark.parametrize(
        ("case", "field"), [pytest.param(case, field, id=name) for name, case, field in rows]
    )


# --- agencies.services ----------------------------------------------------------------------

APPLICATION = {
    "name": "Harbour Police",
    "level": Agency.Level.LOCAL,
    "sector": Agency.Sector.LAW_ENFORCEMENT,
    "contact_email": "desk@harbour.example.gov",
}


def apply(**changes: Any) -> Case:
    return lambda w: lambda: agency_services.apply_for_agency(**{**APPLICATION, **changes})


@cases(
    ("empty name", apply(name=""), "name"),
    ("blank name", apply(name="   "), "name"),
    ("long name", apply(name="x" * 201), "name"),
    ("taken name", apply(name="National Flood Agency"), "name"),
    ("unknown level", apply(level="galactic"), "level"),
    ("empty level", apply(level=""), "level"),
    ("unknown sector", apply(sector="piracy"), "sector"),
    ("bad email", apply(contact_email="desk-at-harbour"), "contact_email"),
    ("empty email", apply(contact_email=" "), "contact_email"),
    ("bad website", apply(website="harbour police"), "website"),
    ("long acronym", apply(acronym="X" * 21), "acronym"),
)
def test_apply_for_agency(world, case, field):
    assert_refused(world, case, field)


def update_agency(**changes: Any) -> Case:
    return lambda w: (
        lambda: agency_services.update_agency(agency=w.lead, by=w.lead_admin, **changes)
    )


@cases(
    ("empty name", update_agency(name=""), "name"),
    ("no name", update_agency(name=None), "name"),
    ("taken name", update_agency(name="Regional Health Service"), "name"),
    ("unknown level", update_agency(level="galactic"), "level"),
    ("unknown sector", update_agency(sector="piracy"), "sector"),
    ("bad email", update_agency(contact_email="nope"), "contact_email"),
    ("bad website", update_agency(website="not a site"), "website"),
    ("status is not edited here", update_agency(status=Agency.Status.SUSPENDED), "status"),
    ("unknown field", update_agency(colour="red"), "colour"),
    ("one bad field spoils all", update_agency(acronym="NEW", applied_at=None), "applied_at"),
)
def test_update_agency(world, case, field):
    assert_refused(world, case, field)


def under_review(w: SimpleNamespace) -> Agency:
    agency = agency_services.apply_for_agency(**APPLICATION)
    return agency_services.begin_review(agency=agency, by=w.portal_admin)


def reject_without_reason(w: SimpleNamespace) -> Callable[[], Any]:
    agency = under_review(w)
    return lambda: agency_services.reject_agency(agency=agency, by=w.portal_admin, reason="")


def request_changes_without_reason(w: SimpleNamespace) -> Callable[[], Any]:
    agency = under_review(w)
    return lambda: agency_services.request_changes(agency=agency, by=w.portal_admin, reason="\n")


@cases(
    (
        "unknown status",
        lambda w: (
            lambda: agency_services.transition_agency(
                agency=w.lead, to_status="dormant", by=w.portal_admin, reason="x"
            )
        ),
        "status",
    ),
    (
        "same status",
        lambda w: (
            lambda: agency_services.transition_agency(
                agency=w.lead, to_status=Agency.Status.ACTIVE, by=w.portal_admin
            )
        ),
        "status",
    ),
    (
        "suspend without reason",
        lambda w: (
            lambda: agency_services.suspend_agency(agency=w.lead, by=w.portal_admin, reason=" ")
        ),
        "reason",
    ),
    (
        "offboard without reason",
        lambda w: (
            lambda: agency_services.offboard_agency(agency=w.partner, by=w.portal_admin, reason="")
        ),
        "reason",
    ),
    ("reject without reason", reject_without_reason, "reason"),
    ("request changes without reason", request_changes_without_reason, "reason"),
)
def test_transition_agency(world, case, field):
    assert_refused(world, case, field)


def add_member(**changes: Any) -> Case:
    values = {"email": "new@nfa.example.gov", "first_name": "Nia", "last_name": "Reed"}
    return lambda w: (
        lambda: agency_services.add_member(agency=w.lead, by=w.lead_admin, **{**values, **changes})
    )


def offboarded_partner(w: SimpleNamespace) -> Callable[[], Any]:
    partner = agency_services.offboard_agency(agency=w.partner, by=w.portal_admin, reason="Gone.")
    return lambda: agency_services.add_member(
        agency=partner, email="new@rhs.example.gov", first_name="A", last_name="B", by=None
    )


@cases(
    ("bad email", add_member(email="new-at-nfa"), "email"),
    ("empty email", add_member(email="  "), "email"),
    ("unknown role", add_member(role="overlord"), "role"),
    ("long first name", add_member(first_name="x" * 151), "first_name"),
    ("long last name", add_member(last_name="x" * 151), "last_name"),
    ("already a member elsewhere", add_member(email="STAFF@rhs.example.gov"), "email"),
    ("already a member here", add_member(email="staff@nfa.example.gov"), "email"),
    ("offboarded agency", offboarded_partner, "agency"),
)
def test_add_member(world, case, field):
    assert_refused(world, case, field)


def invite_member(**changes: Any) -> Case:
    values = {"email": "new@nfa.example.gov", "first_name": "Nia", "last_name": "Reed"}
    return lambda w: (
        lambda: agency_services.invite_member(
            agency=w.lead, by=w.lead_admin, **{**values, **changes}
        )
    )


@cases(
    ("bad email", invite_member(email="new-at-nfa"), "email"),
    ("unknown role", invite_member(role="overlord"), "role"),
    ("already a member", invite_member(email="staff@rhs.example.gov"), "email"),
)
def test_invite_member(world, case, field, mailoutbox):
    assert_refused(world, case, field)
    assert mailoutbox == []


def membership(user: User) -> Membership:
    return Membership.objects.get(user=user, is_active=True)


def ended_membership(w: SimpleNamespace) -> Membership:
    return agency_services.end_membership(
        membership=membership(w.lead_staff), by=w.lead_admin, reason="Left."
    )


def role_of_ended_membership(w: SimpleNamespace) -> Callable[[], Any]:
    ended = ended_membership(w)
    return lambda: agency_services.set_member_role(
        membership=ended, role=Membership.Role.LIAISON, by=w.lead_admin
    )


def end_ended_membership(w: SimpleNamespace) -> Callable[[], Any]:
    ended = ended_membership(w)
    return lambda: agency_services.end_membership(
        membership=ended, by=w.lead_admin, reason="Again."
    )


@cases(
    (
        "unknown role",
        lambda w: (
            lambda: agency_services.set_member_role(
                membership=membership(w.lead_staff), role="overlord", by=w.lead_admin
            )
        ),
        "role",
    ),
    ("ended membership", role_of_ended_membership, "membership"),
)
def test_set_member_role(world, case, field):
    assert_refused(world, case, field)


@cases(
    (
        "no reason",
        lambda w: (
            lambda: agency_services.end_membership(
                membership=membership(w.lead_staff), by=w.lead_admin, reason=""
            )
        ),
        "reason",
    ),
    (
        "own membership",
        lambda w: (
            lambda: agency_services.end_membership(
                membership=membership(w.lead_admin), by=w.lead_admin, reason="Bye."
            )
        ),
        "membership",
    ),
    ("already ended", end_ended_membership, "membership"),
)
def test_end_membership(world, case, field):
    assert_refused(world, case, field)


def agreement(**changes: Any) -> Case:
    def case(w: SimpleNamespace) -> Callable[[], Any]:
        values = {
            "title": "NFA–CTA roads",
            "parties": [w.lead, w.outsider_agency],
            "max_marking": Marking.GREEN,
            "valid_from": datetime.date(2025, 1, 1),
            **resolved(w, changes),
        }
        return lambda: agency_services.propose_agreement(by=w.lead_admin, **values)

    return case


@cases(
    ("one party", agreement(parties=lambda w: [w.lead]), "parties"),
    ("one party twice", agreement(parties=lambda w: [w.lead, w.lead]), "parties"),
    ("no parties", agreement(parties=[]), "parties"),
    ("only other agencies", agreement(parties=lambda w: [w.partner, w.outsider_agency]), "parties"),
    ("an applicant as party", agreement(parties=lambda w: [w.lead, applied_agency(w)]), "parties"),
    ("unknown marking", agreement(max_marking=9), "max_marking"),
    ("empty title", agreement(title=" "), "title"),
    ("no start", agreement(valid_from=None), "valid_from"),
    ("ends before it starts", agreement(valid_until=datetime.date(2024, 12, 31)), "valid_until"),
)
def test_propose_agreement(world, case, field):
    assert_refused(world, case, field)


@cases(
    (
        "no reason",
        lambda w: (
            lambda: agency_services.terminate_agreement(
                agreement=w.agreement, reason="  ", by=w.partner_liaison
            )
        ),
        "reason",
    ),
)
def test_terminate_agreement(world, case, field):
    assert_refused(world, case, field)


def applied_agency(w: SimpleNamespace) -> Agency:
    return agency_services.apply_for_agency(
        name="Coastal Volunteer Rescue",
        level=Agency.Level.NON_GOVERNMENTAL,
        sector=Agency.Sector.EMERGENCY_MANAGEMENT,
        contact_email="hello@cvr.example.org",
    )


# --- taskforces.services: roles -------------------------------------------------------------


def create_role(**changes: Any) -> Case:
    values = {
        "name": "Sandbag crew lead",
        "responsibilities": "Leads a crew.",
        "capabilities": ["view_taskforce"],
    }
    return lambda w: (
        lambda: services.create_role(task_force=w.tf, by=w.lead_liaison, **{**values, **changes})
    )


@cases(
    ("empty name", create_role(name=""), "name"),
    ("blank name", create_role(name="  "), "name"),
    ("long name", create_role(name="x" * 101), "name"),
    ("taken name, other case", create_role(name=" member "), "name"),
    ("empty responsibilities", create_role(responsibilities=""), "responsibilities"),
    ("unknown capability", create_role(capabilities=["view_taskforce", "fly"]), "capabilities"),
    ("acting without viewing", create_role(capabilities=["post_updates"]), "capabilities"),
    ("capabilities as a string", create_role(capabilities="view_taskforce"), "capabilities"),
    ("zero holders", create_role(max_holders=0), "max_holders"),
    ("negative holders", create_role(max_holders=-1), "max_holders"),
    ("holders not a number", create_role(max_holders="two"), "max_holders"),
)
def test_create_role(world, case, field):
    assert_refused(world, case, field)


def update_role(**changes: Any) -> Case:
    return lambda w: (
        lambda: services.update_role(
            role=role_named(w.tf, "observer"), by=w.lead_liaison, **changes
        )
    )


@cases(
    ("unknown capability", update_role(capabilities=["view_taskforce", "fly"]), "capabilities"),
    ("acting without viewing", update_role(capabilities=["manage_tasks"]), "capabilities"),
    ("zero holders", update_role(max_holders=0), "max_holders"),
    ("negative holders", update_role(max_holders=-3), "max_holders"),
    ("holders not a number", update_role(max_holders="two"), "max_holders"),
    ("empty responsibilities", update_role(responsibilities="  "), "responsibilities"),
    (
        "limit below current holders",
        lambda w: (
            lambda: services.update_role(role=w.member_role, max_holders=1, by=w.lead_liaison)
        ),
        "max_holders",
    ),
)
def test_update_role(world, case, field):
    assert_refused(world, case, field)


@pytest.mark.parametrize(
    "call",
    [
        lambda w: services.update_role(role=w.member_role, name="Crew", by=w.lead_liaison),
        lambda w: services.update_task_force(
            task_force=w.tf, status=TaskForce.Status.CLOSED, by=w.lead_liaison
        ),
    ],
    ids=["update_role", "update_task_force"],
)
def test_fields_these_update_services_do_not_take_are_refused(world, call):
    # These two name their editable fields as keyword parameters, so an unknown field is
    # a TypeError (a programming error), not a ValidationError; either way nothing changes.
    before = db_state()
    with pytest.raises((TypeError, ValidationError)):
        call(world)
    assert db_state() == before


# --- taskforces.services: task forces and participation -------------------------------------


def form(**changes: Any) -> Case:
    values = {"name": "Heatwave cell", "mandate": "Protect the vulnerable."}
    return lambda w: lambda: services.form_task_force(by=w.lead_liaison, **{**values, **changes})


@cases(
    ("empty name", form(name=""), "name"),
    ("long name", form(name="x" * 201), "name"),
    ("empty mandate", form(mandate="  "), "mandate"),
    ("unknown marking", form(marking=7), "marking"),
    ("marking as a word", form(marking="red"), "marking"),
)
def test_form_task_force(world, case, field):
    assert_refused(world, case, field)


def update_tf(**changes: Any) -> Case:
    return lambda w: (
        lambda: services.update_task_force(task_force=w.tf, by=w.lead_liaison, **changes)
    )


@cases(
    ("empty name", update_tf(name=""), "name"),
    ("long name", update_tf(name="x" * 201), "name"),
    ("empty mandate", update_tf(mandate=" "), "mandate"),
    ("unknown marking", update_tf(marking=7), "marking"),
    ("negative marking", update_tf(marking=-1), "marking"),
    ("good name, bad marking", update_tf(name="Renamed", marking=9), "marking"),
)
def test_update_task_force(world, case, field):
    assert_refused(world, case, field)


@cases(
    (
        "unknown status",
        lambda w: (
            lambda: services.transition_task_force(
                task_force=w.tf, to_status="paused", by=w.lead_liaison
            )
        ),
        "status",
    ),
    (
        "same status",
        lambda w: (
            lambda: services.transition_task_force(
                task_force=w.tf, to_status=TaskForce.Status.FORMING, by=w.lead_liaison
            )
        ),
        "status",
    ),
    (
        "skipping a step",
        lambda w: (
            lambda: services.transition_task_force(
                task_force=w.tf, to_status=TaskForce.Status.STANDING_DOWN, by=w.lead_liaison
            )
        ),
        "status",
    ),
)
def test_transition_task_force(world, case, field):
    assert_refused(world, case, field)


def invite_suspended(w: SimpleNamespace) -> Callable[[], Any]:
    agency = agency_services.suspend_agency(
        agency=w.outsider_agency, by=w.portal_admin, reason="Audit."
    )
    return lambda: services.invite_agency(task_force=w.tf, agency=agency, by=w.lead_liaison)


def invite_applicant(w: SimpleNamespace) -> Callable[[], Any]:
    agency = agency_services.apply_for_agency(**APPLICATION)
    return lambda: services.invite_agency(task_force=w.tf, agency=agency, by=w.lead_liaison)


@cases(
    ("suspended agency", invite_suspended, "agency"),
    ("applicant agency", invite_applicant, "agency"),
    (
        "already accepted",
        lambda w: (
            lambda: services.invite_agency(task_force=w.tf, agency=w.partner, by=w.lead_liaison)
        ),
        "agency",
    ),
    (
        "the lead agency",
        lambda w: lambda: services.invite_agency(task_force=w.tf, agency=w.lead, by=w.lead_liaison),
        "agency",
    ),
)
def test_invite_agency(world, case, field):
    assert_refused(world, case, field)


def test_respond_to_an_invitation_already_answered(world):
    assert_refused(
        world,
        lambda w: (
            lambda: services.respond_to_invitation(
                participation=w.participation, accept=False, by=w.partner_liaison
            )
        ),
        "status",
    )


def withdraw_invited(w: SimpleNamespace) -> Callable[[], Any]:
    invited = services.invite_agency(task_force=w.tf, agency=w.outsider_agency, by=w.lead_liaison)
    return lambda: services.withdraw_agency(
        participation=invited, by=w.lead_liaison, reason="Done."
    )


@cases(
    (
        "no reason",
        lambda w: (
            lambda: services.withdraw_agency(
                participation=w.participation, by=w.partner_liaison, reason=" "
            )
        ),
        "reason",
    ),
    (
        "the lead agency",
        lambda w: (
            lambda: services.withdraw_agency(
                participation=Participation.objects.get(task_force=w.tf, agency=w.lead),
                by=w.lead_liaison,
                reason="Done.",
            )
        ),
        "agency",
    ),
    ("not accepted", withdraw_invited, "status"),
)
def test_withdraw_agency(world, case, field):
    assert_refused(world, case, field)


# --- taskforces.services: assignments -------------------------------------------------------


def assign(role: str = "observer", person_name: str = "partner_staff", **changes: Any) -> Case:
    """The partner's (or the lead's) liaison assigns one of their own people."""

    def case(w: SimpleNamespace) -> Callable[[], Any]:
        liaison = w.partner_liaison if person_name.startswith("partner") else w.lead_liaison
        values = resolved(w, changes)
        return lambda: services.assign_role(
            role=role_named(w.tf, role),
            person=getattr(w, person_name),
            assigned_by=liaison,
            **values,
        )

    return case


def in_hours(hours: int) -> Callable[[SimpleNamespace], datetime.datetime]:
    return lambda w: timezone.now() + hours * HOUR


def until_at_the_start(w: SimpleNamespace) -> Callable[[], Any]:
    at = timezone.now() + HOUR
    return assign(starts_at=at, until=at)(w)


def lead_only_observer(w: SimpleNamespace) -> Callable[[], Any]:
    services.update_role(
        role=role_named(w.tf, "observer"), eligible_agencies=[w.lead], by=w.lead_liaison
    )
    return assign()(w)


@cases(
    (
        "another agency's person",
        lambda w: (
            lambda: services.assign_role(
                role=role_named(w.tf, "observer"),
                person=w.lead_staff,
                assigned_by=w.partner_liaison,
            )
        ),
        "person",
    ),
    ("until in the past", assign(until=in_hours(-1)), "until"),
    ("until before the start", assign(starts_at=in_hours(2), until=in_hours(1)), "until"),
    ("until at the start", until_at_the_start, "until"),
    ("holder limit reached", assign(role="commander", person_name="lead_staff"), "role"),
    ("already holds it", assign(role="member"), "person"),
    ("agency not eligible", lead_only_observer, "role"),
)
def test_assign_role(world, case, field):
    assert_refused(world, case, field)


def ended_assignment(w: SimpleNamespace) -> RoleAssignment:
    return services.end_assignment(
        assignment=w.partner_staff_assignment, by=w.partner_liaison, reason="Done."
    )


def end_ended_assignment(w: SimpleNamespace) -> Callable[[], Any]:
    ended = ended_assignment(w)
    return lambda: services.end_assignment(assignment=ended, by=w.partner_liaison, reason="Again.")


@cases(
    (
        "no reason",
        lambda w: (
            lambda: services.end_assignment(
                assignment=w.partner_staff_assignment, by=w.partner_liaison, reason=""
            )
        ),
        "reason",
    ),
    ("already ended", end_ended_assignment, "assignment"),
)
def test_end_assignment(world, case, field):
    assert_refused(world, case, field)


def end_scheduled_before_its_start(w: SimpleNamespace) -> Callable[[], Any]:
    later = services.assign_role(
        role=role_named(w.tf, "observer"),
        person=w.partner_staff,
        assigned_by=w.partner_liaison,
        starts_at=timezone.now() + 2 * HOUR,
    )
    return lambda: services.set_assignment_end(
        assignment=later, until=timezone.now() + HOUR, by=w.partner_liaison
    )


def set_end_of_ended(w: SimpleNamespace) -> Callable[[], Any]:
    ended = ended_assignment(w)
    return lambda: services.set_assignment_end(assignment=ended, until=None, by=w.partner_liaison)


@cases(
    (
        "until in the past",
        lambda w: (
            lambda: services.set_assignment_end(
                assignment=w.partner_staff_assignment,
                until=timezone.now() - HOUR,
                by=w.partner_liaison,
            )
        ),
        "until",
    ),
    ("until before a scheduled start", end_scheduled_before_its_start, "until"),
    ("already ended", set_end_of_ended, "assignment"),
)
def test_set_assignment_end(world, case, field):
    assert_refused(world, case, field)


# --- taskforces.services: objectives, tasks, updates ----------------------------------------


def create_objective(**changes: Any) -> Case:
    def case(w: SimpleNamespace) -> Callable[[], Any]:
        values = {"title": "Hold the levee", "owner_agency": w.lead, **resolved(w, changes)}
        return lambda: services.create_objective(task_force=w.tf, by=w.lead_liaison, **values)

    return case


@cases(
    ("empty title", create_objective(title=" "), "title"),
    ("long title", create_objective(title="x" * 201), "title"),
    ("unknown priority", create_objective(priority=9), "priority"),
    ("priority as a word", create_objective(priority="high"), "priority"),
    ("unknown marking", create_objective(marking=9), "marking"),
    ("unknown status", create_objective(status="someday"), "status"),
    ("bad target date", create_objective(target_date="soon"), "target_date"),
    (
        "owner not taking part",
        create_objective(owner_agency=lambda w: w.outsider_agency),
        "owner_agency",
    ),
    (
        "contributor not taking part",
        create_objective(contributing_agencies=lambda w: [w.outsider_agency]),
        "contributing_agencies",
    ),
)
def test_create_objective(world, case, field):
    assert_refused(world, case, field)


def update_objective(**changes: Any) -> Case:
    def case(w: SimpleNamespace) -> Callable[[], Any]:
        values = resolved(w, changes)
        return lambda: services.update_objective(
            objective=w.objectives[Marking.GREEN], by=w.lead_liaison, **values
        )

    return case


@cases(
    ("empty title", update_objective(title=""), "title"),
    ("unknown status", update_objective(status="someday"), "status"),
    ("unknown priority", update_objective(priority=0), "priority"),
    ("unknown marking", update_objective(marking=9), "marking"),
    ("bad target date", update_objective(target_date="31/02/2026"), "target_date"),
    (
        "owner not taking part",
        update_objective(owner_agency=lambda w: w.outsider_agency),
        "owner_agency",
    ),
    (
        "contributor not taking part",
        update_objective(contributing_agencies=lambda w: [w.outsider_agency]),
        "contributing_agencies",
    ),
    ("unknown field", update_objective(colour="red"), "colour"),
    ("another task force", update_objective(task_force=lambda w: w.tf), "task_force"),
    ("its author", update_objective(created_by=lambda w: w.lead_staff), "created_by"),
)
def test_update_objective(world, case, field):
    assert_refused(world, case, field)


def other_task_force_role(w: SimpleNamespace) -> Role:
    other = services.form_task_force(name="Heatwave cell", mandate="Cool.", by=w.partner_liaison)
    return role_named(other, "observer")


def create_task(**changes: Any) -> Case:
    def case(w: SimpleNamespace) -> Callable[[], Any]:
        values = {"title": "Fill sandbags", **resolved(w, changes)}
        return lambda: services.create_task(
            objective=w.objectives[Marking.GREEN], by=w.lead_liaison, **values
        )

    return case


@cases(
    ("empty title", create_task(title=""), "title"),
    ("long title", create_task(title="x" * 201), "title"),
    ("unknown status", create_task(status="someday"), "status"),
    ("bad due date", create_task(due_date="tomorrow"), "due_date"),
    ("assignee cannot see it", create_task(assignee=lambda w: w.outsider), "assignee"),
    (
        "a person and a role",
        create_task(
            assignee=lambda w: w.lead_staff,
            assigned_role=lambda w: role_named(w.tf, "observer"),
        ),
        "assignee",
    ),
    (
        "a role of another task force",
        create_task(assigned_role=other_task_force_role),
        "assigned_role",
    ),
)
def test_create_task(world, case, field):
    assert_refused(world, case, field)


def update_task(**changes: Any) -> Case:
    def case(w: SimpleNamespace) -> Callable[[], Any]:
        values = resolved(w, changes)
        return lambda: services.update_task(
            task=w.tasks[Marking.GREEN], by=w.lead_liaison, **values
        )

    return case


@cases(
    ("empty title", update_task(title="  "), "title"),
    ("unknown status", update_task(status="someday"), "status"),
    ("bad due date", update_task(due_date="tomorrow"), "due_date"),
    ("assignee cannot see it", update_task(assignee=lambda w: w.outsider), "assignee"),
    (
        "a person and a role",
        update_task(
            assignee=lambda w: w.lead_staff,
            assigned_role=lambda w: role_named(w.tf, "observer"),
        ),
        "assignee",
    ),
    ("unknown field", update_task(colour="red"), "colour"),
    (
        "moved to another objective",
        update_task(objective=lambda w: w.objectives[Marking.AMBER]),
        "objective",
    ),
    ("its author", update_task(created_by=lambda w: w.lead_staff), "created_by"),
)
def test_update_task(world, case, field):
    assert_refused(world, case, field)


def post(**changes: Any) -> Case:
    def case(w: SimpleNamespace) -> Callable[[], Any]:
        values = {"title": "Gauge at 4 m", "body": "Rising.", **resolved(w, changes)}
        return lambda: services.post_update(task_force=w.tf, by=w.lead_liaison, **values)

    return case


@cases(
    ("empty title", post(title=""), "title"),
    ("long title", post(title="x" * 201), "title"),
    ("empty body", post(body="  "), "body"),
    ("unknown kind", post(kind="tweet"), "kind"),
    ("unknown marking", post(marking=9), "marking"),
    (
        "roles named without asking for acknowledgement",
        post(ack_roles=lambda w: [w.member_role]),
        "requires_acknowledgement",
    ),
    (
        "agencies named without asking for acknowledgement",
        post(ack_agencies=lambda w: [w.partner]),
        "requires_acknowledgement",
    ),
    (
        "a role of another task force",
        post(requires_acknowledgement=True, ack_roles=lambda w: [other_task_force_role(w)]),
        "ack_roles",
    ),
    (
        "an agency not taking part",
        post(requires_acknowledgement=True, ack_agencies=lambda w: [w.outsider_agency]),
        "ack_agencies",
    ),
)
def test_post_update(world, case, field):
    assert_refused(world, case, field)


def test_a_member_of_a_partner_agency_cannot_mark_above_the_agreement(world):
    assert_refused(
        world,
        lambda w: (
            lambda: services.post_update(
                task_force=w.tf,
                title="Too much",
                body="Names.",
                marking=Marking.AMBER_STRICT,
                by=w.partner_staff,
            )
        ),
        "marking",
    )


def test_add_member_checks_the_email_when_no_one_acts_too(world):
    # ``by=None`` is the management command's path (naming an agency's first administrator).
    assert_refused(
        world,
        lambda w: (
            lambda: agency_services.add_member(
                agency=w.outsider_agency,
                email="no at sign",
                first_name="A",
                last_name="B",
                by=None,
            )
        ),
        "email",
    )


def test_assigning_needs_an_active_person_of_the_agency(world):
    # Someone who was in the partner agency and has left it.
    leaver = person(world.partner, email="leaver@rhs.example.gov")
    agency_services.end_membership(
        membership=membership(leaver), by=world.portal_admin, reason="Left."
    )
    assert_refused(
        world,
        lambda w: (
            lambda: services.assign_role(
                role=role_named(w.tf, "observer"), person=leaver, assigned_by=w.partner_liaison
            )
        ),
        "person",
    )
