"""On SQLite, the triggers that keep derived rows (agreements' coverage, tasks' markings,
task forces' content versions) are installed after every migration and survive a later
migration that rebuilds one of their tables (``coordination.db.sqlite_triggers``)."""

from __future__ import annotations

import pytest
from django.db import connection

from coordination.db import sqlite_triggers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL keeps triggers when a table is altered")


def trigger_names() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {name for (name,) in cursor.fetchall()}


def test_every_trigger_migration_has_its_triggers_after_migrating() -> None:
    names = trigger_names()
    assert {
        "concord_coverage_parties_ins",
        "concord_task_marking_ins",
        "concord_version_own",
    } <= names
    assert any(name.startswith("concord_version_insert_taskforces_") for name in names)


def test_removing_and_reinstalling_gives_the_same_triggers() -> None:
    before = trigger_names()
    assert sqlite_triggers.remove() == len(sqlite_triggers.TRIGGER_MIGRATIONS)
    assert not {n for n in trigger_names() if n.startswith("concord_")}
    assert sqlite_triggers.reinstall() == len(sqlite_triggers.TRIGGER_MIGRATIONS)
    assert trigger_names() == before


def test_triggers_work_after_migrations_that_rebuilt_their_tables(world) -> None:
    """agencies/0008 adds columns to the agreements table, which SQLite does by rebuilding
    it after 0007 made the coverage triggers: they still keep the coverage rows."""
    from agencies.models import AgreementCoverage

    assert AgreementCoverage.objects.filter(agreement=world.agreement).count() == 2
    world.agreement.parties.remove(world.partner)
    assert not AgreementCoverage.objects.filter(agreement=world.agreement).exists()
