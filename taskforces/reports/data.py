"""The plain data every ICS report is built into, whatever it is rendered as."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from coordination.permissions.markings import Marking
from coordination.timefmt import format_date, format_moment

from ..models import OperationalPeriod, TaskForce


@dataclass(frozen=True)
class Row:
    """One line of a report, as text, with the marking of what it shows."""

    cells: tuple[str, ...]
    marking: int

    @property
    def marking_label(self) -> str:
        return Marking(self.marking).label


@dataclass
class Section:
    """A heading and its rows (one group of an ICS 204, the whole list of an ICS 202)."""

    heading: str
    rows: list[Row] = field(default_factory=list)
    empty: str = "Nothing to list."
    # a section with columns of its own (the ICS 201 briefing's sections differ); None:
    # the report's
    columns: tuple[str, ...] | None = None
    weights: tuple[float, ...] | None = None


@dataclass
class Report:
    """One ICS form for one operational period, as one person may see it.

    ``marking`` is the highest marking among the rows (and the period notes) included;
    TLP:CLEAR when nothing is included. ``group_label`` names the column that carries the
    section heading in the CSV, for reports whose sections are groups.
    """

    form: str
    number: str
    title: str
    task_force: TaskForce
    # None for what is not of one period (the timeline's PDF)
    period: OperationalPeriod | None
    viewer: Any
    columns: tuple[str, ...]
    sections: list[Section]
    weights: tuple[float, ...]
    notes: str = ""
    notes_marking: int = Marking.CLEAR
    subject: str = ""
    group_label: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    generated_at: datetime.datetime = field(default_factory=timezone.now)

    @property
    def marking(self) -> Marking:
        markings = [row.marking for section in self.sections for row in section.rows]
        if self.notes:
            markings.append(self.notes_marking)
        return Marking(max(markings, default=Marking.CLEAR))

    @property
    def marking_label(self) -> str:
        return self.marking.label

    @property
    def row_count(self) -> int:
        return sum(len(section.rows) for section in self.sections)

    @property
    def heading(self) -> str:
        return f"{self.number} — {self.title}"

    @property
    def period_label(self) -> str:
        if self.period is None:
            return ""
        return f"Operational period {self.period.number}: {period_span(self.period)}"

    def csv_header(self) -> list[str]:
        group = [self.group_label] if self.group_label else []
        return [*group, *self.columns, "Marking"]

    def csv_rows(self) -> Iterator[list[str]]:
        for section in self.sections:
            group = [section.heading] if self.group_label else []
            for row in section.rows:
                yield [*group, *row.cells, Marking(row.marking).label]


def moment(value: datetime.datetime | None) -> str:
    """A date and time as printed on the reports: the one way, in the reader's time zone
    ("6 December 2026, 14:05 GMT", coordination.timefmt)."""
    return format_moment(value)


def day(value: datetime.date | None) -> str:
    """A date as printed on the reports: "6 December 2026"."""
    return format_date(value)


def period_span(period: OperationalPeriod) -> str:
    return f"{moment(period.starts_at)} – {moment(period.ends_at)}"
