"""``benchmark_scale`` runs on a tiny seeded database and prints its sections. A smoke
test: no timing is asserted (timings belong to benchmarks/results, not to a test)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from benchmarks.scale import data as seed_scale

from ..conftest import built_once


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    def seed() -> None:
        call_command(
            "seed_scale",
            "--factor",
            "0.0005",
            "--allow-sqlite",
            "--no-progress",
            stdout=io.StringIO(),
        )

    yield from built_once(django_db_blocker, seed)


pytestmark = pytest.mark.usefixtures("seeded")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("benchmark_scale", *args, stdout=out)
    return out.getvalue()


def test_it_prints_every_section_it_was_asked_for(db):
    text = run("--requests", "2", "--skip", "throughput", "--skip", "fanout")
    assert "== Concord scale benchmark ==" in text
    assert f"{seed_scale.LIGHT_EMAIL} holds 3 current roles" in text
    assert seed_scale.HEAVY_EMAIL in text
    for heading in ("-- 1. Queries", "-- 2. Latency", "-- 3. Permission-filtered"):
        assert heading in text
    assert "-- 4. Throughput" not in text and "-- 5. Notification" not in text


def test_query_counts_are_printed_for_every_page_and_list(db):
    text = run(
        "--skip", "latency", "--skip", "filtering", "--skip", "throughput", "--skip", "fanout"
    )
    for label in (
        "dashboard",
        "task force page",
        "objectives board",
        "API objectives",
        "API role-assignments",
        "review queue (portal admin)",
        "people page (agency admin)",
    ):
        row = re.search(rf"^  {re.escape(label)} +(\S+)", text, re.MULTILINE)
        assert row, label
        assert row.group(1).isdigit(), f"{label}: {row.group(1)}"


def test_the_ratio_table_has_a_row_per_list(db):
    text = run(
        "--requests",
        "1",
        "--skip",
        "queries",
        "--skip",
        "latency",
        "--skip",
        "throughput",
        "--skip",
        "fanout",
    )
    for label in ("task forces", "objectives", "tasks", "updates", "role assignments"):
        assert re.search(rf"^  {label} +[0-9.]+ +[0-9.]+ +[0-9.]+×", text, re.MULTILINE), label


def test_without_a_broker_the_fan_out_is_skipped_with_a_reason(db, settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.delenv("REDIS_URL", raising=False)
    text = run(
        "--skip", "queries", "--skip", "latency", "--skip", "filtering", "--skip", "throughput"
    )
    assert "skipped: set REDIS_URL" in text


def test_bad_arguments_are_refused(db):
    with pytest.raises(CommandError, match="at least 1"):
        run("--requests", "0")
    with pytest.raises(CommandError, match="No person"):
        run("--light", "nobody@example.org")
