"""The audit trail's hash chain: what an event's hash covers and how it is computed.

Kept apart from the model so the migration that chains events recorded before the chain
existed uses exactly the same rule.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
from typing import Any

GENESIS = "0" * 64  # prev_hash of the first event ever recorded


def content_of(event: Any) -> dict[str, Any]:
    """Every recorded value of ``event`` and the previous event's hash, as JSON data."""
    created_at = event.created_at.astimezone(dt.UTC).isoformat() if event.created_at else ""
    ip = event.ip_address
    return {
        "created_at": created_at,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "actor_agency_label": event.actor_agency_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "before": event.before,
        "after": event.after,
        "outcome": event.outcome,
        "ip_address": str(ipaddress.ip_address(ip)) if ip else None,
        "user_agent": event.user_agent,
        "prev_hash": event.prev_hash,
    }


def hash_of(event: Any) -> str:
    """SHA-256 of the canonical JSON of ``content_of(event)``."""
    canonical = json.dumps(
        content_of(event), sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
