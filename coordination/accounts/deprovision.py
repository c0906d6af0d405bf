"""Ending everything that lets a person in: their browser sessions and API tokens.

Used when an agency's identity provider deactivates someone (SCIM, ``agencies.scim``),
in the caller's transaction: the sessions and tokens go when the deactivation commits,
and a request already under way is refused from its next one on (the session is gone
from the shared store, the account inactive, the tokens revoked).
"""

from __future__ import annotations

from django.utils import timezone

from coordination.models import ApiToken, User, UserSession


def end_sessions_and_tokens(*, user: User) -> dict[str, int]:
    """Delete every session of ``user`` and revoke their working API tokens; returns how
    many of each, for the caller's audit event."""
    sessions, _ = UserSession.objects.filter(user_id=user.pk).delete()
    tokens = ApiToken.objects.filter(owner_id=user.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return {"sessions": sessions, "api_tokens": tokens}
