"""How roles become access inside task forces.

A role's capabilities are guardian object permissions granted to the role's group on its
task force (``TaskForceGroupObjectPermission``: one row per role and capability). A person
has a capability on a task force when they hold a *current* assignment to a role whose
group has it, their membership in the assignment's agency is active, that agency is
active and has accepted (or leads) the task force. All of it is checked in the query, so
ending an assignment, withdrawing or suspending an agency takes access away at once.

Objects inside a task force follow its permissions and their own marking: above what the
viewer's agency's agreement with the lead agency covers, or TLP:RED without the
view-restricted capability, an item is invisible.

One module per section; importing the package registers every policy with the permission
core, and it re-exports the public names:

- :mod:`.task_forces` — task forces, their roles and operational periods;
- :mod:`.items` — objectives, tasks and updates (and the marking ceiling);
- :mod:`.assignments` — role assignments and their access review;
- :mod:`.participation` — participations;
- :mod:`.timeline` — timeline entries and handover briefs;
- :mod:`.audience` — who may see an item, turned round for notifications;
- :mod:`.explanations` — the chain of grants in words, for every policy's ``explain``;
- :mod:`._common` — what each action needs, and whether a person holds it.
"""

from ._common import (
    ITEM_CHANGE_CAPABILITY,
    TASK_FORCE_ACTIONS,
    current_assignments,
    task_force_ids_with,
)
from .assignments import RoleAssignmentPolicy, reviewed_agency_ids
from .audience import acknowledgement_audience, audience, holders
from .items import ItemPolicy, ObjectivePolicy, TaskPolicy, UpdatePolicy
from .participation import ParticipationPolicy
from .task_forces import OperationalPeriodPolicy, RolePolicy, TaskForcePolicy
from .timeline import HandoverBriefPolicy, TimelineEntryPolicy

__all__ = [
    "ITEM_CHANGE_CAPABILITY",
    "TASK_FORCE_ACTIONS",
    "HandoverBriefPolicy",
    "ItemPolicy",
    "ObjectivePolicy",
    "OperationalPeriodPolicy",
    "ParticipationPolicy",
    "RoleAssignmentPolicy",
    "RolePolicy",
    "TaskForcePolicy",
    "TaskPolicy",
    "TimelineEntryPolicy",
    "UpdatePolicy",
    "acknowledgement_audience",
    "audience",
    "current_assignments",
    "holders",
    "reviewed_agency_ids",
    "task_force_ids_with",
]
