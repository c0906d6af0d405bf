"""Writing rows in bulk: PostgreSQL ``COPY`` (or Django's ``bulk_create``), in chunks, with
progress and a count and time per table."""

import datetime
import io
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.management.base import CommandError
from django.db import connection, models
from tqdm import tqdm


def _copy_text(value: Any) -> str:
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        value = json.dumps(value)
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


class Writer:
    """Writes rows (tuples in the order of ``columns``) into a model's table: PostgreSQL
    COPY, or Django's bulk_create. Columns not named get the field's default; a column
    that has neither is refused, so a new required field cannot be silently skipped."""

    def __init__(self, *, use_copy: bool, progress: bool, chunk: int = 20_000) -> None:
        self.use_copy = use_copy
        self.progress = progress
        self.chunk = chunk
        self.counts: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)

    def write(
        self,
        model: type[models.Model],
        columns: Sequence[str],
        rows: Iterable[tuple[Any, ...]],
        *,
        total: int | None = None,
    ) -> int:
        meta = model._meta
        fields = {f.column: f for f in meta.concrete_fields}
        unknown = set(columns) - set(fields)
        if unknown:
            raise CommandError(f"{meta.db_table} has no columns {sorted(unknown)}.")
        defaults: list[tuple[str, Any]] = []
        for column, model_field in fields.items():
            if column in columns or model_field.primary_key:
                continue
            default = model_field.get_default()
            if default is None and not model_field.null:
                raise CommandError(f"seed_scale does not fill {meta.db_table}.{column}.")
            defaults.append((column, default))
        all_columns = [*columns, *(c for c, _ in defaults)]
        extra = tuple(v for _, v in defaults)
        started = time.monotonic()
        written = 0
        bar = tqdm(
            total=total,
            desc=f"{meta.db_table:<42}",
            unit=" rows",
            unit_scale=True,
            disable=not self.progress,
            leave=True,
        )
        with bar:
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row + extra if extra else row)
                if len(batch) >= self.chunk:
                    self._flush(model, all_columns, batch)
                    written += len(batch)
                    bar.update(len(batch))
                    batch = []
            if batch:
                self._flush(model, all_columns, batch)
                written += len(batch)
                bar.update(len(batch))
        self.counts[meta.db_table] += written
        self.seconds[meta.db_table] += time.monotonic() - started
        return written

    def _flush(
        self, model: type[models.Model], columns: list[str], batch: list[tuple[Any, ...]]
    ) -> None:
        if self.use_copy:
            buffer = io.StringIO()
            buffer.writelines("\t".join(map(_copy_text, row)) + "\n" for row in batch)
            buffer.seek(0)
            names = ", ".join(connection.ops.quote_name(c) for c in columns)
            table = connection.ops.quote_name(model._meta.db_table)
            with connection.cursor() as cursor:
                cursor.cursor.copy_expert(f"COPY {table} ({names}) FROM STDIN", buffer)
            return
        by_column = {f.column: f.attname for f in model._meta.concrete_fields}
        fields = [by_column[c] for c in columns]
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in batch], batch_size=2000
        )
