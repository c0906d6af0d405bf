"""What the API shows of mutual aid, and what it accepts.

Output serializers are read-only; input serializers only validate, and the views hand
their ``validated_data`` to ``mutualaid.services``."""

from __future__ import annotations

from rest_framework import serializers

from agencies.api.serializers import AgencyRefSerializer
from agencies.models import Agency
from coordination.api.fields import Choice, Moment, Prose, Text, WholeNumber
from coordination.api.representation import ReadSerializer
from coordination.api.serializers import PersonRefSerializer, VisibleRelatedField
from coordination.permissions.markings import Marking
from coordination.validators import PROSE_LENGTH, REASON_LENGTH
from taskforces.api.serializers import TaskForceRefSerializer, VisibleTaskForceField

from ..models import (
    MAX_QUANTITY,
    AgencyCapability,
    Commitment,
    CommitmentChange,
    Offer,
    ResourceKind,
    ResourceRequest,
)


def quantity(**kwargs: object) -> WholeNumber:
    return WholeNumber(min_value=1, max_value=MAX_QUANTITY, **kwargs)  # type: ignore[arg-type]


class ResourceKindSerializer(ReadSerializer):
    """A kind of resource in the typed (NIMS-style) catalogue."""

    class Meta:
        model = ResourceKind
        fields = ("id", "code", "name", "category", "nims_type", "unit", "description")
        read_only_fields = fields


class ResourceKindRefSerializer(ReadSerializer):
    class Meta:
        model = ResourceKind
        fields = ("id", "code", "name")
        read_only_fields = fields


class AgencyCapabilitySerializer(ReadSerializer):
    """A kind of resource an agency says it can usually provide."""

    agency = AgencyRefSerializer(read_only=True)
    kind = ResourceKindRefSerializer(read_only=True)

    class Meta:
        model = AgencyCapability
        fields = ("id", "agency", "kind", "typical_quantity", "notes", "updated_at")
        read_only_fields = fields


class AgencyCapabilityInputSerializer(serializers.Serializer):
    """Publish a capability for one's own agency (again: changes it)."""

    kind = VisibleRelatedField(ResourceKind)
    typical_quantity = quantity(required=False, allow_null=True, default=None)
    notes = Text(max_length=300, required=False, allow_blank=True, default="")


class ResourceRequestSerializer(ReadSerializer):
    """A task force's resource request (ICS 213RR) with how much is committed against it
    and how many offers are pending (those the asker may see)."""

    task_force = TaskForceRefSerializer(read_only=True)
    requesting_agency = AgencyRefSerializer(read_only=True)
    requested_by = PersonRefSerializer(read_only=True, allow_null=True)
    kind = ResourceKindRefSerializer(read_only=True, allow_null=True)
    addressed_agencies = AgencyRefSerializer(many=True, read_only=True)
    committed = serializers.IntegerField(source="committed_total", read_only=True)
    pending_offers = serializers.IntegerField(read_only=True)

    class Meta:
        model = ResourceRequest
        fields = (
            "id",
            "task_force",
            "number",
            "requesting_agency",
            "requested_by",
            "kind",
            "description",
            "quantity",
            "committed",
            "pending_offers",
            "location",
            "needed_by",
            "priority",
            "justification",
            "marking",
            "addressed_to_all",
            "addressed_agencies",
            "status",
            "created_at",
            "updated_at",
            "cancelled_at",
            "cancel_reason",
        )
        read_only_fields = fields


class ResourceRequestCreateSerializer(serializers.Serializer):
    """Raise a request: a kind from the catalogue or a description (or both), addressed to
    named participating agencies or, naming none, to all of them. The marking defaults to
    the task force's."""

    task_force = VisibleTaskForceField()
    kind = VisibleRelatedField(ResourceKind, required=False, allow_null=True, default=None)
    description = Text(max_length=300, required=False, allow_blank=True, default="")
    quantity = quantity()
    location = Text(max_length=300)
    needed_by = Moment()
    priority = Choice(
        choices=ResourceRequest.Priority.choices,
        required=False,
        default=ResourceRequest.Priority.ROUTINE,
    )
    justification = Prose(max_length=PROSE_LENGTH)
    marking = Choice(choices=Marking.choices, required=False, allow_null=True, default=None)
    addressed_agencies = VisibleRelatedField(Agency, many=True, required=False, default=list)


class OfferSerializer(ReadSerializer):
    """An agency's offer against a request."""

    agency = AgencyRefSerializer(read_only=True)
    offered_by = PersonRefSerializer(read_only=True, allow_null=True)
    decided_by = PersonRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Offer
        fields = (
            "id",
            "request",
            "agency",
            "offered_by",
            "description",
            "quantity",
            "available_from",
            "conditions",
            "status",
            "created_at",
            "decided_by",
            "decided_at",
            "reason",
        )
        read_only_fields = fields


class OfferCreateSerializer(serializers.Serializer):
    description = Text(max_length=300)
    quantity = quantity()
    available_from = Moment()
    conditions = Prose(max_length=REASON_LENGTH, required=False, allow_blank=True, default="")


class AcceptSerializer(serializers.Serializer):
    """How many of the offer to accept (all of it, or part), said explicitly: an approval
    names what it commits to."""

    quantity = quantity()


class CommitmentChangeSerializer(ReadSerializer):
    by = PersonRefSerializer(read_only=True, allow_null=True)
    by_agency = AgencyRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CommitmentChange
        fields = ("from_status", "to_status", "by", "by_agency", "at", "note")
        read_only_fields = fields


class CommitmentSerializer(ReadSerializer):
    """Accepted resources, tracked until demobilised, with their history."""

    agency = AgencyRefSerializer(read_only=True)
    changes = CommitmentChangeSerializer(many=True, read_only=True)

    class Meta:
        model = Commitment
        fields = (
            "id",
            "request",
            "offer",
            "agency",
            "quantity",
            "status",
            "created_at",
            "status_changed_at",
            "changes",
        )
        read_only_fields = fields


class NoteSerializer(serializers.Serializer):
    note = Prose(max_length=REASON_LENGTH, required=False, allow_blank=True, default="")
