from django.urls import path

from . import views

app_name = "taskforces"

urlpatterns = [
    path("task-forces/", views.task_force_list, name="list"),
    path("task-forces/new/", views.task_force_create, name="create"),
    path("task-forces/<int:pk>/", views.task_force_detail, name="detail"),
    path("task-forces/<int:pk>/edit/", views.task_force_edit, name="edit"),
    path("task-forces/<int:pk>/status/", views.task_force_status, name="status"),
    path("task-forces/<int:pk>/invite/", views.invite_agency, name="invite"),
    path("task-forces/<int:pk>/organisation/", views.organisation, name="organisation"),
    path("task-forces/<int:pk>/roles/new/", views.role_create, name="role-create"),
    path("task-forces/<int:pk>/objectives/", views.objectives_board, name="objectives"),
    path("task-forces/<int:pk>/objectives/new/", views.objective_create, name="objective-create"),
    path("task-forces/<int:pk>/updates/", views.updates_feed, name="updates"),
    path("task-forces/<int:pk>/updates/new/", views.update_create, name="update-create"),
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
]
