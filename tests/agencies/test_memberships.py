"""People's ties to their agency: adding them, naming liaison officers, ending memberships.

Agency administrators manage their own agency's people and nobody else's; a person
belongs to one agency at a time; leaving an agency ends every role at once.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from agencies import services as agency_services
from agencies.models import Membership
from coordination.models import AuditEvent, User
from coordination.permissions import PermissionDenied, can
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Participation, RoleAssignment

from ..factories import person

R = Membership.Role


# Build the world once for this module (see conftest.module_world).
pytestmark = pytest.mark.usefixtures("module_world")


@pytest.fixture
def partner_admin(world) -> User:
    return person(world.partner, R.ADMIN, email="admin@rhs.example.gov")


@pytest.fixture
def outsider_admin(world) -> User:
    return person(world.outsider_agency, R.ADMIN, email="admin@cta.example.gov")


def membership(user: User) -> Membership:
    return Membership.objects.get(user=user, is_active=True)


def counts() -> tuple[int, int, int]:
    return User.objects.count(), Membership.objects.count(), AuditEvent.objects.count()


# --- add_member -----------------------------------------------------------------------------


def test_agency_admin_adds_a_member_to_their_agency(world):
    added = agency_services.add_member(
        agency=world.lead,
        email="  New.Officer@NFA.example.gov ",
        first_name=" Nia ",
        last_name="Officer",
        job_title="Hydrologist",
        by=world.lead_admin,
    )

    assert added.agency == world.lead
    assert added.role == R.STAFF
    assert added.is_active
    user = added.user
    assert user.email == "new.officer@nfa.example.gov"
    assert user.first_name == "Nia"
    assert not user.has_usable_password()
    event = AuditEvent.objects.get(action="membership.created", object_id=str(added.pk))
    assert event.actor == world.lead_admin
    assert event.after == {"agency": world.lead.pk, "role": R.STAFF, "user": user.pk}
    # A new member holds no role in any task force until a liaison officer assigns one.
    assert not can(user, "view", world.tf)


def test_portal_admin_may_add_a_member_to_any_agency(world):
    added = agency_services.add_member(
        agency=world.partner,
        email="first@rhs.example.gov",
        first_name="First",
        last_name="Admin",
        role=R.ADMIN,
        by=world.portal_admin,
    )
    assert added.role == R.ADMIN
    assert added.agency == world.partner


@pytest.mark.parametrize(
    "actor",
    ["partner_admin", "lead_liaison", "lead_staff", "partner_liaison", "outsider"],
)
def test_only_the_agencys_own_admins_add_members(world, partner_admin, actor):
    by = partner_admin if actor == "partner_admin" else getattr(world, actor)
    before = counts()

    with pytest.raises(PermissionDenied):
        agency_services.add_member(
            agency=world.lead,
            email="intruder@nfa.example.gov",
            first_name="In",
            last_name="Truder",
            by=by,
        )

    assert counts() == before
    assert not User.objects.filter(email="intruder@nfa.example.gov").exists()


def test_a_person_cannot_belong_to_two_agencies(world, partner_admin):
    before = counts()

    with pytest.raises(ValidationError) as error:
        agency_services.add_member(
            agency=world.partner,
            email=world.lead_staff.email.upper(),
            first_name="Same",
            last_name="Person",
            by=partner_admin,
        )

    assert "email" in error.value.message_dict
    assert counts() == before
    assert membership(world.lead_staff).agency == world.lead


def test_a_person_who_left_one_agency_may_join_another(world, partner_admin):
    agency_services.end_membership(
        membership=membership(world.lead_staff), by=world.lead_admin, reason="Moved to RHS."
    )

    joined = agency_services.add_member(
        agency=world.partner,
        email=world.lead_staff.email,
        first_name="ignored",
        last_name="ignored",
        by=partner_admin,
    )

    assert joined.user == world.lead_staff
    assert joined.agency == world.partner
    assert Membership.objects.filter(user=world.lead_staff).count() == 2


def test_an_offboarded_agency_takes_no_new_members(world):
    partner = agency_services.offboard_agency(
        agency=world.partner, by=world.portal_admin, reason="Dissolved."
    )
    before = counts()
    with pytest.raises(ValidationError) as error:
        agency_services.add_member(
            agency=partner,
            email="late@rhs.example.gov",
            first_name="Late",
            last_name="Comer",
            by=world.portal_admin,
        )
    assert "agency" in error.value.message_dict
    assert counts() == before


def test_the_admin_of_an_offboarded_agency_can_no_longer_add_members(world, partner_admin):
    partner = agency_services.offboard_agency(
        agency=world.partner, by=world.portal_admin, reason="Dissolved."
    )
    with pytest.raises(PermissionDenied):
        agency_services.add_member(
            agency=partner,
            email="late@rhs.example.gov",
            first_name="Late",
            last_name="Comer",
            by=partner_admin,
        )


# --- set_member_role ------------------------------------------------------------------------


def test_naming_a_liaison_lets_them_answer_invitations(world, outsider_admin):
    invitation = services.invite_agency(
        task_force=world.tf, agency=world.outsider_agency, by=world.lead_liaison
    )
    # As staff, the outsider may not answer for their agency.
    with pytest.raises(PermissionDenied):
        services.respond_to_invitation(participation=invitation, accept=True, by=world.outsider)

    named = agency_services.set_member_role(
        membership=membership(world.outsider), role=R.LIAISON, by=outsider_admin
    )

    assert named.role == R.LIAISON
    event = AuditEvent.objects.get(action="membership.role_changed", object_id=str(named.pk))
    assert event.actor == outsider_admin
    assert event.before == {"role": R.STAFF}
    assert event.after == {"role": R.LIAISON}
    services.respond_to_invitation(participation=invitation, accept=True, by=world.outsider)
    invitation.refresh_from_db()
    assert invitation.status == Participation.Status.ACCEPTED
    assert can(world.outsider, "assign_roles", world.tf)


@pytest.mark.parametrize("actor", ["lead_admin", "outsider", "lead_liaison", "portal_admin"])
def test_only_the_agencys_admins_or_portal_admins_change_roles(world, actor):
    by = getattr(world, actor)
    target = membership(world.outsider)
    if actor == "portal_admin":
        agency_services.set_member_role(membership=target, role=R.LIAISON, by=by)
        target.refresh_from_db()
        assert target.role == R.LIAISON
        return
    before = counts()
    with pytest.raises(PermissionDenied):
        agency_services.set_member_role(membership=target, role=R.LIAISON, by=by)
    target.refresh_from_db()
    assert target.role == R.STAFF
    assert counts() == before


def test_a_liaison_who_is_made_staff_can_no_longer_assign(world, partner_admin):
    agency_services.set_member_role(
        membership=membership(world.partner_liaison), role=R.STAFF, by=partner_admin
    )
    observer = services.create_role(
        task_force=world.tf,
        name="Shift observer",
        responsibilities="Observe.",
        capabilities=["view_taskforce"],
        by=world.lead_liaison,
    )
    with pytest.raises(PermissionDenied):
        services.assign_role(
            role=observer, person=world.partner_staff, assigned_by=world.partner_liaison
        )
    assert not RoleAssignment.objects.filter(role=observer).exists()


def test_the_role_of_an_ended_membership_cannot_be_changed(world, partner_admin):
    ended = agency_services.end_membership(
        membership=membership(world.partner_staff), by=partner_admin, reason="Retired."
    )
    with pytest.raises(ValidationError) as error:
        agency_services.set_member_role(membership=ended, role=R.LIAISON, by=partner_admin)
    assert "membership" in error.value.message_dict
    ended.refresh_from_db()
    assert ended.role == R.STAFF


# --- end_membership -------------------------------------------------------------------------


def test_ending_a_membership_ends_roles_and_access_at_once(world, partner_admin):
    staff = world.partner_staff
    assert can(staff, "view", world.tf)
    held = world.partner_staff_assignment

    ended = agency_services.end_membership(
        membership=membership(staff), by=partner_admin, reason="Left the service"
    )

    assert not ended.is_active
    assert ended.ended_at is not None
    held.refresh_from_db()
    assert held.ended_at is not None
    assert held.ended_by == partner_admin
    assert "Left the service" in held.end_reason
    assert not staff.groups.filter(pk=held.role.group_id).exists()
    assert not can(staff, "view", world.tf)
    assert not can(staff, "view", world.objectives[Marking.GREEN])
    event = AuditEvent.objects.get(action="membership.ended", object_id=str(ended.pk))
    assert event.actor == partner_admin
    assert event.before == {"is_active": True}
    assert event.after == {"is_active": False, "reason": "Left the service"}
    assert AuditEvent.objects.filter(action="assignment.ended", object_id=str(held.pk)).exists()


def test_ending_a_liaisons_membership_ends_their_liaison_role(world, partner_admin):
    agency_services.end_membership(
        membership=membership(world.partner_liaison), by=partner_admin, reason="Transferred."
    )
    assert not RoleAssignment.objects.filter(
        person=world.partner_liaison, ended_at__isnull=True
    ).exists()
    assert not can(world.partner_liaison, "view", world.tf)
    # The rest of the agency keeps its places.
    assert can(world.partner_staff, "view", world.tf)


@pytest.mark.parametrize("actor", ["lead_admin", "partner_liaison", "partner_staff", "outsider"])
def test_only_the_agencys_admins_end_memberships(world, actor):
    target = membership(world.partner_staff)
    before = counts()

    with pytest.raises(PermissionDenied):
        agency_services.end_membership(
            membership=target, by=getattr(world, actor), reason="Not mine to end."
        )

    target.refresh_from_db()
    assert target.is_active
    assert counts() == before
    assert can(world.partner_staff, "view", world.tf)


def test_you_cannot_end_your_own_membership(world, partner_admin):
    own = membership(partner_admin)
    before = counts()
    with pytest.raises(ValidationError) as error:
        agency_services.end_membership(membership=own, by=partner_admin, reason="Leaving.")
    assert "membership" in error.value.message_dict
    own.refresh_from_db()
    assert own.is_active
    assert counts() == before


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_ending_a_membership_needs_a_reason(world, partner_admin, reason):
    target = membership(world.partner_staff)
    before = counts()
    with pytest.raises(ValidationError) as error:
        agency_services.end_membership(membership=target, by=partner_admin, reason=reason)
    assert "reason" in error.value.message_dict
    target.refresh_from_db()
    assert target.is_active
    assert counts() == before
    world.partner_staff_assignment.refresh_from_db()
    assert world.partner_staff_assignment.ended_at is None


def test_a_membership_ends_only_once(world, partner_admin):
    ended = agency_services.end_membership(
        membership=membership(world.partner_staff), by=partner_admin, reason="Retired."
    )
    before = counts()
    with pytest.raises(ValidationError) as error:
        agency_services.end_membership(membership=ended, by=partner_admin, reason="Again.")
    assert "membership" in error.value.message_dict
    assert counts() == before
