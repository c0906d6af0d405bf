"""CSV downloads of what a person can see, each one written to the audit trail.

Every export goes through ``csv_response``: the caller passes rows it has already
filtered through the permission core; this module writes them safely (cells that a
spreadsheet would run as a formula are neutralised) and records who exported what, with
which filters and how many rows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.text import slugify

from coordination import audit

# A leading =, +, -, @ (or tab/carriage return) makes Excel and LibreOffice evaluate the
# cell as a formula (CSV injection); such values are prefixed with a quote.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """One value as CSV text a spreadsheet will show, never evaluate."""
    if value is None:
        return ""
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_response(
    *,
    actor: Any,
    kind: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    filters: Mapping[str, Any] | None = None,
    scope: Any = None,
    filename: str | None = None,
) -> HttpResponse:
    """A CSV attachment of ``rows`` under ``header``, and an ``export.csv`` audit event.

    ``kind`` names the list ("objectives", "audit-events", ...); ``filters`` are the
    query parameters that shaped it (recorded as given); ``scope`` is the object the list
    belongs to (a task force), if any.
    """
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    name = filename or f"concord-{slugify(kind)}-{stamp}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        count += 1
    audit.record(
        actor=actor,
        action="export.csv",
        obj=scope,
        after={
            "kind": kind,
            "rows": count,
            "filters": {key: str(value) for key, value in (filters or {}).items()},
        },
    )
    return response
