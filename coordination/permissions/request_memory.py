"""What one web request computed, remembered for the rest of that request only.

A page may filter ten lists through the permission core; the person's access inside task
forces (``taskforces.access``) is read from the database once per request, at its first
need, and remembered until the request ends or writes to a table it was read from,
whichever comes first (a note that names no tables is forgotten at any write). Nothing is
kept between requests: every request reads the database afresh, so a change committed by
anyone, in any process, shows from the next request on, and a change the request itself
makes shows at once. Writes are told apart by their statement (anything but a read), and
the tables they touch by name: what a trigger writes in turn is the consequence of a
statement on a table the note names (the coverage of agreements is kept from the
agreements, which the access note names with it).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

# statements that change nothing: anything else makes a request forget what it remembered
# (``PREPARE`` / ``EXECUTE``: ``coordination.db.fetch_all``'s prepared statements, which are
# reads only; preparing one names tables, which is no write to them)
_READS = ("SELECT", "SAVEPOINT", "RELEASE", "SHOW", "BEGIN", "COMMIT", "PREPARE", "EXECUTE")


class _Memory:
    """One request's notes, emptied when the request writes."""

    def __init__(self) -> None:
        self.notes: dict[str, dict[Any, Any]] = {}
        # note name → the tables it was read from (quoted or not, as SQL names them);
        # absent: forgotten at any write
        self.tables: dict[str, frozenset[str]] = {}

    def holds_anything(self) -> bool:
        return any(self.notes.values())

    def forget(self, sql: str) -> None:
        """Forget the notes read from a table ``sql`` writes (every note, if unsure)."""
        lowered = sql.lower()
        for name, note in self.notes.items():
            tables = self.tables.get(name)
            if note and (tables is None or any(table in lowered for table in tables)):
                note.clear()


_memory: contextvars.ContextVar[_Memory | None] = contextvars.ContextVar(
    "concord_request_memory", default=None
)


def remembered(name: str, tables: frozenset[str] | None = None) -> dict[Any, Any] | None:
    """This request's note called ``name``, emptied when the request writes to one of
    ``tables`` (lower-case table names; without them, at any write); ``None`` outside a
    request, where nothing is remembered."""
    memory = _memory.get()
    if memory is None:
        return None
    if tables is not None:
        memory.tables[name] = tables
    return memory.notes.setdefault(name, {})


@contextmanager
def request_memory() -> Iterator[None]:
    """Remember what is noted until the block ends or writes to the database."""
    memory = _Memory()
    token = _memory.set(memory)

    def forget_on_write(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if memory.holds_anything() and not sql.lstrip()[:9].upper().startswith(_READS):
            memory.forget(sql)
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(forget_on_write):
            yield
    finally:
        _memory.reset(token)


class RequestMemoryMiddleware:
    """Each request remembers what it computed (``request_memory``), and only it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_memory():
            return self.get_response(request)
