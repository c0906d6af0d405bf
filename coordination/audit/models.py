"""The audit trail's model: who did what to which object, when, from where, with the
values before and after. Defined beside its hash chain and imported into
``coordination.models`` (its app is ``coordination``)."""

from __future__ import annotations

from typing import Any

from django.db import models

from coordination.audit import chain
from coordination.permissions import RestrictedQuerySet


class AuditTrailIsAppendOnly(Exception):
    """Raised on any attempt to change or remove an audit event through the application."""


class AuditEventQuerySet(RestrictedQuerySet["AuditEvent"]):
    """Reads only: bulk updates and deletes are refused (only ``purge_audit_events``
    removes events, older than the retention period, through its own statement)."""

    def update(self, **kwargs: Any) -> int:
        raise AuditTrailIsAppendOnly("Audit events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditTrailIsAppendOnly("Audit events cannot be deleted.")

    _raw_delete = delete  # type: ignore[assignment]  # the deletion collector's fast path


class AuditEvent(models.Model):
    """Who did what to which object, when, from where, with the values before and after.

    Append-only: the model refuses saving an existing event and deleting one; on
    PostgreSQL a trigger refuses UPDATE and DELETE too, except the one update that seals
    an event. Events are written freely, without waiting for one another; the sealer
    (``coordination.audit.seal``) then chains them in a defined order: it gives each its
    place in the chain (``seq``), the hash of the event before it (``prev_hash``) and its
    own hash over its content and ``prev_hash``, so ``manage.py verify_audit_chain`` finds
    any change, removal or insertion among sealed events.
    """

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        DENIED = "denied", "Denied"
        FAILURE = "failure", "Failure"

    GENESIS = chain.GENESIS

    created_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        "coordination.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=300, blank=True)
    actor_agency_label = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    # set when the event is sealed into the chain (coordination.audit.seal), never before
    seq = models.BigIntegerField("place in the chain", null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 - NULL until sealed, as the trigger checks
    hash = models.CharField(max_length=64, null=True, blank=True, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("object_type", "object_id")),
            models.Index(fields=("actor", "created_at")),
            models.Index(
                fields=("id",), condition=models.Q(seq__isnull=True), name="auditevent_unsealed"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"
        )

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditTrailIsAppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditTrailIsAppendOnly("Audit events cannot be deleted.")

    @property
    def is_sealed(self) -> bool:
        return self.seq is not None

    def compute_hash(self) -> str:
        return chain.hash_of(self)
