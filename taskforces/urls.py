from django.urls import path

from . import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("task-forces/<int:pk>/", views.task_force_detail, name="task-force-detail"),
]
