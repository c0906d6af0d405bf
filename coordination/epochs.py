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

Within one web request (``RequestMemoryMiddleware``) every epoch is read once, all in one
query, at the first need, and what the request computed under them is remembered
(``remembered``) — until the request itself writes anything to the database (any
statement but a read), after which the next need reads the epochs again. A change
committed by another process during the request shows from the next request on, as if
the request had read everything at its start.
"""

from __future__ import annotations

import contextvars
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import connection
from django.http import HttpRequest, HttpResponse

from .audit import CHAIN_LOCK_KEY

TABLE = "coordination_epoch"
SEQUENCE = "concord_epoch_seq"


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
# statements that change nothing: anything else makes a request forget what it remembered
_READS = ("SELECT", "SAVEPOINT", "RELEASE", "SHOW")


def current(name: str) -> int | None:
    """The epoch's value now (one query, or none again within a request); ``None`` when
    its row is missing (a flushed database), in which case callers must not cache."""
    return current_many(name).get(name)


def current_many(*names: str) -> dict[str, int]:
    """Several epochs, in one query at most; a missing one is left out. Within a request,
    every epoch is read at the first call and remembered until the request writes."""
    memory = _memory.get()
    if memory is None:
        return _read(names)
    if memory.epochs is None:
        memory.epochs = _read(())
    return {name: memory.epochs[name] for name in names if name in memory.epochs}


def _read(names: Iterable[str]) -> dict[str, int]:
    """The named epochs (all of them when ``names`` is empty): one query."""
    names = list(names)
    where = f" WHERE name IN ({', '.join(['%s'] * len(names))})" if names else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name, value FROM {TABLE}{where}", names)  # noqa: S608
        return {name: int(value) for name, value in cursor.fetchall()}


# --- keeping in a process, remembering in a request ----------------------------------------


class Kept(Generic[K, V]):
    """A process's least-recently-used map of what was computed under some epoch (the
    epoch's value belongs in the key), safe across threads."""

    def __init__(self) -> None:
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: K, entry: V, size: int) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class _Memory:
    """What one request read and computed, until it writes."""

    epochs: dict[str, int] | None = None
    notes: dict[str, dict[Any, Any]] = field(default_factory=dict)

    def holds_anything(self) -> bool:
        return self.epochs is not None or any(self.notes.values())

    def forget(self) -> None:
        self.epochs = None
        for note in self.notes.values():
            note.clear()


_memory: contextvars.ContextVar[_Memory | None] = contextvars.ContextVar(
    "concord_request_memory", default=None
)


def remembered(name: str) -> dict[Any, Any] | None:
    """This request's note called ``name``, for what it computed under the epochs it read
    (emptied when the request writes); ``None`` outside a request."""
    memory = _memory.get()
    if memory is None:
        return None
    return memory.notes.setdefault(name, {})


@contextmanager
def request_memory() -> Iterator[None]:
    """Remember the epochs, and what is noted under them, until this request writes."""
    memory = _Memory()
    token = _memory.set(memory)

    def forget_on_write(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if memory.holds_anything() and not sql.lstrip()[:9].upper().startswith(_READS):
            memory.forget()
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(forget_on_write):
            yield
    finally:
        _memory.reset(token)


class RequestMemoryMiddleware:
    """Each request reads the epochs once and remembers what it computed under them
    (``request_memory``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_memory():
            return self.get_response(request)


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
