"""API tokens, read with their owner's access inside task forces.

Nearly every API request authenticated by a token goes on to read its owner's access
(``taskforces.access``): every list and object inside task forces is filtered by it, and
a conditional GET's ``ETag`` is made of it. On PostgreSQL the token, its owner and that
access are read by one statement — the token's, and beside it the access rule's own for
the token's owner — instead of two round trips. The access is remembered for the rest of
the request as if ``access_for`` had read it (until the request writes to a table it was
read from, as always). Nothing outlives the request.

Only for the views that read that access on every request, which say so with
``reads_task_force_access = True`` (the task forces' resources and mutual aid's requests,
offers and commitments): elsewhere (agencies, notifications...) the token is read alone,
and a person with hundreds of roles does not pay for an access nothing asks for.
``tests/api/test_token_with_access.py`` checks every resource of the API both ways.

Measured in process on the scale set: 0.49 ms for a person with 3 roles, where the two
statements took 0.63; 6.4 ms for one with 300, where they took 6.1 -- the token's columns
come back as NULLs on each of the access's 591 rows, which costs such a person more than
the round trip saved (benchmarks/HISTORY.md, round of 82fc0f7).

The settings name this class first among the API's authenticators; everywhere else
(SQLite) it is the core's ``ApiTokenAuthentication`` unchanged.
"""

from __future__ import annotations

from django.db import connection
from django.utils import timezone
from rest_framework.request import Request

from coordination import db
from coordination.api import authentication
from coordination.models import ApiToken, User

from .. import access

_TOKEN_NULLS = ", ".join(["NULL"] * authentication.TOKEN_WIDTH)
_ACCESS_NULLS = ", ".join(["NULL"] * access.ACCESS_WIDTH)
# the token with a hash and its owner (a row starting with 0), and the owner's access: the
# rows of ``access.access_sql``, each starting with 1, for the person the token names. The
# other part's columns are NULL: the token's columns, times among them, are read once and
# not with every row of a person's hundreds of holdings. (The person is a subquery, which
# PostgreSQL runs first, so the statement is planned as the rule's own: a join of the
# rule's tables to the token's owner made it scan every membership.)
_SQL = (
    f"SELECT 0, {authentication.TOKEN_COLUMNS}, {_ACCESS_NULLS} "  # noqa: S608 - names from the models; values are parameters
    f"FROM {authentication.TOKEN_TABLES} WHERE t.key_hash = %s "
    f"UNION ALL SELECT 1, {_TOKEN_NULLS}, x.* FROM ("
    + access.access_sql(f"(SELECT owner_id FROM {ApiToken._meta.db_table} WHERE key_hash = %s)")  # noqa: S608
    + ") x"
)


class ApiTokenAuthentication(authentication.ApiTokenAuthentication):
    """The core's token authentication, which also reads the owner's access on
    PostgreSQL (see the module docstring)."""

    def __init__(self) -> None:
        self._reads_access = False
        self._access: access.Access | None = None

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        view = (getattr(request, "parser_context", None) or {}).get("view")
        self._reads_access = getattr(view, "reads_task_force_access", False)
        result = super().authenticate(request)
        if result is not None and self._access is not None:
            # only for a token that works: a refused one ends the request with a 401
            access.remember(result[0], self._access)
        return result

    def find(self, key_hash: str) -> ApiToken | None:
        if not self._reads_access or connection.vendor != "postgresql":
            return super().find(key_hash)
        rows = db.fetch_all(_SQL, (key_hash, *access.parameters(timezone.now()), key_hash))
        token = next((row[1:] for row in rows if row[0] == 0), None)
        if token is None:
            return None
        start = 1 + authentication.TOKEN_WIDTH
        self._access = access.from_rows([row[start:] for row in rows if row[0] == 1])
        return authentication.token_from_row(token)
