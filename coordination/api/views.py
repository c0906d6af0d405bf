"""The API's views: the base every resource builds on, and the core's own resources (my
notifications, the audit trail).

Every view has the three steps of a page: fetch through the permission core
(``Model.objects.restrict(user, "view")``, then ``get``: an object the person may not see
is "not found", exactly like one that does not exist), call a service, serialize. Errors
are not caught here: ``coordination.api.errors`` turns them into the one error shape.
"""

from __future__ import annotations

from typing import Any, cast

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404
from django.utils import timezone
from django_filters import rest_framework as drf_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from coordination import audit
from coordination import permissions as core
from coordination.audit.policy import may_read_audit_trail
from coordination.models import AuditEvent, Notification, User
from coordination.notifications import unread_count, visible_notifications

from .conditional import ConditionalMixin
from .filters import BooleanFilter, FilterBackend, IdFilter, IsoDateTimeFilter, OrderingFilter
from .serializers import (
    AuditEventSerializer,
    MarkedSerializer,
    NotificationSerializer,
    UnreadCountSerializer,
)


class ResourceViewSet(viewsets.GenericViewSet):
    """A resource read through the permission core and changed only through services.

    Subclasses name ``model``, the output ``serializer_class``, an ``ordering_fields``
    whitelist, and tune the list query in ``optimise`` (select_related / prefetch, so a
    list costs the same number of queries however long it is)."""

    model: type[Model]
    # No PUT (changes are partial, through services) and no DELETE (nothing is deleted:
    # lifecycles end things, and the audit trail remembers them).
    http_method_names = ["get", "post", "patch", "head"]
    filter_backends = [FilterBackend, OrderingFilter]
    ordering_fields: tuple[str, ...] = ("id",)
    ordering: tuple[str, ...] = ("id",)

    @property
    def actor(self) -> User:
        """The signed-in person (every view requires one)."""
        return cast(User, self.request.user)

    def visible(self) -> QuerySet[Any]:
        return self.model._default_manager.restrict(self.request.user, "view")  # type: ignore[attr-defined]

    def optimise(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Once the person is known and allowed to ask: a body that is not acceptable
        JSON is a 400 for every write, before anything is looked up or changed, whether
        or not the operation reads a body."""
        super().initial(request, *args, **kwargs)
        if request.method in ("POST", "PUT", "PATCH"):
            request.data  # noqa: B018 - parsing is the point: ParseError is raised here

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no person
            return self.model._default_manager.none()
        return self.optimise(self.visible())

    def get_object(self) -> Any:
        """The object named in the URL if the person may see it; 404 otherwise. Filters
        and ordering in the query string apply to lists only."""
        try:
            return self.get_queryset().get(pk=self.kwargs["pk"])
        except (ObjectDoesNotExist, ValueError, TypeError, OverflowError):
            audit.record_hidden_object(
                actor=self.request.user, model=self.model, pk=self.kwargs["pk"]
            )
            raise Http404 from None

    def validated(self, serializer_class: type[serializers.Serializer], **kwargs: Any) -> Any:
        """The request body checked by ``serializer_class`` (400 with field messages if not)."""
        serializer = serializer_class(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def respond(self, obj: Model, status_code: int = status.HTTP_200_OK) -> Response:
        """The object as the list shows it, re-read through the permission core so the
        answer has the same fields (annotations included) and shows only what the person
        may see. (An agency's application is the one thing its applicant makes and may
        then not see; they get back what they sent.)"""
        fresh = self.get_queryset().filter(pk=obj.pk).first()
        serializer_class = self.get_serializer_class()
        return Response(
            serializer_class(fresh or obj, context=self.get_serializer_context()).data,
            status=status_code,
        )


class ReadOnlyResourceViewSet(
    ConditionalMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, ResourceViewSet
):
    """List and retrieve, each with an ETag (``304 Not Modified`` to a conditional GET, see
    ``coordination.api.conditional``); subclasses add creation, partial updates and
    actions."""


# --- my notifications ---------------------------------------------------------------------


class NotificationFilter(drf_filters.FilterSet):
    unread = BooleanFilter(
        field_name="read_at", lookup_expr="isnull", label="Only unread (true) or read (false)"
    )

    class Meta:
        model = Notification
        fields = ("unread",)


def my_notifications(user: Any) -> QuerySet[Notification]:
    """The person's own notifications, as their notification centre shows them (never
    anyone else's, never one withdrawn because they lost sight of what it is about)."""
    return visible_notifications(user)


@extend_schema_view(
    list=extend_schema(summary="My notifications, newest first"),
    retrieve=extend_schema(summary="One of my notifications"),
)
class NotificationViewSet(ReadOnlyResourceViewSet):
    """The notifications sent to me (never anyone else's), newest first."""

    model = Notification
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")

    def visible(self) -> QuerySet[Notification]:
        return my_notifications(self.request.user)

    @extend_schema(summary="Mark one of my notifications read", request=None)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str) -> Response:
        notification = self.get_object()
        if notification.read_at is None:
            # One guarded update: a second click (or a race) changes nothing.
            my_notifications(request.user).filter(pk=notification.pk, read_at__isnull=True).update(
                read_at=timezone.now()
            )
        return self.respond(notification)

    @extend_schema(
        summary="Mark all my notifications read",
        request=None,
        responses={200: MarkedSerializer},
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        marked = (
            my_notifications(request.user)
            .filter(read_at__isnull=True)
            .update(read_at=timezone.now())
        )
        return Response({"marked": marked})

    @extend_schema(
        summary="How many of my notifications are unread", responses=UnreadCountSerializer
    )
    @action(detail=False, methods=["get"], url_path="unread-count", filter_backends=[])
    def unread_count(self, request: Request) -> Response:
        return Response({"unread": unread_count(request.user)})


# --- the audit trail ----------------------------------------------------------------------


class MayReadAuditTrail(permissions.BasePermission):
    message = "Only portal administrators and agency administrators read the audit trail."

    def has_permission(self, request: Request, view: Any) -> bool:
        return may_read_audit_trail(request.user)


class AuditEventFilter(drf_filters.FilterSet):
    action = drf_filters.CharFilter(max_length=100, label="Action, e.g. agency.active")
    object_type = drf_filters.CharFilter(max_length=100, label="Object type, e.g. agencies.agency")
    object_id = drf_filters.CharFilter(max_length=64)
    actor = IdFilter(field_name="actor", label="The acting person's id")
    outcome = drf_filters.ChoiceFilter(choices=AuditEvent.Outcome.choices)
    since = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ("action", "object_type", "object_id", "actor", "outcome", "since", "until")


@extend_schema_view(
    list=extend_schema(summary="Audit events I may read, newest first"),
    retrieve=extend_schema(summary="One audit event"),
)
class AuditEventViewSet(ReadOnlyResourceViewSet):
    """Who did what to which object, when, from where. Portal administrators read every
    event; agency administrators those done by their agency's people; nobody else."""

    model = AuditEvent
    serializer_class = AuditEventSerializer
    permission_classes = [permissions.IsAuthenticated, MayReadAuditTrail]
    filterset_class = AuditEventFilter
    ordering_fields = ("created_at", "id")
    ordering = ("-created_at", "-id")

    def visible(self) -> QuerySet[AuditEvent]:
        return core.restrict(AuditEvent.objects.all(), self.request.user, "view")
