"""Mutual aid's services: the flow from request to demobilisation, the refusals (each a
clear error that changes nothing), the audit trail and the notifications, each sent
exactly once to the right people."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from coordination import notifications
from coordination.models import AuditEvent, Event, Notification
from coordination.permissions import PermissionDenied
from coordination.permissions.markings import Marking
from mutualaid import services as aid
from mutualaid.models import Commitment, CommitmentChange, Offer, ResourceRequest

from .conftest import soon

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("aid_module_world")]

C = Commitment.Status


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a block as if its transaction committed (dispatch and e-mail run after it)."""

    def run(fn):
        with django_capture_on_commit_callbacks(execute=True):
            return fn()

    return run


def told(kind: str, obj) -> list[str]:
    """Recipients of the notifications of ``kind`` about ``obj`` (dispatching its events
    first, as a worker would), one entry per notification."""
    for event in Event.objects.filter(kind=kind, object_id=str(obj.pk)):
        notifications.dispatch(event.pk)
    return sorted(
        Notification.objects.filter(kind=kind, event__object_id=str(obj.pk)).values_list(
            "recipient__email", flat=True
        )
    )


# --- the whole way ---------------------------------------------------------------------------


def test_request_to_demobilisation(aw):
    rr = aw.rr
    assert rr.number == 1 and aw.rr_all.number == 2
    commitment = aid.accept_offer(offer=aw.offer, by=aw.lead_liaison)
    rr.refresh_from_db()
    assert commitment.quantity == 6 and rr.status == ResourceRequest.Status.FULFILLED
    for step in (C.MOBILISED, C.ON_SCENE, C.DEMOBILISED):
        aid.move_commitment(commitment=commitment, to_status=step, by=aw.partner_liaison)
    history = list(commitment.changes.values_list("from_status", "to_status", "by__email"))
    assert history == [
        ("", C.COMMITTED, aw.lead_liaison.email),
        (C.COMMITTED, C.MOBILISED, aw.partner_liaison.email),
        (C.MOBILISED, C.ON_SCENE, aw.partner_liaison.email),
        (C.ON_SCENE, C.DEMOBILISED, aw.partner_liaison.email),
    ]
    actions = set(
        AuditEvent.objects.filter(object_type__startswith="mutualaid.").values_list(
            "action", flat=True
        )
    )
    assert {
        "resource_request.raised",
        "resource_offer.made",
        "resource_offer.accepted",
        "commitment.mobilised",
        "commitment.on_scene",
        "commitment.demobilised",
    } <= actions


def test_never_more_than_requested(aw):
    # 4 of 10 are committed; a second offer of 5 fits, then only 1 of the 6 offered does
    extra = aid.make_offer(
        request=aw.rr,
        by=aw.partner_liaison,
        description="Yet more",
        quantity=5,
        available_from=soon(2),
    )
    aid.accept_offer(offer=extra, by=aw.lead_liaison)
    with pytest.raises(ValidationError) as refused:
        aid.accept_offer(offer=aw.offer, by=aw.lead_liaison)
    assert refused.value.message_dict["quantity"] == ["Only 1 still needed; accept at most 1."]
    with pytest.raises(ValidationError) as refused:
        aid.accept_offer(offer=aw.offer, by=aw.lead_liaison, quantity=7)
    assert refused.value.message_dict["quantity"] == ["The offer is for 6 at most."]
    aw.offer.refresh_from_db()
    assert aw.offer.status == Offer.Status.PENDING
    assert aid.committed_quantity(aw.rr) == 9
    aid.accept_offer(offer=aw.offer, by=aw.lead_liaison, quantity=1)
    aw.rr.refresh_from_db()
    assert aw.rr.status == ResourceRequest.Status.FULFILLED
    assert aid.committed_quantity(aw.rr) == 10


def test_part_of_an_offer_and_cancelling_reopens(aw):
    commitment = aid.accept_offer(offer=aw.offer, by=aw.lead_liaison, quantity=6)
    aw.rr.refresh_from_db()
    assert aw.rr.status == ResourceRequest.Status.FULFILLED
    aid.move_commitment(
        commitment=commitment, to_status=C.CANCELLED, by=aw.lead_liaison, note="Road closed"
    )
    aw.rr.refresh_from_db()
    assert aw.rr.status == ResourceRequest.Status.OPEN
    assert aid.committed_quantity(aw.rr) == 4


@pytest.mark.parametrize(
    ("steps", "bad"),
    [
        ((), C.ON_SCENE),
        ((), C.DEMOBILISED),
        ((C.MOBILISED, C.ON_SCENE), C.CANCELLED),
        ((C.MOBILISED, C.ON_SCENE, C.DEMOBILISED), C.MOBILISED),
        ((), "teleported"),
    ],
)
def test_commitments_move_only_forward(aw, steps, bad):
    for step in steps:
        aid.move_commitment(commitment=aw.commitment, to_status=step, by=aw.partner_liaison)
    before = CommitmentChange.objects.count()
    with pytest.raises(ValidationError) as refused:
        aid.move_commitment(commitment=aw.commitment, to_status=bad, by=aw.partner_liaison)
    assert refused.value.message_dict["status"]
    assert CommitmentChange.objects.count() == before


def test_cancelling_a_request(aw):
    aid.cancel_request(request=aw.rr, by=aw.lead_liaison, reason="The river fell.")
    aw.rr.refresh_from_db()
    aw.offer.refresh_from_db()
    aw.commitment.refresh_from_db()
    assert aw.rr.status == ResourceRequest.Status.CANCELLED
    assert aw.offer.status == Offer.Status.DECLINED
    assert aw.commitment.status == C.CANCELLED
    with pytest.raises(ValidationError):
        aid.make_offer(
            request=aw.rr,
            by=aw.partner_liaison,
            description="Boats",
            quantity=1,
            available_from=soon(1),
        )
    with pytest.raises(ValidationError):
        aid.cancel_request(request=aw.rr, by=aw.lead_liaison, reason="Again")


def test_mobilised_resources_stay_when_a_request_is_cancelled(aw):
    aid.move_commitment(commitment=aw.commitment, to_status=C.MOBILISED, by=aw.partner_liaison)
    aid.cancel_request(request=aw.rr, by=aw.lead_liaison, reason="The river fell.")
    aw.commitment.refresh_from_db()
    assert aw.commitment.status == C.MOBILISED  # still to be demobilised


# --- refusals --------------------------------------------------------------------------------


def raise_with(aw, **changes):
    values = {
        "task_force": aw.tf,
        "by": aw.lead_liaison,
        "kind": aw.boats,
        "quantity": 2,
        "location": "Worcester",
        "needed_by": soon(),
        "justification": "Because.",
        "marking": Marking.AMBER,
    }
    values.update(changes)
    return aid.raise_request(**values)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": None, "description": "  "}, "description"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": 100_001}, "quantity"),
        ({"location": ""}, "location"),
        ({"justification": ""}, "justification"),
        ({"needed_by": timezone.now() - datetime.timedelta(hours=1)}, "needed_by"),
        ({"priority": 9}, "priority"),
        ({"marking": 7}, "marking"),
        ({"description": "x" * 301}, "description"),
        ({"location": "line\nbreak"}, "location"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(aw, changes, field):
    before = ResourceRequest.objects.count()
    with pytest.raises(ValidationError) as refused:
        raise_with(aw, **changes)
    assert field in refused.value.message_dict
    assert ResourceRequest.objects.count() == before


def test_addressing(aw):
    with pytest.raises(ValidationError) as refused:
        raise_with(aw, addressed_agencies=[aw.outsider_agency])
    assert "Not taking part" in refused.value.message_dict["addressed_agencies"][0]
    with pytest.raises(ValidationError) as refused:
        raise_with(aw, addressed_agencies=[aw.lead])
    assert refused.value.message_dict["addressed_agencies"]


def test_marking_above_the_ceiling_is_refused(aw):
    # the partner's liaison holds no request capability; give the lead's member the
    # operations lead role (request resources, no view restricted): RED is refused
    from taskforces import services

    from ..conftest import role_named

    services.assign_role(
        role=role_named(aw.tf, "operations-lead"), person=aw.lead_staff, assigned_by=aw.lead_liaison
    )
    with pytest.raises(ValidationError) as refused:
        raise_with(aw, by=aw.lead_staff, marking=Marking.RED)
    assert refused.value.message_dict["marking"]
    assert raise_with(aw, by=aw.lead_staff).requesting_agency == aw.lead


@pytest.mark.parametrize("persona", ["lead_staff", "partner_liaison", "outsider", "portal_admin"])
def test_only_holders_of_request_resources_raise(aw, persona):
    with pytest.raises(PermissionDenied) as refused:
        raise_with(aw, by=getattr(aw, persona))
    assert str(refused.value)


def test_offers_are_checked(aw):
    with pytest.raises(ValidationError) as refused:
        aid.make_offer(
            request=aw.rr,
            by=aw.partner_liaison,
            description="Boats",
            quantity=11,
            available_from=soon(1),
        )
    assert "at most" in refused.value.message_dict["quantity"][0]
    with pytest.raises(PermissionDenied):
        aid.make_offer(
            request=aw.rr_all,
            by=aw.lead_liaison,
            description="Our own",
            quantity=1,
            available_from=soon(1),
        )
    with pytest.raises(ValidationError) as refused:
        aid.decline_offer(offer=aw.offer, by=aw.lead_liaison, reason="  ")
    assert refused.value.message_dict["reason"]
    aid.withdraw_offer(offer=aw.offer, by=aw.partner_liaison)
    with pytest.raises(ValidationError):
        aid.accept_offer(offer=aw.offer, by=aw.lead_liaison)


# --- notifications -------------------------------------------------------------------------


def test_new_requests_reach_the_addressed_liaison_officers_once(aw):
    assert told("resource_request.raised", aw.rr) == [aw.partner_liaison.email]
    assert told("resource_request.raised", aw.rr_all) == sorted(
        [aw.partner_liaison.email, aw.third_liaison.email]
    )
    # RED beyond the partner's agreement: nobody may see it, nobody is told
    assert told("resource_request.raised", aw.rr_red) == []
    # a redelivered task adds nothing
    assert told("resource_request.raised", aw.rr) == [aw.partner_liaison.email]


def test_offers_reach_approvers_and_decisions_the_offering_liaison(aw, committed):
    assert told("resource_offer.made", aw.offer) == [aw.lead_liaison.email]
    mail.outbox.clear()
    committed(lambda: aid.decline_offer(offer=aw.offer, by=aw.lead_liaison, reason="Too far."))
    assert told("resource_offer.declined", aw.offer) == [aw.partner_liaison.email]
    assert [m.to for m in mail.outbox] == [[aw.partner_liaison.email]]
    assert told("resource_offer.accepted", aw.commitment.offer) == [aw.partner_liaison.email]


def test_overdue_mobilisation_is_told_once_to_both_sides(aw):
    ResourceRequest.objects.filter(pk=aw.rr.pk).update(
        needed_by=timezone.now() - datetime.timedelta(hours=1)
    )
    assert aid.flag_overdue_mobilisation() == 1
    assert aid.flag_overdue_mobilisation() == 0  # idempotent
    assert told("commitment.overdue", aw.commitment) == sorted(
        [aw.lead_liaison.email, aw.partner_liaison.email]
    )
    assert told("commitment.overdue", aw.commitment) == sorted(
        [aw.lead_liaison.email, aw.partner_liaison.email]
    )


def test_a_commitment_mobilised_in_time_is_not_overdue(aw):
    aid.move_commitment(commitment=aw.commitment, to_status=C.MOBILISED, by=aw.partner_liaison)
    ResourceRequest.objects.filter(pk=aw.rr.pk).update(
        needed_by=timezone.now() - datetime.timedelta(hours=1)
    )
    assert aid.flag_overdue_mobilisation() == 0


def test_the_beat_task_is_scheduled(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "mutualaid.tasks.flag_overdue_mobilisation" in tasks
