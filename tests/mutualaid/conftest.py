"""The mutual aid world: ``build_world`` (tests/conftest.py) plus a third agency taking
part in the task force that a request is *not* addressed to, and requests, an offer and a
commitment between them.

People (besides the task force's own personas):

* ``lead_liaison`` — Commander of the task force: requests and approves resources;
* ``lead_staff`` — Member, lead agency: sees the lead's requests, decides nothing;
* ``partner_liaison`` / ``partner_staff`` — the addressed agency's liaison officer (who
  offers) and staff (who only sees);
* ``third_liaison`` / ``third_staff`` — Fire and Rescue Service, taking part, with an
  agreement up to AMBER like the partner's, but not addressed by ``rr``;
* ``outsider``, ``portal_admin``, ``lead_admin`` — no role in the task force.

Objects: ``rr`` (AMBER, addressed to the partner only, 10 units), ``rr_all`` (GREEN,
addressed to every participating agency), ``rr_red`` (RED, addressed to the partner,
whose agreement stops at AMBER), ``offer`` (the partner's, 6 of ``rr``), ``commitment``
(4 of a second partner offer of 4, accepted).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from agencies.models import Membership
from coordination.permissions.markings import Marking
from mutualaid import services as aid
from mutualaid.models import ResourceKind
from taskforces import services

from ..conftest import build_world, built_once, role_named
from ..factories import AgencyFactory, agreement_in_force, person

PERSONAS = (
    "portal_admin",
    "lead_admin",
    "lead_liaison",
    "lead_staff",
    "partner_liaison",
    "partner_staff",
    "third_liaison",
    "third_staff",
    "outsider",
)


def soon(hours: int = 48) -> datetime.datetime:
    return timezone.now() + datetime.timedelta(hours=hours)


def build_aid_world() -> SimpleNamespace:
    w = build_world()
    aid.ensure_resource_kinds()  # a transactional test before may have emptied the table
    w.third = AgencyFactory(name="Fire and Rescue Service", acronym="FRS")
    w.third_liaison = person(w.third, Membership.Role.LIAISON, email="liaison@frs.example.gov")
    w.third_staff = person(w.third, email="staff@frs.example.gov")
    agreement_in_force(parties=[w.lead, w.third], max_marking=Marking.AMBER)
    participation = services.invite_agency(task_force=w.tf, agency=w.third, by=w.lead_liaison)
    services.respond_to_invitation(participation=participation, accept=True, by=w.third_liaison)
    services.assign_role(
        role=role_named(w.tf, "member"), person=w.third_staff, assigned_by=w.third_liaison
    )
    w.boats = ResourceKind.objects.get(code="swiftwater-rescue-team")
    w.pumps = ResourceKind.objects.get(code="pump-high-volume")
    w.rr = aid.raise_request(
        task_force=w.tf,
        by=w.lead_liaison,
        kind=w.boats,
        quantity=10,
        location="Upton-upon-Severn",
        needed_by=soon(),
        justification="Evacuating the riverside streets.",
        priority=3,
        marking=Marking.AMBER,
        addressed_agencies=[w.partner],
    )
    w.rr_all = aid.raise_request(
        task_force=w.tf,
        by=w.lead_liaison,
        kind=w.pumps,
        quantity=3,
        location="Tewkesbury",
        needed_by=soon(),
        justification="Pumping out the care home.",
        marking=Marking.GREEN,
    )
    w.rr_red = aid.raise_request(
        task_force=w.tf,
        by=w.lead_liaison,
        description="Covert surveillance team",
        quantity=1,
        location="Gloucester",
        needed_by=soon(),
        justification="Looting reports.",
        marking=Marking.RED,
        addressed_agencies=[w.partner],
    )
    w.offer = aid.make_offer(
        request=w.rr,
        by=w.partner_liaison,
        description="Boat teams",
        quantity=6,
        available_from=soon(6),
    )
    second = aid.make_offer(
        request=w.rr,
        by=w.partner_liaison,
        description="More boat teams",
        quantity=4,
        available_from=soon(6),
    )
    w.commitment = aid.accept_offer(offer=second, by=w.lead_liaison)
    return w


@pytest.fixture(scope="module")
def aid_module_world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[SimpleNamespace]:
    yield from built_once(django_db_blocker, build_aid_world)


@pytest.fixture
def aw(request: pytest.FixtureRequest, db: None) -> SimpleNamespace:
    """A fresh mutual aid world per test; modules marked
    ``usefixtures("aid_module_world")`` get a copy of one built once per module (each
    test's writes still vanish with its savepoint)."""
    if "aid_module_world" in request.fixturenames:
        return copy.deepcopy(request.getfixturevalue("aid_module_world"))
    return build_aid_world()
