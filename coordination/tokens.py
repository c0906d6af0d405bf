"""Personal API tokens: made and revoked by their owner, stored only as a hash.

A token's secret is shown once, when it is made; Concord keeps its SHA-256 hash (to find
the token when it is presented) and its first characters (so the owner can tell their
tokens apart). A revoked or expired token is refused at once.

Each web process keeps the tokens it has looked up, with their owners, under the ``auth``
epoch, which database triggers move whenever a token's owner, secret, expiry or
revocation changes, or anything in a person's account but their last sign-in (migration
``coordination/0007``): a polling integration costs no token query until one of those
changes, and a revoked token or a deactivated account is refused from the moment the
change commits, whoever made it. Expiry and the account being active are checked on every
request. At most ``CONCORD_ACCESS_CACHE_SIZE`` tokens are kept (0 keeps none); secrets
that match no token are never kept.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from . import audit, epochs
from .models import ApiToken, User
from .permissions import PermissionDenied

PREFIX_LENGTH = 8
# How often, at most, a token's ``last_used_at`` is written: a busy integration would
# otherwise write the row on every request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
# Enough for any person's integrations; a bound keeps a leaked session from minting
# tokens without end.
MAX_ACTIVE_TOKENS = 25
EPOCH = "auth"
M = TypeVar("M", bound=Model)

# (hash of the secret, auth epoch) → the token's and its owner's column values
kept: epochs.Kept[tuple[str, int], tuple[tuple[object, ...], tuple[object, ...]]] = epochs.Kept()


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
    User.objects.select_for_update().filter(pk=owner.pk).first()
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
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
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


def authenticate_secret(secret: str, *, now: datetime.datetime | None = None) -> ApiToken:
    """The working token with this secret, its owner loaded; ``ValidationError`` saying why
    not otherwise. Records the use (at most once a minute, in one conditional update, so
    any number of web processes write it at most once a minute between them)."""
    now = now or timezone.now()
    key_hash = hash_secret(secret)
    size = settings.CONCORD_ACCESS_CACHE_SIZE
    epoch = epochs.current(EPOCH) if size > 0 else None
    found = kept.get((key_hash, epoch)) if epoch is not None else None
    if found is not None:
        # fresh instances every time, so nothing one request caches on them (permission
        # caches) reaches the next
        token = _instance(ApiToken, found[0])
        token.owner = _instance(User, found[1])
    else:
        looked_up = ApiToken.objects.select_related("owner").filter(key_hash=key_hash).first()
        if looked_up is None:
            raise ValidationError("Invalid token.", code="invalid_token")
        token = looked_up
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
        found = None  # keep the copy that knows of this use (the epoch does not watch it)
    if found is None and epoch is not None:
        kept.put((key_hash, epoch), (_values(token), _values(token.owner)), size)
    return token


def _values(instance: Model) -> tuple[object, ...]:
    return tuple(getattr(instance, f.attname) for f in instance._meta.concrete_fields)


def _instance(model: type[M], values: tuple[object, ...]) -> M:
    return model.from_db("default", [f.attname for f in model._meta.concrete_fields], values)
