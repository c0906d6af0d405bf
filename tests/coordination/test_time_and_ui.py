"""Issue 17 (part A), without a browser: one way to show time, in each reader's zone, on
pages, in e-mails, exports and reports; the settings page that chooses the zone; filters
with labelled empty choices; every form's messages in the GOV.UK error summary; the audit
trail in words; notification preferences grouped and limited to what a person can receive;
an application sent back for changes shown as such; status tags coloured by meaning."""

from __future__ import annotations

import csv
import datetime
import io
import re
import zoneinfo
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from agencies import services as agency_services
from agencies.models import Agency, SharingAgreement
from coordination import timefmt
from coordination.audit.labels import ACTION_LABELS, action_label
from coordination.models import AuditEvent, Notification, User
from coordination.permissions.markings import Marking
from coordination.web.templatetags.concord_ui import STATUS_COLOURS, priority_tag, status_tag
from taskforces import services
from taskforces.models import Objective, Participation, Task, TaskForce

pytestmark = pytest.mark.usefixtures("module_world")


ROOT = Path(__file__).resolve().parents[2]
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")


# --- the format -------------------------------------------------------------------------------


def test_one_format_for_dates_and_moments_with_the_zone() -> None:
    winter = datetime.datetime(2026, 12, 6, 14, 5, tzinfo=datetime.UTC)
    summer = datetime.datetime(2026, 7, 1, 8, 0, tzinfo=datetime.UTC)
    assert timefmt.format_moment(winter, zoneinfo.ZoneInfo("Europe/London")) == (
        "6 December 2026, 14:05 GMT"
    )
    assert timefmt.format_moment(summer, zoneinfo.ZoneInfo("Europe/London")) == (
        "1 July 2026, 09:00 BST"
    )
    assert timefmt.format_moment(winter, PARIS) == "6 December 2026, 15:05 CET"
    # a zone without an abbreviation shows its offset
    assert timefmt.format_moment(winter, zoneinfo.ZoneInfo("Asia/Dubai")) == (
        "6 December 2026, 18:05 UTC+4"
    )
    assert timefmt.format_moment(winter, zoneinfo.ZoneInfo("Asia/Kathmandu")) == (
        "6 December 2026, 19:50 UTC+05:45"
    )
    # a moment's date is the reader's date
    late = datetime.datetime(2026, 12, 6, 23, 30, tzinfo=datetime.UTC)
    assert timefmt.format_date(late, TOKYO) == "7 December 2026"
    assert timefmt.format_date(datetime.date(2026, 3, 9)) == "9 March 2026"
    assert timefmt.format_date(None) == "" and timefmt.format_moment(None) == ""


def test_the_zone_is_the_persons_then_their_agencys_then_the_portals(world, settings) -> None:
    staff = world.lead_staff
    assert str(timefmt.zone_for(staff)) == settings.TIME_ZONE == "UTC"
    Agency.objects.filter(pk=world.lead.pk).update(time_zone="Asia/Tokyo")
    assert str(timefmt.zone_for(User.objects.get(pk=staff.pk))) == "Asia/Tokyo"
    User.objects.filter(pk=staff.pk).update(time_zone="Europe/Paris")
    assert str(timefmt.zone_for(User.objects.get(pk=staff.pk))) == "Europe/Paris"
    assert str(timefmt.zone_for(world.portal_admin)) == "UTC"  # no agency
    assert timefmt.zone_names_for([staff.pk, world.portal_admin.pk, world.partner_staff.pk]) == {
        staff.pk: "Europe/Paris",
        world.portal_admin.pk: "UTC",
        world.partner_staff.pk: "UTC",
    }


def test_a_new_agency_starts_in_the_portals_zone(world) -> None:
    agency = agency_services.apply_for_agency(
        name="Coastal Rescue",
        level=Agency.Level.REGIONAL,
        sector=Agency.Sector.EMERGENCY_MANAGEMENT,
        contact_email="ops@coastal.example.gov",
    )
    assert agency.time_zone == "UTC"


# --- pages ---------------------------------------------------------------------------------


def test_pages_show_times_in_the_readers_zone(world, client) -> None:
    update = world.updates[Marking.AMBER]
    # a person who chose a zone reads it ...
    User.objects.filter(pk=world.lead_liaison.pk).update(time_zone="Europe/Paris")
    client.force_login(world.lead_liaison)
    page = client.get(reverse("taskforces:update", args=[update.pk])).content.decode()
    assert timefmt.format_moment(update.created_at, PARIS) in page
    assert re.search(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d\d:\d\d CET", page)
    assert "Times in Europe/Paris" in page
    # ... one who chose none reads their agency's, set at sign-in
    Agency.objects.filter(pk=world.lead.pk).update(time_zone="Asia/Tokyo")
    client.force_login(world.lead_staff)
    response = client.get(reverse("taskforces:update", args=[update.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert timefmt.format_moment(update.created_at, TOKYO) in page
    assert "Times in Asia/Tokyo" in page
    # the task force's dates are in the same one format
    page = client.get(reverse("taskforces:detail", args=[world.tf.pk])).content.decode()
    assert timefmt.format_date(world.tf.created_at, TOKYO) in page
    assert not re.search(r"\d{4}-\d\d-\d\d", page), "an ISO date on a page people read"


def test_the_audit_trail_shows_times_in_the_readers_zone_and_actions_in_words(world, client):
    User.objects.filter(pk=world.lead_admin.pk).update(time_zone="Australia/Sydney")
    client.force_login(world.lead_admin)
    page = client.get(reverse("audit:list")).content.decode()
    event = AuditEvent.objects.filter(
        action="assignment.created", actor_agency_label=world.lead.name
    ).first()
    assert timefmt.format_moment(event.created_at, SYDNEY) in page
    assert "Role assigned" in page
    assert "<code>assignment.created</code>" not in page
    detail = client.get(reverse("audit:detail", args=[event.pk])).content.decode()
    assert "Role assigned" in detail and "assignment.created" in detail  # the code, as recorded
    assert "(Role assignment " in detail  # the object's kind in words, not agencies.x


def test_every_audit_action_in_the_code_has_words() -> None:
    source = "\n".join(
        path.read_text()
        for package in ("coordination", "agencies", "taskforces", "mutualaid")
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )
    recorded = set(re.findall(r'action="([a-z_]+\.[a-z_.]+)"', source))
    recorded |= set(re.findall(r'_(?:password|authenticator)_event\("([a-z_]+\.[a-z_.]+)"', source))
    recorded |= {f"agency.{status}" for status in Agency.Status.values if status != "applied"}
    recorded |= {f"participation.{s}" for s in ("accepted", "declined", "withdrawn")}
    missing = sorted(recorded - set(ACTION_LABELS))
    assert not missing, f"audit actions without words in coordination/audit/labels.py: {missing}"
    assert action_label("thing.did_it") == "Thing: did it"  # a new one still reads


# --- the settings page ----------------------------------------------------------------------


def test_a_person_chooses_their_zone_on_the_settings_page(world, client) -> None:
    client.force_login(world.lead_staff)
    page = client.get(reverse("settings"))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<option value="" selected>My agency' in html
    assert '<option value="Europe/Paris">Europe/Paris</option>' in html
    response = client.post(reverse("settings"), {"time_zone": "Europe/Paris"})
    assert response.status_code == 302
    assert User.objects.get(pk=world.lead_staff.pk).time_zone == "Europe/Paris"
    event = AuditEvent.objects.get(action="account.time_zone_changed")
    assert event.after == {"time_zone": "Europe/Paris"}
    page = client.get(reverse("settings")).content.decode()
    assert "Times in Europe/Paris" in page and "Times are now shown in" in page
    # back to the agency's
    assert client.post(reverse("settings"), {"time_zone": ""}).status_code == 302
    assert User.objects.get(pk=world.lead_staff.pk).time_zone == ""


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "europe/paris", "x" * 100, "Europe/../etc"])
def test_an_unknown_zone_is_refused_and_changes_nothing(world, client, bad) -> None:
    client.force_login(world.lead_staff)
    response = client.post(reverse("settings"), {"time_zone": bad})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="govuk-error-summary"' in html
    assert 'href="#id_time_zone"' in html
    assert 'class="govuk-error-message"' in html
    assert User.objects.get(pk=world.lead_staff.pk).time_zone == ""
    assert not AuditEvent.objects.filter(action="account.time_zone_changed").exists()


def test_the_settings_page_needs_a_sign_in(client) -> None:
    response = client.get(reverse("settings"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.post(reverse("settings"), {"time_zone": "Europe/Paris"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- e-mails, exports, reports ------------------------------------------------------------------


def test_e_mails_show_times_in_the_recipients_zone(world, django_capture_on_commit_callbacks):
    User.objects.filter(pk=world.lead_staff.pk).update(time_zone="Australia/Sydney")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        update = services.post_update(
            task_force=world.tf,
            title="Levee holding",
            body="Water at 4.2 m.",
            by=world.lead_liaison,
            marking=Marking.GREEN,
        )
    note = Notification.objects.get(event__object_id=str(update.pk), recipient=world.lead_staff)
    mine = [m for m in mail.outbox if world.lead_staff.email in m.to]
    assert len(mine) == 1
    assert timefmt.format_moment(note.created_at, SYDNEY) in mine[0].body
    others = [m for m in mail.outbox if world.partner_staff.email in m.to]
    assert others and timefmt.format_moment(note.created_at, zoneinfo.ZoneInfo("UTC")) in (
        others[0].body
    )


def test_a_notifications_words_are_in_each_recipients_zone(
    world, django_capture_on_commit_callbacks
) -> None:
    """An expiring role's end is written in the notification's words: each recipient (the
    holder, their liaison officer) reads it in their own zone."""
    from coordination import notifications
    from taskforces.models import RoleAssignment

    User.objects.filter(pk=world.partner_staff.pk).update(time_zone="Asia/Tokyo")
    until = datetime.datetime(2027, 1, 15, 9, 0, tzinfo=datetime.UTC)
    RoleAssignment.objects.filter(pk=world.partner_staff_assignment.pk).update(ends_at=until)
    assignment = RoleAssignment.objects.get(pk=world.partner_staff_assignment.pk)
    with django_capture_on_commit_callbacks(execute=True):
        notifications.emit("assignment.expiring", assignment, key="expiring-test")
    titles = dict(
        Notification.objects.filter(kind="assignment.expiring").values_list(
            "recipient__email", "title"
        )
    )
    assert "15 January 2027, 18:00 JST" in titles[world.partner_staff.email]
    assert "15 January 2027, 09:00 UTC" in titles[world.partner_liaison.email]


def test_csv_exports_use_the_one_format_in_the_readers_zone(world, client) -> None:
    User.objects.filter(pk=world.lead_liaison.pk).update(time_zone="Europe/Paris")
    client.force_login(world.lead_liaison)
    response = client.get(reverse("taskforces:objectives-csv", args=[world.tf.pk]))
    assert response.status_code == 200
    header, *rows = list(csv.reader(io.StringIO(response.content.decode())))
    updated = header.index("Updated")
    objective = Objective.objects.get(pk=int(rows[0][0]))
    assert rows[0][updated] == timefmt.format_moment(objective.updated_at, PARIS)
    assert rows[0][updated].endswith(" CET")


def test_ics_reports_use_the_one_format_in_the_readers_zone() -> None:
    from django.utils import timezone

    from taskforces.reports import data

    moment = datetime.datetime(2026, 12, 6, 22, 30, tzinfo=datetime.UTC)
    with timezone.override(TOKYO):
        assert data.moment(moment) == "7 December 2026, 07:30 JST"
        assert data.day(datetime.date(2026, 12, 24)) == "24 December 2026"


# --- forms and filters ----------------------------------------------------------------------


def test_filters_have_labelled_empty_choices(world, client) -> None:
    client.force_login(world.lead_liaison)
    for name, args, labels in (
        ("taskforces:list", [], ["Any status"]),
        ("taskforces:tasks", [world.tf.pk], ["Any status", "Any objective"]),
        ("agencies:directory", [], ["Any level", "Any sector"]),
    ):
        html = client.get(reverse(name, args=args)).content.decode()
        assert "---------" not in html, name
        for label in labels:
            assert f'<option value="" selected>{label}</option>' in html, (name, label)
    client.force_login(world.lead_admin)
    html = client.get(reverse("audit:list")).content.decode()
    assert "---------" not in html
    assert '<option value="" selected>Any outcome</option>' in html
    assert '<option value="" selected>Any kind of object</option>' in html


def test_a_form_shows_the_error_summary_and_field_messages(world, client) -> None:
    client.force_login(world.lead_liaison)
    url = reverse("taskforces:objective-create", args=[world.tf.pk])
    page = client.get(url).content.decode()
    assert re.search(r"<form [^>]*novalidate", page)
    assert "---------" not in page
    response = client.post(url, {"title": "", "owner_agency": ""})
    html = response.content.decode()
    assert response.status_code in (200, 400)
    summary = html[html.index('class="govuk-error-summary"') :]
    assert 'href="#id_title"' in summary and 'href="#id_owner_agency"' in summary
    assert html.count('class="govuk-error-message"') >= 2
    assert "govuk-form-group--error" in html
    assert "govuk-input--error" in html and "govuk-select--error" in html
    assert not Objective.objects.filter(title="").exists()


def test_every_form_in_the_templates_is_novalidate() -> None:
    """The server's messages are the only ones: no form lets the browser show its own."""
    missing = [
        f"{path.relative_to(ROOT / 'templates')}: {tag[:80]}"
        for path in (ROOT / "templates").rglob("*.html")
        for tag in re.findall(r"<form\b[^>]*>", path.read_text())
        # the sign-out button is the one form with nothing to type
        if "novalidate" not in tag and "logout" not in tag
    ]
    assert not missing, missing


# --- notification preferences --------------------------------------------------------------------


def test_preferences_are_grouped_and_show_only_what_a_person_can_receive(world, client) -> None:
    client.force_login(world.lead_staff)
    form = client.get(reverse("notifications:preferences")).context["form"]
    staff_kinds = set(form.fields)
    assert "agency.applied" not in staff_kinds  # portal administrators' only
    assert "participation.invited" not in staff_kinds  # liaison officers' only
    assert "agreement.proposed" not in staff_kinds
    assert {"task.assigned", "update.posted", "update.critical"} <= staff_kinds
    groups = [group for group, _fields in form.grouped_fields()]
    assert groups == sorted(set(groups), key=groups.index)  # each heading once
    assert {"Tasks", "Updates", "Roles"} <= set(groups)

    client.force_login(world.lead_liaison)
    liaison_kinds = set(client.get(reverse("notifications:preferences")).context["form"].fields)
    assert {"participation.invited", "agreement.proposed", "update.ack_escalated"} <= liaison_kinds
    assert "agency.applied" not in liaison_kinds

    client.force_login(world.portal_admin)
    page = client.get(reverse("notifications:preferences"))
    admin_kinds = set(page.context["form"].fields)
    assert admin_kinds == {"agency.applied"}
    assert "Agency applications" in page.content.decode()

    # a posted choice for a kind not offered is ignored, not saved
    client.force_login(world.lead_staff)
    data = dict.fromkeys(staff_kinds, "immediate")
    data["agency.applied"] = "in_app"
    assert client.post(reverse("notifications:preferences"), data).status_code == 302
    from coordination.models import NotificationPreference

    assert not NotificationPreference.objects.filter(
        user=world.lead_staff, kind="agency.applied"
    ).exists()


# --- the review queue, status tags -----------------------------------------------------------


def test_an_application_sent_back_for_changes_is_shown_as_such(world, client) -> None:
    applicant = agency_services.apply_for_agency(
        name="Coastal Rescue",
        level=Agency.Level.REGIONAL,
        sector=Agency.Sector.EMERGENCY_MANAGEMENT,
        contact_email="ops@coastal.example.gov",
    )
    fresh = agency_services.apply_for_agency(
        name="Mountain Rescue",
        level=Agency.Level.REGIONAL,
        sector=Agency.Sector.EMERGENCY_MANAGEMENT,
        contact_email="ops@mountain.example.gov",
    )
    agency_services.begin_review(agency=applicant, by=world.portal_admin)
    agency_services.request_changes(
        agency=applicant, by=world.portal_admin, reason="Add your jurisdiction."
    )
    applicant.refresh_from_db()
    assert applicant.changes_requested and not fresh.changes_requested
    client.force_login(world.portal_admin)
    html = client.get(reverse("agencies:review-queue")).content.decode()
    row = html[html.index("Coastal Rescue") :]
    row = row[: row.index("</tr>")]
    assert "Changes requested" in row and "Add your jurisdiction." in row
    other = html[html.index("Mountain Rescue") :]
    other = other[: other.index("</tr>")]
    assert "Changes requested" not in other and ">Applied<" in other


def test_every_status_has_a_colour_that_says_what_it_means() -> None:
    for model in (TaskForce, Participation, Objective, Task, Agency, SharingAgreement):
        for value in model.Status.values:
            assert value in STATUS_COLOURS, (model.__name__, value)
    assert STATUS_COLOURS["at_risk"] != STATUS_COLOURS["on_track"]
    assert "govuk-tag--yellow" in status_tag("at_risk", "At risk")
    assert "govuk-tag--green" in status_tag("on_track", "On track")
    assert "govuk-tag--red" in status_tag("off_track", "Off track")
    assert "govuk-tag--red" in priority_tag(4, "Critical")
    assert ">Critical priority<" in priority_tag(4, "Critical")
    # escaped
    assert "<b>" not in status_tag("x", "<b>")
