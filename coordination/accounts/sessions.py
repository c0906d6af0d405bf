"""The session engine: Django's database store, with each session's person kept in a
column of its own (``coordination.models.UserSession``), so that every session of one
person can be found and ended at once (``coordination.accounts.deprovision``).

Shared by every web process through the database, like Django's own store: nothing is
kept in any process.

Every signed-in request loads its session, so the load is one prepared statement
(``coordination.db``) reading the session's data alone, with the same conditions as
Django's store (the key, not expired): 0.2 ms where the ORM's ``get`` of the whole row
took 0.47 (benchmarks/HISTORY.md).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore
from django.utils import timezone

from coordination import db
from coordination.models import UserSession

_LOAD_SQL = (
    f"SELECT s.session_data FROM {UserSession._meta.db_table} s "  # noqa: S608 - the model's table; values are parameters
    "WHERE s.session_key = %s AND s.expire_date > %s"
)


class SessionStore(DBStore):
    """Django's database session store writing ``UserSession`` rows."""

    @classmethod
    def get_model_class(cls) -> type[UserSession]:
        return UserSession

    def load(self) -> dict[str, Any]:
        # Django's ``load``: the session's data while it has not expired; otherwise none,
        # and the key forgotten (a new one is made when the session is saved)
        rows = db.fetch_all(_LOAD_SQL, (self.session_key, timezone.now()))
        if not rows:
            self._session_key = None
            return {}
        return cast(dict[str, Any], self.decode(rows[0][0]))

    def create_model_instance(self, data: dict[str, Any]) -> UserSession:
        # get_model_class's model, so a UserSession
        instance = cast(UserSession, super().create_model_instance(data))
        raw = data.get(SESSION_KEY)
        try:
            instance.user_id = int(raw) if raw is not None else None
        except (TypeError, ValueError):
            instance.user_id = None
        return instance
