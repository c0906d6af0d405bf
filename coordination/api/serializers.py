"""Serializers the whole API shares, and those of the core's own resources.

Serializers here only describe and validate: writes go through services, which the views
call with ``validated_data``; no serializer ever saves a model."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import Model, QuerySet
from rest_framework import serializers
from rest_framework.relations import MANY_RELATION_KWARGS

from coordination.models import AuditEvent, Notification, User
from coordination.validators import REASON_LENGTH

from .fields import Prose, StrictManyRelatedField
from .representation import ReadSerializer


def as_id(field: serializers.RelatedField, data: Any) -> int:
    """An id is a JSON number that can be an id; anything else is refused before any query
    (a number too large for the database's integers cannot name an object)."""
    if isinstance(data, bool) or not isinstance(data, int):
        field.fail("incorrect_type", data_type=type(data).__name__)
    if not 1 <= data < 2**63:
        field.fail("does_not_exist", pk_value=data)
    return int(data)


class _StrictRelatedField(serializers.PrimaryKeyRelatedField):
    @classmethod
    def many_init(cls, *args: Any, **kwargs: Any) -> StrictManyRelatedField:
        """A list of ids (a JSON array, nothing else)."""
        list_kwargs: dict[str, Any] = {"child_relation": cls(*args, **kwargs)}
        for key in kwargs:
            if key in MANY_RELATION_KWARGS:
                list_kwargs[key] = kwargs[key]
        return StrictManyRelatedField(**list_kwargs)

    def to_internal_value(self, data: Any) -> Any:
        return super().to_internal_value(as_id(self, data))


class VisibleRelatedField(_StrictRelatedField):
    """The id of an object the requester may see (``restrict(user, action)``). Any other
    id, whether it exists or not, gets the same "does not exist" answer."""

    def __init__(self, model: type[Model] | str, *, action: str = "view", **kwargs: Any) -> None:
        # a label ("app.Model") avoids importing another app's models at import time
        self.model = apps.get_model(model) if isinstance(model, str) else model
        self.action = action
        kwargs.setdefault("queryset", self.model._default_manager.none())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        user = self.context["request"].user
        manager: Any = self.model._default_manager
        return manager.restrict(user, self.action)


class VisiblePeopleField(_StrictRelatedField):
    """The id of a person the requester may name, as ``people`` (a function of the
    requester) decides; others get "does not exist", as if there were no such person."""

    def __init__(self, people: Any, **kwargs: Any) -> None:
        self.people = people
        kwargs.setdefault("queryset", User.objects.none())
        super().__init__(**kwargs)

    def get_queryset(self) -> QuerySet[User]:
        return self.people(self.context["request"].user)


class PersonRefSerializer(ReadSerializer):
    """A person, as named on objects they are tied to (author, assignee, holder)."""

    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "name")

    def get_name(self, user: User) -> str:
        return str(user)


class PersonSerializer(ReadSerializer):
    """A person in full, as their agency's memberships show them."""

    class Meta:
        model = User
        fields = ("id", "email", "first_name", "last_name", "job_title")


class ReasonSerializer(serializers.Serializer):
    """A written reason, for changes the other side is told about."""

    reason = Prose(max_length=REASON_LENGTH)


class OptionalReasonSerializer(serializers.Serializer):
    reason = Prose(max_length=REASON_LENGTH, required=False, allow_blank=True, default="")


class NotificationSerializer(ReadSerializer):
    """One thing I was told about."""

    class Meta:
        model = Notification
        fields = ("id", "kind", "title", "body", "link", "created_at", "read_at")
        read_only_fields = fields


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField(help_text="How many of my notifications are unread.")


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were marked read.")


class AuditEventSerializer(ReadSerializer):
    """Who did what to which object, when, from where, with the values before and after."""

    before = serializers.JSONField(allow_null=True, read_only=True)
    after = serializers.JSONField(allow_null=True, read_only=True)

    class Meta:
        model = AuditEvent
        fields = (
            "id",
            "created_at",
            "actor",
            "actor_label",
            "actor_agency_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "outcome",
            "ip_address",
            "user_agent",
        )
        read_only_fields = fields
