"""Who may read the audit trail: the core's side of the rule.

Who reads which events depends on agencies (an agency administrator reads what their people
did while they belonged to the agency), which the agencies app owns: it registers the
permission-core policy for :class:`~coordination.audit.models.AuditEvent`, a subclass of
:class:`AuditTrailPolicy`, in ``agencies/permissions.py``. The core's pages and API ask
through :func:`may_read_audit_trail` and ``restrict`` and import no app.
"""

from __future__ import annotations

from typing import Any

from coordination.audit.models import AuditEvent
from coordination.permissions import Policy, is_signed_in, policy_for


class AuditTrailPolicy(Policy[AuditEvent]):
    """A policy for audit events that also says whether a person reads the trail at all
    (the audit pages and the API's list are refused to anyone who reads none of it)."""

    actions = ("view",)

    def may_read(self, user: Any) -> bool:
        """May this signed-in person read any part of the audit trail?"""
        raise NotImplementedError


def may_read_audit_trail(user: Any) -> bool:
    """May the person read any part of the audit trail at all?"""
    if not is_signed_in(user):
        return False
    policy = policy_for(AuditEvent)
    if not isinstance(policy, AuditTrailPolicy):
        raise TypeError("The policy registered for AuditEvent must be an AuditTrailPolicy.")
    return policy.may_read(user)
