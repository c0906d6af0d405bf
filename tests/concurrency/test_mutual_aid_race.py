"""Concurrent acceptance of offers never commits more than was requested (issue 20), on
PostgreSQL, through the real API, in real threads released together.

Each round a request for 5 is raised and three offers are made against it; three approvers
of the requesting agency accept one offer each at the same moment — offers of 3 (only one
fits) in even rounds, offers of 2 (two fit, the third would go one over) in odd rounds —
and in every third round a fourth approver cancels the request at the same moment.
``accept_offer`` locks the task force, then the request, then the offer (docs/decisions/
0011-mutual-aid.md): the accepts queue on the request's row and each counts what the
earlier ones committed. Without the locks (tried by making ``_lock_request`` a plain read;
not part of this suite) 4 of 6 rounds committed 6 or 9 against 5.

Every answer must be a success or a clean refusal in the API's error shape, PostgreSQL's
deadlock counter must not grow, and after every round the commitments must add up to at
most the request's quantity (none still waiting on a cancelled request)."""

from __future__ import annotations

import datetime
import functools
import os

from django.db.models import Sum
from django.utils import timezone

from agencies.models import Membership
from mutualaid import services as aid
from mutualaid.models import Commitment, ResourceRequest
from taskforces import services

from ..conftest import build_world, role_named
from ..factories import person
from .harness import RACES_ON_POSTGRESQL, Referee, release_together

pytestmark = RACES_ON_POSTGRESQL

ROUNDS = int(os.environ.get("CONCORD_RACE_ROUNDS", "30"))


def test_concurrent_acceptance_never_commits_more_than_requested():
    w = build_world()
    approvers = [w.lead_liaison]
    for number in (1, 2):  # the two deputy commanders also approve resources
        deputy = person(w.lead, Membership.Role.STAFF, email=f"deputy{number}@nfa.example.gov")
        services.assign_role(
            role=role_named(w.tf, "deputy-commander"), person=deputy, assigned_by=w.lead_liaison
        )
        approvers.append(deputy)
    canceller = approvers[0]
    with Referee("accept offers together") as referee, referee.guard():
        referee.expect("accept", {201, 400})
        referee.expect("cancel", {200})
        for number in range(ROUNDS):
            size = 3 if number % 2 == 0 else 2
            rr = aid.raise_request(
                task_force=w.tf,
                by=w.lead_liaison,
                description=f"Boat teams, round {number}",
                quantity=5,
                location="Upton",
                needed_by=timezone.now() + datetime.timedelta(days=1),
                justification="Evacuation.",
            )
            offers = [
                aid.make_offer(
                    request=rr,
                    by=w.partner_liaison,
                    description=f"{size} boats",
                    quantity=size,
                    available_from=timezone.now() + datetime.timedelta(hours=2),
                )
                for _ in range(3)
            ]
            calls = [
                functools.partial(
                    referee.ask,
                    approver,
                    "post",
                    f"/api/v1/resource-offers/{offer.pk}/accept/",
                    {"quantity": size},
                    label="accept",
                    round=number,
                )
                for approver, offer in zip(approvers, offers, strict=True)
            ]
            cancelling = number % 3 == 2
            if cancelling:
                calls.append(
                    functools.partial(
                        referee.ask,
                        canceller,
                        "post",
                        f"/api/v1/resource-requests/{rr.pk}/cancel/",
                        {"reason": "Stood down."},
                        label="cancel",
                        round=number,
                    )
                )
            release_together(referee, *calls)
            rr.refresh_from_db()
            counting = Commitment.objects.filter(request=rr).exclude(
                status=Commitment.Status.CANCELLED
            )
            total = counting.aggregate(total=Sum("quantity"))["total"] or 0
            if total > rr.quantity:
                referee.note(f"round {number}: {total} committed against {rr.quantity}")
            won = [
                a
                for a in referee.answers
                if a.round == number and a.label == "accept" and a.status == 201
            ]
            if cancelling:
                if rr.status != ResourceRequest.Status.CANCELLED or counting.exists():
                    referee.note(f"round {number}: cancelled, yet {total} still committed")
            else:
                wanted = 1 if size == 3 else 2
                if len(won) != wanted or total != wanted * size:
                    referee.note(f"round {number}: {len(won)} accepted, {total} committed")
            referee.rounds += 1
    referee.assert_clean()
