"""Remove audit events older than the retention period, and record that it ran."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from coordination import audit


class Command(BaseCommand):
    help = (
        "Remove audit events older than CONCORD_AUDIT_RETENTION_DAYS (at least 365) and "
        "record an 'audit.purged' event saying what was removed. --dry-run only counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count, remove nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = audit.purge_expired(dry_run=options["dry_run"])
        verb = "Would remove" if options["dry_run"] else "Removed"
        self.stdout.write(
            f"{verb} {summary['removed']} audit events older than {summary['cutoff']} "
            f"(retention {summary['retention_days']} days)."
        )
