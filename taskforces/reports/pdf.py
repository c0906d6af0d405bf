"""ICS reports as PDF (reportlab platypus). The report's marking is drawn in the header
and the footer of every page, as TLP 2.0 asks of printed material."""

from __future__ import annotations

from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from coordination.permissions.markings import Marking

from .data import Report, Section, moment

PAGE = landscape(A4)
MARGIN = 14 * mm
BAND = 9 * mm  # height of the marking band at the top and bottom of each page

# TLP 2.0 colours: the label is printed in its colour on black
TLP_COLOURS = {
    Marking.CLEAR: colors.white,
    Marking.GREEN: colors.HexColor("#33FF00"),
    Marking.AMBER: colors.HexColor("#FFC000"),
    Marking.AMBER_STRICT: colors.HexColor("#FFC000"),
    Marking.RED: colors.HexColor("#FF2B2B"),
}

_styles = getSampleStyleSheet()
TITLE = ParagraphStyle("ReportTitle", parent=_styles["Title"], alignment=TA_LEFT, fontSize=16)
HEADING = ParagraphStyle("ReportHeading", parent=_styles["Heading2"], fontSize=12, spaceBefore=8)
BODY = ParagraphStyle("ReportBody", parent=_styles["BodyText"], fontSize=9, leading=11)
CELL = ParagraphStyle("ReportCell", parent=BODY, fontSize=8, leading=10)
HEAD_CELL = ParagraphStyle("ReportHeadCell", parent=CELL, fontName="Helvetica-Bold")


def _text(value: str, style: ParagraphStyle = CELL) -> Paragraph:
    return Paragraph(escape(value).replace("\n", "<br/>"), style)


def _marking_band(canvas: Any, label: str, marking: Marking, y: float) -> None:
    width = canvas.stringWidth(label, "Helvetica-Bold", 11) + 8 * mm
    x = (PAGE[0] - width) / 2
    canvas.setFillColor(colors.black)
    canvas.rect(x, y, width, 6.5 * mm, stroke=0, fill=1)
    canvas.setFillColor(TLP_COLOURS[marking])
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawCentredString(PAGE[0] / 2, y + 2 * mm, label)


def _decorate(report: Report) -> Any:
    marking = report.marking
    label = marking.label
    period = f" · operational period {report.period.number}" if report.period else ""
    footer = (
        f"{report.number} · {report.task_force.name}{period}"
        f" · for {report.viewer} · {moment(report.generated_at)}"
    )

    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        _marking_band(canvas, label, marking, PAGE[1] - MARGIN / 2 - 6.5 * mm)
        _marking_band(canvas, label, marking, MARGIN / 2)
        canvas.setFillColor(colors.black)
        canvas.setFont("Helvetica", 7)
        canvas.drawString(MARGIN, MARGIN / 2 + 7.5 * mm, footer[:180])
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2 + 7.5 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def _table(
    report: Report, rows: list[list[Paragraph]], width: float, section: Section | None = None
) -> LongTable:
    columns = (section.columns if section else None) or report.columns
    weights = [*((section.weights if section else None) or report.weights), 1.3]
    total = sum(weights)
    widths = [width * w / total for w in weights]
    header = [_text(column, HEAD_CELL) for column in (*columns, "Marking")]
    table = LongTable([header, *rows], colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8ECF0")),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9AA5B1")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def render_pdf(report: Report) -> bytes:
    """The report as a PDF document."""
    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + BAND,
        bottomMargin=MARGIN + BAND + 4 * mm,
        title=f"{report.number} {report.title} — {report.task_force.name}",
        author="Concord",
        subject=report.marking_label,
    )
    facts = [
        ("Task force", report.task_force.name),
        *([("Period", report.period_label)] if report.period else []),
        *([("Subject", report.subject)] if report.subject else []),
        ("Prepared for", str(report.viewer)),
        ("Generated", moment(report.generated_at)),
    ]
    story: list[Any] = [
        Paragraph(escape(report.heading), TITLE),
        *(Paragraph(f"<b>{escape(name)}:</b> {escape(value)}", BODY) for name, value in facts),
        Spacer(1, 3 * mm),
    ]
    if report.notes:
        story += [
            Paragraph("Period notes", HEADING),
            _text(report.notes, BODY),
        ]
    for section in report.sections:
        heading = Paragraph(escape(section.heading), HEADING)
        if not section.rows:
            story.append(KeepTogether([heading, _text(section.empty, BODY)]))
            continue
        rows = [
            [*(_text(cell) for cell in row.cells), _text(Marking(row.marking).label)]
            for row in section.rows
        ]
        story += [heading, _table(report, rows, doc.width, section)]
    decorate = _decorate(report)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buffer.getvalue()
