"""The agency pages obey the permission core, validate their forms and keep a constant
number of queries.

Every rule is tested from both sides: the person who may (the page works and shows what
it should) and the person who may not (403 or 404, and nothing changed).
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agencies import services as agency_services
from agencies.models import Agency, Membership, SharingAgreement
from coordination.models import AuditEvent, User
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import TaskForce

from ..conftest import ACCESS_QUERIES
from ..factories import AgencyFactory, person

# One world per module (each test gets its own copy, in its own savepoint).
pytestmark = pytest.mark.usefixtures("module_world")

S = Agency.Status
R = Membership.Role

APPLICATION = {
    "name": "Coastal Fire Service",
    "acronym": "CFS",
    "level": "regional",
    "sector": "emergency_management",
    "jurisdiction": "The south coast",
    "contact_email": "contact@cfs.example.gov",
    "website": "https://cfs.example.gov",
}


def url(name: str, *args: object) -> str:
    return reverse(f"agencies:{name}", args=args)


def html(response) -> str:
    return response.content.decode()


def applicant(name: str = "Mountain Rescue Board", by: User | None = None, to: str = S.APPLIED):
    """A new application, moved on to ``to`` by the portal administrator ``by``."""
    agency = agency_services.apply_for_agency(
        name=name, level="local", sector="emergency_management", contact_email="apply@example.gov"
    )
    if to in (S.UNDER_REVIEW, S.ACTIVE):
        agency = agency_services.begin_review(agency=agency, by=by)
    if to == S.ACTIVE:
        agency = agency_services.approve_agency(agency=agency, by=by)
    return agency


def audit_actions(obj) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_type=obj._meta.label_lower, object_id=str(obj.pk)
        ).values_list("action", flat=True)
    )


def agency_state(agency: Agency) -> tuple[str, str]:
    agency.refresh_from_db()
    return agency.status, agency.status_reason


# --- sign-in -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "directory",
        "detail",
        "review-queue",
        "review",
        "status",
        "people",
        "invite",
        "agreement-new",
    ],
)
def test_pages_other_than_the_application_need_sign_in(client, world, name):
    args = () if name in ("directory", "review-queue") else (world.lead.pk,)
    response = client.get(url(name, *args))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# --- the public application --------------------------------------------------------------


def test_the_application_form_is_public_and_labels_every_field(client, db):
    response = client.get(url("apply"))
    assert response.status_code == 200
    page = html(response)
    for field in APPLICATION:
        assert f'<label for="id_{field}"' in page


def test_an_application_creates_an_applied_agency_and_an_audit_event(client, db):
    response = client.post(url("apply"), APPLICATION, follow=True)
    assert response.redirect_chain == [(url("apply-done"), 302)]
    assert "We have received the application for Coastal Fire Service" in html(response)
    agency = Agency.objects.get(name="Coastal Fire Service")
    assert agency.status == S.APPLIED
    assert agency.contact_email == "contact@cfs.example.gov"
    event = AuditEvent.objects.get(action="agency.applied", object_id=str(agency.pk))
    assert event.actor is None
    assert event.after["name"] == "Coastal Fire Service"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"level": "galactic"}, "level", "Select a valid choice."),
        ({"sector": ""}, "sector", "This field is required."),
        ({"contact_email": "not-an-address"}, "contact_email", "Enter a valid email address."),
        ({"website": "javascript:alert(1)"}, "website", "Enter a valid URL."),
        ({"acronym": "X" * 21}, "acronym", "at most 20 characters"),
    ],
)
def test_a_bad_application_shows_the_field_error_and_changes_nothing(
    client, db, changes, field, message
):
    agencies, events = Agency.objects.count(), AuditEvent.objects.count()
    response = client.post(url("apply"), {**APPLICATION, **changes})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert f'id="id_{field}_error"' in html(response)
    assert (Agency.objects.count(), AuditEvent.objects.count()) == (agencies, events)


def test_an_application_with_a_registered_name_gets_a_clear_error(client, world):
    count = Agency.objects.count()
    response = client.post(url("apply"), {**APPLICATION, "name": world.lead.name})
    assert response.status_code == 200
    assert response.context["form"].errors["name"] == [
        "An agency with this name is already registered or has already applied. "
        "If it is yours, ask its agency administrator to invite you."
    ]
    assert Agency.objects.count() == count


# --- directory ---------------------------------------------------------------------------


def test_directory_lists_what_the_person_may_see(client, world):
    admin = world.portal_admin
    waiting = applicant("Applied Authority")
    suspended = AgencyFactory(name="Suspended Service", status=S.SUSPENDED)
    own_suspended = AgencyFactory(name="Own Suspended Office", status=S.SUSPENDED)
    member = person(own_suspended)

    client.force_login(world.partner_staff)
    page = html(client.get(url("directory")))
    for agency in (world.lead, world.partner, world.outsider_agency):
        assert agency.name in page
    for hidden in (waiting, suspended, own_suspended):
        assert hidden.name not in page

    client.force_login(member)
    page = html(client.get(url("directory")))
    assert own_suspended.name in page  # their own agency, though suspended
    assert suspended.name not in page

    client.force_login(admin)
    page = html(client.get(url("directory")))
    for agency in (waiting, suspended, own_suspended, world.lead):
        assert agency.name in page


@pytest.mark.parametrize(
    ("query", "shown", "not_shown"),
    [
        ({"level": "regional"}, ["Regional Health Service"], ["National Flood Agency"]),
        ({"sector": "transport"}, ["City Transport Authority"], ["Regional Health Service"]),
        ({"q": "flood"}, ["National Flood Agency"], ["City Transport Authority"]),
        ({"q": "rhs"}, ["Regional Health Service"], ["National Flood Agency"]),
        ({"level": "national", "q": "health"}, [], ["Regional Health Service"]),
    ],
)
def test_directory_filters(client, world, query, shown, not_shown):
    client.force_login(world.outsider)
    response = client.get(url("directory"), query)
    assert response.status_code == 200
    names = [agency.name for agency in response.context["page_obj"]]
    assert names == shown


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"level": "galactic"}, "level"),
        ({"sector": "piracy"}, "sector"),
        ({"status": "asleep"}, "status"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_directory_refuses_invalid_filters_with_a_clear_message(client, world, query, field):
    client.force_login(world.outsider)
    response = client.get(url("directory"), query)
    assert response.status_code == 400
    page = html(response)
    assert "These filters are not valid" in page
    assert f'id="id_{field}_error"' in page
    assert world.lead.name not in page  # no silently unfiltered list


@pytest.mark.parametrize("page", ["abc", "0", "-1", "9999", "1.5"])
@pytest.mark.parametrize("name", ["directory", "review-queue", "people", "detail"])
def test_invalid_page_numbers_are_a_bad_request(client, world, name, page):
    client.force_login(world.portal_admin)
    args = () if name in ("directory", "review-queue") else (world.lead.pk,)
    response = client.get(url(name, *args), {"page": page})
    assert response.status_code == 400


def test_the_agency_page_refuses_invalid_page_numbers_of_each_list(client, world):
    client.force_login(world.partner_staff)
    for param in ("liaisons_page", "agreements_page"):
        assert client.get(url("detail", world.lead.pk), {param: "x"}).status_code == 400
        assert client.get(url("detail", world.lead.pk), {param: "99"}).status_code == 400


def test_directory_paginates(client, world):
    AgencyFactory.create_batch(30)
    client.force_login(world.outsider)
    first = client.get(url("directory"), {"level": "national"})
    assert len(first.context["page_obj"]) == 25
    assert "level=national&amp;page=2" in html(first)
    second = client.get(url("directory"), {"level": "national", "page": 2})
    assert second.status_code == 200
    assert len(second.context["page_obj"]) == 31 - 25  # 30 + the lead agency


# --- the agency page ---------------------------------------------------------------------


def test_agency_page_shows_participations_liaisons_and_agreements_the_viewer_may_see(client, world):
    hidden_tf = services.form_task_force(
        name="Closed-door exercise", mandate="Private.", by=world.lead_liaison
    )
    client.force_login(world.partner_staff)
    response = client.get(url("detail", world.lead.pk))
    assert response.status_code == 200
    page = html(response)
    assert world.tf.name in page
    assert reverse("taskforces:detail", args=[world.tf.pk]) in page
    assert hidden_tf.name not in page  # partner staff hold no role there
    assert world.lead_liaison.email in page
    assert world.lead_staff.email not in page  # staff are not listed to other agencies
    assert world.agreement.title in page
    assert "Why can I see this?" in page
    for link in ("people", "invite", "agreement-new", "status", "review"):
        assert url(link, world.lead.pk) not in page


def test_outsiders_see_the_agency_but_not_its_task_forces_or_agreements(client, world):
    client.force_login(world.outsider)
    page = html(client.get(url("detail", world.lead.pk)))
    assert world.lead.name in page
    assert world.lead_liaison.email in page
    assert world.tf.name not in page
    assert world.agreement.title not in page


def test_agency_admins_get_their_buttons_on_their_own_agency_only(client, world):
    client.force_login(world.lead_admin)
    page = html(client.get(url("detail", world.lead.pk)))
    for link in ("people", "invite", "agreement-new"):
        assert url(link, world.lead.pk) in page
    assert url("status", world.lead.pk) not in page
    assert reverse("agencies:agreement", args=[world.agreement.pk]) in page

    page = html(client.get(url("detail", world.partner.pk)))
    for link in ("people", "invite", "agreement-new"):
        assert url(link, world.partner.pk) not in page
    assert reverse("agencies:agreement", args=[world.agreement.pk]) in page


def test_liaison_officers_propose_for_their_own_agency_only(client, world):
    client.force_login(world.partner_liaison)
    assert url("agreement-new", world.partner.pk) in html(
        client.get(url("detail", world.partner.pk))
    )
    assert url("agreement-new", world.lead.pk) not in html(client.get(url("detail", world.lead.pk)))


def test_portal_admins_get_review_or_status_buttons(client, world):
    client.force_login(world.portal_admin)
    page = html(client.get(url("detail", world.lead.pk)))
    assert url("status", world.lead.pk) in page
    assert url("people", world.lead.pk) in page
    assert world.tf.name not in page  # portal administrators get no task force content

    waiting = applicant()
    page = html(client.get(url("detail", waiting.pk)))
    assert url("review", waiting.pk) in page
    assert url("status", waiting.pk) not in page


def test_hidden_and_missing_agencies_are_not_found(client, world):
    waiting = applicant()
    client.force_login(world.lead_staff)
    assert client.get(url("detail", waiting.pk)).status_code == 404
    assert client.get(url("detail", 999999)).status_code == 404
    client.force_login(world.portal_admin)
    assert client.get(url("detail", waiting.pk)).status_code == 200


# --- review queue and review ------------------------------------------------------------


def test_review_queue_lists_applications_oldest_first_for_portal_admins(client, world):
    first = applicant("First Applicant")
    second = applicant("Second Applicant", by=world.portal_admin, to=S.UNDER_REVIEW)
    third = applicant("Third Applicant")
    client.force_login(world.portal_admin)
    response = client.get(url("review-queue"))
    assert response.status_code == 200
    assert list(response.context["page_obj"]) == [first, second, third]
    assert world.lead.name not in html(response)


@pytest.mark.parametrize("persona", ["lead_admin", "lead_liaison", "partner_staff", "outsider"])
def test_review_queue_is_refused_to_everyone_else(client, world, persona):
    applicant()
    client.force_login(getattr(world, persona))
    response = client.get(url("review-queue"))
    assert response.status_code == 403
    assert "Only portal administrators review agency applications." in html(response)


def review(client, agency, decision: str, reason: str | None = None, follow: bool = False):
    data = {"decision": decision}
    if reason is not None:
        data[f"{decision}-reason"] = reason
    return client.post(url("review", agency.pk), data, follow=follow)


def test_review_page_offers_the_open_decisions(client, world):
    waiting = applicant()
    client.force_login(world.portal_admin)
    page = html(client.get(url("review", waiting.pk)))
    assert waiting.contact_email in page
    assert ">Begin review</button>" in page
    assert ">Reject</button>" in page
    assert ">Approve</button>" not in page
    assert '<label for="id_reject-reason" class="govuk-label' in page


def test_begin_review_then_approve(client, world):
    waiting = applicant()
    client.force_login(world.portal_admin)
    response = review(client, waiting, "begin")
    assert response.status_code == 302
    assert response["Location"] == url("review", waiting.pk)
    assert agency_state(waiting)[0] == S.UNDER_REVIEW

    response = review(client, waiting, "approve", follow=True)
    # Next, the portal administrator invites the new agency's first administrator.
    assert response.redirect_chain == [(url("invite", waiting.pk) + "?role=admin", 302)]
    assert response.context["form"]["role"].value() == R.ADMIN
    assert "is approved and now active" in html(response)
    assert agency_state(waiting)[0] == S.ACTIVE
    assert audit_actions(waiting) == ["agency.active", "agency.under_review", "agency.applied"]
    event = AuditEvent.objects.get(action="agency.active", object_id=str(waiting.pk))
    assert event.actor == world.portal_admin


@pytest.mark.parametrize(
    ("decision", "to"), [("request_changes", S.APPLIED), ("reject", S.REJECTED)]
)
def test_request_changes_and_reject_need_a_reason(client, world, decision, to):
    waiting = applicant(by=world.portal_admin, to=S.UNDER_REVIEW)
    client.force_login(world.portal_admin)
    response = review(client, waiting, decision, "   ")
    assert response.status_code == 200
    forms = {d.key: f for d, f in response.context["decisions"]}
    assert forms[decision].errors["reason"] == ["Give a reason; the agency will be told it."]
    assert set(forms) == {"approve", "request_changes", "reject"}  # all still offered
    assert agency_state(waiting) == (S.UNDER_REVIEW, "")
    assert audit_actions(waiting) == ["agency.under_review", "agency.applied"]

    response = review(client, waiting, decision, "The acronym is wrong.")
    assert response["Location"] == url("review-queue")
    assert agency_state(waiting) == (to, "The acronym is wrong.")
    event = AuditEvent.objects.filter(action=f"agency.{to}", object_id=str(waiting.pk)).first()
    assert event.after == {"status": to, "reason": "The acronym is wrong."}
    assert event.actor == world.portal_admin


def test_a_decision_that_is_not_open_is_refused_on_the_form(client, world):
    waiting = applicant()
    client.force_login(world.portal_admin)
    response = review(client, waiting, "approve")
    assert response.status_code == 200
    assert "Only an agency that is under review can be approved" in html(response)
    assert agency_state(waiting)[0] == S.APPLIED


def test_an_unknown_decision_is_a_bad_request(client, world):
    waiting = applicant()
    client.force_login(world.portal_admin)
    assert review(client, waiting, "promote").status_code == 400
    assert client.post(url("review", waiting.pk), {}).status_code == 400
    assert agency_state(waiting)[0] == S.APPLIED


@pytest.mark.parametrize("persona", ["lead_admin", "partner_liaison", "outsider"])
def test_nobody_else_may_review(client, world, persona):
    waiting = applicant(by=world.portal_admin, to=S.UNDER_REVIEW)
    client.force_login(getattr(world, persona))
    assert client.get(url("review", waiting.pk)).status_code == 404
    assert review(client, waiting, "approve").status_code == 404
    assert review(client, waiting, "reject", "No.").status_code == 404
    assert agency_state(waiting) == (S.UNDER_REVIEW, "")


# --- status: suspend, reinstate, offboard ------------------------------------------------


def change_status(client, agency, decision: str, reason: str | None = None):
    data = {"decision": decision}
    if reason is not None:
        data[f"{decision}-reason"] = reason
    return client.post(url("status", agency.pk), data)


def test_suspension_takes_the_task_force_from_the_agencys_staff_at_once(client, world):
    tf_url = reverse("taskforces:detail", args=[world.tf.pk])
    client.force_login(world.partner_staff)
    assert client.get(tf_url).status_code == 200

    client.force_login(world.portal_admin)
    page = html(client.get(url("status", world.partner.pk)))
    assert ">Suspend</button>" in page
    assert ">Offboard</button>" in page
    assert ">Reinstate</button>" not in page

    response = change_status(client, world.partner, "suspend")
    assert response.status_code == 200
    assert "Give a reason" in html(response)
    assert agency_state(world.partner)[0] == S.ACTIVE

    response = change_status(client, world.partner, "suspend", "Data breach under investigation.")
    assert response.status_code == 302
    assert agency_state(world.partner) == (S.SUSPENDED, "Data breach under investigation.")
    assert "agency.suspended" in audit_actions(world.partner)

    client.force_login(world.partner_staff)
    assert client.get(tf_url).status_code == 404
    assert not TaskForce.objects.restrict(world.partner_staff, "view").exists()

    client.force_login(world.portal_admin)
    assert change_status(client, world.partner, "reinstate").status_code == 302
    assert agency_state(world.partner)[0] == S.ACTIVE
    client.force_login(world.partner_staff)
    assert client.get(tf_url).status_code == 200


def test_offboarding_needs_a_reason_and_is_audited(client, world):
    client.force_login(world.portal_admin)
    assert change_status(client, world.outsider_agency, "offboard", "").status_code == 200
    assert agency_state(world.outsider_agency)[0] == S.ACTIVE
    response = change_status(client, world.outsider_agency, "offboard", "Merged into another body.")
    assert response["Location"] == url("detail", world.outsider_agency.pk)
    assert agency_state(world.outsider_agency) == (S.OFFBOARDED, "Merged into another body.")
    assert "agency.offboarded" in audit_actions(world.outsider_agency)
    page = html(client.get(url("status", world.outsider_agency.pk)))
    assert "No decision is open for an agency that is offboarded." in page


@pytest.mark.parametrize("persona", ["lead_admin", "partner_liaison", "partner_staff"])
def test_nobody_else_may_change_an_agencys_status(client, world, persona):
    client.force_login(getattr(world, persona))
    assert client.get(url("status", world.partner.pk)).status_code == 404
    response = change_status(client, world.partner, "suspend", "Because I can.")
    assert response.status_code == 404
    assert agency_state(world.partner) == (S.ACTIVE, "")


# --- people --------------------------------------------------------------------------------


def test_agency_admins_see_their_people_active_first(client, world):
    leaver = person(world.lead, email="aaa-leaver@nfa.example.gov", last_name="Aardvark")
    agency_services.end_membership(
        membership=leaver.memberships.get(), by=world.lead_admin, reason="Retired."
    )
    client.force_login(world.lead_admin)
    response = client.get(url("people", world.lead.pk))
    assert response.status_code == 200
    memberships = list(response.context["page_obj"])
    assert {m.user for m in memberships} == {
        world.lead_admin,
        world.lead_liaison,
        world.lead_staff,
        leaver,
    }
    assert memberships[-1].user == leaver
    page = html(response)
    assert world.partner_staff.email not in page
    assert f'<label for="role-{world.lead_staff.memberships.get().pk}"' in page


def test_portal_admins_manage_any_agencys_people(client, world):
    client.force_login(world.portal_admin)
    assert client.get(url("people", world.partner.pk)).status_code == 200
    assert client.get(url("invite", world.partner.pk)).status_code == 200


@pytest.mark.parametrize("persona", ["lead_staff", "lead_liaison", "partner_staff", "outsider"])
def test_nobody_else_opens_people_management(client, world, persona):
    client.force_login(getattr(world, persona))
    assert client.get(url("people", world.lead.pk)).status_code == 404
    assert client.get(url("invite", world.lead.pk)).status_code == 404


def test_an_agency_admin_names_a_liaison_officer(client, world):
    membership = world.lead_staff.memberships.get()
    client.force_login(world.lead_admin)
    response = client.post(url("membership-role", membership.pk), {"role": R.LIAISON})
    assert response["Location"] == url("people", world.lead.pk)
    membership.refresh_from_db()
    assert membership.role == R.LIAISON
    assert "membership.role_changed" in audit_actions(membership)


def test_an_unknown_agency_role_is_a_field_error(client, world):
    membership = world.lead_staff.memberships.get()
    client.force_login(world.lead_admin)
    response = client.post(url("membership-role", membership.pk), {"role": "emperor"})
    assert response.status_code == 200
    assert "Select a valid choice." in response.context["form"].errors["role"][0]
    membership.refresh_from_db()
    assert membership.role == R.STAFF


@pytest.mark.parametrize("persona", ["partner_liaison", "lead_staff", "outsider"])
def test_nobody_else_changes_a_members_role(client, world, persona):
    membership = world.lead_staff.memberships.get()
    client.force_login(getattr(world, persona))
    assert client.get(url("membership-role", membership.pk)).status_code == 404
    response = client.post(url("membership-role", membership.pk), {"role": R.ADMIN})
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.role == R.STAFF


def test_an_agency_admin_ends_a_membership_with_a_reason(client, world):
    membership = world.lead_staff.memberships.get()
    client.force_login(world.lead_admin)
    page = html(client.get(url("membership-end", membership.pk)))
    assert '<label for="id_reason" class="govuk-label' in page

    response = client.post(url("membership-end", membership.pk), {"reason": " "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["Give a reason."]
    membership.refresh_from_db()
    assert membership.is_active

    response = client.post(url("membership-end", membership.pk), {"reason": "Moved on."})
    assert response["Location"] == url("people", world.lead.pk)
    membership.refresh_from_db()
    assert not membership.is_active
    event = AuditEvent.objects.get(action="membership.ended", object_id=str(membership.pk))
    assert event.after["reason"] == "Moved on."

    response = client.post(url("membership-end", membership.pk), {"reason": "Again."})
    assert response.status_code == 200
    assert "This membership has already ended." in html(response)


def test_an_agency_admin_cannot_end_their_own_membership(client, world):
    own = world.lead_admin.memberships.get()
    client.force_login(world.lead_admin)
    response = client.post(url("membership-end", own.pk), {"reason": "Leaving."})
    assert response.status_code == 200
    assert "You cannot end your own membership." in html(response)
    own.refresh_from_db()
    assert own.is_active


@pytest.mark.parametrize("persona", ["partner_liaison", "lead_liaison", "outsider"])
def test_nobody_else_ends_a_membership(client, world, persona):
    membership = world.lead_staff.memberships.get()
    client.force_login(getattr(world, persona))
    assert client.get(url("membership-end", membership.pk)).status_code == 404
    response = client.post(url("membership-end", membership.pk), {"reason": "Sabotage."})
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.is_active


# --- invitations -----------------------------------------------------------------------------

INVITEE = {
    "email": "new.analyst@nfa.example.gov",
    "first_name": "Nia",
    "last_name": "Okafor",
    "job_title": "Hydrologist",
    "role": R.STAFF,
}
NEW_PASSWORD = "a-long-new-passphrase-42"


def test_an_invitation_sends_one_email_whose_link_sets_a_password(
    client, world, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(world.lead_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("invite", world.lead.pk), INVITEE)
    assert response["Location"] == url("people", world.lead.pk)
    invitee = User.objects.get(email=INVITEE["email"])
    assert not invitee.has_usable_password()
    membership = invitee.memberships.get()
    assert (membership.agency, membership.role, membership.is_active) == (
        world.lead,
        R.STAFF,
        True,
    )
    assert "membership.created" in audit_actions(membership)

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [INVITEE["email"]]
    assert world.lead.name in mail.subject
    assert world.lead.name in mail.body
    assert world.lead_admin.get_full_name() in mail.body
    assert world.tf.name not in mail.body  # no task force content in e-mail
    link = re.search(r"http://testserver(/welcome/\S+/\S+/)", mail.body).group(1)

    client.logout()
    response = client.get(link, follow=True)
    assert response.status_code == 200
    assert response.context["validlink"]
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == url("set-password-done")
    invitee.refresh_from_db()
    assert invitee.check_password(NEW_PASSWORD)

    # The link works once.
    response = client.get(link, follow=True)
    assert not response.context["validlink"]
    assert "This link no longer works" in html(response)


def test_a_weak_password_is_refused_on_the_welcome_page(
    client, world, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(world.lead_admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("invite", world.lead.pk), INVITEE)
    link = re.search(r"http://testserver(/welcome/\S+/\S+/)", mailoutbox[0].body).group(1)
    client.logout()
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "short", "new_password2": "short"})
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    assert not User.objects.get(email=INVITEE["email"]).has_usable_password()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"role": "emperor"}, "role", "Select a valid choice."),
        ({"email": "staff@rhs.example.gov"}, "email", "This person already belongs to an agency."),
    ],
)
def test_a_bad_invitation_shows_the_field_error_and_sends_nothing(
    client, world, mailoutbox, django_capture_on_commit_callbacks, changes, field, message
):
    users = User.objects.count()
    memberships = Membership.objects.count()
    client.force_login(world.lead_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("invite", world.lead.pk), {**INVITEE, **changes})
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert mailoutbox == []


@pytest.mark.parametrize("persona", ["partner_liaison", "partner_staff", "lead_staff"])
def test_nobody_else_invites_into_an_agency(
    client, world, mailoutbox, django_capture_on_commit_callbacks, persona
):
    client.force_login(getattr(world, persona))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("invite", world.lead.pk), INVITEE)
    assert response.status_code == 404
    assert not User.objects.filter(email=INVITEE["email"]).exists()
    assert mailoutbox == []


def test_the_invitation_service_builds_a_relative_link_without_a_request(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        agency_services.invite_member(agency=world.partner, by=world.portal_admin, **INVITEE)
    assert len(mailoutbox) == 1
    assert re.search(r"^/welcome/\S+/\S+/$", mailoutbox[0].body, re.MULTILINE)


def test_a_rolled_back_invitation_sends_nothing(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError, match="already belongs"),
    ):
        agency_services.invite_member(
            agency=world.partner,
            by=world.portal_admin,
            **{**INVITEE, "email": world.lead_staff.email},
        )
    assert callbacks == []
    assert mailoutbox == []


def test_a_forged_welcome_link_does_not_work(client, world):
    response = client.get("/welcome/MQ/abc-def/", follow=True)
    assert response.status_code == 200
    assert "This link no longer works" in html(response)


# --- sharing agreements ------------------------------------------------------------------------


def agreement_data(world, **changes):
    return {
        "title": "NFA–CTA road closures",
        "parties": [world.outsider_agency.pk],
        "max_marking": Marking.GREEN,
        "valid_from": "2025-01-01",
        "valid_until": "2025-12-31",
        **changes,
    }


def test_an_agency_admin_proposes_an_agreement(client, world):
    client.force_login(world.lead_admin)
    response = client.get(url("agreement-new", world.lead.pk))
    assert '<label for="id_parties" class="govuk-label' in html(response)
    choices = response.context["form"].fields["parties"].queryset
    assert set(choices) == {world.partner, world.outsider_agency}  # active, not itself
    assert "activate" not in response.context["form"].fields

    response = client.post(url("agreement-new", world.lead.pk), agreement_data(world))
    agreement = SharingAgreement.objects.get(title="NFA–CTA road closures")
    assert response["Location"] == reverse("agencies:agreement", args=[agreement.pk])
    assert set(agreement.parties.all()) == {world.lead, world.outsider_agency}
    assert agreement.status == SharingAgreement.Status.PROPOSED
    assert agreement.proposed_by_agency == world.lead
    assert list(agreement.acceptances.values_list("agency", flat=True)) == [world.lead.pk]
    assert agreement.valid_until == datetime.date(2025, 12, 31)
    assert audit_actions(agreement) == ["agreement.proposed"]


def test_an_agreement_is_in_force_only_once_the_other_party_accepts(client, world):
    outsider_admin = person(world.outsider_agency, R.ADMIN)
    client.force_login(world.lead_admin)
    client.post(url("agreement-new", world.lead.pk), agreement_data(world, activate="on"))
    agreement = SharingAgreement.objects.get(title="NFA–CTA road closures")
    assert agreement.status == SharingAgreement.Status.PROPOSED
    page_url = reverse("agencies:agreement", args=[agreement.pk])
    # the proposer cannot accept again for its own agency
    assert (
        "Accept" not in str(client.get(page_url).context["form"]["action"])
        or not (client.get(page_url).context["may"]["accept"])
    )
    client.force_login(outsider_admin)
    page = html(client.get(page_url))
    assert "Not yet" in page and world.outsider_agency.name in page
    response = client.post(page_url, {"action": "accept"})
    assert response["Location"] == page_url
    agreement.refresh_from_db()
    assert agreement.status == SharingAgreement.Status.ACTIVE
    assert audit_actions(agreement) == [  # newest first
        "agreement.in_force",
        "agreement.accepted",
        "agreement.proposed",
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"valid_until": "2024-12-31"}, "valid_until"),
        ({"parties": []}, "parties"),
        ({"parties": ["999999"]}, "parties"),
        ({"max_marking": "9"}, "max_marking"),
        ({"valid_from": "yesterday"}, "valid_from"),
        ({"title": ""}, "title"),
    ],
)
def test_a_bad_agreement_shows_the_field_error_and_changes_nothing(client, world, changes, field):
    count = SharingAgreement.objects.count()
    client.force_login(world.lead_admin)
    response = client.post(url("agreement-new", world.lead.pk), agreement_data(world, **changes))
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert SharingAgreement.objects.count() == count


def test_an_inactive_agency_cannot_be_a_party(client, world):
    suspended = AgencyFactory(status=S.SUSPENDED)
    client.force_login(world.lead_admin)
    response = client.post(
        url("agreement-new", world.lead.pk), agreement_data(world, parties=[suspended.pk])
    )
    assert response.status_code == 200
    assert response.context["form"].errors["parties"]


@pytest.mark.parametrize("persona", ["lead_staff", "outsider", "partner_liaison", "portal_admin"])
def test_nobody_else_proposes_an_agreement_for_an_agency(client, world, persona):
    count = SharingAgreement.objects.count()
    client.force_login(getattr(world, persona))
    assert client.get(url("agreement-new", world.lead.pk)).status_code == 403
    response = client.post(url("agreement-new", world.lead.pk), agreement_data(world))
    assert response.status_code == 403
    assert SharingAgreement.objects.count() == count


def test_any_party_terminates_an_agreement_with_a_reason(client, world):
    page_url = reverse("agencies:agreement", args=[world.agreement.pk])
    client.force_login(world.partner_liaison)
    assert client.get(page_url).context["may"]["terminate"]
    response = client.post(page_url, {"action": "terminate", "reason": ""})
    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    world.agreement.refresh_from_db()
    assert world.agreement.status == SharingAgreement.Status.ACTIVE

    response = client.post(page_url, {"action": "terminate", "reason": "Superseded."})
    assert response["Location"] == page_url
    world.agreement.refresh_from_db()
    assert world.agreement.status == SharingAgreement.Status.TERMINATED
    assert world.agreement.termination_reason == "Superseded."
    assert "agreement.terminated" in audit_actions(world.agreement)


@pytest.mark.parametrize("persona", ["partner_staff", "outsider", "portal_admin", "lead_staff"])
def test_nobody_else_ends_an_agreement(client, world, persona):
    page_url = reverse("agencies:agreement", args=[world.agreement.pk])
    client.force_login(getattr(world, persona))
    response = client.post(page_url, {"action": "terminate", "reason": "Because."})
    assert response.status_code in (400, 403, 404)
    world.agreement.refresh_from_db()
    assert world.agreement.status == SharingAgreement.Status.ACTIVE


# --- constant queries ----------------------------------------------------------------------------


def grow(world, n: int = 30) -> None:
    """More agencies, people, liaisons, applications, agreements and participations, so
    an N+1 on any list would show."""
    for i in range(n):
        other = AgencyFactory(level="national")
        person(world.lead, R.LIAISON if i % 3 == 0 else R.STAFF)
        applicant(f"Applicant {i}")
        agency_services.propose_agreement(
            title=f"Agreement {i}",
            parties=[world.lead, other],
            max_marking=Marking.GREEN,
            valid_from=datetime.date(2024, 1, 1),
            by=world.lead_admin,
        )
        if i % 6 == 0:
            tf = services.form_task_force(
                name=f"Extra task force {i}", mandate="More.", by=world.lead_liaison
            )
            services.invite_agency(task_force=tf, agency=world.partner, by=world.lead_liaison)


@pytest.mark.parametrize(
    ("persona", "name", "agency", "limit"),
    [
        # someone holding a role: + the critical banner's query and the access it reads
        # (taskforces/templatetags/urgency.py, issue 17)
        ("partner_staff", "directory", None, 7 + 1 + ACCESS_QUERIES),
        ("portal_admin", "directory", None, 7),
        # the agency page lists its task forces: + the person's access (tests/conftest.py)
        ("lead_liaison", "detail", "lead", 16 + ACCESS_QUERIES),
        ("partner_staff", "detail", "lead", 16 + ACCESS_QUERIES),
        ("portal_admin", "detail", "lead", 16 + ACCESS_QUERIES),
        ("portal_admin", "review-queue", None, 7),
        # + the person's access for the critical banner, which the people page does not
        # otherwise read (an agency administrator may hold roles)
        ("lead_admin", "people", "lead", 9),
        ("portal_admin", "people", "lead", 8),
    ],
)
def test_pages_keep_a_constant_number_of_queries(
    client, world, django_assert_max_num_queries, persona, name, agency, limit
):
    """The count with small data stays within ``limit`` (today's count plus a little room
    for the shared middleware), and 30 more of everything adds not one query."""
    applicant("Early Applicant")  # so no list on the page starts empty
    client.force_login(getattr(world, persona))
    target = url(name, getattr(world, agency).pk) if agency else url(name)
    with CaptureQueriesContext(connection) as small:
        assert client.get(target).status_code == 200
    assert len(small) <= limit
    grow(world)
    with django_assert_max_num_queries(len(small)):
        response = client.get(target)
        assert response.status_code == 200
    if name == "detail":
        shown = response.context["liaisons"].paginator.count
        shown += response.context["agreements"].paginator.count
    else:
        shown = response.context["page_obj"].paginator.count
    assert shown > 10  # the growth is on the page
