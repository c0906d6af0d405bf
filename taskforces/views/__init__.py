"""Task force pages. Each view: fetch through the permission core, call a service,
render. A thing the person may not see is "not found", whether it exists or not; a
thing they may see but not change is refused with the reason (403, from the permission
core's ``require``). A create or edit page is :func:`._pages.form_page` around its form
and its service.

One module per section (``taskforces/urls.py`` names them); this package re-exports the
views for those who import them from here:

- :mod:`.home` — the dashboard (the home page);
- :mod:`.task_forces` — the list, forming, a task force's page, editing, its status;
- :mod:`.participation` — invitations, answers, withdrawals;
- :mod:`.roles` — the organisation chart, roles and assignments;
- :mod:`.objectives` — objectives and tasks;
- :mod:`.updates` — updates and acknowledgements;
- :mod:`.periods` — operational periods;
- :mod:`.calendars` — calendar subscriptions and feeds.
"""

from .calendars import calendar, calendar_feed, calendar_revoke
from .home import dashboard
from .objectives import (
    objective_create,
    objective_detail,
    objective_edit,
    objectives_board,
    task_create,
    task_detail,
    task_edit,
    task_list,
    task_status,
)
from .participation import invite_agency, respond, withdraw
from .periods import period_create, period_delete, period_edit, period_list
from .roles import assign, assignment_until, end_assignment, organisation, role_create
from .task_forces import (
    task_force_create,
    task_force_detail,
    task_force_edit,
    task_force_list,
    task_force_status,
)
from .updates import acknowledge, acknowledge_by_link, update_create, update_detail, updates_feed

__all__ = [
    "acknowledge",
    "acknowledge_by_link",
    "assign",
    "assignment_until",
    "calendar",
    "calendar_feed",
    "calendar_revoke",
    "dashboard",
    "end_assignment",
    "invite_agency",
    "objective_create",
    "objective_detail",
    "objective_edit",
    "objectives_board",
    "organisation",
    "period_create",
    "period_delete",
    "period_edit",
    "period_list",
    "respond",
    "role_create",
    "task_create",
    "task_detail",
    "task_edit",
    "task_force_create",
    "task_force_detail",
    "task_force_edit",
    "task_force_list",
    "task_force_status",
    "task_list",
    "task_status",
    "update_create",
    "update_detail",
    "updates_feed",
    "withdraw",
]
