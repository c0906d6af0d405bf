"""The session engine: Django's database store, with each session's person kept in a
column of its own (``coordination.models.UserSession``), so that every session of one
person can be found and ended at once (``coordination.accounts.deprovision``).

Shared by every web process through the database, like Django's own store: nothing is
kept in any process.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DBStore

from coordination.models import UserSession


class SessionStore(DBStore):
    """Django's database session store writing ``UserSession`` rows."""

    @classmethod
    def get_model_class(cls) -> type[UserSession]:
        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> UserSession:
        # get_model_class's model, so a UserSession
        instance = cast(UserSession, super().create_model_instance(data))
        raw = data.get(SESSION_KEY)
        try:
            instance.user_id = int(raw) if raw is not None else None
        except (TypeError, ValueError):
            instance.user_id = None
        return instance
