"""``benchmark_load`` runs on a tiny seeded PostgreSQL database, with tiny durations, and
prints every section. A smoke test: no figure is asserted (figures belong to
benchmarks/results, not to a test). The data is committed (``transaction=True``) because
the gunicorn, wrk and locust it starts are other processes."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from coordination.models import ApiToken, UserSession
from taskforces.services import ensure_role_templates


@pytest.fixture(scope="module")
def catalogue_put_back(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The flush that ends a transactional test empties every table, the role catalogue a
    migration wrote included. Put it back afterwards (a module fixture is torn down after
    the test's flush), for the tests that follow and for a reused test database."""
    yield
    with django_db_blocker.unblock():
        ensure_role_templates()


TINY = (
    "--seconds=1",
    "--threads=1",
    "--connections=2",
    "--page-requests=2",
    "--write-rounds=1",
    "--levels=1,2",
    "--concurrent-seconds=1",
    "--sample-ms=20",
    "--locust-users=2",
    "--locust-seconds=1",
    "--lists=objectives",
    "--pages=dashboard",
    "--redis-url=",  # notifications in the request: no broker shared with anything else
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="gunicorn's workers need PostgreSQL")
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_every_section_prints_and_nothing_is_left_signed_in(catalogue_put_back: None) -> None:
    ensure_role_templates()  # a transactional test before this one may have emptied them
    call_command("seed_scale", "--factor", "0.0005", "--no-progress", stdout=io.StringIO())
    out = io.StringIO()
    call_command("benchmark_load", *TINY, stdout=out)
    text = out.getvalue()

    assert "== Concord load benchmark (benchmark_load) ==" in text
    assert re.search(r"PostgreSQL \d+", text)
    for heading in ("lists", "pages", "conditional", "writes", "concurrent", "mixed"):
        assert f"-- {heading}:" in text, heading
    for row in (
        "API objectives, 3 roles",
        "API objectives, 300 roles",
        "dashboard, 300 roles",
        "bare insert (one row)",
    ):
        assert re.search(rf"^  {re.escape(row)} +[0-9,]+ ", text, re.MULTILINE), row
    # the writer picked at random, and one holding the median number of roles where the
    # tiny data has one: each row says how many roles its writer holds
    assert re.search(
        r"^  posting an update, writer holding \d+ roles +[0-9,]+ ", text, re.MULTILINE
    )
    assert "writer (picked at random)" in text
    assert "one client, 2 requests in a row per page" in text
    assert "no ETag: not measurable yet" in text or "answered 304" in text
    assert re.search(r"^  1 +[0-9.,]+ ", text, re.MULTILINE)  # a concurrency level
    assert "verdict, locks:" in text and "verdict, throughput" in text
    assert "mixed: 90 % reads, 10 % writes" in text and "reads ÷ bare view:" in text
    # what it made to sign people in is gone again
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()
    assert not UserSession.objects.exists()


def test_it_refuses_what_it_cannot_measure() -> None:
    with pytest.raises(CommandError, match="--levels"):
        call_command("benchmark_load", "--levels", "0,2", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--lists"):
        call_command("benchmark_load", "--lists", "agencies", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("ratio", "target", "printed"),
    [
        (0.5953, 0.6, "0.595"),  # a miss that two decimals would round up to its target
        (0.6, 0.6, "0.60"),
        (0.6049, 0.6, "0.60"),
        (0.2449, 0.25, "0.24"),
        (0.2496, 0.25, "0.250"),  # reads 0.25 with two decimals, misses 0.25
        (0.0712, 0.2, "0.07"),
    ],
)
def test_a_ratio_is_never_printed_as_meeting_a_target_it_misses(
    ratio: float, target: float, printed: str
) -> None:
    from benchmarks.management.commands.benchmark_load import shown

    assert shown(ratio, target) == printed
