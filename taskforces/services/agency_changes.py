"""Reactions to agency changes (connected in TaskforcesConfig.ready): an offboarded agency's
participations and assignments ended by a background job, a person leaving their agency."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from agencies.models import Agency, Membership, OffboardingJob
from coordination import after_commit
from coordination.models import User

from ..models import Participation, RoleAssignment
from ._common import P
from .assignments import _end_many
from .locks import lock_task_forces
from .task_forces import _move_participation


def on_agency_status_changed(
    *, agency: Agency, new_status: str, by: User, reason: str, **_: Any
) -> None:
    """Offboarding queues the ending of every assignment of the agency and the withdrawal
    of its participations as a background job (:func:`run_offboarding`); its people lost
    their access with the agency's status already. Suspension ends nothing: the permission
    core refuses a suspended agency's people, and reinstatement gives back exactly what
    was assigned."""
    if new_status != Agency.Status.OFFBOARDED:
        return
    participations, assignments = _offboarding_work(agency)
    job = OffboardingJob.objects.create(
        agency=agency,
        requested_by=by,
        reason=reason,
        total=participations.count() + assignments.count(),
    )
    from ..tasks import run_offboarding as run_offboarding_task

    # a broker that is down must not undo the offboarding; beat resumes the job
    after_commit.later(run_offboarding_task, job.pk)


OFFBOARD_BATCH = 200
# a job not moved for this long has lost its worker; beat starts it again
OFFBOARD_STALE = datetime.timedelta(minutes=5)


def _offboarding_work(agency: Agency) -> tuple[Any, Any]:
    """What offboarding ``agency`` still has to do: its open participations and its open
    (current or scheduled) role assignments."""
    return (
        Participation.objects.filter(agency=agency, status__in=(P.INVITED, P.ACCEPTED)),
        RoleAssignment.objects.open().filter(agency=agency),
    )


def _offboard_batch(job: OffboardingJob, size: int) -> int:
    """One transaction: up to ``size`` participations withdrawn and assignments ended, in
    the lock order (their task forces, lowest id first; then the participations; then the
    assignments), each audited; the job's progress moves in the same transaction. Returns
    how many were done (0: nothing left)."""
    agency = job.agency
    with transaction.atomic():
        participations, assignments = _offboarding_work(agency)
        part_rows = list(participations.order_by("pk").values_list("pk", "task_force_id")[:size])
        assignment_rows = list(
            assignments.order_by("pk").values_list("pk", "role__task_force_id")[
                : size - len(part_rows)
            ]
        )
        if not part_rows and not assignment_rows:
            return 0
        lock_task_forces([tf for _, tf in part_rows] + [tf for _, tf in assignment_rows])
        done = 0
        # re-read under the lock: another run of this job may have ended some already
        for participation in (
            participations.filter(pk__in=[pk for pk, _ in part_rows])
            .select_for_update(no_key=True, of=("self",))
            .order_by("pk")
        ):
            _move_participation(
                participation,
                to=P.WITHDRAWN,
                by=job.requested_by,
                reason=f"Agency offboarded: {job.reason}",
                validate=False,
            )
            done += 1
        done += _end_many(
            assignments.filter(pk__in=[pk for pk, _ in assignment_rows]),
            by=job.requested_by,
            reason=f"{agency} was offboarded: {job.reason}",
        )
        OffboardingJob.objects.filter(pk=job.pk).update(
            done=models.F("done") + done, updated_at=timezone.now()
        )
    return done


def run_offboarding(job_id: int, *, batch_size: int = OFFBOARD_BATCH) -> OffboardingJob | None:
    """Do an offboarding job's work, batch by batch, until nothing is left. Idempotent: a
    second run (a worker that died, a task delivered twice) finds only what is still open,
    so each assignment and participation ends once."""
    job = OffboardingJob.objects.select_related("agency", "requested_by").filter(pk=job_id).first()
    if job is None:
        return None
    jobs = OffboardingJob.objects.filter(pk=job_id)
    jobs.filter(state=OffboardingJob.State.PENDING).update(
        state=OffboardingJob.State.RUNNING, started_at=timezone.now()
    )
    try:
        while _offboard_batch(job, batch_size):
            pass
    except Exception as error:
        jobs.update(error=f"{type(error).__name__}: {error}"[:2000], updated_at=timezone.now())
        raise
    jobs.exclude(state=OffboardingJob.State.DONE).update(
        state=OffboardingJob.State.DONE, finished_at=timezone.now(), error=""
    )
    return OffboardingJob.objects.get(pk=job_id)


def resume_offboarding(*, now: datetime.datetime | None = None) -> int:
    """Queue again the offboarding jobs not finished and not moved for a while (their task
    was lost or their worker died). Returns how many."""
    from ..tasks import run_offboarding as run_offboarding_task

    now = now or timezone.now()
    stale = OffboardingJob.objects.exclude(state=OffboardingJob.State.DONE).filter(
        updated_at__lt=now - OFFBOARD_STALE
    )
    ids = list(stale.values_list("pk", flat=True))
    for job_id in ids:
        run_offboarding_task.delay(job_id)
    return len(ids)


def on_membership_ended(*, membership: Membership, by: User | None, reason: str, **_: Any) -> None:
    """A person who leaves their agency holds no role any more."""
    _end_many(
        RoleAssignment.objects.open().filter(
            person_id=membership.user_id, agency_id=membership.agency_id
        ),
        by=by,
        reason=f"Left {membership.agency}: {reason}",
    )
