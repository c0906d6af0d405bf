"""Django admin for task forces and everything in them.

Need-to-know holds here as everywhere: each list shows only what the viewer's roles let
them see (a portal administrator, holding no role, sees nothing inside task forces).
Task forces, participation, assignments, objectives, tasks and updates are worked on in
Concord itself by the people whose roles allow it, so the admin only shows them. A role
can be edited here through ``update_role`` by someone who may edit its task force.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone

from coordination.admin import ConcordModelAdmin, ReadOnlyAdmin, ServiceFormMixin, acting_user
from coordination.permissions import can

from . import services
from .models import (
    Acknowledgement,
    CalendarFeed,
    Capability,
    HandoverBrief,
    Objective,
    OperationalPeriod,
    Participation,
    Role,
    RoleAssignment,
    RoleAssignmentQuerySet,
    RoleTemplate,
    Task,
    TaskForce,
    TaskForceGroupObjectPermission,
    TaskForceUserObjectPermission,
    TimelineEntry,
    Update,
)

NEED_TO_KNOW = (
    "You see only what your roles in task forces let you see; being a portal "
    "administrator gives no access inside task forces."
)


@admin.register(TaskForce)
class TaskForceAdmin(ReadOnlyAdmin):
    description = (
        "Task forces are formed, edited and moved through their lifecycle in Concord by "
        "their commanders. " + NEED_TO_KNOW
    )
    list_display = ("name", "lead_agency", "status", "marking", "created_at", "status_changed_at")
    list_filter = ("status", "marking")
    search_fields = ("name", "lead_agency__name")
    list_select_related = ("lead_agency",)


@admin.register(Participation)
class ParticipationAdmin(ReadOnlyAdmin):
    description = (
        "Agencies are invited by those managing a task force's participation and answer "
        "through their liaison officers, in Concord. " + NEED_TO_KNOW
    )
    list_display = ("task_force", "agency", "status", "invited_by", "invited_at", "responded_at")
    list_filter = ("status",)
    search_fields = ("task_force__name", "agency__name")
    list_select_related = ("task_force", "agency", "invited_by")


@admin.register(RoleTemplate)
class RoleTemplateAdmin(ReadOnlyAdmin):
    description = (
        "The role catalogue copied into each new task force. Read-only: there is no "
        "service for editing templates yet."
    )
    list_display = ("name", "slug", "order", "default_max_holders", "capability_list", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "slug", "responsibilities")

    @admin.display(description="capabilities")
    def capability_list(self, obj: RoleTemplate) -> str:
        return ", ".join(obj.capabilities)


class RoleForm(forms.ModelForm):
    capabilities = forms.MultipleChoiceField(
        choices=Capability.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Granted or revoked for every holder at once.",
    )

    class Meta:
        model = Role
        fields = ("responsibilities", "capabilities", "max_holders", "eligible_agencies")


@admin.register(Role)
class RoleAdmin(ServiceFormMixin, ConcordModelAdmin):
    """Roles are changed through ``update_role``; only someone who may edit the role's task
    force gets the form, everyone else a read-only page."""

    description = (
        "Changes go through update_role and need a role in the task force that may edit "
        "it. " + NEED_TO_KNOW
    )
    form = RoleForm
    list_display = ("name", "task_force", "max_holders", "current_holders", "capability_list")
    list_filter = (("task_force", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("name", "task_force__name")
    list_select_related = ("task_force",)
    filter_horizontal = ("eligible_agencies",)
    readonly_fields = ("task_force", "name", "template", "group", "order", "created_at")
    fields = (
        "task_force",
        "name",
        "template",
        "responsibilities",
        "capabilities",
        "max_holders",
        "eligible_agencies",
        "group",
        "order",
        "created_at",
    )

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Role]:
        now = timezone.now()
        current = Q(
            assignments__ended_at__isnull=True,
            assignments__starts_at__lte=now,
        ) & (Q(assignments__ends_at__isnull=True) | Q(assignments__ends_at__gt=now))
        return super().get_queryset(request).annotate(_holders=Count("assignments", filter=current))

    @admin.display(description="current holders", ordering="_holders")
    def current_holders(self, obj: Role) -> int:
        return getattr(obj, "_holders", 0)

    @admin.display(description="capabilities")
    def capability_list(self, obj: Role) -> str:
        return ", ".join(obj.capabilities)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # custom roles are added in the task force (create_role)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or can(request.user, "change", obj.task_force)

    def save_through_service(
        self, request: HttpRequest, form: forms.ModelForm, change: bool
    ) -> Role:
        data = form.cleaned_data
        changes = {
            name: data[name]
            for name in ("responsibilities", "capabilities", "max_holders", "eligible_agencies")
            if name in form.changed_data
        }
        if not changes:
            return Role.objects.get(pk=form.instance.pk)
        return services.update_role(role=form.instance, by=acting_user(request), **changes)


class AssignmentStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("current", "Current"),
            ("scheduled", "Starts later"),
            ("expired", "Expired"),
            ("ended", "Ended early"),
        ]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> Any:
        now = timezone.now()
        value = self.value()
        if value == "current":
            return cast(RoleAssignmentQuerySet, queryset).current(now)
        if value == "scheduled":
            return queryset.filter(ended_at__isnull=True, starts_at__gt=now)
        if value == "expired":
            return queryset.filter(ended_at__isnull=True, ends_at__lte=now)
        if value == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(ReadOnlyAdmin):
    """Read-only. ``end_assignment`` lets only the holder's agency (its liaison officers and
    administrators) end an assignment; there is no service for a portal administrator to."""

    description = (
        "Read-only: liaison officers assign their own agency's people and end those "
        "assignments in Concord; agency administrators recertify or end them in the access "
        "review. To take all of a person's roles away from here, end their "
        "membership (Memberships) or suspend their agency (Agencies). " + NEED_TO_KNOW
    )
    list_display = ("person", "role_name", "task_force", "agency", "starts_at", "ends_at", "state")
    list_filter = (AssignmentStateFilter, ("agency", admin.RelatedOnlyFieldListFilter))
    search_fields = (
        "person__email",
        "person__first_name",
        "person__last_name",
        "role__name",
        "role__task_force__name",
    )
    list_select_related = ("person", "agency", "role__task_force")

    @admin.display(description="role", ordering="role__name")
    def role_name(self, obj: RoleAssignment) -> str:
        return obj.role.name

    @admin.display(description="task force", ordering="role__task_force__name")
    def task_force(self, obj: RoleAssignment) -> TaskForce:
        return obj.role.task_force

    @admin.display(description="state")
    def state(self, obj: RoleAssignment) -> str:
        now = timezone.now()
        if obj.ended_at is not None:
            return f"Ended: {obj.end_reason}" if obj.end_reason else "Ended"
        if obj.starts_at > now:
            return "Starts later"
        if obj.ends_at is not None and obj.ends_at <= now:
            return "Expired"
        return "Current"


@admin.register(Objective)
class ObjectiveAdmin(ReadOnlyAdmin):
    description = "Objectives are managed in Concord by their task force. " + NEED_TO_KNOW
    list_display = (
        "title",
        "task_force",
        "owner_agency",
        "status",
        "priority",
        "target_date",
        "marking",
    )
    list_filter = ("status", "priority", "marking")
    search_fields = ("title", "task_force__name", "owner_agency__name")
    list_select_related = ("task_force", "owner_agency")


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    description = "Tasks are managed in Concord by their task force. " + NEED_TO_KNOW
    list_display = (
        "title",
        "task_force",
        "objective",
        "assignee",
        "assigned_role_name",
        "due_date",
        "status",
    )
    list_filter = ("status",)
    search_fields = ("title", "objective__title", "task_force__name")
    list_select_related = ("task_force", "objective", "assignee", "assigned_role")

    @admin.display(description="assigned role", ordering="assigned_role__name")
    def assigned_role_name(self, obj: Task) -> str:
        return obj.assigned_role.name if obj.assigned_role else "—"


@admin.register(Update)
class UpdateAdmin(ReadOnlyAdmin):
    description = "Updates are posted and acknowledged in Concord. " + NEED_TO_KNOW
    list_display = (
        "title",
        "task_force",
        "kind",
        "author",
        "author_agency",
        "marking",
        "requires_acknowledgement",
        "created_at",
    )
    list_filter = ("kind", "marking", "requires_acknowledgement")
    search_fields = ("title", "task_force__name")
    list_select_related = ("task_force", "author", "author_agency")


@admin.register(OperationalPeriod)
class OperationalPeriodAdmin(ReadOnlyAdmin):
    description = (
        "Operational periods of the task forces you may see. Planners manage them on the "
        "task force's pages."
    )
    list_display = ("task_force", "number", "starts_at", "ends_at")
    search_fields = ("task_force__name",)
    list_select_related = ("task_force",)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    description = (
        "Timeline entries of the task forces you may see, as far as what each is about "
        "lets you see it. They are written by the changes themselves, and by hand on the "
        "task force's timeline page. " + NEED_TO_KNOW
    )
    list_display = ("occurred_at", "task_force", "kind", "summary", "subject", "marking")
    list_filter = ("kind", "marking", "significant")
    search_fields = ("summary", "subject", "task_force__name")
    list_select_related = ("task_force",)


@admin.register(HandoverBrief)
class HandoverBriefAdmin(ReadOnlyAdmin):
    description = (
        "Handover briefs of the task forces you may see. Outgoing holders write them and "
        "incoming holders acknowledge them in Concord. " + NEED_TO_KNOW
    )
    list_display = ("role", "task_force", "period", "written_by", "acknowledged_at", "marking")
    list_filter = ("marking",)
    search_fields = ("role__name", "task_force__name")
    list_select_related = ("role", "task_force", "period", "written_by")


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdmin):
    """Only the owner's own feeds; the secret itself is never stored."""

    description = "Your calendar feeds. Create, rotate or revoke them on the calendar page."
    list_display = ("prefix", "created_at", "last_used_at", "revoked_at")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset.filter(owner_id=user.pk)


@admin.register(Acknowledgement)
class AcknowledgementAdmin(ReadOnlyAdmin):
    description = (
        "Acknowledgements of the updates you may see, and your own. "
        "People acknowledge updates in Concord."
    )
    list_display = ("update", "person", "acknowledged_at")
    search_fields = ("update__title", "person__email")
    list_select_related = ("update", "person")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        visible = Update.objects.restrict(user, "view").values("pk")
        return queryset.filter(Q(update__in=visible) | Q(person_id=user.pk))


class _ObjectPermissionAdmin(ReadOnlyAdmin):
    description = (
        "guardian's rows: a role's capabilities granted to its group on its task force. "
        "Written by the role services only. " + NEED_TO_KNOW
    )
    list_select_related: ClassVar[tuple[str, ...]] = ("content_object", "permission")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        visible = TaskForce.objects.restrict(user, "view").values("pk")
        return queryset.filter(content_object__in=visible)

    @admin.display(description="capability", ordering="permission__codename")
    def capability(self, obj: Any) -> str:
        return obj.permission.codename


@admin.register(TaskForceGroupObjectPermission)
class TaskForceGroupObjectPermissionAdmin(_ObjectPermissionAdmin):
    list_display = ("content_object", "role_name", "capability")
    list_select_related = ("content_object", "permission", "group__role")
    search_fields = ("content_object__name", "group__role__name", "permission__codename")

    @admin.display(description="role")
    def role_name(self, obj: TaskForceGroupObjectPermission) -> str:
        role = getattr(obj.group, "role", None)
        return role.name if role else obj.group.name


@admin.register(TaskForceUserObjectPermission)
class TaskForceUserObjectPermissionAdmin(_ObjectPermissionAdmin):
    description = (
        "Per-person grants. Concord grants to role groups only, so this stays empty. "
        + NEED_TO_KNOW
    )
    list_display = ("content_object", "user", "capability")
    list_select_related = ("content_object", "permission", "user")


# Role groups are managed by the role services (holders join and leave them with their
# assignments), so the auth Group admin shows them read-only, limited like the roles.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    list_display = ("name", "role_name")
    list_select_related = ("role__task_force",)
    readonly_fields = ("name", "permissions", "role_name")
    fields = ("name", "role_name", "permissions")

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Group]:
        roles = Role.objects.restrict(request.user, "view").values("pk")
        return super().get_queryset(request).filter(Q(role__isnull=True) | Q(role__in=roles))

    @admin.display(description="role")
    def role_name(self, obj: Group) -> str:
        role = getattr(obj, "role", None)
        return str(role) if role else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
