"""Offboarding answers at once; the long part runs in the background (issue 15, item 11).

The request marks the agency offboarded (its people lose access there and then) and
queues a job that ends the assignments and withdraws the participations in batches,
recording its progress; the agency page and the API show it. Running the job twice, or
resuming one whose worker died, ends each thing once.
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agencies import services as agency_services
from agencies.models import Agency, OffboardingJob
from coordination.models import AuditEvent
from coordination.permissions import can
from taskforces import services
from taskforces.models import Participation, RoleAssignment
from taskforces.services import agency_changes

J = OffboardingJob.State


def open_work(w: SimpleNamespace) -> tuple[set[int], set[int]]:
    return (
        set(RoleAssignment.objects.open().filter(agency=w.partner).values_list("pk", flat=True)),
        set(
            Participation.objects.filter(
                agency=w.partner, status=Participation.Status.ACCEPTED
            ).values_list("pk", flat=True)
        ),
    )


def ending_events() -> int:
    return AuditEvent.objects.filter(
        action__in=("assignment.ended", "participation.withdrawn")
    ).count()


def test_the_request_takes_access_at_once_and_leaves_the_work_to_a_pending_job(
    world: SimpleNamespace,
) -> None:
    assignments, participations = open_work(world)
    assert (len(assignments), len(participations)) == (2, 1)
    events = ending_events()

    # no on_commit callback runs here: the job's task is not run
    agency_services.offboard_agency(agency=world.partner, by=world.portal_admin, reason="Merged")

    world.partner.refresh_from_db()
    assert world.partner.status == Agency.Status.OFFBOARDED
    # the work is not done yet ...
    assert open_work(world) == (assignments, participations)
    assert ending_events() == events
    # ... but the people have no access already
    assert not can(world.partner_staff, "view", world.tf)
    assert not can(world.partner_liaison, "view", world.tf)
    assert not can(world.partner_liaison, "assign_roles", world.tf)
    job = OffboardingJob.objects.get(agency=world.partner)
    assert (job.state, job.total, job.done, job.requested_by) == (
        J.PENDING,
        3,
        0,
        world.portal_admin,
    )

    services.run_offboarding(job.pk, batch_size=1)

    job.refresh_from_db()
    assert (job.state, job.done, job.error) == (J.DONE, 3, "")
    assert job.started_at is not None and job.finished_at is not None
    assert open_work(world) == (set(), set())
    assert ending_events() == events + 3
    ended = list(RoleAssignment.objects.filter(pk__in=assignments))
    assert all(a.ended_by == world.portal_admin and "Merged" in a.end_reason for a in ended)

    # running it again changes nothing more
    ended_at = {a.pk: a.ended_at for a in ended}
    services.run_offboarding(job.pk, batch_size=1)
    job.refresh_from_db()
    assert (job.state, job.done) == (J.DONE, 3)
    assert ending_events() == events + 3
    assert {a.pk: a.ended_at for a in RoleAssignment.objects.filter(pk__in=assignments)} == ended_at


def test_a_job_whose_worker_died_part_way_is_resumed_and_ends_each_thing_once(
    world: SimpleNamespace,
) -> None:
    events = ending_events()
    agency_services.offboard_agency(agency=world.partner, by=world.portal_admin, reason="Merged")
    job = OffboardingJob.objects.get(agency=world.partner)
    # a worker did one batch and died
    OffboardingJob.objects.filter(pk=job.pk).update(state=J.RUNNING)
    assert agency_changes._offboard_batch(job, 1) == 1
    job.refresh_from_db()
    assert (job.state, job.done) == (J.RUNNING, 1)

    assert services.resume_offboarding() == 0  # moved just now: its worker may be alive
    later = timezone.now() + services.OFFBOARD_STALE + datetime.timedelta(seconds=1)
    assert services.resume_offboarding(now=later) == 1  # beat queues it (run eagerly here)

    job.refresh_from_db()
    assert (job.state, job.done, job.total) == (J.DONE, 3, 3)
    assert ending_events() == events + 3
    assert open_work(world) == (set(), set())
    assert services.resume_offboarding(now=later) == 0


def test_the_progress_shows_on_the_agency_page_and_in_the_api(
    world: SimpleNamespace, django_capture_on_commit_callbacks: Any
) -> None:
    api = APIClient()
    api.force_authenticate(world.portal_admin)
    url = f"/api/v1/agencies/{world.partner.pk}/"

    response = api.post(url + "offboard/", {"reason": "Merged"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "offboarded"
    progress = response.json()["offboarding"]
    assert (progress["state"], progress["total"], progress["done"]) == ("pending", 3, 0)
    page = Client()
    page.force_login(world.portal_admin)
    html = page.get(reverse("agencies:detail", args=[world.partner.pk])).content.decode()
    assert "Waiting to start" in html and "0 of 3 done" in html

    job = OffboardingJob.objects.get(agency=world.partner)
    with django_capture_on_commit_callbacks(execute=True):
        services.run_offboarding(job.pk)

    progress = api.get(url).json()["offboarding"]
    assert (progress["state"], progress["done"], progress["error"]) == ("done", 3, "")
    assert progress["finished_at"]
    listed = api.get("/api/v1/agencies/", {"status": "offboarded"}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [r["offboarding"]["state"] for r in rows if r["id"] == world.partner.pk] == ["done"]
    html = page.get(reverse("agencies:detail", args=[world.partner.pk])).content.decode()
    assert "3 of 3 done" in html
    # an agency that was never offboarded has no progress to show
    assert api.get(f"/api/v1/agencies/{world.lead.pk}/").json()["offboarding"] is None


def test_the_offboarding_page_answers_at_once_and_says_the_rest_runs_in_the_background(
    world: SimpleNamespace,
) -> None:
    page = Client()
    page.force_login(world.portal_admin)
    response = page.post(
        reverse("agencies:status", args=[world.partner.pk]),
        {"decision": "offboard", "offboard-reason": "Merged"},
        follow=True,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "in the background" in html
    assert "0 of 3 done" in html
    assert len(open_work(world)[0]) == 2  # still open: the job has not run
    assert not can(world.partner_staff, "view", world.tf)
