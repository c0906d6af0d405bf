"""The task-force lock every write inside a task force starts with (``lock_task_forces``,
docs/decisions/0002-one-lock-order.md), as PostgreSQL sees it from another connection: the
task forces' rows held ``FOR NO KEY UPDATE`` until the transaction ends — another write
waits, a foreign key to them does not — and, with statements prepared as in production,
taken by one prepared statement."""

from __future__ import annotations

import psycopg2
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from taskforces import services
from taskforces.services.locks import lock_task_forces

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's")


def _other_connection():  # another session on the test database
    settings = connection.settings_dict
    other = psycopg2.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        password=settings["PASSWORD"] or None,
    )
    other.autocommit = True
    return other


def _can_take(other, task_force_id: int, mode: str) -> bool:
    with other.cursor() as cursor:
        try:
            cursor.execute(
                f"SELECT id FROM taskforces_taskforce WHERE id = %s FOR {mode} NOWAIT",  # noqa: S608 - a constant mode
                [task_force_id],
            )
        except psycopg2.errors.LockNotAvailable:
            return False
    return True


@pytest.mark.parametrize("prepared", [True, False])
def test_the_lock_holds_the_task_forces_until_the_transaction_ends(
    world, settings, prepared
) -> None:
    settings.CONCORD_DB_PREPARED_STATEMENTS = prepared
    other = _other_connection()
    second = services.form_task_force(
        name="Second response", mandate="Another matter.", by=world.lead_liaison
    )
    ids = [world.tf.pk, second.pk]
    try:
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            lock_task_forces(reversed(ids))
            for task_force_id in ids:
                # another write into the task force waits; a row naming it (a foreign key
                # check takes KEY SHARE) does not
                assert not _can_take(other, task_force_id, "NO KEY UPDATE")
                assert _can_take(other, task_force_id, "KEY SHARE")
        locking = [
            q["sql"] for q in queries if "taskforces_taskforce" in q["sql"] or "EXECUTE" in q["sql"]
        ]
        if prepared:
            assert any(sql.startswith("EXECUTE concord_") for sql in locking), locking
        assert all(_can_take(other, task_force_id, "NO KEY UPDATE") for task_force_id in ids)
    finally:
        other.close()


def test_nothing_to_lock_runs_nothing(settings) -> None:
    settings.CONCORD_DB_PREPARED_STATEMENTS = True
    with CaptureQueriesContext(connection) as queries:
        lock_task_forces([])
    assert len(queries) == 0
