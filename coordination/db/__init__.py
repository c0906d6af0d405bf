"""Statements run on every request, prepared once per database connection.

A few statements run on almost every request — reading the person's access inside task
forces (``taskforces.access``), finding an API token — and PostgreSQL spends longer
planning them than running them. On PostgreSQL :func:`fetch_all` prepares each such
statement once per connection (``PREPARE``; the plan lives in that database session) and
executes it by name afterwards; elsewhere, or with ``CONCORD_DB_PREPARED_STATEMENTS``
off (behind a connection pooler in transaction mode, which does not keep sessions), it
simply runs the SQL. Only which statements a connection has prepared is remembered here,
never a result. ``columns``, ``maker`` and ``joined`` turn such a statement's rows into model
instances, as the ORM would.

Beside it: ``sqlite_triggers`` (the SQLite triggers put back after a migration rebuilds a
table) and ``cache`` (the Redis cache backend that degrades instead of failing).
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

M = TypeVar("M", bound=Model)

_PLACEHOLDER = re.compile(r"%s|%%")
# raw database connection → names of the statements prepared on it
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _numbered(sql: str) -> tuple[str, int]:
    """The SQL with Django's ``%s`` placeholders as PostgreSQL's ``$1``, ``$2``..."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) == "%%":
            return "%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql), count


def statement_name(sql: str) -> str:
    """The name ``fetch_all`` prepares ``sql`` under (one per text, on every connection)."""
    return "concord_" + hashlib.sha1(sql.encode(), usedforsecurity=False).hexdigest()[:20]


def fetch_all(sql: str, params: Sequence[Any], *, prepare: bool = True) -> list[tuple[Any, ...]]:
    """Run a read-only statement (``%s`` placeholders) and return its rows; prepared once
    per connection unless ``prepare`` is false (SQL that varies from call to call)."""
    with connection.cursor() as cursor:
        prepare = (
            prepare
            and connection.vendor == "postgresql"
            and getattr(settings, "CONCORD_DB_PREPARED_STATEMENTS", True)
        )
        if not prepare:
            cursor.execute(sql, params)
            return cursor.fetchall()
        connection.ensure_connection()
        raw = connection.connection
        name = statement_name(sql)
        names = _prepared.setdefault(raw, set())
        if name not in names:
            numbered, count = _numbered(sql)
            if count != len(params):
                raise ValueError(f"{count} placeholders for {len(params)} parameters")
            cursor.execute(f"PREPARE {name} AS {numbered}")
            names.add(name)
        if params:
            cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
        else:
            cursor.execute(f"EXECUTE {name}")
        return cursor.fetchall()


def columns(model: type[Model], alias: str, only: Sequence[str] = ()) -> str:
    """Every column of ``model``'s table (alias ``alias``), or those of the fields named
    in ``only``, in the order ``maker`` reads them: the select list of a
    statement whose rows become model instances."""
    return ", ".join(
        f"{alias}.{connection.ops.quote_name(field.column)}"
        for field in model._meta.concrete_fields
        if not only or field.attname in only
    )


def maker(model: type[M], only: Sequence[str] = ()) -> Callable[[Sequence[Any]], M]:
    """How the rows of one statement become ``model`` instances, converted as the ORM
    converts what it reads (the backend's and the fields' own converters), then made by
    ``Model.from_db`` as the ORM makes them. Each field's converters are looked up
    once, not once per row (fifty task forces: 0.25 ms, where 0.78 ms looking them up
    for each). Nothing outlives the call. With ``only`` (attribute names), the rows hold
    those fields alone, in the model's order, and the instances defer the others, as
    ``QuerySet.only`` makes them."""
    fields = [field for field in model._meta.concrete_fields if not only or field.attname in only]
    if only and len(fields) != len(only):
        raise ValueError(
            f"Not fields of {model.__name__}: {set(only) - {f.attname for f in fields}}"
        )
    database = connections[DEFAULT_DB_ALIAS]  # (``connection`` looks it up on every use)
    attnames = [field.attname for field in fields]
    steps = []
    for field in fields:
        column = field.get_col(model._meta.db_table)
        own = field.get_db_converters(database)  # type: ignore[attr-defined]  # Django's; not in its stubs
        steps.append((column, database.ops.get_db_converters(column) + own))

    def make(values: Sequence[Any]) -> M:
        converted = []
        for (column, converters), value in zip(steps, values, strict=True):
            for convert in converters:
                value = convert(value, column, database)
            converted.append(value)
        return model.from_db(database.alias, attnames, converted)

    return make


def joined(
    rows: Sequence[Sequence[Any]], model: type[M], name: str, related: type[Model]
) -> list[M]:
    """Rows of ``model``'s columns then ``related``'s (``columns`` of each), as instances
    of ``model`` each with its ``name`` set to the ``related`` one, as
    ``select_related(name)`` gives them: ``None`` where the related columns are null (a
    LEFT JOIN that found no row; its key, the first column, is never null otherwise)."""
    if not rows:
        return []
    width = len(model._meta.concrete_fields)
    make, make_related = maker(model), maker(related)
    found = []
    for row in rows:
        obj = make(row[:width])
        setattr(obj, name, None if row[width] is None else make_related(row[width:]))
        found.append(obj)
    return found
