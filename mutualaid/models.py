"""Mutual aid: a task force asks agencies for resources (ICS 213RR), agencies offer, the
task force accepts offers until the need is met, and each accepted offer becomes a
commitment tracked until it is demobilised.

Writes go through ``mutualaid.services``; reads through the permission core
(``Model.objects.restrict``, policies in ``mutualaid.permissions``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from coordination.permissions import RestrictedQuerySet
from coordination.permissions.markings import Marking
from coordination.validators import (
    PROSE_LENGTH,
    REASON_LENGTH,
    day_validators,
    line_field,
    prose_field,
)

# No single request or offer is for more than this many units: a typo of a few extra
# digits is refused rather than counted against the need.
MAX_QUANTITY = 100_000


class ResourceKind(models.Model):
    """A kind of resource in the typed catalogue (NIMS-style resource typing: a name, a
    category and a type), from which requests, offers and agencies' capabilities choose.
    Seeded by a data migration (``mutualaid.catalogue``); shown read-only in the admin, as
    the role catalogue is."""

    class Category(models.TextChoices):
        PERSONNEL = "personnel", "Personnel"
        TEAM = "team", "Team"
        VEHICLE = "vehicle", "Vehicle"
        EQUIPMENT = "equipment", "Equipment"
        AIRCRAFT = "aircraft", "Aircraft"
        SUPPLIES = "supplies", "Supplies"
        FACILITY = "facility", "Facility"

    code = models.SlugField(max_length=60, unique=True)
    name = line_field(max_length=120, unique=True)
    category = models.CharField(max_length=12, choices=Category.choices)
    nims_type = line_field("NIMS type", max_length=20, blank=True)
    unit = line_field(max_length=40, help_text="What one of it is counted as, e.g. team, vehicle.")
    description = prose_field(max_length=REASON_LENGTH, blank=True)
    is_active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=100)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("category", "order", "name")

    def __str__(self) -> str:
        return f"{self.name} ({self.nims_type})" if self.nims_type else self.name


class AgencyCapability(models.Model):
    """An agency's published inventory line: a kind of resource it can usually provide
    (optional for every agency), shown to requesters so they know whom to ask."""

    agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.CASCADE, related_name="resource_capabilities"
    )
    kind = models.ForeignKey(ResourceKind, on_delete=models.PROTECT, related_name="capabilities")
    typical_quantity = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How many it can usually provide at once, if known.",
    )
    notes = line_field(max_length=300, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("kind__category", "kind__name", "agency__name")
        verbose_name_plural = "agency capabilities"
        constraints = [
            models.UniqueConstraint(fields=("agency", "kind"), name="one_capability_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.agency} can provide {self.kind}"


class ResourceRequest(models.Model):
    """A task force's request for resources (one ICS 213RR), raised by a holder of the
    "request resources" capability for their agency, addressed to every participating
    agency or to named ones. Seen only by the requesting agency and the addressed ones,
    within their ceiling for its marking."""

    class Priority(models.IntegerChoices):
        LOW = 1, "Low"
        ROUTINE = 2, "Routine"
        URGENT = 3, "Urgent"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FULFILLED = "fulfilled", "Fulfilled"
        CANCELLED = "cancelled", "Cancelled"

    # indexed by (task_force, marking) below, which serves lookups by task force too
    task_force = models.ForeignKey(
        "taskforces.TaskForce",
        on_delete=models.CASCADE,
        related_name="resource_requests",
        db_index=False,
    )
    number = models.PositiveIntegerField(help_text="The request number within the task force.")
    requesting_agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="resource_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.ForeignKey(
        ResourceKind, null=True, blank=True, on_delete=models.PROTECT, related_name="requests"
    )
    description = line_field(
        "what is needed",
        max_length=300,
        blank=True,
        help_text="Free text, or details of the kind chosen.",
    )
    quantity = models.PositiveIntegerField()
    location = line_field("where it is needed", max_length=300)
    needed_by = models.DateTimeField(validators=day_validators())
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.ROUTINE)
    justification = prose_field(max_length=PROSE_LENGTH)
    marking = models.PositiveSmallIntegerField(choices=Marking.choices, default=Marking.AMBER)
    addressed_to_all = models.BooleanField(
        default=True, help_text="Every agency taking part in the task force."
    )
    addressed_agencies = models.ManyToManyField(
        "agencies.Agency", blank=True, related_name="addressed_resource_requests"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = prose_field(max_length=REASON_LENGTH, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("task_force", "-number")
        constraints = [
            models.UniqueConstraint(
                fields=("task_force", "number"), name="one_request_number_per_task_force"
            ),
            models.CheckConstraint(
                condition=Q(kind__isnull=False) | ~Q(description=""),
                name="request_names_what",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_QUANTITY),
                name="request_quantity_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=("task_force", "marking"), name="request_by_tf_marking"),
            models.Index(fields=("status", "needed_by"), name="request_by_status_needed"),
        ]

    def __str__(self) -> str:
        return f"RR-{self.number}: {self.what}"

    @property
    def what(self) -> str:
        """The kind and the free text, as one line."""
        if self.kind is None:
            return self.description
        return f"{self.kind.name} — {self.description}" if self.description else self.kind.name

    @property
    def reference(self) -> str:
        return f"RR-{self.number}"


class Offer(models.Model):
    """An addressed agency's offer of all or part of a request, made by one of its liaison
    officers. The requesting side accepts it (it becomes a commitment) or declines it; the
    offering agency may withdraw it while it is pending."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    request = models.ForeignKey(ResourceRequest, on_delete=models.CASCADE, related_name="offers")
    agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="resource_offers"
    )
    offered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = line_field("what is offered", max_length=300)
    quantity = models.PositiveIntegerField()
    available_from = models.DateTimeField(validators=day_validators())
    conditions = prose_field(max_length=REASON_LENGTH, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = prose_field(max_length=REASON_LENGTH, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("request", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_QUANTITY),
                name="offer_quantity_in_range",
            ),
        ]
        indexes = [models.Index(fields=("agency", "status"), name="offer_by_agency_status")]

    def __str__(self) -> str:
        return f"{self.agency} offers {self.quantity} × {self.description}"

    @property
    def task_force(self) -> object:
        return self.request.task_force

    @property
    def marking(self) -> int:
        """An offer carries its request's marking."""
        return int(self.request.marking)


class Commitment(models.Model):
    """An accepted offer (all of it or the part accepted): resources an agency has
    committed to the task force, tracked through mobilised → on scene → demobilised, or
    cancelled. Every change is kept in its history (``CommitmentChange``)."""

    class Status(models.TextChoices):
        COMMITTED = "committed", "Committed"
        MOBILISED = "mobilised", "Mobilised"
        ON_SCENE = "on_scene", "On scene"
        DEMOBILISED = "demobilised", "Demobilised"
        CANCELLED = "cancelled", "Cancelled"

    offer = models.OneToOneField(Offer, on_delete=models.CASCADE, related_name="commitment")
    request = models.ForeignKey(
        ResourceRequest, on_delete=models.CASCADE, related_name="commitments"
    )
    agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="resource_commitments"
    )
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMMITTED)
    created_at = models.DateTimeField(auto_now_add=True)
    status_changed_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("request", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_QUANTITY),
                name="commitment_quantity_in_range",
            ),
        ]
        indexes = [models.Index(fields=("status",), name="commitment_by_status")]

    def __str__(self) -> str:
        return f"{self.agency}: {self.quantity} for {self.request.reference}"

    @property
    def task_force(self) -> object:
        return self.request.task_force

    @property
    def marking(self) -> int:
        """A commitment carries its request's marking."""
        return int(self.request.marking)

    @property
    def counts(self) -> bool:
        """Does it count against the request's quantity (anything but cancelled)?"""
        return self.status != self.Status.CANCELLED


class CommitmentChange(models.Model):
    """One step in a commitment's history: who moved it from which status to which, when,
    with an optional note (the audit trail holds the same, with the request's origin)."""

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="changes")
    from_status = models.CharField(max_length=12, choices=Commitment.Status.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=Commitment.Status.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_agency = models.ForeignKey(
        "agencies.Agency", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    note = prose_field(max_length=REASON_LENGTH, blank=True)

    class Meta:
        ordering = ("commitment", "at", "id")

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} → {self.to_status}"
