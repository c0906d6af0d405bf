"""What one web request computed, remembered for the rest of that request only.

A page may filter ten lists through the permission core; the person's access inside task
forces (``taskforces.access``) is read from the database once per request, at its first
need, and remembered until the request ends or writes anything to the database (any
statement but a read), whichever comes first. Nothing is kept between requests: every
request reads the database afresh, so a change committed by anyone, in any process, shows
from the next request on, and a change the request itself makes shows at once.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.http import HttpRequest, HttpResponse

# statements that change nothing: anything else makes a request forget what it remembered
_READS = ("SELECT", "SAVEPOINT", "RELEASE", "SHOW")


class _Memory:
    """One request's notes, emptied when the request writes."""

    def __init__(self) -> None:
        self.notes: dict[str, dict[Any, Any]] = {}

    def holds_anything(self) -> bool:
        return any(self.notes.values())

    def forget(self) -> None:
        for note in self.notes.values():
            note.clear()


_memory: contextvars.ContextVar[_Memory | None] = contextvars.ContextVar(
    "concord_request_memory", default=None
)


def remembered(name: str) -> dict[Any, Any] | None:
    """This request's note called ``name`` (emptied when the request writes); ``None``
    outside a request, where nothing is remembered."""
    memory = _memory.get()
    if memory is None:
        return None
    return memory.notes.setdefault(name, {})


@contextmanager
def request_memory() -> Iterator[None]:
    """Remember what is noted until the block ends or writes to the database."""
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
    """Each request remembers what it computed (``request_memory``), and only it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_memory():
            return self.get_response(request)
