"""Report downloads and requests: the PDF prints the marking on every page (checked on the
extracted text of a report several pages long), PDF and CSV downloads are audited and
the printable page is not, every bad parameter is a 400 that names it and records
nothing, and each report costs the same number of queries however much data there is."""

from __future__ import annotations

import datetime
import io

import pytest
from django.urls import reverse
from pypdf import PdfReader

from coordination.models import AuditEvent
from coordination.permissions.markings import Marking
from taskforces import services

from ..conftest import role_named
from ..factories import person
from .helpers import csv_rows, report

GREEN, AMBER, RED = Marking.GREEN, Marking.AMBER, Marking.RED


def exports() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action__in=("export.csv", "export.pdf")).order_by("id"))


def pdf_pages(response) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages]


def many_objectives(rw, count: int = 70) -> None:
    for i in range(count):
        services.create_objective(
            task_force=rw.tf,
            title=f"Sandbag sector {i:02d} along the river embankment",
            owner_agency=rw.lead,
            contributing_agencies=[rw.partner],
            marking=GREEN,
            period=rw.period,
            by=rw.lead_liaison,
        )


def test_a_long_pdf_prints_the_marking_on_every_page(client, rw):
    many_objectives(rw)
    client.force_login(rw.lead_liaison)
    pages = pdf_pages(report(client, rw, "ics-202", format="pdf"))
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        # header and footer (the RED row itself is on one page only)
        assert text.count("TLP:RED") >= 2, f"page {number} lacks the marking"
        assert f"Page {number}" in text
    assert "Objective TLP:RED" in "".join(pages)

    client.force_login(rw.partner_staff)
    pages = pdf_pages(report(client, rw, "ics-202", format="pdf"))
    assert len(pages) >= 3
    for text in pages:
        assert text.count("TLP:AMBER") >= 2
        assert "TLP:RED" not in text and "AMBER+STRICT" not in text
    assert "Hold the levee at Tewkesbury." in pages[0]


@pytest.mark.parametrize(
    ("form", "params"),
    [
        ("ics-202", {}),
        ("ics-203", {}),
        ("ics-204", {"group": "role"}),
        ("ics-204", {"group": "agency"}),
        ("ics-214", {"person": "lead_liaison"}),
        ("ics-214", {"role": "member_role"}),
    ],
)
def test_every_form_is_a_pdf_with_its_marking_on_each_page(client, rw, form, params):
    params = {
        key: getattr(rw, value).pk if key != "group" else value for key, value in params.items()
    }
    client.force_login(rw.partner_staff)
    assert report(client, rw, form, **params).status_code == 200  # the page works too
    pages = pdf_pages(report(client, rw, form, format="pdf", **params))
    for text in pages:
        assert "TLP:RED" not in text
        assert text.count("TLP:") >= 2


def test_pdf_and_csv_downloads_are_audited_and_the_page_is_not(client, rw):
    client.force_login(rw.partner_staff)
    assert report(client, rw, "ics-202").status_code == 200
    assert exports() == []

    rows = csv_rows(report(client, rw, "ics-202", format="csv"))
    (csv_event,) = exports()
    assert csv_event.actor == rw.partner_staff
    assert (csv_event.object_type, csv_event.object_id) == ("taskforces.taskforce", str(rw.tf.pk))
    assert csv_event.after == {
        "kind": "ics-202",
        "rows": len(rows) - 1,
        "filters": {"form": "ics-202", "period": "1"},
    }

    response = report(client, rw, "ics-204", format="pdf", group="agency", agency=rw.partner.pk)
    assert response["Content-Disposition"].startswith('attachment; filename="concord-ics-204-')
    assert response["Cache-Control"] == "no-store"
    pdf_event = exports()[-1]
    assert pdf_event.action == "export.pdf"
    assert pdf_event.actor == rw.partner_staff
    assert pdf_event.object_id == str(rw.tf.pk)
    assert pdf_event.after == {
        "kind": "ics-204",
        "period": 1,
        "rows": 2,
        "marking": "TLP:AMBER",
        "filters": {
            "form": "ics-204",
            "period": "1",
            "group": "agency",
            "agency": str(rw.partner.pk),
        },
    }

    client.force_login(rw.lead_liaison)
    report(client, rw, "ics-214", format="csv", role=rw.member_role.pk)
    assert exports()[-1].after["filters"] == {
        "form": "ics-214",
        "period": "1",
        "role": str(rw.member_role.pk),
    }


def test_csv_cells_cannot_run_as_formulas(client, rw):
    services.create_objective(
        task_force=rw.tf,
        title='=HYPERLINK("http://evil.example")',
        owner_agency=rw.lead,
        marking=GREEN,
        period=rw.period,
        by=rw.lead_liaison,
    )
    client.force_login(rw.partner_staff)
    rows = csv_rows(report(client, rw, "ics-202", format="csv"))
    assert '\'=HYPERLINK("http://evil.example")' in [row[0] for row in rows]


@pytest.mark.parametrize(
    ("form", "params", "message"),
    [
        ("ics-999", {}, "There is no report form"),
        ("ics-202", {"period": ""}, "period: This field is required."),
        ("ics-202", {"period": "one"}, "period: Enter a whole number."),
        ("ics-202", {"period": "0"}, "period: Ensure this value is greater than or equal to 1."),
        ("ics-202", {"period": "99"}, "has no operational period 99"),
        ("ics-202", {"format": "docx"}, "format: Select a valid choice."),
        ("ics-202", {"format": ["pdf", "csv"]}, "format: Give this parameter once."),
        ("ics-202", {"colour": "red"}, "colour: Unknown parameter."),
        ("ics-202", {"group": "role"}, "group: ICS 202 does not take this parameter."),
        ("ics-203", {"person": "1"}, "person: ICS 203 does not take this parameter."),
        ("ics-204", {"group": "division"}, "group: Select a valid choice."),
        ("ics-204", {"role": "abc"}, "role: Enter a whole number."),
        ("ics-204", {"role": "OTHER_ROLE"}, "has no such role"),
        ("ics-204", {"group": "agency", "role": "MEMBER"}, "only when grouping by role"),
        ("ics-204", {"agency": "OUTSIDER_AGENCY"}, "never taken part"),
        ("ics-214", {}, "Choose a person or a role."),
        ("ics-214", {"person": "PARTNER", "role": "MEMBER"}, "not both"),
        ("ics-214", {"person": "OUTSIDER"}, "never held a role"),
        ("ics-214", {"person": "99999999"}, "never held a role"),
        ("ics-214", {"role": "OTHER_ROLE"}, "has no such role"),
        ("ics-214", {"person": "-3"}, "greater than or equal to 1"),
    ],
)
def test_bad_parameters_are_400_and_record_nothing(client, rw, form, params, message):
    stand_ins = {
        "OTHER_ROLE": role_named(rw.other_tf, "member").pk,
        "MEMBER": rw.member_role.pk,
        "OUTSIDER_AGENCY": rw.outsider_agency.pk,
        "PARTNER": rw.partner_staff.pk,
        "OUTSIDER": rw.outsider.pk,
    }
    params = {
        key: stand_ins.get(value, value) if isinstance(value, str) else value
        for key, value in params.items()
    }
    params.setdefault("period", "1")
    params.setdefault("format", "csv")
    client.force_login(rw.lead_liaison)
    before = AuditEvent.objects.exclude(action="access.refused").count()
    response = client.get(reverse("taskforces:report", args=[rw.tf.pk, form]), params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert AuditEvent.objects.exclude(action="access.refused").count() == before


def test_reports_need_sign_in_and_only_get(client, rw):
    url = reverse("taskforces:report", args=[rw.tf.pk, "ics-202"])
    response = client.get(url, {"period": 1})
    assert response.status_code == 302 and reverse("login") in response["Location"]
    client.force_login(rw.lead_liaison)
    assert client.post(f"{url}?period=1").status_code == 405
    assert client.head(f"{url}?period=1&format=csv").status_code == 405
    assert exports() == []


def test_reports_index_lists_forms_and_periods(client, rw):
    client.force_login(rw.partner_staff)
    page = client.get(reverse("taskforces:reports", args=[rw.tf.pk])).content.decode()
    for text in ("ICS 202", "ICS 203", "ICS 204", "ICS 214", "?period=1&amp;format=pdf"):
        assert text in page
    assert ">Current</strong>" in page
    assert str(rw.partner_staff) in page  # a person whose activity log may be chosen
    assert str(rw.outsider) not in page
    client.force_login(rw.outsider)
    assert client.get(reverse("taskforces:reports", args=[rw.tf.pk])).status_code == 404


# --- a fixed number of queries --------------------------------------------------------------------


def grow(rw, n: int = 12) -> None:
    """More of everything each report reads, so an N+1 would show."""
    analyst = role_named(rw.tf, "intelligence-analyst")
    for i in range(n):
        objective = services.create_objective(
            task_force=rw.tf,
            title=f"Extra objective {i}",
            owner_agency=rw.lead,
            contributing_agencies=[rw.partner],
            marking=GREEN if i % 2 else AMBER,
            period=rw.period,
            by=rw.lead_liaison,
        )
        helper = person(rw.lead)
        services.assign_role(role=analyst, person=helper, assigned_by=rw.lead_liaison)
        member = person(rw.partner)
        services.assign_role(role=rw.member_role, person=member, assigned_by=rw.partner_liaison)
        services.create_task(
            objective=objective,
            title=f"Extra task {i}",
            assignee=helper if i % 2 else None,
            assigned_role=None if i % 2 else rw.member_role,
            by=rw.lead_liaison,
        )
        services.post_update(
            task_force=rw.tf, title=f"Member note {i}", body="…", marking=GREEN, by=member
        )
        services.post_update(
            task_force=rw.tf, title=f"Lead note {i}", body="…", marking=AMBER, by=rw.lead_liaison
        )


REQUESTS = [
    ("ics-202", {}),
    ("ics-203", {}),
    ("ics-204", {"group": "role"}),
    ("ics-204", {"group": "agency"}),
    ("ics-214", {"person": "lead_liaison"}),
    ("ics-214", {"role": "member_role"}),
]


@pytest.mark.parametrize("viewer", ["lead_liaison", "partner_staff"])
def test_each_report_costs_the_same_queries_however_large(
    client, rw, viewer, django_assert_max_num_queries
):
    client.force_login(getattr(rw, viewer))
    requests = [
        (
            form,
            {
                key: getattr(rw, value).pk if key != "group" else value
                for key, value in params.items()
            },
            fmt,
        )
        for form, params in REQUESTS
        for fmt in ("html", "csv", "pdf")
    ]
    small = {}
    for form, params, fmt in requests:
        with django_assert_max_num_queries(40) as captured:
            response = report(client, rw, form, format=fmt, **params)
        assert response.status_code == 200
        small[(form, tuple(params.items()), fmt)] = len(captured.captured_queries)
    before = {
        "ics-202": len(csv_rows(report(client, rw, "ics-202", format="csv"))),
        "ics-214": len(
            csv_rows(report(client, rw, "ics-214", format="csv", role=rw.member_role.pk))
        ),
    }
    grow(rw)
    assert len(csv_rows(report(client, rw, "ics-202", format="csv"))) >= before["ics-202"] + 6
    assert (
        len(csv_rows(report(client, rw, "ics-214", format="csv", role=rw.member_role.pk)))
        >= before["ics-214"] + 12
    )
    for form, params, fmt in requests:
        with django_assert_max_num_queries(small[(form, tuple(params.items()), fmt)]):
            assert report(client, rw, form, format=fmt, **params).status_code == 200


def test_index_and_period_pages_cost_the_same_queries_however_large(
    client, rw, django_assert_max_num_queries
):
    client.force_login(rw.partner_staff)
    pages = [
        reverse("taskforces:reports", args=[rw.tf.pk]),
        reverse("taskforces:periods", args=[rw.tf.pk]),
        reverse("taskforces:detail", args=[rw.tf.pk]),
    ]
    small = []
    for url in pages:
        with django_assert_max_num_queries(30) as captured:
            assert client.get(url).status_code == 200
        small.append(len(captured.captured_queries))
    grow(rw)
    start = rw.next_period.ends_at
    for i in range(8):
        services.create_period(
            task_force=rw.tf,
            starts_at=start + datetime.timedelta(hours=i),
            ends_at=start + datetime.timedelta(hours=i + 1),
            by=rw.lead_liaison,
        )
    for url, count in zip(pages, small, strict=True):
        with django_assert_max_num_queries(count):
            assert client.get(url).status_code == 200
