"""Who may read the audit trail, as a permission-core policy (so ``restrict`` and
``explain`` answer for audit events as for everything else).

* Portal administrators read every event.
* An agency administrator reads the events done by people while they belonged to the
  administrator's agency (the actor's membership covered the moment of the event), so
  someone who moved agencies is seen by each agency for their own time only.
* Nobody else reads the audit trail.

The rule needs memberships, which the agencies app owns; it is looked up through the app
registry so the core's modules import no app.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import Exists, OuterRef, Q, QuerySet

from coordination.models import AuditEvent
from coordination.permissions import Explanation, Policy, Step, is_signed_in, register

CLOSED_AGENCY_STATUSES = ("offboarded", "rejected")


def _memberships() -> QuerySet[Any]:
    return apps.get_model("agencies", "Membership")._default_manager.all()


def administered_agency_ids(user: Any) -> QuerySet[Any]:
    """The agencies the person administers now (as a subquery)."""
    return (
        _memberships()
        .filter(user_id=user.pk, is_active=True, role="admin")
        .exclude(agency__status__in=CLOSED_AGENCY_STATUSES)
        .values("agency_id")
    )


def may_read_audit_trail(user: Any) -> bool:
    """May the person read any part of the audit trail at all?"""
    if not is_signed_in(user):
        return False
    return bool(user.is_portal_admin) or administered_agency_ids(user).exists()


@register(AuditEvent)
class AuditEventPolicy(Policy[AuditEvent]):
    actions = ("view",)

    def restrict(
        self, queryset: QuerySet[AuditEvent], user: Any, action: str
    ) -> QuerySet[AuditEvent]:
        if user.is_portal_admin:
            return queryset
        member_then = (
            _memberships()
            .filter(
                user_id=OuterRef("actor_id"),
                agency_id__in=administered_agency_ids(user),
                joined_at__lte=OuterRef("created_at"),
            )
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=OuterRef("created_at")))
        )
        return queryset.filter(Exists(member_then))

    def explain(self, user: Any, action: str, obj: AuditEvent) -> Explanation:
        if user.is_portal_admin:
            return Explanation(True, action, [Step("You are a portal administrator.", True)])
        if not administered_agency_ids(user).exists():
            return Explanation(
                False,
                action,
                [
                    Step(
                        "Only portal administrators and agency administrators read the audit trail.",
                        False,
                    )
                ],
            )
        seen = self.restrict(AuditEvent.objects.filter(pk=obj.pk), user, action).exists()
        text = (
            "The person who did this belonged to your agency at the time."
            if seen
            else "The person who did this did not belong to your agency at the time."
        )
        return Explanation(
            seen, action, [Step("You are an agency administrator.", True), Step(text, seen)]
        )
