"""Epochs: counters the database moves, in the same transaction, whenever data they stand
for changes, so that caches in any number of web processes can tell a fresh entry from a
stale one with one indexed read.

An epoch is one row of ``coordination_epoch``. Triggers on the tables behind it (created by
migrations with :func:`trigger_sql`) set it to a new value on every statement (PostgreSQL)
or row (SQLite) that inserts, deletes, or updates one of the columns that matter (and, on
PostgreSQL, on TRUNCATE). Because
the write is part of the changing transaction:

* a reader sees the new value exactly when it sees the new data — never the new value
  with the old data;
* a reader that read the old value may have computed from old or new data, and stores
  its result under the old value, which nobody reads once the change has committed.

New values are never reused (PostgreSQL: a sequence, which a rollback does not rewind;
SQLite: a random 63-bit number), so an entry computed inside a transaction that was then
rolled back can never be mistaken for a later state.

On PostgreSQL the trigger first takes the audit chain's advisory lock: every service
transaction takes it anyway to append its audit event, and taking it before the epoch's
row lock keeps the two locks in one order, so they cannot deadlock each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from .audit import CHAIN_LOCK_KEY

TABLE = "coordination_epoch"
SEQUENCE = "concord_epoch_seq"


def current(name: str) -> int | None:
    """The epoch's value now (one query); ``None`` when its row is missing (a flushed
    database), in which case callers must not cache."""
    return current_many(name).get(name)


def current_many(*names: str) -> dict[str, int]:
    """Several epochs in one query; a missing one is left out."""
    marks = ", ".join(["%s"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name, value FROM {TABLE} WHERE name IN ({marks})", list(names))  # noqa: S608
        return {name: int(value) for name, value in cursor.fetchall()}


@dataclass(frozen=True)
class Watch:
    """A table whose changes move an epoch: inserts and deletes always; updates only of
    ``columns`` (every column when ``columns`` is empty)."""

    table: str
    columns: tuple[str, ...] = ()
    inserts: bool = True


def _check_identifiers(*names: str) -> None:
    for name in names:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"Not a plain SQL identifier: {name!r}")


def _function(epoch: str) -> str:
    return f"concord_bump_{epoch}_epoch"


def _trigger(epoch: str, table: str, event: str) -> str:
    return f"concord_{epoch}_epoch_{event}_{table}"[:63]


def _events(watch: Watch) -> list[tuple[str, str]]:
    """(short name, SQL event clause) pairs for one watched table."""
    update = "UPDATE" + (f" OF {', '.join(watch.columns)}" if watch.columns else "")
    events = [("upd", update), ("del", "DELETE")]
    if watch.inserts:
        events.insert(0, ("ins", "INSERT"))
    return events


def trigger_sql(vendor: str, epoch: str, watches: Iterable[Watch]) -> list[str]:
    """Statements creating the epoch's row and the triggers that move it. (Names come
    from migrations, never from input; they are checked to be plain identifiers.)"""
    watches = list(watches)
    _check_identifiers(epoch, *(w.table for w in watches), *(c for w in watches for c in w.columns))
    if vendor == "postgresql":
        function = _function(epoch)
        statements = [
            f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}",
            f"INSERT INTO {TABLE} (name, value) VALUES ('{epoch}', nextval('{SEQUENCE}')) "  # noqa: S608
            "ON CONFLICT (name) DO NOTHING",
            f"""
            CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock({CHAIN_LOCK_KEY});
                INSERT INTO {TABLE} (name, value) VALUES ('{epoch}', nextval('{SEQUENCE}'))
                    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """,  # noqa: S608
        ]
        for watch in watches:
            for short, event in [*_events(watch), ("trn", "TRUNCATE")]:
                statements.append(
                    f"CREATE TRIGGER {_trigger(epoch, watch.table, short)} AFTER {event} "
                    f"ON {watch.table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
                )
        return statements
    if vendor == "sqlite":
        bump = (
            f"INSERT INTO {TABLE} (name, value) VALUES ('{epoch}', abs(random())) "  # noqa: S608
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        )
        statements = [bump.replace("DO UPDATE SET value = excluded.value", "DO NOTHING")]
        for watch in watches:
            for short, event in _events(watch):
                statements.append(
                    f"CREATE TRIGGER {_trigger(epoch, watch.table, short)} AFTER {event} "
                    f"ON {watch.table} FOR EACH ROW BEGIN {bump}; END"
                )
        return statements
    raise NotImplementedError(f"No epoch triggers for {vendor}.")


def drop_sql(vendor: str, epoch: str, watches: Iterable[Watch]) -> list[str]:
    statements = []
    for watch in watches:
        events = _events(watch) + ([("trn", "TRUNCATE")] if vendor == "postgresql" else [])
        for short, _ in events:
            name = _trigger(epoch, watch.table, short)
            statements.append(
                f"DROP TRIGGER IF EXISTS {name}"
                + (f" ON {watch.table}" if vendor == "postgresql" else "")
            )
    if vendor == "postgresql":
        statements.append(f"DROP FUNCTION IF EXISTS {_function(epoch)}()")
    statements.append(f"DELETE FROM {TABLE} WHERE name = '{epoch}'")  # noqa: S608
    return statements


def migration_operation(epoch: str, watches: Iterable[Watch]) -> Any:
    """The ``RunPython`` a migration uses to create (and, reversed, drop) an epoch's
    triggers; nothing on databases other than PostgreSQL and SQLite."""
    from django.db import migrations

    watches = tuple(watches)

    def create(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor in ("postgresql", "sqlite"):
            for statement in trigger_sql(vendor, epoch, watches):
                schema_editor.execute(statement)

    def drop(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor in ("postgresql", "sqlite"):
            for statement in drop_sql(vendor, epoch, watches):
                schema_editor.execute(statement)

    return migrations.RunPython(create, drop)
