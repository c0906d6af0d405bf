"""The ICS 213RR (Resource Request Message) of one request, built from Concord's data for
the person asking (only the offers and commitments they may see), then rendered as a
printable page, a PDF or a CSV. Its marking is the request's: offers and commitments carry
it, so nothing on the form is marked higher."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from coordination.permissions.markings import Marking
from taskforces.reports.pdf import BODY, CELL, HEAD_CELL, HEADING, TITLE, TLP_COLOURS

from . import selectors
from .models import ResourceRequest

PAGE = landscape(A4)
MARGIN = 14 * mm


def moment(value: datetime.datetime | None) -> str:
    if value is None:
        return ""
    return timezone.localtime(value).strftime("%d %b %Y %H:%M %Z")


@dataclass
class Table:
    heading: str
    columns: tuple[str, ...]
    rows: list[list[str]] = field(default_factory=list)
    empty: str = "None."


@dataclass
class Form213RR:
    """What the form says, as plain data for the three renderings."""

    request: ResourceRequest
    viewer: Any
    generated_at: datetime.datetime
    facts: list[tuple[str, str]]
    tables: list[Table]

    @property
    def marking(self) -> Marking:
        return Marking(self.request.marking)

    @property
    def title(self) -> str:
        return (
            f"ICS 213RR Resource Request {self.request.reference} — {self.request.task_force.name}"
        )


def build(request: ResourceRequest, viewer: Any) -> Form213RR:
    """The form for ``viewer`` (who may see ``request``; the caller checked)."""
    kind = request.kind
    requested_by = request.requested_by
    offers = list(selectors.visible_offers(viewer, request))
    commitments = list(selectors.visible_commitments(viewer, request))
    sources = selectors.providers(request.task_force, request.kind_id) if kind else []
    committed = sum(c.quantity for c in commitments if c.counts)
    facts = [
        ("1. Incident name", request.task_force.name),
        ("2. Date and time of request", moment(request.created_at)),
        ("3. Resource request number", request.reference),
        ("4. Quantity", str(request.quantity)),
        ("4. Kind", kind.name if kind else "—"),
        ("4. Type", (kind.nims_type or "—") if kind else "—"),
        ("4. Category", kind.get_category_display() if kind else "—"),
        ("4. Detailed item description", request.description or "—"),
        ("4. Requested arrival (needed by)", moment(request.needed_by)),
        ("5. Requested delivery / reporting location", request.location),
        (
            "6. Suitable substitutes and/or suggested sources",
            "; ".join(f"{c.agency.name} ({c.typical_quantity or '?'})" for c in sources) or "—",
        ),
        (
            "7. Requested by",
            f"{requested_by.get_full_name() or requested_by.email if requested_by else '—'}, "
            f"{request.requesting_agency.name}",
        ),
        ("8. Priority", request.get_priority_display()),
        ("Justification", request.justification),
        ("Addressed to", selectors.addressed_names(request)),
        ("Status", request.get_status_display()),
        ("Committed (of those you may see)", f"{committed} of {request.quantity}"),
    ]
    if request.status == ResourceRequest.Status.CANCELLED:
        facts.append(("Cancelled", f"{moment(request.cancelled_at)}: {request.cancel_reason}"))
    offer_table = Table(
        "Offers (suppliers)",
        ("Agency", "What", "Qty", "Available from", "Conditions", "Status", "Decided by"),
        empty="No offers you may see.",
    )
    for o in offers:
        offer_table.rows.append(
            [
                o.agency.name,
                o.description,
                str(o.quantity),
                moment(o.available_from),
                o.conditions,
                o.get_status_display() + (f": {o.reason}" if o.reason else ""),
                f"{o.decided_by} {moment(o.decided_at)}" if o.decided_by else "",
            ]
        )
    commitment_table = Table(
        "12–13. Commitments and their tracking",
        ("Agency", "Qty", "Status", "History (who, when)"),
        empty="Nothing committed yet.",
    )
    for c in commitments:
        history = "; ".join(
            f"{ch.get_to_status_display()} by {ch.by or '—'}"
            f"{f' ({ch.by_agency.name})' if ch.by_agency else ''} {moment(ch.at)}"
            f"{f' — {ch.note}' if ch.note else ''}"
            for ch in c.changes.all()
        )
        commitment_table.rows.append(
            [c.agency.name, str(c.quantity), c.get_status_display(), history]
        )
    return Form213RR(
        request=request,
        viewer=viewer,
        generated_at=timezone.now(),
        facts=facts,
        tables=[offer_table, commitment_table],
    )


# --- CSV ------------------------------------------------------------------------------------


CSV_HEADER = ("Section", "Field", "Value", "Marking")


def csv_rows(form: Form213RR) -> list[list[str]]:
    """One row per fact, then one per table row (its columns joined as field: value)."""
    label = form.marking.label
    rows = [["Request", name, value, label] for name, value in form.facts]
    for table in form.tables:
        for row in table.rows:
            rows.append(
                [
                    table.heading,
                    row[0],
                    "; ".join(f"{c}: {v}" for c, v in zip(table.columns[1:], row[1:], strict=True)),
                    label,
                ]
            )
    return rows


# --- PDF ------------------------------------------------------------------------------------


def _p(text: str, style: Any = CELL) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _band(canvas: Any, marking: Marking, y: float) -> None:
    label = marking.label
    width = canvas.stringWidth(label, "Helvetica-Bold", 11) + 8 * mm
    canvas.setFillColor(colors.black)
    canvas.rect((PAGE[0] - width) / 2, y, width, 6.5 * mm, stroke=0, fill=1)
    canvas.setFillColor(TLP_COLOURS[marking])
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawCentredString(PAGE[0] / 2, y + 2 * mm, label)


def render_pdf(form: Form213RR) -> bytes:
    """The form as a PDF, its marking in a band at the top and bottom of every page."""
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + 9 * mm,
        bottomMargin=MARGIN + 13 * mm,
        title=form.title,
        author="Concord",
        subject=form.marking.label,
    )
    footer = f"{form.request.reference} · for {form.viewer} · {moment(form.generated_at)}"

    def decorate(canvas: Any, document: Any) -> None:
        canvas.saveState()
        _band(canvas, form.marking, PAGE[1] - MARGIN / 2 - 6.5 * mm)
        _band(canvas, form.marking, MARGIN / 2)
        canvas.setFillColor(colors.black)
        canvas.setFont("Helvetica", 7)
        canvas.drawString(MARGIN, MARGIN / 2 + 7.5 * mm, footer[:180])
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2 + 7.5 * mm, f"Page {document.page}")
        canvas.restoreState()

    style = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9AA5B1")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#E8ECF0")),
        ]
    )
    facts = LongTable(
        [[_p(name, HEAD_CELL), _p(value)] for name, value in form.facts],
        colWidths=[doc.width * 0.3, doc.width * 0.7],
    )
    facts.setStyle(style)
    story: list[Any] = [Paragraph(escape(form.title), TITLE), facts, Spacer(1, 4 * mm)]
    for table in form.tables:
        story.append(Paragraph(escape(table.heading), HEADING))
        if not table.rows:
            story.append(_p(table.empty, BODY))
            continue
        grid = LongTable(
            [[_p(c, HEAD_CELL) for c in table.columns], *[[_p(v) for v in r] for r in table.rows]],
            repeatRows=1,
        )
        grid.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9AA5B1")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8ECF0")),
                ]
            )
        )
        story.append(grid)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
