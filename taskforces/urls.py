from django.urls import path, re_path

from . import exports, views
from .reports import views as report_views

app_name = "taskforces"

urlpatterns = [
    path("task-forces/", views.task_force_list, name="list"),
    path("task-forces/new/", views.task_force_create, name="create"),
    path("task-forces/<int:pk>/", views.task_force_detail, name="detail"),
    path("task-forces/<int:pk>/edit/", views.task_force_edit, name="edit"),
    path("task-forces/<int:pk>/status/", views.task_force_status, name="status"),
    path("task-forces/<int:pk>/invite/", views.invite_agency, name="invite"),
    path("task-forces/<int:pk>/organisation/", views.organisation, name="organisation"),
    path(
        "task-forces/<int:pk>/organisation/export.csv",
        exports.assignments_csv,
        name="assignments-csv",
    ),
    path("task-forces/<int:pk>/roles/new/", views.role_create, name="role-create"),
    path("task-forces/<int:pk>/objectives/", views.objectives_board, name="objectives"),
    path(
        "task-forces/<int:pk>/objectives/export.csv",
        exports.objectives_csv,
        name="objectives-csv",
    ),
    path("task-forces/<int:pk>/tasks/", views.task_list, name="tasks"),
    path("task-forces/<int:pk>/tasks/export.csv", exports.tasks_csv, name="tasks-csv"),
    path("task-forces/<int:pk>/objectives/new/", views.objective_create, name="objective-create"),
    path("task-forces/<int:pk>/updates/", views.updates_feed, name="updates"),
    path("task-forces/<int:pk>/updates/new/", views.update_create, name="update-create"),
    path("task-forces/<int:pk>/periods/", views.period_list, name="periods"),
    path("task-forces/<int:pk>/periods/new/", views.period_create, name="period-create"),
    path("periods/<int:pk>/edit/", views.period_edit, name="period-edit"),
    path("periods/<int:pk>/delete/", views.period_delete, name="period-delete"),
    path("task-forces/<int:pk>/reports/", report_views.index, name="reports"),
    path("task-forces/<int:pk>/reports/<slug:form>/", report_views.report, name="report"),
    path("participations/<int:pk>/respond/", views.respond, name="respond"),
    path("participations/<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("roles/<int:pk>/assign/", views.assign, name="assign"),
    path("assignments/<int:pk>/end/", views.end_assignment, name="assignment-end"),
    path("assignments/<int:pk>/until/", views.assignment_until, name="assignment-until"),
    path("objectives/<int:pk>/", views.objective_detail, name="objective"),
    path("objectives/<int:pk>/edit/", views.objective_edit, name="objective-edit"),
    path("objectives/<int:pk>/tasks/new/", views.task_create, name="task-create"),
    path("tasks/<int:pk>/", views.task_detail, name="task"),
    path("tasks/<int:pk>/edit/", views.task_edit, name="task-edit"),
    path("tasks/<int:pk>/status/", views.task_status, name="task-status"),
    path("updates/<int:pk>/", views.update_detail, name="update"),
    path("updates/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("acknowledge/<str:token>/", views.acknowledge_by_link, name="acknowledge-link"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/<int:pk>/revoke/", views.calendar_revoke, name="calendar-revoke"),
    re_path(
        r"^calendar/(?P<secret>[A-Za-z0-9_-]{43})\.ics$",
        views.calendar_feed,
        name="calendar-feed",
    ),
]
