"""Task forces and everything in them over the API.

Reads go through the permission core (``Model.objects.restrict(user, "view")``); every
change calls ``taskforces.services``, which checks who may, validates and records the
audit event. Lifecycle changes are actions, never a status field written by the client
(a task's or objective's progress status is an ordinary edit, made through the service)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django_filters import rest_framework as drf_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from coordination.api.filters import BooleanFilter, IdFilter, IsoDateTimeFilter
from coordination.api.idempotency import idempotent
from coordination.api.serializers import OptionalReasonSerializer, ReasonSerializer
from coordination.api.views import ReadOnlyResourceViewSet
from taskforces import selectors, services
from taskforces.access import access_for
from taskforces.filtersets import ObjectiveFilter, TaskFilter, TaskForceFilter
from taskforces.models import (
    Acknowledgement,
    Objective,
    OperationalPeriod,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)

from . import lean
from .lean import lean_answer
from .serializers import (
    AcknowledgementSerializer,
    AssignmentEndDateSerializer,
    AssignSerializer,
    InvitationSerializer,
    LogEntryCreateSerializer,
    ObjectiveChangeSerializer,
    ObjectiveCreateSerializer,
    ObjectiveSerializer,
    ParticipationSerializer,
    RecertifySerializer,
    RoleAssignmentSerializer,
    RoleChangeSerializer,
    RoleCreateSerializer,
    RoleSerializer,
    SignificantSerializer,
    TaskChangeSerializer,
    TaskCreateSerializer,
    TaskForceChangeSerializer,
    TaskForceCreateSerializer,
    TaskForceSerializer,
    TaskForceTransitionSerializer,
    TaskSerializer,
    TimelineEntrySerializer,
    UpdateCreateSerializer,
    UpdateSerializer,
)


class LeanListMixin(ReadOnlyResourceViewSet):
    """A list that polling clients ask often: asked with nothing but a page, it is answered
    by one prepared statement (``taskforces.api.lean``, named by ``lean_list``); otherwise
    through the general path."""

    lean_list: str | None = None
    # every request reads the asker's access: read with their token (api/authentication.py)
    reads_task_force_access = True

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return lean_answer(self, request) or super().list(request, *args, **kwargs)


class TaskForceContentViewSet(LeanListMixin):
    """Content seen only through the asker's access inside task forces: its state is that
    access with each task force's content version (``taskforces.access``), known before
    any row is read, so a conditional GET that matches costs no query of its own."""

    def state_before_query(self) -> str | None:
        return access_for(self.request.user).fingerprint


def _serialize(
    view: ReadOnlyResourceViewSet, serializer_class: Any, obj: Any, code: int
) -> Response:
    return Response(serializer_class(obj, context=view.get_serializer_context()).data, status=code)


# --- task forces --------------------------------------------------------------------------


class TaskForceApiFilter(TaskForceFilter):
    lead_agency = IdFilter(field_name="lead_agency", label="Lead agency id")


@extend_schema_view(
    list=extend_schema(summary="Task forces I hold a role in"),
    retrieve=extend_schema(summary="One task force"),
    create=extend_schema(
        summary="Form a task force",
        description="A liaison officer of an active agency; their agency leads it, and they "
        "hold its Commander and Liaison officer roles.",
        request=TaskForceCreateSerializer,
        responses={201: TaskForceSerializer},
    ),
    partial_update=extend_schema(
        summary="Edit a task force's name, mandate or marking",
        request=TaskForceChangeSerializer,
        responses={200: TaskForceSerializer},
    ),
)
class TaskForceViewSet(TaskForceContentViewSet):
    """Joint bodies of several agencies. Seen only through a current role assignment."""

    model = TaskForce
    serializer_class = TaskForceSerializer
    filterset_class = TaskForceApiFilter
    lean_list = "task-forces"
    ordering_fields = ("name", "status", "created_at", "id")
    ordering = ("-created_at", "-id")

    def optimise(self, queryset: QuerySet[TaskForce]) -> QuerySet[TaskForce]:
        return queryset.select_related("lead_agency")

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(TaskForceCreateSerializer)
        return self.respond(
            services.form_task_force(by=self.actor, **data), status.HTTP_201_CREATED
        )

    def partial_update(self, request: Request, pk: str) -> Response:
        task_force = self.get_object()
        data = self.validated(TaskForceChangeSerializer)
        return self.respond(
            services.update_task_force(task_force=task_force, by=self.actor, **data)
        )

    @extend_schema(
        summary="Move a task force along its lifecycle",
        description="forming → active → standing down → closed (or back to active from "
        "standing down). Holders of a role that may edit the task force.",
        request=TaskForceTransitionSerializer,
        responses={200: TaskForceSerializer},
    )
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str) -> Response:
        task_force = self.get_object()
        data = self.validated(TaskForceTransitionSerializer)
        return self.respond(
            services.transition_task_force(
                task_force=task_force, to_status=data["status"], by=self.actor
            )
        )

    @extend_schema(
        summary="Invite an agency to take part",
        description="An active agency (again, after it declined or withdrew). Holders of a "
        "role that manages participation.",
        request=InvitationSerializer,
        responses={201: ParticipationSerializer},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def invite(self, request: Request, pk: str) -> Response:
        task_force = self.get_object()
        data = self.validated(InvitationSerializer)
        participation = services.invite_agency(task_force=task_force, by=self.actor, **data)
        participation = Participation.objects.select_related("task_force", "agency").get(
            pk=participation.pk
        )
        return _serialize(self, ParticipationSerializer, participation, status.HTTP_201_CREATED)


# --- participations -----------------------------------------------------------------------


class ParticipationFilter(drf_filters.FilterSet):
    task_force = IdFilter(field_name="task_force", label="Task force id")
    agency = IdFilter(field_name="agency", label="Agency id")
    status = drf_filters.ChoiceFilter(choices=Participation.Status.choices)

    class Meta:
        model = Participation
        fields = ("task_force", "agency", "status")


@extend_schema_view(
    list=extend_schema(
        summary="Participations I may see: my task forces' agencies, and my agency's invitations"
    ),
    retrieve=extend_schema(summary="One participation"),
)
class ParticipationViewSet(ReadOnlyResourceViewSet):
    """Agencies' parts in task forces. Invitations are made with
    ``POST /task-forces/{id}/invite/``; the invited agency's liaison officers answer."""

    model = Participation
    serializer_class = ParticipationSerializer
    # every request reads the asker's access: read with their token (api/authentication.py)
    reads_task_force_access = True
    filterset_class = ParticipationFilter
    ordering_fields = ("invited_at", "responded_at", "status", "id")
    ordering = ("id",)

    def optimise(self, queryset: QuerySet[Participation]) -> QuerySet[Participation]:
        return queryset.select_related("task_force", "agency")

    @extend_schema(
        summary="Accept an invitation",
        description="A liaison officer of the invited agency; they get their agency's "
        "Liaison officer role in the task force.",
        request=None,
        responses={200: ParticipationSerializer},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        participation = self.get_object()
        return self.respond(
            services.respond_to_invitation(participation=participation, accept=True, by=self.actor)
        )

    @extend_schema(
        summary="Decline an invitation",
        description="A liaison officer of the invited agency, with an optional reason.",
        request=OptionalReasonSerializer,
        responses={200: ParticipationSerializer},
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        participation = self.get_object()
        data = self.validated(OptionalReasonSerializer)
        return self.respond(
            services.respond_to_invitation(
                participation=participation, accept=False, by=self.actor, reason=data["reason"]
            )
        )

    @extend_schema(
        summary="Withdraw an agency from a task force",
        description="Its liaison officer, or those who manage participation. Every "
        "assignment of its people there ends at once.",
        request=ReasonSerializer,
        responses={200: ParticipationSerializer},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        participation = self.get_object()
        data = self.validated(ReasonSerializer)
        return self.respond(
            services.withdraw_agency(
                participation=participation, by=self.actor, reason=data["reason"]
            )
        )


# --- roles --------------------------------------------------------------------------------


class RoleFilter(drf_filters.FilterSet):
    task_force = IdFilter(field_name="task_force", label="Task force id")

    class Meta:
        model = Role
        fields = ("task_force",)


@extend_schema_view(
    list=extend_schema(summary="Roles in the task forces I see"),
    retrieve=extend_schema(summary="One role"),
    create=extend_schema(
        summary="Add a custom role to a task force",
        description="Holders of a role that may edit the task force.",
        request=RoleCreateSerializer,
        responses={201: RoleSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a role's responsibilities, capabilities, limit or eligible agencies",
        description="Capabilities are granted or taken away at once.",
        request=RoleChangeSerializer,
        responses={200: RoleSerializer},
    ),
)
class RoleViewSet(TaskForceContentViewSet):
    """The positions in each task force (its organisation chart)."""

    model = Role
    serializer_class = RoleSerializer
    filterset_class = RoleFilter
    ordering_fields = ("order", "name", "id")
    ordering = ("task_force_id", "order", "name", "id")

    def optimise(self, queryset: QuerySet[Role]) -> QuerySet[Role]:
        return queryset.select_related("task_force", "template").prefetch_related(
            "eligible_agencies"
        )

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(RoleCreateSerializer)
        return self.respond(services.create_role(by=self.actor, **data), status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        role = self.get_object()
        data = self.validated(RoleChangeSerializer)
        return self.respond(services.update_role(role=role, by=self.actor, **data))

    @extend_schema(
        summary="Assign a person to a role",
        description="A liaison officer assigns a person of their own agency, in a task force "
        "their agency accepted, to a role their agency is eligible for, within its holder "
        "limit.",
        request=AssignSerializer,
        responses={201: RoleAssignmentSerializer},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def assign(self, request: Request, pk: str) -> Response:
        role = self.get_object()
        data = self.validated(AssignSerializer)
        assignment = services.assign_role(role=role, assigned_by=self.actor, **data)
        assignment = RoleAssignment.objects.select_related(
            "role", "person", "agency", "assigned_by"
        ).get(pk=assignment.pk)
        return _serialize(self, RoleAssignmentSerializer, assignment, status.HTTP_201_CREATED)


# --- role assignments ---------------------------------------------------------------------


class RoleAssignmentFilter(drf_filters.FilterSet):
    task_force = IdFilter(field_name="role__task_force", label="Task force id")
    role = IdFilter(field_name="role", label="Role id")
    person = IdFilter(field_name="person", label="Person id")
    agency = IdFilter(field_name="agency", label="Agency id")
    current = BooleanFilter(method="filter_current", label="Only current (true)")

    class Meta:
        model = RoleAssignment
        fields = ("task_force", "role", "person", "agency", "current")

    def filter_current(
        self, queryset: QuerySet[RoleAssignment], name: str, value: bool
    ) -> QuerySet[RoleAssignment]:
        current = RoleAssignment.objects.current().values("pk")
        return queryset.filter(pk__in=current) if value else queryset.exclude(pk__in=current)


@extend_schema_view(
    list=extend_schema(
        summary="Role assignments in the task forces I see, my own, and (agency "
        "administrators) those of my agency's people"
    ),
    retrieve=extend_schema(summary="One role assignment"),
)
class RoleAssignmentViewSet(LeanListMixin):
    """People holding roles. Made with ``POST /roles/{id}/assign/``."""

    model = RoleAssignment
    lean_list = "role-assignments"
    serializer_class = RoleAssignmentSerializer
    filterset_class = RoleAssignmentFilter
    ordering_fields = ("starts_at", "ends_at", "ended_at", "id")
    ordering = ("-starts_at", "-id")

    def optimise(self, queryset: QuerySet[RoleAssignment]) -> QuerySet[RoleAssignment]:
        return queryset.select_related("role", "person", "agency", "assigned_by")

    def state_of_objects(self, objects: list[Any], count: int | None) -> str:
        # whether each is current changes with time alone
        return super().state_of_objects(objects, count) + repr([a.is_current() for a in objects])

    @extend_schema(
        summary="End an assignment early",
        description="A liaison officer or agency administrator of the holder's agency; the "
        "access goes at once and the holder is told the reason.",
        request=ReasonSerializer,
        responses={200: RoleAssignmentSerializer},
    )
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk: str) -> Response:
        assignment = self.get_object()
        data = self.validated(ReasonSerializer)
        return self.respond(
            services.end_assignment(assignment=assignment, by=self.actor, reason=data["reason"])
        )

    @extend_schema(
        summary="Set or clear when an assignment expires",
        request=AssignmentEndDateSerializer,
        responses={200: RoleAssignmentSerializer},
    )
    @action(detail=True, methods=["post"], url_path="set-end")
    def set_end(self, request: Request, pk: str) -> Response:
        assignment = self.get_object()
        data = self.validated(AssignmentEndDateSerializer)
        return self.respond(
            services.set_assignment_end(assignment=assignment, until=data["until"], by=self.actor)
        )

    @extend_schema(
        summary="Recertify an assignment (access review)",
        description="An agency administrator of the holder's agency confirms the person still "
        "needs the role; it falls due again after the recertification period. Not for one's "
        "own assignment, nor for one that has ended or expired.",
        request=RecertifySerializer,
        responses={200: RoleAssignmentSerializer},
    )
    @action(detail=True, methods=["post"])
    def recertify(self, request: Request, pk: str) -> Response:
        assignment = self.get_object()
        data = self.validated(RecertifySerializer)
        return self.respond(
            services.recertify_assignment(
                actor=self.actor, assignment=assignment, note=data["note"]
            )
        )


# --- objectives ---------------------------------------------------------------------------


class ObjectiveApiFilter(ObjectiveFilter):
    task_force = IdFilter(field_name="task_force", label="Task force id")


@extend_schema_view(
    list=extend_schema(summary="Objectives I may see"),
    retrieve=extend_schema(summary="One objective"),
    create=extend_schema(
        summary="Add a shared objective",
        description="Holders of a role that manages objectives.",
        request=ObjectiveCreateSerializer,
        responses={201: ObjectiveSerializer},
    ),
    partial_update=extend_schema(
        summary="Edit an objective",
        request=ObjectiveChangeSerializer,
        responses={200: ObjectiveSerializer},
    ),
)
class ObjectiveViewSet(TaskForceContentViewSet):
    """Shared objectives of task forces, as far as their markings let the person see."""

    model = Objective
    serializer_class = ObjectiveSerializer
    lean_list = "objectives"
    filterset_class = ObjectiveApiFilter
    ordering_fields = (
        "priority",
        "target_date",
        "status",
        "title",
        "created_at",
        "updated_at",
        "id",
    )
    ordering = ("task_force_id", "-priority", "target_date", "id")

    def optimise(self, queryset: QuerySet[Objective]) -> QuerySet[Objective]:
        return (
            selectors.with_progress(queryset)
            .select_related("task_force", "owner_agency")
            .prefetch_related("contributing_agencies")
        )

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(ObjectiveCreateSerializer)
        return self.respond(
            services.create_objective(by=self.actor, **data), status.HTTP_201_CREATED
        )

    def partial_update(self, request: Request, pk: str) -> Response:
        objective = self.get_object()
        data = self.validated(ObjectiveChangeSerializer)
        return self.respond(services.update_objective(objective=objective, by=self.actor, **data))


# --- tasks --------------------------------------------------------------------------------


class TaskApiFilter(TaskFilter):
    task_force = IdFilter(field_name="task_force", label="Task force id")
    objective = IdFilter(field_name="objective", label="Objective id")
    assignee = IdFilter(field_name="assignee", label="Assignee's id")
    assigned_role = IdFilter(field_name="assigned_role", label="Assigned role's id")


@extend_schema_view(
    list=extend_schema(summary="Tasks I may see"),
    retrieve=extend_schema(summary="One task"),
    create=extend_schema(
        summary="Add a task under an objective",
        description="Holders of a role that manages tasks.",
        request=TaskCreateSerializer,
        responses={201: TaskSerializer},
    ),
    partial_update=extend_schema(
        summary="Edit a task",
        description="Its assignee (or a holder of its role) may change its status; task "
        "managers may change everything.",
        request=TaskChangeSerializer,
        responses={200: TaskSerializer},
    ),
)
class TaskViewSet(TaskForceContentViewSet):
    """Work under objectives; a task carries its objective's marking."""

    model = Task
    serializer_class = TaskSerializer
    lean_list = "tasks"
    filterset_class = TaskApiFilter
    ordering_fields = ("due_date", "status", "created_at", "updated_at", "id")
    ordering = ("due_date", "id")

    def optimise(self, queryset: QuerySet[Task]) -> QuerySet[Task]:
        return queryset.select_related("task_force", "assignee", "assigned_role")

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(TaskCreateSerializer)
        return self.respond(services.create_task(by=self.actor, **data), status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        task = self.get_object()
        data = self.validated(TaskChangeSerializer)
        return self.respond(services.update_task(task=task, by=self.actor, **data))


# --- updates ------------------------------------------------------------------------------


class UpdateFilter(drf_filters.FilterSet):
    task_force = IdFilter(field_name="task_force", label="Task force id")
    kind = drf_filters.ChoiceFilter(choices=Update.Kind.choices)
    requires_acknowledgement = BooleanFilter()

    class Meta:
        model = Update
        fields = ("task_force", "kind", "requires_acknowledgement")


@extend_schema_view(
    list=extend_schema(summary="Updates and situation reports I may see, newest first"),
    retrieve=extend_schema(summary="One update"),
    create=extend_schema(
        summary="Post an update or situation report",
        description="Holders of a role that may post updates. It may ask named roles or "
        "agencies (or, naming none, everyone who sees it) to acknowledge it.",
        request=UpdateCreateSerializer,
        responses={201: UpdateSerializer},
    ),
)
class UpdateViewSet(TaskForceContentViewSet):
    """Messages and situation reports, as far as their markings let the person see."""

    model = Update
    serializer_class = UpdateSerializer
    lean_list = "updates"
    filterset_class = UpdateFilter
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")

    def optimise(self, queryset: QuerySet[Update]) -> QuerySet[Update]:
        mine = Acknowledgement.objects.filter(
            update_id=OuterRef("pk"), person_id=self.request.user.pk
        )
        return (
            queryset.select_related("task_force", "author", "author_agency")
            .prefetch_related("ack_roles", "ack_agencies")
            .annotate(acknowledged_by_me=Exists(mine))
        )

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(UpdateCreateSerializer)
        posted = services.post_update(by=self.actor, **data)
        # the service checked that the author sees it (``_reread_or_rollback``): the
        # answer is the update as the list shows it, in one prepared statement
        shown = lean.one_update(posted.pk, self.actor)
        if shown is None:
            return self.respond(posted, status.HTTP_201_CREATED)
        return Response(shown, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Acknowledge an update",
        description="Those it asks, who can see it. Acknowledging twice changes nothing.",
        request=None,
        responses={200: AcknowledgementSerializer},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        update = self.get_object()
        acknowledgement = services.acknowledge_update(update=update, by=self.actor)
        body = {"update_id": update.pk, "acknowledged_at": acknowledgement.acknowledged_at}
        return Response(AcknowledgementSerializer(body).data)


# --- the timeline -------------------------------------------------------------------------


class TimelineApiFilter(drf_filters.FilterSet):
    task_force = IdFilter(field_name="task_force", label="Task force id")
    kind = drf_filters.ChoiceFilter(choices=TimelineEntry.Kind.choices)
    period = IdFilter(method="in_period", label="Operational period id")
    since = IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gte", label="Happened at or after"
    )
    until = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt", label="Happened before")
    significant = BooleanFilter()
    q = drf_filters.CharFilter(method="search", label="Text contains", max_length=100)

    class Meta:
        model = TimelineEntry
        fields = ("task_force", "kind", "period", "since", "until", "significant", "q")

    def in_period(
        self, queryset: QuerySet[TimelineEntry], name: str, value: int
    ) -> QuerySet[TimelineEntry]:
        period = (
            OperationalPeriod.objects.restrict(self.request.user, "view").filter(pk=value).first()
        )
        if period is None:  # the same answer for a hidden period as for a missing one
            raise ValidationError({"period": ["No such operational period."]})
        return queryset.filter(
            task_force_id=period.task_force_id,
            occurred_at__gte=period.starts_at,
            occurred_at__lt=period.ends_at,
        )

    def search(
        self, queryset: QuerySet[TimelineEntry], name: str, value: str
    ) -> QuerySet[TimelineEntry]:
        return queryset.filter(
            Q(summary__icontains=value) | Q(subject__icontains=value) | Q(text__icontains=value)
        )


@extend_schema_view(
    list=extend_schema(
        summary="Timeline entries I may see, newest first",
        description="Every significant event of the task forces (changes made through "
        "Concord, and log entries written by hand), each shown to those who may see what "
        "it is about. Conditional GET: an unchanged list answers 304.",
    ),
    retrieve=extend_schema(summary="One timeline entry"),
    create=extend_schema(
        summary="Write a log entry (or a decision) in a task force's timeline",
        description="Holders of a role that may post updates, with its own marking and the "
        "time it happened (not in the future).",
        request=LogEntryCreateSerializer,
        responses={201: TimelineEntrySerializer},
    ),
)
class TimelineEntryViewSet(TaskForceContentViewSet):
    """The task forces' timelines."""

    model = TimelineEntry
    serializer_class = TimelineEntrySerializer
    filterset_class = TimelineApiFilter
    ordering_fields = ("occurred_at", "id")
    ordering = ("-occurred_at", "-id")

    def optimise(self, queryset: QuerySet[TimelineEntry]) -> QuerySet[TimelineEntry]:
        return queryset.select_related("task_force", "actor")

    @idempotent
    def create(self, request: Request) -> Response:
        data = self.validated(LogEntryCreateSerializer)
        entry = services.write_log_entry(by=self.actor, **data)
        return self.respond(entry, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Mark a timeline entry significant, or no longer",
        description="Holders of a role that may post updates in its task force, who see it.",
        request=SignificantSerializer,
        responses={200: TimelineEntrySerializer},
    )
    @action(detail=True, methods=["post"])
    def significant(self, request: Request, pk: str) -> Response:
        entry = self.get_object()
        data = self.validated(SignificantSerializer)
        entry = services.mark_significant(
            entry=entry, significant=data["significant"], by=self.actor
        )
        return self.respond(entry)
