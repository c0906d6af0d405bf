"""Personal API tokens: made and revoked by their owner, stored only as a hash.

A token's secret is shown once, when it is made; Concord keeps its SHA-256 hash (to find
the token when it is presented) and its first characters (so the owner can tell their
tokens apart). A revoked or expired token is refused at once.

A token is looked up, with its owner, in one indexed query on every request: nothing is
kept between requests, so a revoked token or a deactivated account is refused from the
moment the change commits, whoever made it and wherever.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from coordination import audit
from coordination.models import ApiToken, User
from coordination.permissions import PermissionDenied

PREFIX_LENGTH = 8
# How often, at most, a token's ``last_used_at`` is written: a busy integration would
# otherwise write the row on every request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
# Enough for any person's integrations; a bound keeps a leaked session from minting
# tokens without end.
MAX_ACTIVE_TOKENS = 25


def hash_secret(secret: str) -> str:
    """The stored form of a secret. Secrets are long and random, so a plain SHA-256 (not a
    slow password hash) is enough, and it lets a token be found by one indexed lookup."""
    return hashlib.sha256(secret.encode()).hexdigest()


def active_tokens(owner: User, *, now: datetime.datetime | None = None) -> QuerySet[ApiToken]:
    """The owner's tokens that still work: not revoked, not expired."""
    now = now or timezone.now()
    return ApiToken.objects.filter(owner=owner, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


@transaction.atomic
def create_token(
    *, owner: User, name: str, expires_at: datetime.datetime | None = None
) -> tuple[ApiToken, str]:
    """Make a token for ``owner``; returns it and its secret, which is never stored or
    shown again."""
    now = timezone.now()
    if not owner.is_active:
        raise PermissionDenied("Only an active account can have API tokens.")
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    # Lock the owner's row so two simultaneous requests cannot both pass the limit.
    User.objects.select_for_update(no_key=True, of=("self",)).filter(pk=owner.pk).first()
    if active_tokens(owner, now=now).count() >= MAX_ACTIVE_TOKENS:
        raise ValidationError(
            {"name": f"You already have {MAX_ACTIVE_TOKENS} tokens; revoke one you no longer use."}
        )
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        owner=owner,
        name=name.strip(),
        prefix=secret[:PREFIX_LENGTH],
        key_hash=hash_secret(secret),
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    audit.record(
        actor=owner,
        action="api_token.created",
        obj=token,
        after={
            "name": token.name,
            "prefix": token.prefix,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return token, secret


@transaction.atomic
def revoke_token(*, token: ApiToken, by: User) -> ApiToken:
    """The owner revokes one of their tokens; it stops working at once."""
    token = ApiToken.objects.select_for_update(no_key=True, of=("self",)).get(pk=token.pk)
    if token.owner_id != by.pk:
        raise PermissionDenied("Only a token's owner may revoke it.")
    if token.revoked_at is not None:
        raise ValidationError({"token": "This token has already been revoked."})
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(
        actor=by,
        action="api_token.revoked",
        obj=token,
        before={"revoked_at": None},
        after={"revoked_at": token.revoked_at.isoformat()},
    )
    return token


def token_with_owner(key_hash: str) -> ApiToken | None:
    """The token with this hash, its owner loaded with it (one query)."""
    return ApiToken.objects.select_related("owner").filter(key_hash=key_hash).first()


def authenticate_secret(
    secret: str,
    *,
    now: datetime.datetime | None = None,
    find: Callable[[str], ApiToken | None] = token_with_owner,
) -> ApiToken:
    """The working token with this secret, its owner loaded; ``ValidationError`` saying why
    not otherwise. Records the use (at most once a minute, in one conditional update, so
    any number of web processes write it at most once a minute between them)."""
    now = now or timezone.now()
    token = find(hash_secret(secret))
    if token is None:
        raise ValidationError("Invalid token.", code="invalid_token")
    if token.revoked_at is not None:
        raise ValidationError("This token has been revoked.", code="revoked_token")
    if token.expires_at is not None and token.expires_at <= now:
        raise ValidationError("This token has expired.", code="expired_token")
    if not token.owner.is_active:
        raise ValidationError("This token's account is inactive.", code="inactive_owner")
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
