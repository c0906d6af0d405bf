"""What the API shows of task forces and everything in them, and what it accepts.

Output serializers are read-only; input serializers only validate, and the views hand
their ``validated_data`` to ``taskforces.services``."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agencies.api.serializers import AgencyRefSerializer
from agencies.models import Agency, Membership
from agencies.selectors import AgencyOf
from coordination.api.fields import Choice, Day, Flag, Items, Moment, Prose, Text, WholeNumber
from coordination.api.representation import ReadSerializer
from coordination.api.serializers import (
    PersonRefSerializer,
    VisiblePeopleField,
    VisibleRelatedField,
    as_id,
)
from coordination.models import User
from coordination.permissions.markings import Marking
from coordination.validators import PROSE_LENGTH, REASON_LENGTH
from taskforces.models import (
    Capability,
    Objective,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)
from taskforces.selectors import sees_mandate, visible_task_force

SMALL_INT_MAX = 32767


class VisibleTaskForceField(VisibleRelatedField):
    """The id of a task force the requester may see, read as every task force's page
    reads it (``visible_task_force``: one prepared statement, where building the
    restricted queryset cost a write more than its statement); any other id gets the
    same "does not exist" answer."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(TaskForce, **kwargs)

    def to_internal_value(self, data: Any) -> TaskForce:
        pk = as_id(self, data)
        found = visible_task_force(self.context["request"].user, pk, self.action)
        if found is None:
            self.fail("does_not_exist", pk_value=pk)
        return found


def visible_people(user: Any) -> QuerySet[User]:
    """The people a person may name (as a task's assignee, or to assign to a role): their
    own agency's people, and everyone who holds or held a role in a task force they see.
    Any other id gets the answer a nonexistent one gets, so ids do not leak names."""
    own_agency = Membership.objects.filter(agency_id=AgencyOf(user), is_active=True).values(
        "user_id"
    )
    in_my_task_forces = RoleAssignment.objects.restrict(user, "view").values("person_id")
    return User.objects.filter(Q(pk__in=own_agency) | Q(pk__in=in_my_task_forces))


class TaskForceRefSerializer(ReadSerializer):
    class Meta:
        model = TaskForce
        fields = ("id", "name")
        read_only_fields = fields


class RoleRefSerializer(ReadSerializer):
    class Meta:
        model = Role
        fields = ("id", "name", "task_force")
        read_only_fields = fields


# --- task forces and participation ---------------------------------------------------------


class TaskForceSerializer(ReadSerializer):
    """A joint body with a mandate, a lead agency and a lifecycle. Its marking limits who
    sees the mandate exactly as an item's marking does: to anyone else ``mandate`` is null
    and ``mandate_withheld`` true."""

    lead_agency = AgencyRefSerializer(read_only=True)
    mandate = serializers.SerializerMethodField()
    mandate_withheld = serializers.SerializerMethodField()

    def _sees_mandate(self, task_force: TaskForce) -> bool:
        request = self.context.get("request")
        return request is not None and sees_mandate(request.user, task_force)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_mandate(self, task_force: TaskForce) -> str | None:
        return task_force.mandate if self._sees_mandate(task_force) else None

    @extend_schema_field(serializers.BooleanField())
    def get_mandate_withheld(self, task_force: TaskForce) -> bool:
        return not self._sees_mandate(task_force)

    class Meta:
        model = TaskForce
        fields = (
            "id",
            "name",
            "mandate",
            "mandate_withheld",
            "lead_agency",
            "status",
            "marking",
            "created_at",
            "status_changed_at",
        )
        read_only_fields = fields


class TaskForceCreateSerializer(serializers.Serializer):
    """A new task force; the liaison officer who forms it leads it for their agency."""

    name = Text(max_length=200)
    mandate = Prose(max_length=PROSE_LENGTH)
    marking = Choice(choices=Marking.choices, required=False, default=Marking.AMBER)


class TaskForceChangeSerializer(serializers.Serializer):
    name = Text(max_length=200, required=False)
    mandate = Prose(max_length=PROSE_LENGTH, required=False)
    marking = Choice(choices=Marking.choices, required=False)


class TaskForceTransitionSerializer(serializers.Serializer):
    """Where the task force moves: forming → active → standing down → closed."""

    status = Choice(choices=TaskForce.Status.choices)


class InvitationSerializer(serializers.Serializer):
    """An active agency to invite, with a message for its liaison officers."""

    agency = VisibleRelatedField(Agency)
    message = Prose(max_length=REASON_LENGTH, required=False, allow_blank=True, default="")


class ParticipationSerializer(ReadSerializer):
    """An agency's part in a task force: invited → accepted / declined → withdrawn."""

    task_force = TaskForceRefSerializer(read_only=True)
    agency = AgencyRefSerializer(read_only=True)

    class Meta:
        model = Participation
        fields = (
            "id",
            "task_force",
            "agency",
            "status",
            "invited_at",
            "message",
            "responded_at",
            "reason",
        )
        read_only_fields = fields


# --- roles and assignments -----------------------------------------------------------------


class RoleSerializer(ReadSerializer):
    """A position in one task force: responsibilities, capabilities, holder limit,
    eligible agencies (none listed: every participating agency)."""

    task_force = TaskForceRefSerializer(read_only=True)
    capabilities = serializers.ListField(
        child=serializers.ChoiceField(choices=Capability.choices), read_only=True
    )
    eligible_agencies = AgencyRefSerializer(many=True, read_only=True)
    template: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )

    class Meta:
        model = Role
        fields = (
            "id",
            "task_force",
            "name",
            "responsibilities",
            "capabilities",
            "max_holders",
            "eligible_agencies",
            "template",
            "order",
        )
        read_only_fields = fields


def _capabilities(required: bool) -> Items:
    return Items(
        child=Choice(choices=Capability.choices),
        max_length=len(Capability.choices),
        required=required,
    )


class RoleCreateSerializer(serializers.Serializer):
    task_force = VisibleTaskForceField()
    name = Text(max_length=100)
    responsibilities = Prose(max_length=PROSE_LENGTH)
    capabilities = _capabilities(required=True)
    max_holders = WholeNumber(
        min_value=1, max_value=SMALL_INT_MAX, required=False, allow_null=True, default=None
    )
    eligible_agencies = VisibleRelatedField(Agency, many=True, required=False, default=list)


class RoleChangeSerializer(serializers.Serializer):
    """Leave a field out to keep it; ``max_holders: null`` removes the limit."""

    responsibilities = Prose(max_length=PROSE_LENGTH, required=False)
    capabilities = _capabilities(required=False)
    max_holders = WholeNumber(min_value=1, max_value=SMALL_INT_MAX, required=False, allow_null=True)
    eligible_agencies = VisibleRelatedField(Agency, many=True, required=False)


class AssignSerializer(serializers.Serializer):
    """A person of the liaison officer's own agency, from now (or ``starts_at``) until
    ``until`` (or open-ended)."""

    person = VisiblePeopleField(visible_people)
    starts_at = Moment(required=False, allow_null=True, default=None)
    until = Moment(required=False, allow_null=True, default=None)


class RoleAssignmentSerializer(ReadSerializer):
    """A person holding a role, for a period."""

    role = RoleRefSerializer(read_only=True)
    person = PersonRefSerializer(read_only=True)
    agency = AgencyRefSerializer(read_only=True)
    assigned_by = PersonRefSerializer(read_only=True, allow_null=True)
    is_current = serializers.SerializerMethodField()
    # a property of the model: declared, so it is written as every other time is (in the
    # reader's zone), not as the JSON encoder writes a bare datetime (always UTC)
    recertification_due_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = RoleAssignment
        fields = (
            "id",
            "role",
            "person",
            "agency",
            "assigned_by",
            "starts_at",
            "ends_at",
            "ended_at",
            "end_reason",
            "is_current",
            "recertified_at",
            "recertification_due_at",
        )
        read_only_fields = fields

    def get_is_current(self, assignment: RoleAssignment) -> bool:
        return assignment.is_current()


class RecertifySerializer(serializers.Serializer):
    """An agency administrator's confirmation that the person still needs the role."""

    note = Prose(max_length=REASON_LENGTH, required=False, allow_blank=True, default="")


class AssignmentEndDateSerializer(serializers.Serializer):
    """When the assignment expires; ``null`` makes it open-ended."""

    until = Moment(allow_null=True)


# --- objectives, tasks, updates ------------------------------------------------------------


class ObjectiveSerializer(ReadSerializer):
    """A shared objective: owner and contributing agencies, status, priority, target date,
    marking, and progress (percent of its live tasks done)."""

    task_force = TaskForceRefSerializer(read_only=True)
    owner_agency = AgencyRefSerializer(read_only=True)
    contributing_agencies = AgencyRefSerializer(many=True, read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Objective
        fields = (
            "id",
            "task_force",
            "title",
            "description",
            "owner_agency",
            "contributing_agencies",
            "status",
            "priority",
            "target_date",
            "marking",
            "progress",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(min_value=0, max_value=100))
    def get_progress(self, objective: Objective) -> int:
        return int(getattr(objective, "progress", 0) or 0)


class ObjectiveCreateSerializer(serializers.Serializer):
    """A new objective; its marking defaults to the task force's."""

    task_force = VisibleTaskForceField()
    title = Text(max_length=200)
    owner_agency = VisibleRelatedField(Agency)
    description = Prose(max_length=PROSE_LENGTH, required=False, allow_blank=True, default="")
    contributing_agencies = VisibleRelatedField(Agency, many=True, required=False, default=list)
    priority = Choice(
        choices=Objective.Priority.choices, required=False, default=Objective.Priority.MEDIUM
    )
    target_date = Day(required=False, allow_null=True, default=None)
    marking = Choice(choices=Marking.choices, required=False, allow_null=True, default=None)
    status = Choice(
        choices=Objective.Status.choices, required=False, default=Objective.Status.NOT_STARTED
    )


class ObjectiveChangeSerializer(serializers.Serializer):
    """Leave a field out to keep it."""

    title = Text(max_length=200, required=False)
    description = Prose(max_length=PROSE_LENGTH, required=False, allow_blank=True)
    owner_agency = VisibleRelatedField(Agency, required=False)
    contributing_agencies = VisibleRelatedField(Agency, many=True, required=False)
    status = Choice(choices=Objective.Status.choices, required=False)
    priority = Choice(choices=Objective.Priority.choices, required=False)
    target_date = Day(required=False, allow_null=True)
    marking = Choice(choices=Marking.choices, required=False)


class TaskSerializer(ReadSerializer):
    """A piece of work under an objective, for a person or for a role's holders."""

    task_force = TaskForceRefSerializer(read_only=True)
    assignee = PersonRefSerializer(read_only=True, allow_null=True)
    assigned_role = RoleRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = (
            "id",
            "task_force",
            "objective",
            "title",
            "description",
            "assignee",
            "assigned_role",
            "due_date",
            "status",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class TaskCreateSerializer(serializers.Serializer):
    """A new task: for a person (``assignee``) or a role (``assigned_role``), not both."""

    objective = VisibleRelatedField(Objective)
    title = Text(max_length=200)
    description = Prose(max_length=PROSE_LENGTH, required=False, allow_blank=True, default="")
    assignee = VisiblePeopleField(visible_people, required=False, allow_null=True, default=None)
    assigned_role = VisibleRelatedField(Role, required=False, allow_null=True, default=None)
    due_date = Day(required=False, allow_null=True, default=None)
    status = Choice(choices=Task.Status.choices, required=False, default=Task.Status.TODO)


class TaskChangeSerializer(serializers.Serializer):
    """Leave a field out to keep it. A task's assignee (or a holder of its role) may change
    its status; task managers may change everything."""

    title = Text(max_length=200, required=False)
    description = Prose(max_length=PROSE_LENGTH, required=False, allow_blank=True)
    assignee = VisiblePeopleField(visible_people, required=False, allow_null=True)
    assigned_role = VisibleRelatedField(Role, required=False, allow_null=True)
    due_date = Day(required=False, allow_null=True)
    status = Choice(choices=Task.Status.choices, required=False)


class UpdateSerializer(ReadSerializer):
    """A message or situation report; it may ask named roles or agencies (or, naming
    none, everyone who sees it) to acknowledge it."""

    task_force = TaskForceRefSerializer(read_only=True)
    author = PersonRefSerializer(read_only=True, allow_null=True)
    author_agency = AgencyRefSerializer(read_only=True, allow_null=True)
    ack_roles = RoleRefSerializer(many=True, read_only=True)
    ack_agencies = AgencyRefSerializer(many=True, read_only=True)
    acknowledged_by_me = serializers.SerializerMethodField()

    class Meta:
        model = Update
        fields = (
            "id",
            "task_force",
            "author",
            "author_agency",
            "kind",
            "title",
            "body",
            "marking",
            "requires_acknowledgement",
            "ack_roles",
            "ack_agencies",
            "acknowledged_by_me",
            "created_at",
        )
        read_only_fields = fields

    def get_acknowledged_by_me(self, update: Update) -> bool:
        return bool(getattr(update, "acknowledged_by_me", False))


class UpdateCreateSerializer(serializers.Serializer):
    task_force = VisibleTaskForceField()
    title = Text(max_length=200)
    body = Prose(max_length=PROSE_LENGTH)
    kind = Choice(choices=Update.Kind.choices, required=False, default=Update.Kind.UPDATE)
    marking = Choice(choices=Marking.choices, required=False, allow_null=True, default=None)
    requires_acknowledgement = Flag(required=False, default=False)
    ack_roles = VisibleRelatedField(Role, many=True, required=False, default=list)
    ack_agencies = VisibleRelatedField(Agency, many=True, required=False, default=list)


class AcknowledgementSerializer(serializers.Serializer):
    update_id = serializers.IntegerField(help_text="The update's id.")
    acknowledged_at = serializers.DateTimeField()


class TimelineEntrySerializer(ReadSerializer):
    """One event in a task force's timeline, or a log entry written by hand: when it
    happened, who did it, what it was about (``object_type`` and ``object_id``), and its
    marking (the item's own, or the task force's for the task force's own business)."""

    task_force = TaskForceRefSerializer(read_only=True)
    actor = PersonRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TimelineEntry
        fields = (
            "id",
            "task_force",
            "kind",
            "action",
            "summary",
            "subject",
            "text",
            "occurred_at",
            "recorded_at",
            "actor",
            "actor_label",
            "object_type",
            "object_id",
            "marking",
            "significant",
            "significant_at",
        )
        read_only_fields = fields


class LogEntryCreateSerializer(serializers.Serializer):
    task_force = VisibleTaskForceField()
    text = Prose(max_length=PROSE_LENGTH)
    subject = Text(max_length=200, required=False, default="", allow_blank=True)
    kind = Choice(
        choices=[(k.value, k.label) for k in TimelineEntry.MANUAL_KINDS],
        required=False,
        default=TimelineEntry.Kind.LOG.value,
    )
    occurred_at = Moment(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it happened (RFC 3339); not in the future. Default: now.",
    )
    marking = Choice(choices=Marking.choices, required=False, allow_null=True, default=None)
    significant = Flag(required=False, default=False)


class SignificantSerializer(serializers.Serializer):
    significant = Flag(help_text="true: mark the entry significant; false: no longer.")
