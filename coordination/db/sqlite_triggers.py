"""Keeping Concord's database triggers on SQLite after every migration.

Some of what the database keeps by itself lives in triggers created by migrations (an
agreement's coverage rows, a task's marking, a task force's content version). On
PostgreSQL a later migration that alters one of those tables leaves its triggers alone.
SQLite cannot alter a column in place: Django rebuilds the table (create a copy, move the
rows, drop the original, rename), and the original's triggers go with it — silently, so a
later migration of, say, the tasks table would leave tasks without their objective's
marking; worse, SQLite refuses to rename the rebuilt table while another table's
trigger names it. So on SQLite, before every ``migrate`` the triggers of each applied
trigger migration are dropped, and after it they are created again — from the statements
frozen in the migration itself — and what they keep is refreshed (agreements' coverage,
tasks' markings), in case a migration in between wrote rows the triggers would have
followed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.db import connections
from django.db.migrations.recorder import MigrationRecorder

# (app, migration, its SQLite statements, the statements dropping them, the statements
# refreshing what they keep): each a list or a function returning one, as each migration
# defines them
TRIGGER_MIGRATIONS: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    (
        "agencies",
        "0007_agreement_coverage",
        "SQLITE",
        "SQLITE_DROP",
        ("DELETE FROM agencies_agreementcoverage", "FILL"),
    ),
    ("taskforces", "0008_task_marking_and_leaner_indexes", "SQLITE", "SQLITE_DROP", ("BACKFILL",)),
    ("taskforces", "0009_task_force_content_version", "_sqlite", "_sqlite_drop", ()),
    ("taskforces", "0011_timeline_and_handover", "_sqlite", "_sqlite_drop", ()),
]


def _statements(module: Any, name: str) -> list[str]:
    found = getattr(module, name, None)
    if found is None:  # a statement written out here rather than a name in the migration
        return [name]
    if isinstance(found, str):
        return [found]
    return list(found() if callable(found) else found)


def _applied(using: str) -> list[tuple[Any, str, str, tuple[str, ...]]]:
    connection = connections[using]
    if connection.vendor != "sqlite":
        return []
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return []
    applied = recorder.applied_migrations()
    return [
        (import_module(f"{app}.migrations.{migration}"), create, drop, refresh)
        for app, migration, create, drop, refresh in TRIGGER_MIGRATIONS
        if (app, migration) in applied
    ]


def remove(using: str = "default", **_: Any) -> int:
    """Before a migration (SQLite only): drop the triggers of every applied trigger
    migration; returns how many migrations' triggers were dropped."""
    found = _applied(using)
    with connections[using].cursor() as cursor:
        for module, _create, drop, _refresh in found:
            for statement in _statements(module, drop):
                cursor.execute(statement)
    return len(found)


def reinstall(using: str = "default", **_: Any) -> int:
    """After a migration (SQLite only): create the triggers of every applied trigger
    migration again and refresh what they keep; returns how many were put back."""
    found = _applied(using)
    with connections[using].cursor() as cursor:
        for module, create, drop, refresh in found:
            statements = _statements(module, drop) + _statements(module, create)
            for name in refresh:
                statements += _statements(module, name)
            for statement in statements:
                cursor.execute(statement)
    return len(found)
