"""Task forces and everything inside one: participation, roles, assignments, objectives,
tasks and updates. Writes go through ``taskforces.services``; reads through the
permission core (``Model.objects.restrict``)."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from coordination.permissions import RestrictedQuerySet
from coordination.permissions.markings import Marking
from coordination.validators import (
    NOTES_LENGTH,
    PROSE_LENGTH,
    REASON_LENGTH,
    day_validators,
    line_field,
    prose_field,
)


class Capability(models.TextChoices):
    """What a role's holder may do in its task force. Each is a guardian permission
    codename on TaskForce, granted to the role's group on that task force."""

    VIEW = "view_taskforce", "View the task force"
    CHANGE = "change_taskforce", "Edit the task force and its lifecycle"
    MANAGE_PARTICIPATION = "manage_participation", "Invite and withdraw agencies"
    ASSIGN_ROLES = "assign_roles", "Assign own agency's people to roles"
    MANAGE_OBJECTIVES = "manage_objectives", "Create and edit objectives"
    MANAGE_TASKS = "manage_tasks", "Create, assign and edit tasks"
    POST_UPDATES = "post_updates", "Post updates and situation reports"
    VIEW_RESTRICTED = "view_restricted", "View restricted (TLP:RED) items"
    # mutual aid (the ``mutualaid`` app): raise resource requests for the task force, and
    # decide on the offers other agencies make against them
    REQUEST_RESOURCES = "request_resources", "Request resources from agencies"
    APPROVE_RESOURCES = "approve_resources", "Accept or decline offers of resources"


class TaskForce(models.Model):
    """A joint body with a mandate, a lead agency and participating agencies."""

    class Status(models.TextChoices):
        FORMING = "forming", "Forming"
        ACTIVE = "active", "Active"
        STANDING_DOWN = "standing_down", "Standing down"
        CLOSED = "closed", "Closed"

    name = line_field()
    mandate = prose_field(max_length=PROSE_LENGTH)
    lead_agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="led_task_forces"
    )
    status = models.CharField(
        max_length=15, choices=Status.choices, default=Status.FORMING, db_index=True
    )
    marking = models.PositiveSmallIntegerField(
        "sensitivity marking", choices=Marking.choices, default=Marking.AMBER
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # moved on by the database (triggers, migration taskforces/0009) whenever anything the
    # API or the pages show of this task force changes, in the changing transaction: what
    # the API's ETags of task-force content are made of
    content_version = models.BigIntegerField(default=0, editable=False)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        default_permissions = ("view", "change")
        permissions = [
            (c.value, c.label) for c in Capability if c not in (Capability.VIEW, Capability.CHANGE)
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED


class TaskForceUserObjectPermission(UserObjectPermissionBase):
    """guardian's direct table for per-person grants. Concord grants to role groups only,
    so this stays empty; it exists so guardian never falls back to its generic table."""

    content_object = models.ForeignKey(TaskForce, on_delete=models.CASCADE)


class TaskForceGroupObjectPermission(GroupObjectPermissionBase):
    """guardian's direct table: one row per (role group, capability) on a task force."""

    content_object = models.ForeignKey(TaskForce, on_delete=models.CASCADE)


class Participation(models.Model):
    """An agency's part in a task force. The lead agency's is accepted from the start."""

    class Status(models.TextChoices):
        INVITED = "invited", "Invited"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    task_force = models.ForeignKey(
        TaskForce, on_delete=models.CASCADE, related_name="participations"
    )
    agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="participations"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.INVITED)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_at = models.DateTimeField(auto_now_add=True)
    message = prose_field(max_length=REASON_LENGTH, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    reason = prose_field(max_length=REASON_LENGTH, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("task_force", "agency__name")
        constraints = [
            models.UniqueConstraint(
                fields=("task_force", "agency"), name="one_participation_per_agency"
            ),
        ]
        indexes = [models.Index(fields=("agency", "status"))]

    def __str__(self) -> str:
        return f"{self.agency} in {self.task_force} ({self.get_status_display()})"


class RoleTemplate(models.Model):
    """A role in the catalogue, copied into each task force when it is formed."""

    slug = models.SlugField(unique=True)
    name = line_field(max_length=100, unique=True)
    responsibilities = prose_field(max_length=PROSE_LENGTH)
    capabilities = models.JSONField(default=list)
    default_max_holders = models.PositiveSmallIntegerField(null=True, blank=True)
    order = models.PositiveSmallIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ("order", "name")

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    """A named position in one task force. Its capabilities are granted, as guardian object
    permissions on the task force, to its own group; holders are put in that group."""

    task_force = models.ForeignKey(TaskForce, on_delete=models.CASCADE, related_name="roles")
    template = models.ForeignKey(
        RoleTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="roles"
    )
    name = line_field(max_length=100)
    responsibilities = prose_field(max_length=PROSE_LENGTH)
    capabilities = models.JSONField(default=list)
    max_holders = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Leave empty for no limit."
    )
    eligible_agencies = models.ManyToManyField(
        "agencies.Agency",
        blank=True,
        related_name="eligible_roles",
        help_text="Leave empty to let every participating agency fill it.",
    )
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="role")
    order = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("task_force", "order", "name")
        constraints = [
            models.UniqueConstraint(
                fields=("task_force", "name"), name="role_name_unique_in_task_force"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.task_force})"


class RoleAssignmentQuerySet(RestrictedQuerySet["RoleAssignment"]):
    def current(self, at: object = None) -> RoleAssignmentQuerySet:
        """Assignments that confer their role now: started, not ended, not expired."""
        now = at or timezone.now()
        return self.filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now),
            ended_at__isnull=True,
            starts_at__lte=now,
        )

    def open(self, at: object = None) -> RoleAssignmentQuerySet:
        """Assignments that count against a holder limit: current or starting later."""
        now = at or timezone.now()
        return self.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now), ended_at__isnull=True)

    def during(self, starts_at: object, ends_at: object) -> RoleAssignmentQuerySet:
        """Assignments that confer (or conferred) their role at some moment between
        ``starts_at`` and ``ends_at``: an operational period's holders."""
        return (
            self.filter(starts_at__lt=ends_at)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=starts_at))
            .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=starts_at))
        )

    def due_for_recertification(self, at: object = None) -> RoleAssignmentQuerySet:
        """Open assignments (not ended, not expired) whose last recertification, or their
        start if never recertified, is CONCORD_RECERTIFY_DAYS or more ago."""
        now = at or timezone.now()
        cutoff = now - recertification_period()  # type: ignore[operator]
        return (
            self.open(now)
            .alias(recertify_from=Coalesce("recertified_at", "starts_at"))
            .filter(recertify_from__lte=cutoff)
        )


def recertification_period() -> datetime.timedelta:
    """How long an agency administrator's confirmation of an assignment lasts."""
    return datetime.timedelta(days=settings.CONCORD_RECERTIFY_DAYS)


def assignment_is_current(
    starts_at: datetime.datetime,
    ends_at: datetime.datetime | None,
    ended_at: datetime.datetime | None,
    at: datetime.datetime,
) -> bool:
    """Does an assignment with these times confer its role at ``at``? (Not ended, started,
    not past its end.) ``RoleAssignment.is_current``, from the columns alone."""
    return ended_at is None and starts_at <= at and (ends_at is None or ends_at > at)


def recertification_due(
    starts_at: datetime.datetime, recertified_at: datetime.datetime | None
) -> datetime.datetime:
    """``RoleAssignment.recertification_due_at``, from the columns alone."""
    return (recertified_at or starts_at) + recertification_period()


class RoleAssignment(models.Model):
    """A person holding a role for a period, assigned by a liaison officer of their agency."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="assignments")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="role_assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    starts_at = models.DateTimeField(default=timezone.now, validators=day_validators())
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Expires then, if set.", validators=day_validators()
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_reason = prose_field(max_length=REASON_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # access review: an agency administrator confirms the person still needs the role
    recertified_at = models.DateTimeField(null=True, blank=True)
    recertified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RoleAssignmentQuerySet.as_manager()

    class Meta:
        ordering = ("-starts_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("role", "person"),
                condition=Q(ended_at__isnull=True),
                name="one_open_assignment_per_person_and_role",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
                name="assignment_period_ordered",
            ),
        ]
        indexes = [
            models.Index(fields=("person", "ended_at")),
            models.Index(fields=("role", "ended_at")),
            # the permission core's first step: a person's open assignments in their
            # own agency (without it PostgreSQL intersects the person index with the
            # agency index, tens of thousands of rows for a big agency)
            models.Index(
                fields=("person", "agency"),
                condition=Q(ended_at__isnull=True),
                name="assignment_open_person_agency",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} as {self.role.name}"

    def is_current(self, at: object = None) -> bool:
        return assignment_is_current(
            self.starts_at,
            self.ends_at,
            self.ended_at,
            at or timezone.now(),  # type: ignore[arg-type]
        )

    @property
    def recertification_due_at(self) -> datetime.datetime:
        """When the assignment falls due for recertification (its last recertification, or
        its start, plus CONCORD_RECERTIFY_DAYS)."""
        return recertification_due(self.starts_at, self.recertified_at)

    def is_due_for_recertification(self, at: object = None) -> bool:
        """The per-object form of ``RoleAssignment.objects.due_for_recertification``."""
        now = at or timezone.now()
        return (
            self.ended_at is None
            and (self.ends_at is None or self.ends_at > now)  # type: ignore[operator]
            and self.recertification_due_at <= now  # type: ignore[operator]
        )

    @property
    def due_for_recertification(self) -> bool:
        return self.is_due_for_recertification()


class OperationalPeriod(models.Model):
    """A numbered planning period of a task force (Incident Command System): objectives
    and tasks can be tied to one, and the ICS reports are produced for one."""

    task_force = models.ForeignKey(
        TaskForce, on_delete=models.CASCADE, related_name="operational_periods"
    )
    number = models.PositiveIntegerField()
    starts_at = models.DateTimeField(validators=day_validators())
    ends_at = models.DateTimeField(validators=day_validators())
    notes = prose_field(
        max_length=NOTES_LENGTH, blank=True, help_text="Briefing notes shown on the reports."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("task_force", "number")
        constraints = [
            models.UniqueConstraint(
                fields=("task_force", "number"), name="one_period_number_per_task_force"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="period_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=("task_force", "starts_at"))]

    def __str__(self) -> str:
        return f"Operational period {self.number}"


class Objective(models.Model):
    """A shared objective of a task force, owned by one agency with others contributing."""

    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        ON_TRACK = "on_track", "On track"
        AT_RISK = "at_risk", "At risk"
        OFF_TRACK = "off_track", "Off track"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Priority(models.IntegerChoices):
        LOW = 1, "Low"
        MEDIUM = 2, "Medium"
        HIGH = 3, "High"
        CRITICAL = 4, "Critical"

    # indexed by (task_force, marking) below, which serves lookups by task force too
    task_force = models.ForeignKey(
        TaskForce, on_delete=models.CASCADE, related_name="objectives", db_index=False
    )
    title = line_field()
    description = prose_field(max_length=PROSE_LENGTH, blank=True)
    owner_agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="owned_objectives"
    )
    contributing_agencies = models.ManyToManyField(
        "agencies.Agency", blank=True, related_name="contributed_objectives"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MEDIUM)
    target_date = models.DateField(null=True, blank=True, validators=day_validators())
    period = models.ForeignKey(
        OperationalPeriod,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="objectives",
    )
    marking = models.PositiveSmallIntegerField(choices=Marking.choices, default=Marking.AMBER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("task_force", "-priority", "target_date", "id")
        # the visible objectives of each task force (its marking at most what the person
        # sees there), with the list's order and the id as the index's last columns (key columns,
        # which every database has): counted and sorted without reading the table (an
        # index-only scan on PostgreSQL)
        indexes = [
            models.Index(
                fields=("task_force", "marking", *("priority", "target_date", "id")),
                name="objective_by_task_force",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def progress(self) -> int:
        """Whole percent of its live tasks done (rounded down), from the counts
        ``taskforces.selectors.with_progress`` annotates; 0 without them."""
        total = getattr(self, "task_total", 0) or 0
        return 100 * (getattr(self, "task_done", 0) or 0) // total if total else 0


class Task(models.Model):
    """A concrete piece of work under an objective, for a person or for a role's holders.

    It carries its objective's marking: ``marking`` is a copy the database keeps equal to
    the objective's (triggers, migration ``taskforces/0008``), and ``task_force`` is kept
    alongside, so tasks are filtered by their own columns like objectives and updates."""

    class Status(models.TextChoices):
        TODO = "todo", "To do"
        IN_PROGRESS = "in_progress", "In progress"
        BLOCKED = "blocked", "Blocked"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="tasks")
    task_force = models.ForeignKey(
        TaskForce, on_delete=models.CASCADE, related_name="tasks", db_index=False
    )
    title = line_field()
    description = prose_field(max_length=PROSE_LENGTH, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tasks",
    )
    assigned_role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    due_date = models.DateField(null=True, blank=True, validators=day_validators())
    period = models.ForeignKey(
        OperationalPeriod, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.TODO)
    # its objective's marking, never set on its own (see the class docstring)
    marking = models.PositiveSmallIntegerField(
        choices=Marking.choices, default=Marking.AMBER, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("due_date", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(assignee__isnull=True) | Q(assigned_role__isnull=True),
                name="task_has_one_kind_of_assignee",
            ),
        ]
        indexes = [
            models.Index(fields=("assignee", "status")),
            # as objectives: the list's order (due date, id) in the index
            models.Index(
                fields=("task_force", "marking", *("due_date", "id")),
                name="task_by_task_force",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        # what the database will store anyway, so the instance says it too
        if self.objective_id is not None:
            self.marking = self.objective.marking
            if "update_fields" in kwargs and kwargs["update_fields"] is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "marking"}
        super().save(*args, **kwargs)


class Update(models.Model):
    """A message or situation report in a task force; it may require acknowledgement."""

    class Kind(models.TextChoices):
        UPDATE = "update", "Update"
        SITREP = "sitrep", "Situation report"

    task_force = models.ForeignKey(
        TaskForce, on_delete=models.CASCADE, related_name="updates", db_index=False
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_agency = models.ForeignKey(
        "agencies.Agency", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.UPDATE)
    title = line_field()
    body = prose_field(max_length=PROSE_LENGTH)
    marking = models.PositiveSmallIntegerField(choices=Marking.choices, default=Marking.AMBER)
    requires_acknowledgement = models.BooleanField(default=False)
    ack_roles = models.ManyToManyField(Role, blank=True, related_name="+")
    ack_agencies = models.ManyToManyField("agencies.Agency", blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        # as objectives: the list's order (newest first) and the id in the index
        indexes = [
            models.Index(
                fields=("task_force", "marking", *("created_at", "id")),
                name="update_by_task_force",
            ),
            # those asking for acknowledgement, newest last in each task force, with their
            # marking: what the updates awaiting a person's acknowledgement (every page's
            # banner) walk
            models.Index(
                fields=("task_force", "created_at", "id", "marking"),
                condition=models.Q(requires_acknowledgement=True),
                name="update_asking_acknowledgement",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Acknowledgement(models.Model):
    """A person's acknowledgement of an update that required it. One per person."""

    update = models.ForeignKey(Update, on_delete=models.CASCADE, related_name="acknowledgements")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("acknowledged_at",)
        constraints = [
            models.UniqueConstraint(fields=("update", "person"), name="one_ack_per_person"),
        ]

    def __str__(self) -> str:
        return f"{self.person} acknowledged {self.update}"


class CalendarFeed(models.Model):
    """A person's secret iCalendar address. Only the SHA-256 hash of the secret is kept; a
    revoked feed answers "not found" from then on."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("owner",),
                condition=Q(revoked_at__isnull=True),
                name="one_live_feed_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"Calendar feed {self.prefix}… of {self.owner}"


class TimelineEntry(models.Model):
    """One event in a task force's timeline: what happened, when, who did it and what it
    was about, or a log entry someone wrote by hand.

    The services write an entry in the same transaction as the change it records, so a
    rolled-back change leaves none. Who may see an entry is the access rule of what it is
    about: an entry about something with its own marking (an objective, a task, an
    update, a handover brief) — or a log entry, marked by its author — is ``marked`` and
    carries that marking (kept equal to the item's by the services); an entry about the
    task force itself, its roles, assignments, periods or participation is seen by whoever
    sees the task force, and shows the task force's marking."""

    class Kind(models.TextChoices):
        TASK_FORCE = "task_force", "Task force"
        PARTICIPATION = "participation", "Participation"
        ROLE = "role", "Role"
        ASSIGNMENT = "assignment", "Assignment"
        PERIOD = "period", "Operational period"
        OBJECTIVE = "objective", "Objective"
        TASK = "task", "Task"
        UPDATE = "update", "Update"
        ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement"
        HANDOVER = "handover", "Handover"
        LOG = "log", "Log entry"
        DECISION = "decision", "Decision"

    MANUAL_KINDS = (Kind.LOG, Kind.DECISION)

    # indexed with occurred_at below, which serves lookups by task force too
    task_force = models.ForeignKey(
        TaskForce, on_delete=models.CASCADE, related_name="timeline", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # the audited action it records ("objective.updated", "log.written", ...)
    action = models.CharField(max_length=60)
    occurred_at = models.DateTimeField(validators=day_validators())
    recorded_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    # what happened, in words ("Changed the task force's status", "Posted situation report")
    summary = models.CharField(max_length=200)
    # what it was about, as it was named then (a log entry's is typed by its writer)
    subject = line_field(max_length=300, blank=True)
    # the details: the fields changed, an update's text, a log entry's text
    text = prose_field(max_length=PROSE_LENGTH, blank=True)
    marking = models.PositiveSmallIntegerField(choices=Marking.choices, default=Marking.AMBER)
    marked = models.BooleanField(default=False)
    significant = models.BooleanField(default=False)
    significant_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    significant_at = models.DateTimeField(null=True, blank=True)
    # moved on every change of the entry (marking, significance): the timeline's ETags
    changed_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("-occurred_at", "-id")
        verbose_name = "timeline entry"
        verbose_name_plural = "timeline entries"
        indexes = [
            models.Index(fields=("task_force", "occurred_at"), name="timeline_by_tf_time"),
            models.Index(fields=("object_type", "object_id"), name="timeline_by_object"),
        ]

    def __str__(self) -> str:
        return f"{self.summary}: {self.subject}" if self.subject else self.summary

    @property
    def is_manual(self) -> bool:
        return self.kind in self.MANUAL_KINDS


class HandoverBrief(models.Model):
    """What the outgoing holder of a role tells the incoming one when an operational period
    ends: the open tasks (prefilled from the data), risks, contacts and notes, with a
    marking. A holder of the same role in the next period acknowledges it, once."""

    task_force = models.ForeignKey(
        TaskForce, on_delete=models.CASCADE, related_name="handover_briefs", db_index=False
    )
    period = models.ForeignKey(
        OperationalPeriod, on_delete=models.CASCADE, related_name="handover_briefs"
    )
    next_period = models.ForeignKey(
        OperationalPeriod, on_delete=models.CASCADE, related_name="incoming_briefs"
    )
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="handover_briefs")
    assignment = models.ForeignKey(
        RoleAssignment, on_delete=models.CASCADE, related_name="handover_briefs"
    )
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    open_tasks = prose_field(max_length=PROSE_LENGTH, blank=True)
    risks = prose_field(max_length=PROSE_LENGTH, blank=True)
    contacts = prose_field(max_length=PROSE_LENGTH, blank=True)
    notes = prose_field(max_length=PROSE_LENGTH, blank=True)
    marking = models.PositiveSmallIntegerField(choices=Marking.choices, default=Marking.AMBER)
    submitted_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("period", "role__order", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("assignment", "period"), name="one_brief_per_assignment_and_period"
            ),
        ]
        indexes = [models.Index(fields=("task_force", "marking"), name="brief_by_tf_marking")]

    def __str__(self) -> str:
        return f"Handover brief for {self.role.name} (period {self.period.number})"
