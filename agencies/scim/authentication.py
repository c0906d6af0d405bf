"""SCIM requests authenticate with ``Authorization: Bearer <secret>`` of an agency's
``ScimToken``: looked up by its hash in one query, with its agency, on every request, so a
revoked token is refused from the moment the revocation commits, in every process."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from coordination import audit
from coordination.accounts.tokens import LAST_USED_RESOLUTION, hash_secret
from coordination.models import AuditEvent

from ..models import Agency, ScimToken


def _refuse(secret: str, reason: str) -> exceptions.AuthenticationFailed:
    audit.record(
        actor=None,
        actor_label=f"SCIM token {secret[:8]}…",
        action="auth.scim_token_refused",
        outcome=AuditEvent.Outcome.FAILURE,
        after={"reason": reason},
    )
    return exceptions.AuthenticationFailed(reason)


class ScimTokenAuthentication(authentication.BaseAuthentication):
    """The agency's SCIM token, or 401. No session, no personal API token: a person is
    never a SCIM client."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ScimToken] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>'."
            )
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = (
            ScimToken.objects.select_related("agency").filter(key_hash=hash_secret(secret)).first()
        )
        if token is None:
            raise _refuse(secret, "Invalid token.")
        if token.revoked_at is not None:
            raise _refuse(secret, "This token has been revoked.")
        if token.agency.status != Agency.Status.ACTIVE:
            raise _refuse(secret, f"{token.agency} is not active.")
        now = timezone.now()
        if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
            # at most once a minute, whatever the number of processes
            ScimToken.objects.filter(pk=token.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
            token.last_used_at = now
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="scim"'


class HasScimToken(permissions.BasePermission):
    """Only a request that authenticated with an agency's SCIM token."""

    def has_permission(self, request: Request, view: object) -> bool:
        return isinstance(request.auth, ScimToken)
