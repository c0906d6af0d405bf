"""An agency's lifecycle: applied → under review → active → suspended → offboarded.

Every move in ``AGENCY_TRANSITIONS`` works for a portal administrator and is audited;
every other move is refused and leaves no trace; nobody else may move an agency at all.
Suspension and offboarding take access away at once.
"""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Agency
from agencies.services import AGENCY_TRANSITIONS
from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied, can
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Participation, RoleAssignment

from ..factories import UserFactory

S = Agency.Status

# The shortest way from a new application to each status, through the services.
PATH_TO: dict[str, list[str]] = {
    S.APPLIED: [],
    S.UNDER_REVIEW: [S.UNDER_REVIEW],
    S.ACTIVE: [S.UNDER_REVIEW, S.ACTIVE],
    S.SUSPENDED: [S.UNDER_REVIEW, S.ACTIVE, S.SUSPENDED],
    S.OFFBOARDED: [S.UNDER_REVIEW, S.ACTIVE, S.OFFBOARDED],
    S.REJECTED: [S.REJECTED],
}
INVALID_TRANSITIONS = [
    pair for pair in itertools.product(S.values, repeat=2) if pair not in AGENCY_TRANSITIONS
]


# Build the world once for this module (see conftest.module_world).
pytestmark = pytest.mark.usefixtures("module_world")


@pytest.fixture
def portal_admin(db):
    return UserFactory(is_portal_admin=True)


def agency_in(status: str, by) -> Agency:
    """A new applicant, moved to ``status`` by the portal administrator ``by``."""
    agency = agency_services.apply_for_agency(
        name=f"Applicant for {status}",
        level=Agency.Level.REGIONAL,
        sector=Agency.Sector.HEALTH,
        contact_email="intake@applicant.example.gov",
    )
    for step in PATH_TO[status]:
        agency = agency_services.transition_agency(
            agency=agency, to_status=step, by=by, reason="Part of the test's set-up."
        )
    assert agency.status == status
    return agency


def events_for(agency: Agency):
    return AuditEvent.objects.filter(object_type="agencies.agency", object_id=str(agency.pk))


def test_every_status_is_reachable_and_covered():
    assert set(PATH_TO) == set(S.values)
    assert len(INVALID_TRANSITIONS) == len(S.values) ** 2 - len(AGENCY_TRANSITIONS)


def test_applying_records_an_applied_agency_and_an_audit_event(db):
    applicant = UserFactory()
    agency = agency_services.apply_for_agency(
        name="  Coastal Guard  ",
        level=Agency.Level.NATIONAL,
        sector=Agency.Sector.BORDER,
        contact_email="ops@coast.example.gov",
        applicant=applicant,
    )
    assert agency.status == S.APPLIED
    assert agency.name == "Coastal Guard"
    event = events_for(agency).get()
    assert event.action == "agency.applied"
    assert event.actor == applicant
    assert event.after["name"] == "Coastal Guard"


@pytest.mark.parametrize(
    ("from_status", "to_status"), list(AGENCY_TRANSITIONS), ids=lambda s: str(s)
)
def test_valid_transition_moves_the_agency_and_is_audited(portal_admin, from_status, to_status):
    agency = agency_in(from_status, portal_admin)
    needs_reason = AGENCY_TRANSITIONS[(from_status, to_status)]
    reason = "Reason given by the reviewer." if needs_reason else ""
    audited_before = events_for(agency).count()

    agency_services.transition_agency(
        agency=agency, to_status=to_status, by=portal_admin, reason=reason
    )

    agency.refresh_from_db()
    assert agency.status == to_status
    assert agency.status_reason == reason
    assert agency.status_changed_at is not None
    assert events_for(agency).count() == audited_before + 1
    event = events_for(agency).order_by("-id").first()
    assert event.action == f"agency.{to_status}"
    assert event.actor == portal_admin
    assert event.before == {"status": from_status}
    assert event.after == {"status": to_status, "reason": reason}


@pytest.mark.parametrize(
    ("from_status", "to_status"),
    [pair for pair, needs_reason in AGENCY_TRANSITIONS.items() if needs_reason],
    ids=lambda s: str(s),
)
@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_transition_that_needs_a_reason_is_refused_without_one(
    portal_admin, from_status, to_status, reason
):
    agency = agency_in(from_status, portal_admin)
    audited_before = events_for(agency).count()

    with pytest.raises(ValidationError) as error:
        agency_services.transition_agency(
            agency=agency, to_status=to_status, by=portal_admin, reason=reason
        )

    assert "reason" in error.value.message_dict
    agency.refresh_from_db()
    assert agency.status == from_status
    assert events_for(agency).count() == audited_before


@pytest.mark.parametrize(("from_status", "to_status"), INVALID_TRANSITIONS, ids=lambda s: str(s))
def test_invalid_transition_is_refused_and_changes_nothing(portal_admin, from_status, to_status):
    agency = agency_in(from_status, portal_admin)
    audited_before = events_for(agency).count()

    with pytest.raises(ValidationError) as error:
        agency_services.transition_agency(
            agency=agency, to_status=to_status, by=portal_admin, reason="Trying anyway."
        )

    assert "status" in error.value.message_dict
    agency.refresh_from_db()
    assert agency.status == from_status
    assert events_for(agency).count() == audited_before


def test_named_steps_walk_the_whole_lifecycle(portal_admin):
    agency = agency_in(S.APPLIED, portal_admin)
    agency = agency_services.begin_review(agency=agency, by=portal_admin)
    agency = agency_services.request_changes(
        agency=agency, by=portal_admin, reason="Add a contact."
    )
    assert agency.status == S.APPLIED
    agency = agency_services.begin_review(agency=agency, by=portal_admin)
    agency = agency_services.approve_agency(agency=agency, by=portal_admin)
    agency = agency_services.suspend_agency(agency=agency, by=portal_admin, reason="Audit.")
    agency = agency_services.reinstate_agency(agency=agency, by=portal_admin)
    assert agency.status == S.ACTIVE
    agency = agency_services.offboard_agency(agency=agency, by=portal_admin, reason="Merged.")
    assert agency.status == S.OFFBOARDED
    assert list(events_for(agency).order_by("id").values_list("action", flat=True)) == [
        "agency.applied",
        "agency.under_review",
        "agency.applied",
        "agency.under_review",
        "agency.active",
        "agency.suspended",
        "agency.active",
        "agency.offboarded",
    ]


def test_rejection_needs_a_reason(portal_admin):
    agency = agency_in(S.UNDER_REVIEW, portal_admin)
    with pytest.raises(ValidationError) as error:
        agency_services.reject_agency(agency=agency, by=portal_admin, reason="")
    assert "reason" in error.value.message_dict
    agency = agency_services.reject_agency(agency=agency, by=portal_admin, reason="Not a body.")
    assert agency.status == S.REJECTED
    assert agency.status_reason == "Not a body."


@pytest.mark.parametrize(
    "persona", ["lead_admin", "lead_liaison", "lead_staff", "partner_liaison", "outsider"]
)
def test_only_portal_admins_may_transition(world, persona):
    actor = getattr(world, persona)
    audited_before = events_for(world.lead).count()

    with pytest.raises(PermissionDenied):
        agency_services.suspend_agency(agency=world.lead, by=actor, reason="Not mine to do.")

    world.lead.refresh_from_db()
    assert world.lead.status == S.ACTIVE
    assert events_for(world.lead).count() == audited_before
    # The one who may:
    agency_services.suspend_agency(agency=world.lead, by=world.portal_admin, reason="Audit.")
    world.lead.refresh_from_db()
    assert world.lead.status == S.SUSPENDED


def test_an_applicant_under_review_cannot_be_approved_by_its_own_people(portal_admin):
    agency = agency_in(S.UNDER_REVIEW, portal_admin)
    own_admin = agency_services.add_member(
        agency=agency,
        email="boss@applicant.example.gov",
        first_name="Ada",
        last_name="Boss",
        by=portal_admin,
        role="admin",
    ).user
    with pytest.raises(PermissionDenied):
        agency_services.approve_agency(agency=agency, by=own_admin)
    agency.refresh_from_db()
    assert agency.status == S.UNDER_REVIEW


def test_suspension_takes_access_away_at_once_and_reinstatement_gives_it_back(world):
    staff, liaison = world.partner_staff, world.partner_liaison
    assert can(staff, "view", world.tf)
    assert can(liaison, "assign_roles", world.tf)

    agency_services.suspend_agency(agency=world.partner, by=world.portal_admin, reason="Breach.")

    # No periodic task has run: the permission core reads the agency's status.
    assert not can(staff, "view", world.tf)
    assert not can(staff, "view", world.objectives[Marking.GREEN])
    assert not can(liaison, "assign_roles", world.tf)
    with pytest.raises(PermissionDenied):
        services.assign_role(
            role=world.member_role, person=liaison, assigned_by=liaison
        )  # a suspended agency's liaison assigns nobody
    # The lead agency is untouched.
    assert can(world.lead_staff, "view", world.tf)
    # Suspension ends nothing: the assignments are still there to come back to.
    assert RoleAssignment.objects.filter(agency=world.partner, ended_at__isnull=True).count() == 2

    agency_services.reinstate_agency(agency=world.partner, by=world.portal_admin)

    assert can(staff, "view", world.tf)
    assert can(liaison, "assign_roles", world.tf)


def test_suspending_the_lead_agency_takes_its_commanders_access(world):
    agency_services.suspend_agency(agency=world.lead, by=world.portal_admin, reason="Review.")
    assert not can(world.lead_liaison, "change", world.tf)
    assert not can(world.lead_staff, "view", world.tf)
    assert can(world.partner_staff, "view", world.tf)


def test_offboarding_ends_open_assignments_and_withdraws_participations(
    world, django_capture_on_commit_callbacks
):
    # A scheduled assignment counts too: it would otherwise start after offboarding.
    observer = services.create_role(
        task_force=world.tf,
        name="Night watch",
        responsibilities="Watch the river at night.",
        capabilities=["view_taskforce"],
        by=world.lead_liaison,
    )
    scheduled = services.assign_role(
        role=observer,
        person=world.partner_staff,
        assigned_by=world.partner_liaison,
        starts_at=timezone.now() + datetime.timedelta(days=30),
    )
    open_ids = set(
        RoleAssignment.objects.filter(agency=world.partner, ended_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    assert scheduled.pk in open_ids
    assert len(open_ids) == 3  # liaison officer, member, night watch

    # the request offboards; the job it queues after commit ends the rest (in-process here;
    # tests/agencies/test_offboarding_job.py shows the request answering before it runs)
    with django_capture_on_commit_callbacks(execute=True):
        agency_services.offboard_agency(
            agency=world.partner, by=world.portal_admin, reason="Service dissolved"
        )

    for assignment in RoleAssignment.objects.filter(pk__in=open_ids):
        assert assignment.ended_at is not None
        assert "offboarded" in assignment.end_reason
        assert "Service dissolved" in assignment.end_reason
        assert assignment.ended_by == world.portal_admin
        assert not assignment.person.groups.filter(pk=assignment.role.group_id).exists()
    participation = Participation.objects.get(task_force=world.tf, agency=world.partner)
    assert participation.status == Participation.Status.WITHDRAWN
    assert "offboarded" in participation.reason.lower()
    assert not can(world.partner_staff, "view", world.tf)
    assert not can(world.partner_liaison, "view", world.tf)
    # Each ended assignment is in the audit trail, with the administrator as actor.
    ended = AuditEvent.objects.filter(
        action="assignment.ended", object_id__in=[str(pk) for pk in open_ids]
    )
    assert ended.count() == 3
    assert set(ended.values_list("actor", flat=True)) == {world.portal_admin.pk}
    # The lead agency keeps everything.
    assert RoleAssignment.objects.filter(agency=world.lead, ended_at__isnull=True).count() == 3
    assert can(world.lead_staff, "view", world.tf)


def test_offboarding_records_each_withdrawn_participation_in_the_audit_trail(
    world, django_capture_on_commit_callbacks
):
    # The audit trail is complete: the participation changed (accepted → withdrawn), so its
    # own history must say who changed it and from what, like withdraw_agency does.
    with django_capture_on_commit_callbacks(execute=True):
        agency_services.offboard_agency(
            agency=world.partner, by=world.portal_admin, reason="Service dissolved"
        )
    events = AuditEvent.objects.filter(
        object_type="taskforces.participation", object_id=str(world.participation.pk)
    ).order_by("-id")
    assert events.exists(), "no audit event for the participation withdrawn by offboarding"
    latest = events.first()
    assert latest.actor == world.portal_admin
    assert latest.before == {"status": Participation.Status.ACCEPTED}
    assert latest.after["status"] == Participation.Status.WITHDRAWN


def test_an_offboarded_agency_cannot_be_invited_again(world):
    partner = agency_services.offboard_agency(
        agency=world.partner, by=world.portal_admin, reason="Gone."
    )
    with pytest.raises(ValidationError) as error:
        services.invite_agency(task_force=world.tf, agency=partner, by=world.lead_liaison)
    assert "agency" in error.value.message_dict


# --- each named action only from its own states (issue 15, item 3) ----------------------------

ACTION_SERVICES = {
    "begin_review": (agency_services.begin_review, False),
    "approve": (agency_services.approve_agency, False),
    "request_changes": (agency_services.request_changes, True),
    "reject": (agency_services.reject_agency, True),
    "suspend": (agency_services.suspend_agency, True),
    "reinstate": (agency_services.reinstate_agency, False),
    "offboard": (agency_services.offboard_agency, True),
}
WRONG_STATES = [
    (action, state)
    for action, act in agency_services.AGENCY_ACTIONS.items()
    for state in S.values
    if state not in act.sources
]


def test_every_action_has_a_service_and_an_api_route() -> None:
    from agencies.api.views import AgencyViewSet

    assert set(ACTION_SERVICES) == set(agency_services.AGENCY_ACTIONS)
    for action in ACTION_SERVICES:
        assert hasattr(AgencyViewSet, action), action


@pytest.mark.parametrize(("action", "state"), WRONG_STATES, ids=lambda v: str(v))
def test_an_action_from_another_state_is_refused_and_changes_nothing(
    portal_admin, action: str, state: str
) -> None:
    agency = agency_in(state, portal_admin)
    service, needs_reason = ACTION_SERVICES[action]
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError, match="Only an agency that is"):
        if needs_reason:
            service(agency=agency, by=portal_admin, reason="Because.")
        else:
            service(agency=agency, by=portal_admin)
    agency.refresh_from_db()
    assert agency.status == state
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("action", "state"),
    [("approve", S.SUSPENDED), ("reinstate", S.UNDER_REVIEW), ("reinstate", S.APPLIED)],
)
def test_approve_and_reinstate_are_not_interchangeable_through_the_api(
    portal_admin, action: str, state: str
) -> None:
    from rest_framework.test import APIClient

    agency = agency_in(state, portal_admin)
    client = APIClient()
    client.force_authenticate(portal_admin)
    response = client.post(f"/api/v1/agencies/{agency.pk}/{action.replace('_', '-')}/")
    assert response.status_code == 400
    assert "Only an agency that is" in response.json()["error"]["fields"]["status"][0]
    agency.refresh_from_db()
    assert agency.status == state
