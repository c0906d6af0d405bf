"""Cross-site scripting: every text people write, rendered back, stays text.

A world where every user-written field — agency names, acronyms, jurisdictions and status
reasons, people's names and job titles, task force names and mandates, role names and
responsibilities, objective and task titles and descriptions, update titles and bodies,
invitation messages and declining reasons, agreement titles, API token names, and the
notifications made from them — holds a script and an attribute-breaking image, all made
through the services. Then every page of the catalogue (tests/security/pages.py) is
opened: no page holds the markup unescaped (no inline script or event handler appears in
its parsed HTML), and each field's escaped text does appear somewhere (so the field is
really rendered back, not merely absent). Query parameters reflected by the list pages are
escaped too.

E-mails are plain text (templates/notifications/email/*.txt and allauth's .txt messages,
sent without an HTML part), so no mail client renders their contents as HTML; the last
test checks that every e-mail the world sends has no HTML alternative.
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest
from django.core import mail
from django.utils.html import escape

from agencies import services as agency_services
from agencies.models import Membership
from coordination.accounts.tokens import create_token
from coordination.models import Notification
from coordination.notifications import deliver
from coordination.permissions.markings import Marking
from taskforces import services
from tests.factories import AgencyFactory, person

from .conftest import Clients, PageProblems, client_for, path_of
from .pages import PAGES, Visit, dispatch_events

pytestmark = pytest.mark.usefixtures("module_world")


RAW_MARKERS = ("<script>alert(", "<img src=x onerror", "<svg onload")


def payload(field: str) -> str:
    """Text that is harmless if escaped and runs script if not: in element content, and
    breaking out of a double-quoted attribute."""
    return f'{field} <script>alert("{field}")</script>"><img src=x onerror=alert("{field}")>'


SHORT = "<svg onload=alert()>"  # for fields of 20 characters (acronyms)


def build_xss_world(w: SimpleNamespace) -> dict[str, str]:
    """Write a payload into every user-written field of ``w`` through the services (and
    into the objects the catalogue makes on demand). Returns field → payload."""
    written: dict[str, str] = {}

    def p(field: str) -> str:
        written[field] = payload(field)
        return written[field]

    admin = w.portal_admin
    # agencies
    agency_services.update_agency(
        agency=w.partner,
        by=admin,
        name=p("partner name"),
        acronym=SHORT,
        jurisdiction=p("partner jurisdiction"),
    )
    written["partner acronym"] = SHORT
    agency_services.update_agency(agency=w.lead, by=admin, name=p("lead name"))
    w._suspended = AgencyFactory(name="Quarantine Service", acronym="QS")
    agency_services.suspend_agency(agency=w._suspended, by=admin, reason=p("suspension reason"))
    w._applied = agency_services.apply_for_agency(
        name=p("applicant name"),
        acronym=SHORT,
        level="national",
        sector="health",
        jurisdiction=p("applicant jurisdiction"),
        contact_email="apply@xss.example.gov",
    )
    agency_services.begin_review(agency=w._applied, by=admin)
    agency_services.request_changes(agency=w._applied, by=admin, reason=p("changes requested"))
    agency_services.propose_agreement(
        title=p("agreement title"),
        parties=[w.lead, w.partner],
        max_marking=Marking.GREEN,
        valid_from=datetime.date(2021, 1, 1),
        by=w.lead_admin,
    )
    # people
    newcomer = agency_services.add_member(
        agency=w.lead,
        email="xss.person@nfa.example.gov",
        first_name=p("first name"),
        last_name=p("last name"),
        job_title=p("job title"),
        by=w.lead_admin,
    ).user
    # the task force, its roles, objectives, tasks and updates
    services.update_task_force(
        task_force=w.tf, by=w.lead_liaison, name=p("task force name"), mandate=p("mandate")
    )
    role = services.create_role(
        task_force=w.tf,
        name=p("role name"),
        responsibilities=p("responsibilities"),
        capabilities=["view_taskforce"],
        by=w.lead_liaison,
    )
    services.assign_role(role=role, person=newcomer, assigned_by=w.lead_liaison)
    services.update_objective(
        objective=w.objectives[Marking.AMBER],
        by=w.lead_liaison,
        title=p("objective title"),
        description=p("objective description"),
    )
    services.update_task(
        task=w.tasks[Marking.AMBER],
        by=w.lead_liaison,
        title=p("task title"),
        description=p("task description"),
        assignee=newcomer,
    )
    w.updates[Marking.AMBER] = services.post_update(
        task_force=w.tf,
        title=p("update title"),
        body=p("update body"),
        marking=Marking.AMBER,
        requires_acknowledgement=True,
        by=w.lead_liaison,
    )
    # an invitation with a message (the respond page), and one declined with a reason
    liaison = person(w.outsider_agency, Membership.Role.LIAISON, email="liaison@cta.example.gov")
    w._invitation = SimpleNamespace(
        participation=services.invite_agency(
            task_force=w.tf, agency=w.outsider_agency, message=p("invitation"), by=w.lead_liaison
        ),
        liaison=liaison,
    )
    declining = AgencyFactory(name="Port Health Authority", acronym="PHA")
    declining_liaison = person(declining, Membership.Role.LIAISON)
    invited = services.invite_agency(task_force=w.tf, agency=declining, by=w.lead_liaison)
    services.respond_to_invitation(
        participation=invited, accept=False, reason=p("declining reason"), by=declining_liaison
    )
    # an API token's name
    w._token, _secret = create_token(owner=w.lead_staff, name=p("token name"))
    # what the notification centre shows is made from all of the above
    dispatch_events()
    return written


@pytest.fixture
def xss_world(world) -> tuple[SimpleNamespace, dict[str, str]]:
    return world, build_xss_world(world)


def rendered_pages(w: SimpleNamespace) -> dict[str, str]:
    """Every catalogue page that answers GET with HTML, as its person sees it."""
    pages: dict[str, str] = {}
    clients = Clients()
    for name, page in PAGES.items():
        if not page.get or not page.html:
            continue
        visit = page.open(w)
        response = clients(visit).get(path_of(name, visit), follow=True)
        assert response.status_code == 200, (name, response.status_code)
        pages[name] = response.content.decode()
    # pages the catalogue opens for other objects or people: a suspended agency as the
    # portal administrator sees it, and the lead liaison's notifications (a declined
    # invitation's reason is told to the lead agency)
    extra = [
        (w.portal_admin, f"/agencies/{w._suspended.pk}/"),
        (w.portal_admin, f"/agencies/{w._suspended.pk}/status/"),
        (w.lead_liaison, "/notifications/"),
    ]
    for user, path in extra:
        response = client_for(Visit(user)).get(path)
        assert response.status_code == 200, path
        pages[path] = response.content.decode()
    return pages


def test_no_page_renders_written_markup_and_every_field_is_shown_escaped(xss_world) -> None:
    w, written = xss_world
    pages = rendered_pages(w)
    unsafe = {}
    for name, html in pages.items():
        found = [m for m in RAW_MARKERS if m in html] + PageProblems.of(html)
        if found:
            unsafe[name] = found
    assert not unsafe, unsafe

    everything = "\n".join(pages.values())
    not_shown = sorted(field for field, text in written.items() if escape(text) not in everything)
    assert not_shown == [], f"fields written but never rendered back on any page: {not_shown}"


def test_the_notification_centre_shows_written_text_escaped(xss_world) -> None:
    w, written = xss_world
    assert Notification.objects.filter(recipient=w.lead_staff).exists()
    visit = PAGES["notifications:centre"].open(w)
    html = client_for(visit).get("/notifications/").content.decode()
    assert escape(written["update title"]) in html
    assert not [m for m in RAW_MARKERS if m in html]
    assert not PageProblems.of(html)


@pytest.mark.parametrize(
    ("name", "persona", "params"),
    [
        ("agencies:directory", "lead_staff", {"q": "x"}),
        ("taskforces:list", "lead_staff", {"q": "x"}),
        ("taskforces:objectives", "lead_staff", {"q": "x"}),
        ("agencies:directory", "lead_staff", {"status": "x"}),  # a 400 naming the value
        ("taskforces:list", "lead_staff", {"status": "x"}),
        ("taskforces:objectives", "lead_staff", {"priority": "x", "status": "x"}),
    ],
)
def test_reflected_query_parameters_are_escaped(world, name, persona, params) -> None:
    visit = PAGES[name].open(world)
    query = {key: payload(f"query {key}") for key in params}
    client = client_for(Visit(getattr(world, persona), visit.kwargs))
    response = client.get(path_of(name, visit), query)
    html = response.content.decode()
    assert response.status_code in (200, 400)
    assert not [m for m in RAW_MARKERS if m in html], (name, params)
    assert not PageProblems.of(html)
    assert any(escape(text) in html for text in query.values()), "the value is not shown back"


def test_a_javascript_url_is_refused_as_an_agency_website(db) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        agency_services.apply_for_agency(
            name="Script Agency",
            level="local",
            sector="health",
            contact_email="a@script.example.gov",
            website="javascript:alert(1)",
        )
    assert "website" in error.value.message_dict


def test_e_mails_are_plain_text_only(xss_world) -> None:
    _, written = xss_world
    mail.outbox.clear()
    for notification_id in Notification.objects.values_list("pk", flat=True):
        deliver(notification_id)
    assert mail.outbox, "no e-mail was sent"
    for message in mail.outbox:
        assert message.content_subtype == "plain", message.subject
        assert not getattr(message, "alternatives", []), message.subject
        assert "\n" not in message.subject and "\r" not in message.subject
    bodies = "\n".join(m.body for m in mail.outbox)
    assert written["update title"] in bodies  # as text: nothing renders it
