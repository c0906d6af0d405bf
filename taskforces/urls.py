from django.urls import path, re_path

from . import exports
from .reports import views as report_views
from .views import (
    calendars,
    handover,
    objectives,
    participation,
    periods,
    roles,
    task_forces,
    timeline,
    updates,
)

app_name = "taskforces"

urlpatterns = [
    path("task-forces/", task_forces.task_force_list, name="list"),
    path("task-forces/new/", task_forces.task_force_create, name="create"),
    path("task-forces/<int:pk>/", task_forces.task_force_detail, name="detail"),
    path("task-forces/<int:pk>/edit/", task_forces.task_force_edit, name="edit"),
    path("task-forces/<int:pk>/status/", task_forces.task_force_status, name="status"),
    path("task-forces/<int:pk>/invite/", participation.invite_agency, name="invite"),
    path("task-forces/<int:pk>/organisation/", roles.organisation, name="organisation"),
    path(
        "task-forces/<int:pk>/organisation/export.csv",
        exports.assignments_csv,
        name="assignments-csv",
    ),
    path("task-forces/<int:pk>/roles/new/", roles.role_create, name="role-create"),
    path("task-forces/<int:pk>/objectives/", objectives.objectives_board, name="objectives"),
    path(
        "task-forces/<int:pk>/objectives/export.csv",
        exports.objectives_csv,
        name="objectives-csv",
    ),
    path("task-forces/<int:pk>/tasks/", objectives.task_list, name="tasks"),
    path("task-forces/<int:pk>/tasks/export.csv", exports.tasks_csv, name="tasks-csv"),
    path(
        "task-forces/<int:pk>/objectives/new/", objectives.objective_create, name="objective-create"
    ),
    path("task-forces/<int:pk>/updates/", updates.updates_feed, name="updates"),
    path("task-forces/<int:pk>/updates/new/", updates.update_create, name="update-create"),
    path("task-forces/<int:pk>/timeline/", timeline.timeline, name="timeline"),
    path(
        "task-forces/<int:pk>/timeline/entries/",
        timeline.timeline_entries,
        name="timeline-entries",
    ),
    path("task-forces/<int:pk>/timeline/new/", timeline.log_entry_create, name="timeline-log"),
    path("task-forces/<int:pk>/timeline/export.csv", timeline.timeline_csv, name="timeline-csv"),
    path("task-forces/<int:pk>/timeline/export.pdf", timeline.timeline_pdf, name="timeline-pdf"),
    path("timeline/<int:pk>/significant/", timeline.entry_significant, name="timeline-significant"),
    path("task-forces/<int:pk>/handover/", handover.handover_status, name="handover"),
    path("task-forces/<int:pk>/handover/mine/", handover.my_handovers, name="handover-mine"),
    path("assignments/<int:pk>/handover/", handover.brief_write, name="handover-write"),
    path("handover-briefs/<int:pk>/", handover.brief_detail, name="handover-brief"),
    path(
        "handover-briefs/<int:pk>/acknowledge/",
        handover.brief_acknowledge,
        name="handover-acknowledge",
    ),
    path("periods/<int:pk>/briefing/", handover.briefing, name="briefing"),
    path("task-forces/<int:pk>/periods/", periods.period_list, name="periods"),
    path("task-forces/<int:pk>/periods/new/", periods.period_create, name="period-create"),
    path("periods/<int:pk>/edit/", periods.period_edit, name="period-edit"),
    path("periods/<int:pk>/delete/", periods.period_delete, name="period-delete"),
    path("task-forces/<int:pk>/reports/", report_views.index, name="reports"),
    path("task-forces/<int:pk>/reports/<slug:form>/", report_views.report, name="report"),
    path("participations/<int:pk>/respond/", participation.respond, name="respond"),
    path("participations/<int:pk>/withdraw/", participation.withdraw, name="withdraw"),
    path("roles/<int:pk>/assign/", roles.assign, name="assign"),
    path("assignments/<int:pk>/end/", roles.end_assignment, name="assignment-end"),
    path("assignments/<int:pk>/until/", roles.assignment_until, name="assignment-until"),
    path("objectives/<int:pk>/", objectives.objective_detail, name="objective"),
    path("objectives/<int:pk>/edit/", objectives.objective_edit, name="objective-edit"),
    path("objectives/<int:pk>/status/", objectives.objective_status, name="objective-status"),
    path("objectives/<int:pk>/tasks/new/", objectives.task_create, name="task-create"),
    path("tasks/<int:pk>/", objectives.task_detail, name="task"),
    path("tasks/<int:pk>/edit/", objectives.task_edit, name="task-edit"),
    path("tasks/<int:pk>/status/", objectives.task_status, name="task-status"),
    path("updates/<int:pk>/", updates.update_detail, name="update"),
    path("updates/<int:pk>/acknowledge/", updates.acknowledge, name="acknowledge"),
    path("acknowledge/<str:token>/", updates.acknowledge_by_link, name="acknowledge-link"),
    path("calendar/", calendars.calendar, name="calendar"),
    path("calendar/<int:pk>/revoke/", calendars.calendar_revoke, name="calendar-revoke"),
    re_path(
        r"^calendar/(?P<secret>[A-Za-z0-9_-]{43})\.ics$",
        calendars.calendar_feed,
        name="calendar-feed",
    ),
]
