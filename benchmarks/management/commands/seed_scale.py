"""``manage.py seed_scale``: a national federation's worth of data, in bulk, for measuring.

At ``--factor 1``: 2,000 agencies, 50,000 people, 10,000 task forces (9 catalogue roles
each, with their role groups and guardian rows), about 500,000 role assignments and
1,000,000 objectives, tasks and updates (plus agreements, participations, acknowledgements
and notifications). ``--factor 0.1`` and ``0.01`` make a tenth and a hundredth of it.

The rows are exactly the ones the services write (``form_task_force``, ``invite_agency``,
``respond_to_invitation``, ``assign_role``, ``create_objective``, ...), written in bulk —
PostgreSQL ``COPY`` by default (``--insert`` uses Django's ``bulk_create`` instead) — in
one transaction, so a failed run leaves nothing behind. No constraint or index is
disabled. What is *not* written: audit events and notification-outbox events (the data
did not come from people using the services; the audit trail is left as it was).

Distributions: agency sizes are heavy-tailed (a few national agencies with thousands of
people, most with a few dozen); task forces have 2 to 40 participating agencies, most of
them few; most people hold 1–5 roles and a few hold hundreds (liaison officers of big
agencies most of all). One "hub" agency takes part in many task forces, and two of its
people are made for the benchmark: one with exactly 3 current roles and one with exactly
300 (fewer at factors too small to have 100 task forces); their addresses are printed.

Run it on a fresh, migrated database (``benchmarks/run_scale.sh`` makes one per size):
it refuses to run where scale data already exists. SQLite is refused unless
``--allow-sqlite`` and the factor is at most 0.01 (the tests use that).
"""

import math
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from benchmarks.scale.data import (
    DOMAIN,
    HEAVY_EMAIL,
    LIGHT_EMAIL,
    SQLITE_MAX_FACTOR,
    scale_data_exists,
)
from benchmarks.scale.seeder import Seeder
from benchmarks.scale.writer import Writer


def parse_factor(raw: str) -> float:
    """A factor of the full data set: a number with 0 < factor <= 1."""
    try:
        value = float(raw)
    except ValueError:
        raise CommandError(f"--factor must be a number, not {raw!r}.") from None
    if not (0 < value <= 1) or math.isnan(value):
        raise CommandError(f"--factor must be more than 0 and at most 1, not {raw}.")
    return value


class Command(BaseCommand):
    help = "Seed a national federation's data set (or a factor of it) in bulk, for the scale benchmark."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--factor",
            type=parse_factor,
            default=0.01,
            help="0 < factor <= 1 of the full data set (default 0.01).",
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=7,
            help="Random seed: the same seed and factor give the same data.",
        )
        parser.add_argument(
            "--insert", action="store_true", help="Use bulk_create instead of PostgreSQL COPY."
        )
        parser.add_argument(
            "--allow-sqlite",
            action="store_true",
            help=f"Allow SQLite for factors up to {SQLITE_MAX_FACTOR}.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bars.")

    def handle(self, *args: Any, **options: Any) -> None:
        # checked again here: call_command(factor=...) does not go through the parser
        factor = parse_factor(str(options["factor"]))
        vendor = connection.vendor
        if vendor == "sqlite" and not (options["allow_sqlite"] and factor <= SQLITE_MAX_FACTOR):
            raise CommandError(
                "seed_scale needs PostgreSQL (set DATABASE_URL, e.g. "
                "postgres://postgres@127.0.0.1:5432/concord_scale); --allow-sqlite permits "
                f"SQLite only for factors up to {SQLITE_MAX_FACTOR}."
            )
        if vendor not in ("sqlite", "postgresql"):
            raise CommandError(
                f"seed_scale supports PostgreSQL (and small SQLite runs), not {vendor}."
            )
        if scale_data_exists():
            raise CommandError(
                "Scale data is already in this database (addresses ending in "
                f"{DOMAIN}). Seed a fresh database: createdb, migrate, then seed_scale."
            )
        use_copy = vendor == "postgresql" and not options["insert"]
        progress = not options["no_progress"] and options["verbosity"] > 0
        writer = Writer(use_copy=use_copy, progress=progress)
        seeder = Seeder(factor=factor, seed=options["seed"], writer=writer, out=self.stdout.write)
        started = time.monotonic()
        with transaction.atomic():
            if vendor == "postgresql":
                with connection.cursor() as cursor:  # this transaction only; durability at commit
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            seeder.run()
        written = time.monotonic() - started
        if vendor == "postgresql":
            # fresh planner statistics and a set visibility map (index-only scans), as a
            # production database has once autovacuum has been by; VACUUM cannot run
            # inside a transaction (a test's), where statistics alone are refreshed
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)")
        total = time.monotonic() - started
        self.report(seeder, writer, factor, use_copy, written, total)

    def report(
        self,
        seeder: Seeder,
        writer: Writer,
        factor: float,
        use_copy: bool,
        written: float,
        total: float,
    ) -> None:
        out = self.stdout.write
        out(
            f"Seeded factor {factor:g} with {'COPY' if use_copy else 'bulk_create'} in {written:.1f} s ({total:.1f} s with VACUUM ANALYZE)."
        )
        for table, count in sorted(writer.counts.items(), key=lambda kv: -kv[1]):
            seconds = writer.seconds[table]
            rate = count / seconds if seconds else 0
            out(f"  {table:<46} {count:>10,} rows {seconds:7.1f} s {rate:>10,.0f} rows/s")
        out(f"  {'total':<46} {sum(writer.counts.values()):>10,} rows")
        counts = sorted(seeder.role_count.values())
        if counts:
            out(
                f"Current roles per person holding any: median {counts[len(counts) // 2]}, 90th percentile {counts[int(len(counts) * 0.9)]}, most {counts[-1]}."
            )
        out(f"Person with {seeder.role_count[seeder.light]} roles: {LIGHT_EMAIL}")
        out(f"Person with {seeder.role_count[seeder.heavy]} roles: {HEAVY_EMAIL}")
