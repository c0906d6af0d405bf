"""A task force's lifecycle (forming → active → standing down → closed) and its
participating agencies (invited → accepted / declined → withdrawn)."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError

from agencies import services as agency_services
from agencies.models import Agency, Membership
from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied, can, explain
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Participation, RoleAssignment, TaskForce
from taskforces.services import TASK_FORCE_TRANSITIONS

from ..conftest import role_named
from ..factories import AgencyFactory, person

TF = TaskForce.Status
P = Participation.Status

PATH_TO: dict[str, list[str]] = {
    TF.FORMING: [],
    TF.ACTIVE: [TF.ACTIVE],
    TF.STANDING_DOWN: [TF.ACTIVE, TF.STANDING_DOWN],
    TF.CLOSED: [TF.CLOSED],
}
INVALID_TRANSITIONS = [
    pair for pair in itertools.product(TF.values, repeat=2) if pair not in TASK_FORCE_TRANSITIONS
]


# Build the world once for this module (see conftest.module_world).
pytestmark = pytest.mark.usefixtures("module_world")


@pytest.fixture
def outsider_liaison(world):
    return person(world.outsider_agency, Membership.Role.LIAISON, email="liaison@cta.example.gov")


@pytest.fixture
def invitation(world) -> Participation:
    return services.invite_agency(
        task_force=world.tf, agency=world.outsider_agency, by=world.lead_liaison, message=" Join "
    )


def task_force_in(world, status: str) -> TaskForce:
    task_force = world.tf
    for step in PATH_TO[status]:
        task_force = services.transition_task_force(
            task_force=task_force, to_status=step, by=world.lead_liaison
        )
    assert task_force.status == status
    return task_force


def events_for(obj):
    return AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))


def test_every_status_is_reachable_and_covered():
    assert set(PATH_TO) == set(TF.values)
    assert len(INVALID_TRANSITIONS) == len(TF.values) ** 2 - len(TASK_FORCE_TRANSITIONS)


# --- forming a task force -------------------------------------------------------------------


def test_a_liaison_forms_a_task_force_led_by_their_agency(world):
    task_force = services.form_task_force(
        name="  Heatwave cell ", mandate="Protect the vulnerable.", by=world.partner_liaison
    )

    assert task_force.name == "Heatwave cell"
    assert task_force.status == TF.FORMING
    assert task_force.lead_agency == world.partner
    lead = Participation.objects.get(task_force=task_force)
    assert (lead.agency, lead.status) == (world.partner, P.ACCEPTED)
    held = RoleAssignment.objects.current().filter(person=world.partner_liaison)
    assert set(
        held.filter(role__task_force=task_force).values_list("role__template__slug", flat=True)
    ) == {
        "commander",
        "liaison-officer",
    }
    assert can(world.partner_liaison, "change", task_force)
    assert not can(world.lead_liaison, "view", task_force)
    formed = events_for(task_force).get(action="taskforce.formed")
    assert formed.actor == world.partner_liaison


@pytest.mark.parametrize("actor", ["lead_staff", "lead_admin", "portal_admin"])
def test_only_a_liaison_forms_a_task_force(world, actor):
    before = TaskForce.objects.count()
    with pytest.raises(PermissionDenied):
        services.form_task_force(name="Rogue cell", mandate="None.", by=getattr(world, actor))
    assert TaskForce.objects.count() == before


def test_a_suspended_agencys_liaison_forms_nothing(world):
    agency_services.suspend_agency(agency=world.partner, by=world.portal_admin, reason="Audit.")
    before = TaskForce.objects.count()
    with pytest.raises(PermissionDenied):
        services.form_task_force(name="Cell", mandate="None.", by=world.partner_liaison)
    assert TaskForce.objects.count() == before


# --- lifecycle ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("from_status", "to_status"), sorted(TASK_FORCE_TRANSITIONS), ids=lambda s: str(s)
)
def test_valid_transition_is_applied_and_audited(world, from_status, to_status):
    task_force = task_force_in(world, from_status)
    audited = events_for(task_force).count()

    services.transition_task_force(
        task_force=task_force, to_status=to_status, by=world.lead_liaison
    )

    task_force.refresh_from_db()
    assert task_force.status == to_status
    assert task_force.status_changed_at is not None
    assert events_for(task_force).count() == audited + 1
    event = events_for(task_force).order_by("-id").first()
    assert event.action == "taskforce.status_changed"
    assert event.actor == world.lead_liaison
    assert event.before == {"status": from_status}
    assert event.after == {"status": to_status}


@pytest.mark.parametrize(("from_status", "to_status"), INVALID_TRANSITIONS, ids=lambda s: str(s))
def test_invalid_transition_is_refused_and_changes_nothing(world, from_status, to_status):
    task_force = task_force_in(world, from_status)
    audited = events_for(task_force).count()

    if from_status == TF.CLOSED:
        # Nothing in a closed task force can be changed, its status included.
        with pytest.raises(PermissionDenied):
            services.transition_task_force(
                task_force=task_force, to_status=to_status, by=world.lead_liaison
            )
    else:
        with pytest.raises(ValidationError) as error:
            services.transition_task_force(
                task_force=task_force, to_status=to_status, by=world.lead_liaison
            )
        assert "status" in error.value.message_dict

    task_force.refresh_from_db()
    assert task_force.status == from_status
    assert events_for(task_force).count() == audited


def test_a_deputy_commander_holds_the_change_capability_too(world):
    deputy = role_named(world.tf, "deputy-commander")
    services.assign_role(role=deputy, person=world.lead_staff, assigned_by=world.lead_liaison)

    services.transition_task_force(task_force=world.tf, to_status=TF.ACTIVE, by=world.lead_staff)

    world.tf.refresh_from_db()
    assert world.tf.status == TF.ACTIVE


@pytest.mark.parametrize(
    "actor",
    ["lead_staff", "lead_admin", "partner_liaison", "partner_staff", "outsider", "portal_admin"],
)
def test_only_holders_of_the_change_capability_move_a_task_force(world, actor):
    audited = events_for(world.tf).count()
    with pytest.raises(PermissionDenied):
        services.transition_task_force(
            task_force=world.tf, to_status=TF.ACTIVE, by=getattr(world, actor)
        )
    with pytest.raises(PermissionDenied):
        services.update_task_force(task_force=world.tf, name="Renamed", by=getattr(world, actor))
    world.tf.refresh_from_db()
    assert (world.tf.status, world.tf.name) == (TF.FORMING, "River Severn flood response")
    assert events_for(world.tf).count() == audited


def test_the_commander_edits_the_task_force(world):
    services.update_task_force(
        task_force=world.tf, name=" Severn response ", marking=Marking.GREEN, by=world.lead_liaison
    )
    world.tf.refresh_from_db()
    assert (world.tf.name, world.tf.marking) == ("Severn response", Marking.GREEN)
    event = events_for(world.tf).get(action="taskforce.updated")
    assert event.before["name"] == "River Severn flood response"
    assert event.after["name"] == "Severn response"


# --- a closed task force --------------------------------------------------------------------


@pytest.fixture
def closed(world) -> TaskForce:
    return services.transition_task_force(
        task_force=world.tf, to_status=TF.CLOSED, by=world.lead_liaison
    )


def test_nothing_in_a_closed_task_force_can_be_changed(world, closed):
    lead_liaison = world.lead_liaison
    audited = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        services.create_objective(
            task_force=closed, title="Late", owner_agency=world.lead, by=lead_liaison
        )
    with pytest.raises(PermissionDenied):
        services.post_update(task_force=closed, title="Late", body="Late.", by=lead_liaison)
    with pytest.raises(ValidationError) as error:
        services.assign_role(
            role=role_named(closed, "observer"), person=world.lead_staff, assigned_by=lead_liaison
        )
    assert "role" in error.value.message_dict
    with pytest.raises(PermissionDenied):
        services.update_task_force(task_force=closed, name="Renamed", by=lead_liaison)
    with pytest.raises(PermissionDenied):
        services.create_role(
            task_force=closed,
            name="Archivist",
            responsibilities="Keeps the records.",
            capabilities=["view_taskforce"],
            by=lead_liaison,
        )
    with pytest.raises(PermissionDenied):
        services.update_objective(
            objective=world.objectives[Marking.GREEN], title="Renamed", by=lead_liaison
        )
    with pytest.raises(PermissionDenied):
        services.invite_agency(task_force=closed, agency=world.outsider_agency, by=lead_liaison)
    with pytest.raises(PermissionDenied):
        services.end_assignment(
            assignment=world.lead_staff_assignment, by=lead_liaison, reason="Closing."
        )
    with pytest.raises(PermissionDenied):
        services.withdraw_agency(
            participation=world.participation, by=world.partner_liaison, reason="Leaving."
        )
    assert AuditEvent.objects.count() == audited
    assert "closed" in explain(lead_liaison, "change", closed).reason


def test_a_task_assignee_cannot_change_a_task_in_a_closed_task_force(world):
    task = services.update_task(
        task=world.tasks[Marking.GREEN], assignee=world.partner_staff, by=world.lead_liaison
    )
    assert can(world.partner_staff, "change", task)
    services.transition_task_force(task_force=world.tf, to_status=TF.CLOSED, by=world.lead_liaison)
    with pytest.raises(PermissionDenied):
        services.update_task(task=task, status="done", by=world.partner_staff)


def test_members_still_see_a_closed_task_force(world, closed):
    for member in (world.lead_liaison, world.lead_staff, world.partner_staff):
        assert can(member, "view", closed)
        assert can(member, "view", world.objectives[Marking.GREEN])
    assert not can(world.outsider, "view", closed)


# --- participation --------------------------------------------------------------------------


def test_the_commander_invites_an_active_agency(world, invitation):
    assert invitation.status == P.INVITED
    assert invitation.invited_by == world.lead_liaison
    assert invitation.message == "Join"
    event = events_for(invitation).get()
    assert (event.action, event.actor) == ("participation.invited", world.lead_liaison)
    # An invitation alone gives the invited agency's people nothing.
    assert not can(world.outsider, "view", world.tf)


@pytest.mark.parametrize("actor", ["partner_liaison", "lead_staff", "partner_staff", "outsider"])
def test_inviting_needs_the_manage_participation_capability(world, actor):
    with pytest.raises(PermissionDenied):
        services.invite_agency(
            task_force=world.tf, agency=world.outsider_agency, by=getattr(world, actor)
        )
    assert not Participation.objects.filter(agency=world.outsider_agency).exists()


@pytest.mark.parametrize(
    "status", [Agency.Status.APPLIED, Agency.Status.SUSPENDED, Agency.Status.OFFBOARDED]
)
def test_only_an_active_agency_can_be_invited(world, status):
    agency = AgencyFactory()
    by = world.portal_admin
    if status == Agency.Status.APPLIED:
        agency = agency_services.apply_for_agency(
            name="Applicant", level="local", sector="other", contact_email="a@applicant.example.gov"
        )
    elif status == Agency.Status.SUSPENDED:
        agency = agency_services.suspend_agency(agency=agency, by=by, reason="Audit.")
    else:
        agency = agency_services.offboard_agency(agency=agency, by=by, reason="Gone.")
    audited = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as error:
        services.invite_agency(task_force=world.tf, agency=agency, by=world.lead_liaison)

    assert "agency" in error.value.message_dict
    assert not Participation.objects.filter(agency=agency).exists()
    assert AuditEvent.objects.count() == audited


@pytest.mark.parametrize("which", ["invited", "accepted", "lead"])
def test_an_agency_cannot_be_invited_twice(world, invitation, which):
    agency = {"invited": world.outsider_agency, "accepted": world.partner, "lead": world.lead}[
        which
    ]
    audited = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        services.invite_agency(task_force=world.tf, agency=agency, by=world.lead_liaison)
    assert "agency" in error.value.message_dict
    assert Participation.objects.filter(task_force=world.tf, agency=agency).count() == 1
    assert AuditEvent.objects.count() == audited


def test_the_invited_agencys_liaison_accepts_and_becomes_its_liaison_officer(
    world, invitation, outsider_liaison
):
    services.respond_to_invitation(participation=invitation, accept=True, by=outsider_liaison)

    invitation.refresh_from_db()
    assert invitation.status == P.ACCEPTED
    assert invitation.responded_by == outsider_liaison
    assert invitation.responded_at is not None
    held = RoleAssignment.objects.current().get(person=outsider_liaison)
    assert held.role == role_named(world.tf, "liaison-officer")
    assert held.agency == world.outsider_agency
    assert held.assigned_by == outsider_liaison
    assert can(outsider_liaison, "view", world.tf)
    assert can(outsider_liaison, "assign_roles", world.tf)
    assert events_for(invitation).filter(action="participation.accepted").exists()
    # Now the liaison can give the agency's staff a place.
    services.assign_role(
        role=world.member_role, person=world.outsider, assigned_by=outsider_liaison
    )
    assert can(world.outsider, "view", world.tf)


@pytest.mark.parametrize("accept", [True, False], ids=["accept", "decline"])
@pytest.mark.parametrize("actor", ["outsider", "partner_liaison", "lead_liaison", "portal_admin"])
def test_only_the_invited_agencys_liaison_answers(world, invitation, actor, accept):
    audited = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        services.respond_to_invitation(
            participation=invitation, accept=accept, by=getattr(world, actor)
        )
    invitation.refresh_from_db()
    assert invitation.status == P.INVITED
    assert AuditEvent.objects.count() == audited


def test_a_declined_agency_gets_nothing_and_can_be_invited_again(
    world, invitation, outsider_liaison
):
    services.respond_to_invitation(
        participation=invitation, accept=False, by=outsider_liaison, reason=" Busy "
    )
    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason) == (P.DECLINED, "Busy")
    assert not RoleAssignment.objects.filter(person=outsider_liaison).exists()
    assert not can(outsider_liaison, "view", world.tf)

    again = services.invite_agency(
        task_force=world.tf, agency=world.outsider_agency, by=world.lead_liaison
    )

    assert again.pk == invitation.pk
    assert (again.status, again.reason, again.responded_by) == (P.INVITED, "", None)
    services.respond_to_invitation(participation=again, accept=True, by=outsider_liaison)
    assert can(outsider_liaison, "view", world.tf)


def test_an_invitation_is_answered_once(world, invitation, outsider_liaison):
    services.respond_to_invitation(participation=invitation, accept=False, by=outsider_liaison)
    with pytest.raises(ValidationError) as error:
        services.respond_to_invitation(participation=invitation, accept=True, by=outsider_liaison)
    assert "status" in error.value.message_dict
    invitation.refresh_from_db()
    assert invitation.status == P.DECLINED


@pytest.mark.parametrize(
    "actor", ["partner_liaison", "lead_liaison"], ids=["own-liaison", "commander"]
)
def test_withdrawing_an_agency_ends_its_assignments_at_once(world, actor):
    by = getattr(world, actor)
    partner_open = RoleAssignment.objects.filter(agency=world.partner, ended_at__isnull=True)
    ids = set(partner_open.values_list("pk", flat=True))
    assert len(ids) == 2  # the liaison officer and the member

    services.withdraw_agency(participation=world.participation, by=by, reason="Mission complete")

    world.participation.refresh_from_db()
    assert world.participation.status == P.WITHDRAWN
    assert world.participation.reason == "Mission complete"
    for assignment in RoleAssignment.objects.filter(pk__in=ids):
        assert assignment.ended_at is not None
        assert assignment.ended_by == by
        assert "Mission complete" in assignment.end_reason
    assert not can(world.partner_staff, "view", world.tf)
    assert not can(world.partner_liaison, "view", world.tf)
    assert can(world.lead_staff, "view", world.tf)
    event = events_for(world.participation).get(action="participation.withdrawn")
    assert event.actor == by
    assert event.before == {"status": P.ACCEPTED}


@pytest.mark.parametrize("actor", ["partner_staff", "lead_staff", "outsider", "portal_admin"])
def test_withdrawing_needs_the_agencys_liaison_or_participation_manager(world, actor):
    with pytest.raises(PermissionDenied):
        services.withdraw_agency(
            participation=world.participation, by=getattr(world, actor), reason="Out."
        )
    world.participation.refresh_from_db()
    assert world.participation.status == P.ACCEPTED
    assert can(world.partner_staff, "view", world.tf)


def test_the_lead_agency_cannot_withdraw(world):
    lead = Participation.objects.get(task_force=world.tf, agency=world.lead)
    audited = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        services.withdraw_agency(participation=lead, by=world.lead_liaison, reason="Bored.")
    assert "agency" in error.value.message_dict
    lead.refresh_from_db()
    assert lead.status == P.ACCEPTED
    assert AuditEvent.objects.count() == audited
    assert can(world.lead_liaison, "change", world.tf)


@pytest.mark.parametrize("reason", ["", "  "], ids=["empty", "blank"])
def test_withdrawing_needs_a_reason(world, reason):
    audited = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        services.withdraw_agency(
            participation=world.participation, by=world.partner_liaison, reason=reason
        )
    assert "reason" in error.value.message_dict
    world.participation.refresh_from_db()
    assert world.participation.status == P.ACCEPTED
    assert AuditEvent.objects.count() == audited
    assert can(world.partner_staff, "view", world.tf)


def test_only_an_agency_that_accepted_can_withdraw(world, invitation):
    with pytest.raises(ValidationError) as error:
        services.withdraw_agency(participation=invitation, by=world.lead_liaison, reason="Undo.")
    assert "status" in error.value.message_dict
    invitation.refresh_from_db()
    assert invitation.status == P.INVITED


def test_a_withdrawn_agency_can_be_invited_back(world):
    services.withdraw_agency(
        participation=world.participation, by=world.partner_liaison, reason="Stood down."
    )
    again = services.invite_agency(task_force=world.tf, agency=world.partner, by=world.lead_liaison)
    services.respond_to_invitation(participation=again, accept=True, by=world.partner_liaison)

    assert can(world.partner_liaison, "assign_roles", world.tf)
    # Its staff's earlier place is not silently restored: a liaison assigns it again.
    assert not can(world.partner_staff, "view", world.tf)
