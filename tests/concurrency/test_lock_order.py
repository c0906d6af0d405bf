"""The deadlocks (and the one lost update) the races and the soak found, each made certain.

``test_races.py`` releases requests together and finds a bad interleaving in some runs
only. Here a *gate* (a transaction of the test's own, on its own connection, holding one
lock) stops the first request at a known statement; the second request is started and
waits for the first; then the gate opens and the two finish in the order that deadlocks,
every time, as long as the services take their locks in the order they take them today.
If a fix changes that order, the requests no longer wait where the gate expects; the test
then simply lets them run and checks the outcome (``interleaving reached: False`` among
its figures). Each test's docstring gives the two lock orders that cross;
docs/decisions/0002-one-lock-order.md the order that prevents them.

Two PostgreSQL facts are behind most of them:

* ``select_for_update()`` with ``select_related()`` locks the joined rows as well (the
  holder's user row, the role, its group, the agency, the task force), ``FOR UPDATE``;
* Django creates foreign keys ``DEFERRABLE INITIALLY DEFERRED``, so the ``FOR KEY SHARE``
  lock a foreign key check takes on the row it points to is taken at ``COMMIT``, after
  every other lock of the transaction; ``FOR UPDATE`` conflicts with it (``FOR NO KEY
  UPDATE`` does not).
"""

from __future__ import annotations

import functools

import pytest
from django.db import connection

from coordination.models import User
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Objective, Participation, Task

from ..conftest import role_named
from ..factories import person
from .harness import (
    Background,
    Gate,
    Referee,
    global_problems,
    inconsistencies,
    lock_report,
    wait_for_waiters,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Needs PostgreSQL's row locks (set DATABASE_URL); SQLite serialises writers.",
    ),
]

GROUP_ROWS = User.groups.through._meta.db_table


def finish(referee: Referee, *calls: Background) -> None:
    for call in calls:
        if not call.join():
            referee.note("a request was still running a minute after the gate opened")


def gate_report(referee: Referee, reached: bool) -> None:
    referee.facts.append(
        f"interleaving reached: {reached}; the locks when the gate opened:\n{lock_report()}"
    )


def test_accepting_while_the_lead_invites_the_agency_again(world):
    """``respond_to_invitation`` (accept) beside ``invite_agency`` for the same agency.

    * accept: participation ``FOR UPDATE`` → Liaison officer role ``FOR UPDATE`` (the
      gate holds it here) → inserts the liaison's assignment → at ``COMMIT`` the deferred
      foreign key check ``agencies_agency FOR KEY SHARE`` (assignment.agency);
    * invite: ``agencies_agency FOR UPDATE`` → participation ``FOR UPDATE`` (its
      ``.first()`` orders by the model's ordering, so the query joins the task force and
      the agency, and locks their rows too) — waits for accept.

    Accept's commit then waits for invite's agency lock: a deadlock (found by the soak,
    where the accept was the victim and answered 500). With the task force locked first
    (as on ``main`` since d3e598c) the invite waits for the task force instead of the
    participation, and the cycle is the same. Right answers: accept 200, invite 400
    ("already accepted")."""
    liaison_role = role_named(world.tf, "liaison-officer")
    services.withdraw_agency(
        participation=world.participation, by=world.partner_liaison, reason="Once more."
    )
    participation = services.invite_agency(
        task_force=world.tf, agency=world.partner, by=world.lead_liaison
    )
    with Referee("accept beside a second invitation (gated)") as referee, referee.guard():
        referee.expect("accept", {200})
        referee.expect("invite", {400})
        with Gate("SELECT 1 FROM taskforces_role WHERE id = %s FOR UPDATE", [liaison_role.pk]):
            accept = Background(
                referee,
                functools.partial(
                    referee.ask,
                    world.partner_liaison,
                    "post",
                    f"/api/v1/participations/{participation.pk}/accept/",
                    label="accept",
                ),
                "accept",
            )
            reached = wait_for_waiters(1)
            invite = Background(
                referee,
                functools.partial(
                    referee.ask,
                    world.lead_liaison,
                    "post",
                    f"/api/v1/task-forces/{world.tf.pk}/invite/",
                    {"agency": world.partner.pk},
                    label="invite",
                ),
                "invite",
            )
            reached = wait_for_waiters(2) and reached
            gate_report(referee, reached)
        finish(referee, accept, invite)
        referee.rounds = 1
        participation.refresh_from_db()
        if participation.status != Participation.Status.ACCEPTED:
            referee.note(f"the participation is {participation.status}, not accepted")
    for problem in inconsistencies(world.tf) + global_problems(referee):
        referee.note(problem)
    referee.assert_clean()


def test_withdrawing_while_an_older_assignment_of_the_same_role_is_ended(world):
    """``withdraw_agency`` beside ``end_assignment`` of one of two Members of the agency.

    Both lock assignments with ``select_related("person", "role__group")`` (withdraw in
    ``_end_many``), and a ``FOR UPDATE`` on a join locks every joined row, in the order of
    the joins (which follow the model's field order: role, then person): for each
    assignment, the assignment, its role, the role's group, the holder's user row.

    * withdraw: participation ``FOR UPDATE`` → ``_end_many``, one statement over every
      open assignment of the agency there, newest first: the newer Member's assignment,
      then the Member role (the gate holds a ``FOR KEY SHARE`` on it: withdraw waits);
    * end (of the older Member): the older assignment, then the Member role (waits too,
      behind withdraw).

    The gate opens: withdraw takes the role, its group, the newer holder, then wants the
    older assignment, which end holds; end wants the role, which withdraw holds: a
    deadlock (found by the races in ``test_races.py``, where either request was the
    victim and answered 500). Right answers: withdraw 200; end 200, or a clean refusal
    if the withdrawal came first (400: already ended; 404 or 403: the liaison officer's own
    role in the task force ended with it)."""
    liaison = world.partner_liaison
    older = world.partner_staff_assignment
    services.assign_role(
        role=world.member_role,
        person=person(world.partner, email="staff2@rhs.example.gov"),
        assigned_by=liaison,
    )
    with Referee("withdraw beside end, one role (gated)") as referee, referee.guard():
        referee.expect("withdraw", {200})
        referee.expect("end", {200, 400, 403, 404})
        with Gate(
            "SELECT 1 FROM taskforces_role WHERE id = %s FOR KEY SHARE", [world.member_role.pk]
        ):
            withdraw = Background(
                referee,
                functools.partial(
                    referee.ask,
                    liaison,
                    "post",
                    f"/api/v1/participations/{world.participation.pk}/withdraw/",
                    {"reason": "Needed at home."},
                    label="withdraw",
                ),
                "withdraw",
            )
            reached = wait_for_waiters(1)
            end = Background(
                referee,
                functools.partial(
                    referee.ask,
                    liaison,
                    "post",
                    f"/api/v1/role-assignments/{older.pk}/end/",
                    {"reason": "Back to base."},
                    label="end",
                ),
                "end",
            )
            reached = wait_for_waiters(2) and reached
            gate_report(referee, reached)
        finish(referee, end, withdraw)
        referee.rounds = 1
    for problem in inconsistencies(world.tf) + global_problems(referee):
        referee.note(problem)
    referee.assert_clean()


def test_remarking_an_objective_while_its_task_is_edited(world):
    """``update_objective`` (a new marking) beside ``update_task`` of one of its tasks.

    * re-mark: one statement locks ``FOR UPDATE`` the objective and its task force
      (``select_related("task_force")``; the gate holds a ``FOR KEY SHARE`` on the task
      force: the re-mark stops here, holding the objective) → ``UPDATE`` the objective,
      whose trigger ``concord_objective_marking`` updates its tasks' markings;
    * task edit: one statement locks ``FOR UPDATE`` the task, its objective and its task
      force (``select_related("objective", "task_force")``) — holds the task, waits for
      the objective.

    The gate opens; the re-mark's trigger waits for the task: a deadlock (read from the
    code; the soak does both, rarely at the same moment). Right answers: both 200, and the
    task marked as its objective."""
    objective = world.objectives[Marking.GREEN]
    task = world.tasks[Marking.GREEN]
    with Referee("re-mark beside task edit (gated)") as referee, referee.guard():
        referee.expect("re-mark objective", {200})
        referee.expect("edit task", {200})
        with Gate("SELECT 1 FROM taskforces_taskforce WHERE id = %s FOR KEY SHARE", [world.tf.pk]):
            remark = Background(
                referee,
                functools.partial(
                    referee.ask,
                    world.lead_liaison,
                    "patch",
                    f"/api/v1/objectives/{objective.pk}/",
                    {"marking": Marking.AMBER},
                    label="re-mark objective",
                ),
                "re-mark",
            )
            reached = wait_for_waiters(1)
            edit = Background(
                referee,
                functools.partial(
                    referee.ask,
                    world.lead_liaison,
                    "patch",
                    f"/api/v1/tasks/{task.pk}/",
                    {"status": Task.Status.IN_PROGRESS},
                    label="edit task",
                ),
                "edit",
            )
            reached = wait_for_waiters(2) and reached
            gate_report(referee, reached)
        finish(referee, remark, edit)
        referee.rounds = 1
        marking = Objective.objects.values_list("marking", flat=True).get(pk=objective.pk)
        if marking != Marking.AMBER:
            referee.note(f"the objective is marked {marking}, not TLP:AMBER")
    for problem in inconsistencies(world.tf) + global_problems(referee):
        referee.note(problem)
    referee.assert_clean()


def test_assigning_while_the_agency_withdraws_leaves_no_open_assignment(world):
    """``assign_role`` beside ``withdraw_agency``: a lost update, not a deadlock.

    * assign: reads that the agency takes part (no lock: ``_accepted_agency_ids``) → role
      ``FOR UPDATE`` → inserts the assignment → adds the person to the role's group (the
      gate holds an uncommitted row for the same person and group: the assign stops here);
    * withdraw: participation ``FOR UPDATE`` → ``_end_many`` ends the open assignments it
      *sees*; the new one is not committed yet, so it is not among them; commits.

    The gate opens; assign commits an open assignment for an agency that has withdrawn:
    access the withdrawal should have taken away (found by reading the code; the soak's
    consistency check would show it). Right outcome: assign refused, or its assignment
    ended by the withdrawal."""
    observer = role_named(world.tf, "observer")
    newcomer = person(world.partner, email="newcomer@rhs.example.gov")
    liaison = world.partner_liaison
    with Referee("assign beside withdraw (gated)") as referee, referee.guard():
        referee.expect("withdraw", {200})
        referee.expect("assign", {201, 400, 403, 404})
        with Gate(
            f"INSERT INTO {GROUP_ROWS} (user_id, group_id) VALUES (%s, %s)",  # noqa: S608 - the model's table
            [newcomer.pk, observer.group_id],
        ):
            assign = Background(
                referee,
                functools.partial(
                    referee.ask,
                    liaison,
                    "post",
                    f"/api/v1/roles/{observer.pk}/assign/",
                    {"person": newcomer.pk},
                    label="assign",
                ),
                "assign",
            )
            reached = wait_for_waiters(1)
            withdraw = Background(
                referee,
                functools.partial(
                    referee.ask,
                    liaison,
                    "post",
                    f"/api/v1/participations/{world.participation.pk}/withdraw/",
                    {"reason": "Needed at home."},
                    label="withdraw",
                ),
                "withdraw",
            )
            # with the gate shut, the withdrawal either finishes (today) or waits for the
            # assignment (a fix that locks the participation in assign_role)
            reached = withdraw.join(timeout=5) and reached
            gate_report(referee, reached)
        finish(referee, assign, withdraw)
        referee.rounds = 1
    for problem in inconsistencies(world.tf) + global_problems(referee):
        referee.note(problem)
    referee.assert_clean()


def test_assigning_while_the_agency_withdraws_does_not_deadlock(world):
    """``assign_role`` beside ``withdraw_agency``, when the person assigned already holds
    another role there and someone else of the agency holds the role being assigned.

    * assign: role ``FOR UPDATE`` (Observer) → inserts the assignment → adds the person
      to the group (the gate stops it here) → at ``COMMIT`` the deferred foreign key check
      ``coordination_user FOR KEY SHARE`` on the person;
    * withdraw: participation ``FOR UPDATE`` → ``_end_many``, newest first: the person's
      Member assignment with their user row ``FOR UPDATE``, the Member role and group;
      then the other person's Observer assignment, their user row, the Observer role —
      waits for assign.

    The gate opens; assign's commit waits for the person's user row, which withdraw
    holds: a deadlock (read from the code). Right outcome: no 500, and no open assignment
    of the agency afterwards."""
    liaison = world.partner_liaison
    observer = role_named(world.tf, "observer")
    services.assign_role(
        role=observer,
        person=person(world.partner, email="watcher@rhs.example.gov"),
        assigned_by=liaison,
    )
    newcomer = person(world.partner, email="newcomer@rhs.example.gov")
    services.assign_role(role=world.member_role, person=newcomer, assigned_by=liaison)
    with Referee("assign beside withdraw, held roles (gated)") as referee, referee.guard():
        referee.expect("withdraw", {200})
        referee.expect("assign", {201, 400, 403, 404})
        with Gate(
            f"INSERT INTO {GROUP_ROWS} (user_id, group_id) VALUES (%s, %s)",  # noqa: S608 - the model's table
            [newcomer.pk, observer.group_id],
        ):
            assign = Background(
                referee,
                functools.partial(
                    referee.ask,
                    liaison,
                    "post",
                    f"/api/v1/roles/{observer.pk}/assign/",
                    {"person": newcomer.pk},
                    label="assign",
                ),
                "assign",
            )
            reached = wait_for_waiters(1)
            withdraw = Background(
                referee,
                functools.partial(
                    referee.ask,
                    liaison,
                    "post",
                    f"/api/v1/participations/{world.participation.pk}/withdraw/",
                    {"reason": "Needed at home."},
                    label="withdraw",
                ),
                "withdraw",
            )
            reached = wait_for_waiters(2) and reached
            gate_report(referee, reached)
        finish(referee, assign, withdraw)
        referee.rounds = 1
    for problem in inconsistencies(world.tf) + global_problems(referee):
        referee.note(problem)
    referee.assert_clean()


def test_assigning_while_the_agency_withdraws_when_the_withdrawal_locks_first(world):
    """The same lost update as above, reached another way: the withdrawal is already
    waiting for the task force's row (the gate holds it ``FOR NO KEY UPDATE``) when the
    assignment checks that the agency takes part.

    * withdraw: waits for the task force (today as part of ``[participation + task
      force] FOR UPDATE``; with the task force locked first, as every write there);
    * assign: reads that the agency takes part (no lock; the withdrawal has not committed)
      → today: role, insert, commit, all before the gate opens (the withdrawal then ends
      the new assignment: no harm); with the task force locked first in
      ``_create_assignment``, it waits behind the withdrawal, and once that has ended
      every assignment it saw, creates one more, for an agency that has withdrawn.

    Right outcome: assign refused, or its assignment ended by the withdrawal. The check
    that the agency takes part belongs under the lock that a withdrawal takes."""
    observer = role_named(world.tf, "observer")
    newcomer = person(world.partner, email="newcomer@rhs.example.gov")
    liaison = world.partner_liaison
    with Referee("assign beside withdraw, task force first (gated)") as referee, referee.guard():
        referee.expect("withdraw", {200})
        referee.expect("assign", {201, 400, 403, 404})
        with Gate(
            "SELECT 1 FROM taskforces_taskforce WHERE id = %s FOR NO KEY UPDATE", [world.tf.pk]
        ):
            withdraw = Background(
                referee,
                functools.partial(
                    referee.ask,
                    liaison,
                    "post",
                    f"/api/v1/participations/{world.participation.pk}/withdraw/",
                    {"reason": "Needed at home."},
                    label="withdraw",
                ),
                "withdraw",
            )
            reached = wait_for_waiters(1)
            assign = Background(
                referee,
                functools.partial(
                    referee.ask,
                    liaison,
                    "post",
                    f"/api/v1/roles/{observer.pk}/assign/",
                    {"person": newcomer.pk},
                    label="assign",
                ),
                "assign",
            )
            reached = wait_for_waiters(2) and reached
            gate_report(referee, reached)
        finish(referee, withdraw, assign)
        referee.rounds = 1
    for problem in inconsistencies(world.tf) + global_problems(referee):
        referee.note(problem)
    referee.assert_clean()
