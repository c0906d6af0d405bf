"""``benchmark_requests --plans`` on a tiny seeded PostgreSQL database: each prepared
statement a request executes, named and timed under both plan cache modes, and the
connection's own mode put back. No figure is asserted (figures belong to
benchmarks/results, not to a test)."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.db import connection

from benchmarks.management.commands.benchmark_requests import generic_slower
from taskforces.services import ensure_role_templates


def _plan_cache_mode() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        return str(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.urls("benchmarks.urls")  # the bare views it sends between the requests
@pytest.mark.django_db
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"
)
def test_each_prepared_statement_is_named_and_timed_under_both_plans(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CONCORD_DB_PREPARED_STATEMENTS = True  # the test settings run without them
    ensure_role_templates()
    call_command("seed_scale", "--factor", "0.0005", "--no-progress", stdout=io.StringIO())
    before = _plan_cache_mode()
    out = io.StringIO()
    call_command(
        "benchmark_requests", "--plans", "--requests=2", "--no-writes",
        "--only=page dashboard, 3 roles", stdout=out,
    )  # fmt: skip
    text = out.getvalue()

    assert text.splitlines()[0].split()[-4:] == ["custom", "ms", "generic", "ms"]
    for statement in ("taskforces.access._ACCESS_SQL", "taskforces.selectors._MY_NEXT_TASKS"):
        assert re.search(
            rf"^page dashboard, 3 roles +{re.escape(statement)} +\d+\.\d\d +\d+\.\d\d",
            text,
            re.MULTILINE,
        ), statement
    # the person's row is read by a statement made in a function: named by its table
    assert re.search(r"concord_[0-9a-f]+ \(coordination_user\)", text)
    assert _plan_cache_mode() == before


def test_a_generic_plan_is_flagged_when_it_is_clearly_slower() -> None:
    assert generic_slower(1.9, 7.6)  # the dashboard's next tasks before 8cb341b
    assert not generic_slower(3.6, 3.1)  # faster
    assert not generic_slower(0.1, 0.25)  # 2.5 times, but less than planning costs
    assert not generic_slower(2.0, 2.9)  # within half as slow again
