"""Every change inside task forces. Views, forms, serializers, admin and tasks call these.

Each service is atomic, validates before saving, checks the actor through the permission
core and records an audit event in the same transaction.

Locks are taken in one order, everywhere (docs/decisions/0002-one-lock-order.md):
account → agency → membership → **task force** → participation → role → assignment →
objective → task → update, and among rows of one kind the lowest id first. Every service
that changes anything inside a task force locks the task force's row first
(:func:`lock_task_forces`, ``FOR NO KEY UPDATE``): writes inside one task force take
turns, writes into different task forces never wait for each other, and the database's
own bookkeeping of the task force (its content version, moved by triggers) finds the lock
already held.

One module per section; this package re-exports every public name, so
``from taskforces import services; services.assign_role(...)`` is the way in:

- :mod:`.locks` — the task-force lock every write starts with, and the lock of a row
  inside a task force after it;
- :mod:`.roles` — the role catalogue and a task force's roles;
- :mod:`.task_forces` — task forces and participation;
- :mod:`.assignments` — role assignments;
- :mod:`.periods` — operational periods;
- :mod:`.objectives` — objectives and tasks;
- :mod:`.updates` — updates and acknowledgements;
- :mod:`.timeline` — log entries written by hand, entries marked significant;
- :mod:`.handover` — handover briefs between operational periods;
- :mod:`.agency_changes` — reactions to agency changes (offboarding);
- :mod:`.periodic` — the periodic checks Celery beat runs;
- :mod:`._common` — checks shared by several sections (not part of the interface).
"""

from .agency_changes import (
    OFFBOARD_BATCH,
    OFFBOARD_STALE,
    on_agency_status_changed,
    on_membership_ended,
    resume_offboarding,
    run_offboarding,
)
from .assignments import (
    RECERTIFY_NOTE_MAX,
    assign_role,
    end_assignment,
    expire_assignments,
    recertify_assignment,
    set_assignment_end,
)
from .handover import (
    BRIEF_FIELDS,
    acknowledge_handover,
    handover_complete,
    holders_during,
    incoming_assignments,
    next_period_of,
    open_tasks_text,
    outgoing,
    taken_over_by,
    write_handover_brief,
)
from .locks import lock_in_task_force, lock_task_forces
from .objectives import (
    OBJECTIVE_FIELDS,
    TASK_FIELDS,
    create_objective,
    create_task,
    update_objective,
    update_task,
)
from .periodic import (
    RECERTIFY_BATCH,
    escalate_unacknowledged,
    flag_unrecertified_assignments,
    send_reminders,
)
from .periods import PERIOD_FIELDS, create_period, delete_period, update_period
from .roles import create_role, ensure_role_templates, update_role
from .task_forces import (
    TASK_FORCE_TRANSITIONS,
    form_task_force,
    invite_agency,
    respond_to_invitation,
    transition_task_force,
    update_task_force,
    withdraw_agency,
)
from .timeline import mark_significant, write_log_entry
from .updates import acknowledge_update, post_update

__all__ = [
    "BRIEF_FIELDS",
    "OBJECTIVE_FIELDS",
    "OFFBOARD_BATCH",
    "OFFBOARD_STALE",
    "PERIOD_FIELDS",
    "RECERTIFY_BATCH",
    "RECERTIFY_NOTE_MAX",
    "TASK_FIELDS",
    "TASK_FORCE_TRANSITIONS",
    "acknowledge_handover",
    "acknowledge_update",
    "assign_role",
    "create_objective",
    "create_period",
    "create_role",
    "create_task",
    "delete_period",
    "end_assignment",
    "ensure_role_templates",
    "escalate_unacknowledged",
    "expire_assignments",
    "flag_unrecertified_assignments",
    "form_task_force",
    "handover_complete",
    "holders_during",
    "incoming_assignments",
    "invite_agency",
    "lock_in_task_force",
    "lock_task_forces",
    "mark_significant",
    "next_period_of",
    "on_agency_status_changed",
    "on_membership_ended",
    "open_tasks_text",
    "outgoing",
    "post_update",
    "recertify_assignment",
    "respond_to_invitation",
    "resume_offboarding",
    "run_offboarding",
    "send_reminders",
    "set_assignment_end",
    "taken_over_by",
    "transition_task_force",
    "update_objective",
    "update_period",
    "update_role",
    "update_task",
    "update_task_force",
    "withdraw_agency",
    "write_handover_brief",
    "write_log_entry",
]
