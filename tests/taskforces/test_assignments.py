"""Role assignments: the liaison officer's rules, holder limits, periods, expiry and ending.

A liaison officer assigns only people of their own agency, only in task forces their
agency accepted, and only to roles their agency is eligible for; a role's holder limit is
never exceeded; access starts and stops exactly at the assignment's period, and ending an
assignment takes access away at once. Every assignment and every end is audited.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Membership
from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied, can
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Role, RoleAssignment
from taskforces.tasks import expire_role_assignments

from ..conftest import role_named
from ..factories import person

HOUR = datetime.timedelta(hours=1)
SECOND = datetime.timedelta(seconds=1)
TICK = datetime.timedelta(microseconds=1)


# Build the world once for this module (see conftest.module_world).
pytestmark = pytest.mark.usefixtures("module_world")


@pytest.fixture
def observer(world) -> Role:
    return role_named(world.tf, "observer")


@pytest.fixture
def outsider_liaison(world):
    return person(world.outsider_agency, Membership.Role.LIAISON, email="liaison@cta.example.gov")


def a_role(world, name: str = "Sandbag crew lead", **kwargs) -> Role:
    return services.create_role(
        task_force=world.tf,
        name=name,
        responsibilities="Leads a sandbag crew.",
        capabilities=["view_taskforce", "post_updates"],
        by=world.lead_liaison,
        **kwargs,
    )


def open_holders(role: Role) -> int:
    return RoleAssignment.objects.filter(role=role, ended_at__isnull=True).count()


def whole_second(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(microsecond=0)


# --- who may assign whom --------------------------------------------------------------------


def test_a_liaison_assigns_their_own_agencys_person_and_it_is_audited(world, observer):
    audited = AuditEvent.objects.count()
    assignment = services.assign_role(
        role=observer, person=world.partner_staff, assigned_by=world.partner_liaison
    )

    assert assignment.agency == world.partner
    assert assignment.assigned_by == world.partner_liaison
    assert assignment.is_current()
    assert world.partner_staff.groups.filter(pk=observer.group_id).exists()
    event = AuditEvent.objects.get(action="assignment.created", object_id=str(assignment.pk))
    assert event.actor == world.partner_liaison
    assert event.actor_label == world.partner_liaison.email
    assert event.actor_agency_label == str(world.partner)
    assert event.after["role"] == observer.pk
    assert event.after["person"] == world.partner_staff.pk
    assert event.after["agency"] == world.partner.pk
    assert AuditEvent.objects.count() == audited + 1


@pytest.mark.parametrize(
    ("liaison", "target"),
    [
        ("partner_liaison", "lead_staff"),
        ("lead_liaison", "partner_staff"),
        ("lead_liaison", "outsider"),
        ("lead_liaison", "portal_admin"),  # belongs to no agency at all
    ],
)
def test_a_liaison_assigns_only_people_of_their_own_agency(world, observer, liaison, target):
    audited = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        services.assign_role(
            role=observer, person=getattr(world, target), assigned_by=getattr(world, liaison)
        )
    assert "person" in error.value.message_dict
    assert open_holders(observer) == 0
    assert AuditEvent.objects.count() == audited


def test_a_liaison_assigns_nobody_while_their_agency_is_only_invited(
    world, observer, outsider_liaison
):
    services.invite_agency(task_force=world.tf, agency=world.outsider_agency, by=world.lead_liaison)
    with pytest.raises(PermissionDenied):
        services.assign_role(role=observer, person=world.outsider, assigned_by=outsider_liaison)
    assert open_holders(observer) == 0


def test_a_liaison_assigns_nobody_after_their_agency_declined(world, observer, outsider_liaison):
    invitation = services.invite_agency(
        task_force=world.tf, agency=world.outsider_agency, by=world.lead_liaison
    )
    services.respond_to_invitation(participation=invitation, accept=False, by=outsider_liaison)
    with pytest.raises(PermissionDenied):
        services.assign_role(role=observer, person=world.outsider, assigned_by=outsider_liaison)
    assert open_holders(observer) == 0


def test_a_liaison_assigns_nobody_after_their_agency_withdrew(world, observer):
    services.withdraw_agency(
        participation=world.participation, by=world.partner_liaison, reason="Stood down."
    )
    with pytest.raises(PermissionDenied):
        services.assign_role(
            role=observer, person=world.partner_staff, assigned_by=world.partner_liaison
        )
    assert open_holders(observer) == 0


def test_a_liaison_assigns_nobody_in_a_task_force_their_agency_never_joined(
    world, observer, outsider_liaison
):
    with pytest.raises(PermissionDenied):
        services.assign_role(role=observer, person=world.outsider, assigned_by=outsider_liaison)


def test_role_eligibility_set_by_update_role_excludes_other_agencies(world, observer):
    services.update_role(role=observer, eligible_agencies=[world.lead], by=world.lead_liaison)

    with pytest.raises(ValidationError) as error:
        services.assign_role(
            role=observer, person=world.partner_staff, assigned_by=world.partner_liaison
        )
    assert "role" in error.value.message_dict
    assert open_holders(observer) == 0
    # The eligible agency may.
    services.assign_role(role=observer, person=world.lead_staff, assigned_by=world.lead_liaison)
    assert open_holders(observer) == 1


def test_role_eligibility_set_by_create_role_excludes_other_agencies(world):
    medical = a_role(world, "Medical lead", eligible_agencies=[world.partner])

    with pytest.raises(ValidationError) as error:
        services.assign_role(role=medical, person=world.lead_staff, assigned_by=world.lead_liaison)
    assert "role" in error.value.message_dict
    services.assign_role(
        role=medical, person=world.partner_staff, assigned_by=world.partner_liaison
    )
    assert open_holders(medical) == 1


@pytest.mark.parametrize("actor", ["partner_staff", "lead_staff", "lead_admin", "portal_admin"])
def test_only_liaison_officers_assign(world, observer, actor):
    by = getattr(world, actor)
    with pytest.raises(PermissionDenied):
        services.assign_role(role=observer, person=by, assigned_by=by)
    assert open_holders(observer) == 0


def test_a_second_liaison_needs_a_role_with_the_assign_capability(world, observer):
    # Being a liaison officer of an accepted agency is not enough: the capability comes
    # from a role assignment someone made (roles are defined, not implied).
    second = person(world.partner, Membership.Role.LIAISON, email="liaison2@rhs.example.gov")
    with pytest.raises(PermissionDenied):
        services.assign_role(role=observer, person=world.partner_staff, assigned_by=second)

    services.assign_role(
        role=role_named(world.tf, "liaison-officer"),
        person=second,
        assigned_by=world.partner_liaison,
    )
    services.assign_role(role=observer, person=world.partner_staff, assigned_by=second)
    assert open_holders(observer) == 1


# --- roles: defined by those who may change the task force ---------------------------------


def test_changing_a_roles_capabilities_takes_effect_at_once(world):
    member = world.member_role
    assert can(world.partner_staff, "post_updates", world.tf)

    services.update_role(
        role=member, capabilities=["view_taskforce", "manage_tasks"], by=world.lead_liaison
    )

    assert not can(world.partner_staff, "post_updates", world.tf)
    assert can(world.partner_staff, "manage_tasks", world.tf)
    assert can(world.lead_staff, "manage_tasks", world.tf)
    event = AuditEvent.objects.get(action="role.updated", object_id=str(member.pk))
    assert event.actor == world.lead_liaison
    assert event.before["capabilities"] == ["view_taskforce", "post_updates"]
    assert event.after["capabilities"] == ["view_taskforce", "manage_tasks"]


@pytest.mark.parametrize("actor", ["partner_liaison", "lead_staff", "lead_admin", "portal_admin"])
def test_only_those_who_may_change_the_task_force_define_roles(world, actor):
    # The commander may: every ``a_role`` in this module is made by them.
    by = getattr(world, actor)
    roles_before = Role.objects.filter(task_force=world.tf).count()
    with pytest.raises(PermissionDenied):
        services.create_role(
            task_force=world.tf,
            name="Self-made",
            responsibilities="Whatever I like.",
            capabilities=["view_taskforce", "change_taskforce"],
            by=by,
        )
    with pytest.raises(PermissionDenied):
        services.update_role(role=world.member_role, capabilities=["view_taskforce"], by=by)
    assert Role.objects.filter(task_force=world.tf).count() == roles_before
    assert can(world.partner_staff, "post_updates", world.tf)


# --- holder limits and duplicates -----------------------------------------------------------


def test_the_commander_role_takes_one_holder(world):
    commander = role_named(world.tf, "commander")
    assert commander.max_holders == 1
    audited = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as error:
        services.assign_role(
            role=commander, person=world.lead_staff, assigned_by=world.lead_liaison
        )

    assert "role" in error.value.message_dict
    assert open_holders(commander) == 1
    assert AuditEvent.objects.count() == audited
    assert not can(world.lead_staff, "change", world.tf)


def test_the_holder_limit_counts_every_agency(world):
    limited = a_role(world, max_holders=1)
    services.assign_role(role=limited, person=world.lead_staff, assigned_by=world.lead_liaison)
    with pytest.raises(ValidationError) as error:
        services.assign_role(
            role=limited, person=world.partner_staff, assigned_by=world.partner_liaison
        )
    assert "role" in error.value.message_dict
    assert open_holders(limited) == 1


def test_a_scheduled_holder_counts_against_the_limit(world):
    limited = a_role(world, max_holders=1)
    services.assign_role(
        role=limited,
        person=world.lead_staff,
        assigned_by=world.lead_liaison,
        starts_at=timezone.now() + HOUR,
    )
    with pytest.raises(ValidationError) as error:
        services.assign_role(
            role=limited, person=world.partner_staff, assigned_by=world.partner_liaison
        )
    assert "role" in error.value.message_dict


def test_a_place_freed_by_ending_an_assignment_can_be_filled(world):
    limited = a_role(world, max_holders=1)
    first = services.assign_role(
        role=limited, person=world.lead_staff, assigned_by=world.lead_liaison
    )
    services.end_assignment(assignment=first, by=world.lead_liaison, reason="Rotated out.")
    services.assign_role(
        role=limited, person=world.partner_staff, assigned_by=world.partner_liaison
    )
    assert open_holders(limited) == 1


def test_an_expired_holder_no_longer_counts_even_before_the_sweep(world):
    limited = a_role(world, max_holders=1)
    until = whole_second(timezone.now() + HOUR)
    services.assign_role(
        role=limited, person=world.lead_staff, assigned_by=world.lead_liaison, until=until
    )
    with time_machine.travel(until + SECOND, tick=False):
        services.assign_role(
            role=limited, person=world.partner_staff, assigned_by=world.partner_liaison
        )
        assert RoleAssignment.objects.open().filter(role=limited).count() == 1


def test_the_same_person_cannot_hold_the_same_role_twice(world):
    audited = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        services.assign_role(
            role=world.member_role, person=world.lead_staff, assigned_by=world.lead_liaison
        )
    assert "person" in error.value.message_dict
    assert (
        RoleAssignment.objects.filter(
            role=world.member_role, person=world.lead_staff, ended_at__isnull=True
        ).count()
        == 1
    )
    assert AuditEvent.objects.count() == audited


def test_a_person_may_hold_a_role_again_after_it_ended(world):
    services.end_assignment(
        assignment=world.lead_staff_assignment, by=world.lead_liaison, reason="Break."
    )
    again = services.assign_role(
        role=world.member_role, person=world.lead_staff, assigned_by=world.lead_liaison
    )
    assert again.pk != world.lead_staff_assignment.pk
    assert can(world.lead_staff, "view", world.tf)


# --- periods --------------------------------------------------------------------------------


def test_an_assignment_starting_later_gives_nothing_until_it_starts(world):
    newcomer = person(world.partner, email="newcomer@rhs.example.gov")
    starts = whole_second(timezone.now() + HOUR)
    assignment = services.assign_role(
        role=world.member_role,
        person=newcomer,
        assigned_by=world.partner_liaison,
        starts_at=starts,
    )

    assert not assignment.is_current()
    assert not can(newcomer, "view", world.tf)
    with time_machine.travel(starts - TICK, tick=False):
        assert not can(newcomer, "view", world.tf)
    with time_machine.travel(starts, tick=False):
        assert can(newcomer, "view", world.tf)
        assert can(newcomer, "view", world.objectives[Marking.GREEN])


def test_access_stops_exactly_at_until_before_the_sweep_runs(world):
    newcomer = person(world.partner, email="temp@rhs.example.gov")
    until = whole_second(timezone.now() + HOUR)
    assignment = services.assign_role(
        role=world.member_role, person=newcomer, assigned_by=world.partner_liaison, until=until
    )

    with time_machine.travel(until - TICK, tick=False):
        assert can(newcomer, "view", world.tf)
    with time_machine.travel(until, tick=False):
        assert not can(newcomer, "view", world.tf)
        assert not can(newcomer, "view", world.objectives[Marking.GREEN])
    assignment.refresh_from_db()
    assert assignment.ended_at is None  # nothing swept it: the permission core read the date


def test_expire_assignments_ends_due_assignments_once(world):
    newcomer = person(world.partner, email="temp@rhs.example.gov")
    until = whole_second(timezone.now() + HOUR)
    due = services.assign_role(
        role=world.member_role, person=newcomer, assigned_by=world.partner_liaison, until=until
    )
    later = services.assign_role(
        role=role_named(world.tf, "observer"),
        person=newcomer,
        assigned_by=world.partner_liaison,
        until=until + HOUR,
    )
    assert newcomer.groups.filter(pk=world.member_role.group_id).exists()

    with time_machine.travel(until + 5 * SECOND, tick=False):
        assert services.expire_assignments() == 1
        assert services.expire_assignments() == 0

    due.refresh_from_db()
    assert due.ended_at == until
    assert due.end_reason == "Expired"
    assert due.ended_by is None
    assert not newcomer.groups.filter(pk=world.member_role.group_id).exists()
    later.refresh_from_db()
    assert later.ended_at is None
    world.lead_staff_assignment.refresh_from_db()
    assert world.lead_staff_assignment.ended_at is None
    event = AuditEvent.objects.get(action="assignment.ended", object_id=str(due.pk))
    assert event.actor is None
    assert event.actor_label == "system"
    assert event.after["reason"] == "Expired"


def test_the_celery_task_runs_the_expiry(world):
    newcomer = person(world.partner, email="temp@rhs.example.gov")
    until = whole_second(timezone.now() + HOUR)
    due = services.assign_role(
        role=world.member_role, person=newcomer, assigned_by=world.partner_liaison, until=until
    )

    with time_machine.travel(until + SECOND, tick=False):
        assert expire_role_assignments.delay().get() == 1
        assert expire_role_assignments.delay().get() == 0

    due.refresh_from_db()
    assert (due.ended_at, due.end_reason) == (until, "Expired")


def test_set_assignment_end_stops_access_at_the_new_date(world):
    until = whole_second(timezone.now() + HOUR)
    services.set_assignment_end(
        assignment=world.partner_staff_assignment, until=until, by=world.partner_liaison
    )
    event = AuditEvent.objects.get(
        action="assignment.end_date_set", object_id=str(world.partner_staff_assignment.pk)
    )
    assert event.actor == world.partner_liaison
    with time_machine.travel(until, tick=False):
        assert not can(world.partner_staff, "view", world.tf)


def test_another_agencys_liaison_cannot_set_an_assignments_end(world):
    with pytest.raises(PermissionDenied):
        services.set_assignment_end(
            assignment=world.partner_staff_assignment,
            until=timezone.now() + HOUR,
            by=world.lead_liaison,
        )
    world.partner_staff_assignment.refresh_from_db()
    assert world.partner_staff_assignment.ends_at is None


# --- ending ---------------------------------------------------------------------------------


def test_the_holders_liaison_ends_an_assignment_and_access_goes_at_once(world):
    held = world.partner_staff_assignment
    assert can(world.partner_staff, "view", world.tf)

    ended = services.end_assignment(
        assignment=held, by=world.partner_liaison, reason="  Reassigned  "
    )

    assert ended.ended_at is not None
    assert ended.ended_by == world.partner_liaison
    assert ended.end_reason == "Reassigned"
    assert not can(world.partner_staff, "view", world.tf)
    assert not world.partner_staff.groups.filter(pk=held.role.group_id).exists()
    event = AuditEvent.objects.get(action="assignment.ended", object_id=str(held.pk))
    assert event.actor == world.partner_liaison
    assert event.before == {"ended_at": None}
    assert event.after["reason"] == "Reassigned"


@pytest.mark.parametrize(
    ("actor", "assignment"),
    [
        ("lead_liaison", "partner_staff_assignment"),  # the commander, but not their liaison
        ("partner_liaison", "lead_staff_assignment"),
        ("partner_staff", "partner_staff_assignment"),  # the holder themself
        # the holder's agency's administrator may (access review: tests/access_review),
        # another agency's may not
        ("lead_admin", "partner_staff_assignment"),
        ("portal_admin", "lead_staff_assignment"),
    ],
)
def test_only_the_holders_liaison_or_administrator_ends_an_assignment(world, actor, assignment):
    held = getattr(world, assignment)
    audited = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        services.end_assignment(assignment=held, by=getattr(world, actor), reason="Not mine.")
    held.refresh_from_db()
    assert held.ended_at is None
    assert can(held.person, "view", world.tf)
    assert AuditEvent.objects.count() == audited


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_ending_an_assignment_needs_a_reason(world, reason):
    held = world.partner_staff_assignment
    with pytest.raises(ValidationError) as error:
        services.end_assignment(assignment=held, by=world.partner_liaison, reason=reason)
    assert "reason" in error.value.message_dict
    held.refresh_from_db()
    assert held.ended_at is None
    assert can(world.partner_staff, "view", world.tf)


def test_an_assignment_ends_only_once(world):
    held = world.partner_staff_assignment
    services.end_assignment(assignment=held, by=world.partner_liaison, reason="Done.")
    audited = AuditEvent.objects.count()
    with pytest.raises(ValidationError) as error:
        services.end_assignment(assignment=held, by=world.partner_liaison, reason="Again.")
    assert "assignment" in error.value.message_dict
    held.refresh_from_db()
    assert held.end_reason == "Done."
    assert AuditEvent.objects.count() == audited


def test_a_person_with_several_roles_keeps_the_others_when_one_ends(world, observer):
    second = services.assign_role(
        role=observer, person=world.partner_staff, assigned_by=world.partner_liaison
    )
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Narrowed."
    )
    assert can(world.partner_staff, "view", world.tf)
    assert not can(world.partner_staff, "post_updates", world.tf)  # came from Member only
    assert world.partner_staff.groups.filter(pk=second.role.group_id).exists()


def test_suspension_does_not_end_assignments_but_refuses_access(world):
    agency_services.suspend_agency(agency=world.partner, by=world.portal_admin, reason="Audit.")
    world.partner_staff_assignment.refresh_from_db()
    assert world.partner_staff_assignment.ended_at is None
    assert not can(world.partner_staff, "view", world.tf)
