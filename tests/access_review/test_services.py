"""Recertifying and ending from the access review, in the services and the permission
core: who may (the holder's agency's administrators), who may not (its liaison officers
and staff, another agency's administrators, portal administrators, the holder recertifying
themselves), what is refused (ended or expired assignments, ending without a reason) and
the audit trail each leaves."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from agencies.models import Membership
from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied, can, explain
from taskforces import services
from taskforces.models import RoleAssignment

from ..conftest import role_named
from ..factories import person

pytestmark = pytest.mark.usefixtures("module_world")


def fresh(assignment: RoleAssignment) -> RoleAssignment:
    return RoleAssignment.objects.get(pk=assignment.pk)


def test_an_agency_administrator_recertifies_their_people(world):
    assignment = world.lead_staff_assignment
    before = AuditEvent.objects.filter(action="assignment.recertified").count()
    done = services.recertify_assignment(
        actor=world.lead_admin, assignment=assignment, note="  Still on the flood rota.  "
    )
    assignment = fresh(assignment)
    assert assignment.recertified_by == world.lead_admin
    assert assignment.recertified_at == done.recertified_at
    assert timezone.now() - assignment.recertified_at < datetime.timedelta(minutes=1)
    assert AuditEvent.objects.filter(action="assignment.recertified").count() == before + 1
    event = AuditEvent.objects.filter(action="assignment.recertified").order_by("-id").first()
    assert event.actor == world.lead_admin
    assert event.object_id == str(assignment.pk)
    assert event.before == {"recertified_at": None, "recertified_by": None}
    assert event.after == {
        "recertified_at": assignment.recertified_at.isoformat(),
        "recertified_by": world.lead_admin.pk,
        "note": "Still on the flood rota.",
    }


def test_recertifying_again_records_the_previous_recertification(world):
    assignment = world.lead_staff_assignment
    first = services.recertify_assignment(actor=world.lead_admin, assignment=assignment)
    second_admin = person(world.lead, Membership.Role.ADMIN)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=30), tick=False):
        services.recertify_assignment(actor=second_admin, assignment=assignment)
    event = AuditEvent.objects.filter(action="assignment.recertified").order_by("-id").first()
    assert event.before == {
        "recertified_at": first.recertified_at.isoformat(),
        "recertified_by": world.lead_admin.pk,
    }
    assert fresh(assignment).recertified_by == second_admin


@pytest.mark.parametrize(
    "persona", ["portal_admin", "lead_liaison", "lead_staff", "partner_liaison", "outsider"]
)
def test_nobody_else_recertifies(world, persona):
    assignment = world.lead_staff_assignment
    with pytest.raises(PermissionDenied):
        services.recertify_assignment(actor=getattr(world, persona), assignment=assignment)
    assert fresh(assignment).recertified_at is None
    assert not AuditEvent.objects.filter(action="assignment.recertified").exists()


def test_another_agencys_administrator_neither_recertifies_nor_ends(world):
    partner_admin = person(world.partner, Membership.Role.ADMIN)
    lead_assignment = world.lead_staff_assignment
    assert not can(partner_admin, "view", lead_assignment)
    with pytest.raises(PermissionDenied):
        services.recertify_assignment(actor=partner_admin, assignment=lead_assignment)
    with pytest.raises(PermissionDenied):
        services.end_assignment(assignment=lead_assignment, by=partner_admin, reason="Not mine")
    assert fresh(lead_assignment).ended_at is None
    # ... and their own agency's people they do review
    assert can(partner_admin, "recertify", world.partner_staff_assignment)
    assert not can(world.lead_admin, "recertify", world.partner_staff_assignment)


def test_portal_administrators_are_told_recertifying_is_the_agencys_word(world):
    explanation = explain(world.portal_admin, "recertify", world.lead_staff_assignment)
    assert not explanation
    assert "Only an agency administrator of National Flood Agency" in explanation.reason
    assert "Portal administrators do not recertify" in explanation.reason
    refused = explain(world.lead_liaison, "recertify", world.lead_staff_assignment)
    assert not refused
    assert "Portal administrators" not in refused.reason
    granted = explain(world.lead_admin, "recertify", world.lead_staff_assignment)
    assert granted
    assert "agency administrator of National Flood Agency, the holder's agency" in str(granted)


def test_an_administrator_does_not_recertify_their_own_assignment(world):
    own = services.assign_role(
        role=role_named(world.tf, "observer"),
        person=world.lead_admin,
        assigned_by=world.lead_liaison,
    )
    explanation = explain(world.lead_admin, "recertify", own)
    assert not explanation
    assert "another agency administrator of National Flood Agency must recertify it" in (
        explanation.reason
    )
    with pytest.raises(PermissionDenied):
        services.recertify_assignment(actor=world.lead_admin, assignment=own)
    assert fresh(own).recertified_at is None
    # another administrator of the agency does; and one may always give up one's own role
    other_admin = person(world.lead, Membership.Role.ADMIN)
    services.recertify_assignment(actor=other_admin, assignment=own)
    assert fresh(own).recertified_by == other_admin
    assert can(world.lead_admin, "end", own)


def test_ended_and_expired_assignments_are_not_recertified(world):
    ended = world.lead_staff_assignment
    services.end_assignment(assignment=ended, by=world.lead_liaison, reason="Rotated out")
    with pytest.raises(ValidationError) as error:
        services.recertify_assignment(actor=world.lead_admin, assignment=ended)
    assert "has ended" in str(error.value.message_dict["assignment"])

    start = timezone.now()
    expiring = services.assign_role(
        role=role_named(world.tf, "observer"),
        person=person(world.lead),
        assigned_by=world.lead_liaison,
        until=start + datetime.timedelta(days=3),
    )
    with (
        time_machine.travel(start + datetime.timedelta(days=4), tick=False),
        pytest.raises(ValidationError) as error,
    ):
        services.recertify_assignment(actor=world.lead_admin, assignment=expiring)
    assert "has expired" in str(error.value.message_dict["assignment"])
    assert fresh(ended).recertified_at is None and fresh(expiring).recertified_at is None
    assert not AuditEvent.objects.filter(action="assignment.recertified").exists()


@pytest.mark.parametrize("note", ["x" * 2001, 42])
def test_a_bad_note_is_refused(world, note):
    with pytest.raises(ValidationError) as error:
        services.recertify_assignment(
            actor=world.lead_admin, assignment=world.lead_staff_assignment, note=note
        )
    assert "note" in error.value.message_dict
    assert fresh(world.lead_staff_assignment).recertified_at is None


def test_the_agency_administrator_ends_with_a_reason(world):
    assignment = world.lead_staff_assignment
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as error:
            services.end_assignment(assignment=assignment, by=world.lead_admin, reason=reason)
        assert "reason" in error.value.message_dict
        assert fresh(assignment).ended_at is None
    assert can(world.lead_staff, "view", world.tf)
    services.end_assignment(
        assignment=assignment, by=world.lead_admin, reason="Access review: no longer needed"
    )
    assignment = fresh(assignment)
    assert assignment.ended_at is not None and assignment.ended_by == world.lead_admin
    assert not can(world.lead_staff, "view", world.tf)  # access goes at once
    event = AuditEvent.objects.filter(action="assignment.ended").order_by("-id").first()
    assert event.actor == world.lead_admin
    assert event.after["reason"] == "Access review: no longer needed"


def test_ending_needs_the_liaison_or_the_administrator_of_the_holders_agency(world):
    assignment = world.lead_staff_assignment
    for persona in ("portal_admin", "lead_staff", "partner_liaison", "outsider"):
        user = getattr(world, persona)
        assert not can(user, "end", assignment)
        with pytest.raises(PermissionDenied):
            services.end_assignment(assignment=assignment, by=user, reason="No")
    refused = explain(world.partner_liaison, "end", assignment)
    assert "Only a liaison officer or agency administrator of National Flood Agency" in (
        refused.reason
    )
    # the administrator ends, but does not re-date (that stays the liaison's)
    assert can(world.lead_admin, "end", assignment)
    assert not can(world.lead_admin, "change", assignment)
    with pytest.raises(PermissionDenied):
        services.set_assignment_end(assignment=assignment, until=None, by=world.lead_admin)


def test_in_a_closed_task_force_the_administrator_still_ends_and_recertifies(world):
    """A closed task force is still seen by its role holders: their agency can take that
    away (or confirm it), though nothing else in it changes."""
    services.transition_task_force(task_force=world.tf, to_status="closed", by=world.lead_liaison)
    assignment = world.lead_staff_assignment
    assert can(world.lead_staff, "view", world.tf)
    assert not can(world.lead_liaison, "end", assignment)
    services.recertify_assignment(actor=world.lead_admin, assignment=assignment)
    services.end_assignment(assignment=assignment, by=world.lead_admin, reason="Task force closed")
    assert not can(world.lead_staff, "view", world.tf)


def test_an_offboarded_agencys_administrator_reviews_nothing(world):
    from agencies import services as agency_services

    assignment = world.partner_staff_assignment
    partner_admin = person(world.partner, Membership.Role.ADMIN)
    agency_services.suspend_agency(agency=world.partner, by=world.portal_admin, reason="Audit")
    # suspended: the agency's people have no access, but its administrator still reviews
    assert can(partner_admin, "recertify", assignment)
    agency_services.offboard_agency(agency=world.partner, by=world.portal_admin, reason="Gone")
    for action in ("view", "recertify", "end"):
        assert not can(partner_admin, action, fresh(assignment))
