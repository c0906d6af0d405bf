"""Only the permission core answers object questions: Django's has_perm never grants
task force access that can() refuses (guardian's backend is not installed)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from agencies import services as agency_services
from coordination.permissions import can
from taskforces import services

from ..conftest import role_named
from ..factories import person


def test_has_perm_grants_nothing_on_objects_even_to_members(world):
    assert can(world.partner_staff, "view", world.tf)
    assert not world.partner_staff.has_perm("taskforces.view_taskforce", world.tf)


def test_a_future_assignment_or_a_suspended_agency_gives_nothing_anywhere(world):
    later = person(world.partner)
    services.assign_role(
        role=role_named(world.tf, "observer"),
        person=later,
        assigned_by=world.partner_liaison,
        starts_at=timezone.now() + datetime.timedelta(days=1),
    )
    assert not can(later, "view", world.tf)
    assert not later.has_perm("taskforces.view_taskforce", world.tf)

    agency_services.suspend_agency(agency=world.partner, by=world.portal_admin, reason="Audit")
    assert not can(world.partner_staff, "view", world.tf)
    assert not world.partner_staff.has_perm("taskforces.view_taskforce", world.tf)
