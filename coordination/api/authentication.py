"""Personal API tokens on the wire: ``Authorization: Bearer <secret>`` (or ``Token``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Model
from drf_spectacular.authentication import SessionScheme as SpectacularSessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from coordination import audit, db
from coordination.accounts import signin, tokens
from coordination.accounts.tokens import authenticate_secret
from coordination.models import ApiToken, AuditEvent, User

SCHEMES = (b"bearer", b"token")


def _columns(model: type[Model], alias: str) -> tuple[list[str], str]:
    fields = model._meta.concrete_fields
    return [f.attname for f in fields], ", ".join(f"{alias}.{f.column}" for f in fields)


_TOKEN_FIELDS, _TOKEN_COLUMNS = _columns(ApiToken, "t")
_OWNER_FIELDS, _OWNER_COLUMNS = _columns(User, "u")
# a token (``t``) and its owner (``u``): what ``select_related("owner")`` reads; a
# statement that reads them selects ``TOKEN_COLUMNS`` first, ``FROM`` and ``JOIN`` these
# tables so, and hands its row to ``token_from_row``
TOKEN_COLUMNS = f"{_TOKEN_COLUMNS}, {_OWNER_COLUMNS}"
TOKEN_TABLES = f"{ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.owner_id"
TOKEN_WIDTH = len(_TOKEN_FIELDS) + len(_OWNER_FIELDS)
# the token with a hash, as one statement that PostgreSQL prepares once per connection
# (the ORM built and compiled it on every request)
_TOKEN_SQL = f"SELECT {TOKEN_COLUMNS} FROM {TOKEN_TABLES} WHERE t.key_hash = %s LIMIT 1"  # noqa: S608 - names from the models


def token_from_row(row: Sequence[Any]) -> ApiToken:
    """The token, its owner with it, from a row that starts with ``TOKEN_COLUMNS``."""
    split = len(_TOKEN_FIELDS)
    token = ApiToken.from_db(connection.alias, _TOKEN_FIELDS, row[:split])
    token.owner = User.from_db(connection.alias, _OWNER_FIELDS, row[split:TOKEN_WIDTH])
    return token


def token_with_owner(key_hash: str) -> ApiToken | None:
    """The token with this hash and its owner, in one query (prepared on PostgreSQL; the
    ORM elsewhere, whose databases need its conversions of values)."""
    if connection.vendor != "postgresql":
        return tokens.token_with_owner(key_hash)
    rows = db.fetch_all(_TOKEN_SQL, (key_hash,))
    return token_from_row(rows[0]) if rows else None


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a request that carries a personal API token.

    A request without an ``Authorization`` header of these schemes is left to the next
    authenticator (the browser's session). A token that is unknown, revoked or expired
    is refused with 401, never treated as anonymous."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in SCHEMES:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>'."
            )
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        try:
            token = authenticate_secret(secret, find=self.find)
        except ValidationError as error:
            # a failed sign-in to the API: recorded with the token's first characters
            # (what the owner's token list shows), never the whole of it
            audit.record(
                actor=None,
                actor_label=f"API token {secret[:8]}…",
                action="auth.api_token_refused",
                outcome=AuditEvent.Outcome.FAILURE,
                after={"reason": error.messages[0]},
            )
            raise exceptions.AuthenticationFailed(error.messages[0]) from None
        return token.owner, token

    def find(self, key_hash: str) -> ApiToken | None:
        """The token with this hash, its owner loaded with it."""
        return token_with_owner(key_hash)

    def authenticate_header(self, request: Request) -> str:
        # Makes "not signed in" a 401 (with this challenge) rather than a 403.
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents the token scheme in the OpenAPI schema, for this authentication and any
    built on it (``taskforces.api.authentication``'s, which the settings name)."""

    target_class = ApiTokenAuthentication
    match_subclasses = True
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token, made on the portal's API tokens page: "
            "`Authorization: Bearer <token>` (`Token <token>` also works).",
        }


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session (with DRF's CSRF check on writes), but only once the person
    has the second factor the portal requires: the pages send such a person to set one up
    first, and the API must not be a way around that."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if (
            settings.CONCORD_REQUIRE_MFA
            and not Authenticator.objects.filter(
                user_id=user.pk, type__in=signin.SECOND_FACTORS
            ).exists()
        ):
            raise exceptions.AuthenticationFailed(
                "Set up your authenticator app in the portal before using the API."
            )
        if not signin.signed_in_phishing_resistant(
            request._request
        ) and signin.phishing_resistant_required(user):
            raise exceptions.AuthenticationFailed(
                "Your agency requires you to sign in with a passkey or security key; "
                "sign in with it in the portal before using the API."
            )
        return result


class SessionScheme(SpectacularSessionScheme):
    target_class = "coordination.api.authentication.SessionAuthentication"
