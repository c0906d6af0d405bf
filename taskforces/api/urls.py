"""The task forces app's API routes (under /api/v1/, see coordination/api/urls.py)."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("task-forces", views.TaskForceViewSet, basename="task-force")
router.register("participations", views.ParticipationViewSet, basename="participation")
router.register("roles", views.RoleViewSet, basename="role")
router.register("role-assignments", views.RoleAssignmentViewSet, basename="role-assignment")
router.register("objectives", views.ObjectiveViewSet, basename="objective")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("updates", views.UpdateViewSet, basename="update")
router.register("timeline-entries", views.TimelineEntryViewSet, basename="timeline-entry")

urlpatterns = router.urls
