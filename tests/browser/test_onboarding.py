"""An agency joins Concord, in the browser: it applies through the public form, a portal
administrator reviews and approves it and invites its administrator, who chooses a
password through the e-mailed link, signs in and invites a staff member."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from agencies.models import Agency, Membership
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-long-passphrase-for-the-river-board"
SET_PASSWORD_LINK = re.compile(r"https?://[^/\s]+(/welcome/[^/\s]+/[^/\s]+/)")


def mails_to(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if address in m.to]


def test_a_new_agency_applies_is_approved_and_its_admin_invites_staff(
    open_page, sign_in, shot
) -> None:
    portal_admin = UserFactory(email="admin@concord.example.gov", is_portal_admin=True)

    # --- the application, by someone not signed in -----------------------------------------
    applicant = open_page()
    applicant.goto("/")
    expect(applicant).to_have_url(re.compile(r"/accounts/login/"))
    applicant.get_by_role("link", name="Apply for your agency").first.click()
    expect(applicant.get_by_role("heading", level=1)).to_have_text("Apply for your agency")
    applicant.get_by_label("Agency name").fill("River Basin Authority")
    applicant.get_by_label("Acronym").fill("RBA")
    applicant.get_by_label("Level").select_option(label="Regional")
    applicant.get_by_label("Sector").select_option(label="Emergency management")
    applicant.get_by_label("Jurisdiction").fill("Lower Severn basin")
    applicant.get_by_label("Contact e-mail address").fill("contact@rba.example.gov")
    applicant.get_by_label("Website").fill("rba.example.gov")
    shot(applicant, "application-form")
    applicant.get_by_role("button", name="Send application").click()

    expect(applicant.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(applicant.get_by_role("status")).to_contain_text("River Basin Authority")
    shot(applicant, "application-received")
    agency = Agency.objects.get(name="River Basin Authority")
    assert agency.status == Agency.Status.APPLIED
    assert agency.website == "https://rba.example.gov"

    # --- the portal administrator reviews and approves it ---------------------------------
    admin = open_page()
    sign_in(admin, portal_admin.email)
    expect(admin.get_by_role("heading", level=1)).to_have_text("Dashboard")
    waiting = admin.get_by_role("region", name="Agency applications waiting")
    expect(waiting).to_contain_text("River Basin Authority")
    shot(admin, "admin-dashboard")

    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Applications").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Agency applications")
    row = admin.get_by_role("row").filter(has_text="River Basin Authority")
    expect(row).to_contain_text("contact@rba.example.gov")
    expect(row).to_contain_text("Applied")
    shot(admin, "review-queue")
    row.get_by_role("link", name="River Basin Authority").click()

    expect(admin.get_by_role("heading", level=1)).to_have_text("Application: River Basin Authority")
    shot(admin, "review-application")
    admin.get_by_role("button", name="Begin review").click()
    expect(admin.get_by_role("status")).to_contain_text("You are reviewing River Basin Authority")
    expect(admin.get_by_role("button", name="Begin review")).to_have_count(0)
    shot(admin, "review-under-way")
    admin.get_by_role("button", name="Approve").click()

    # Approving leads straight to inviting the agency's first administrator.
    expect(admin).to_have_url(re.compile(rf"/agencies/{agency.pk}/people/invite/\?role=admin$"))
    expect(admin.get_by_role("status")).to_contain_text("approved and now active")
    agency.refresh_from_db()
    assert agency.status == Agency.Status.ACTIVE
    expect(admin.get_by_label("Agency role")).to_have_value(Membership.Role.ADMIN)
    admin.get_by_label("E-mail address").fill("grace.okafor@rba.example.gov")
    admin.get_by_label("First name").fill("Grace")
    admin.get_by_label("Last name").fill("Okafor")
    admin.get_by_label("Job title").fill("Head of Resilience")
    shot(admin, "invite-agency-admin")
    admin.get_by_role("button", name="Send invitation").click()

    expect(admin.get_by_role("heading", level=1)).to_have_text("People of River Basin Authority")
    expect(admin.get_by_role("row").filter(has_text="Grace Okafor")).to_contain_text(
        "grace.okafor@rba.example.gov"
    )
    shot(admin, "people-after-admin-invited")
    invitations = mails_to("grace.okafor@rba.example.gov")
    assert len(invitations) == 1
    assert "River Basin Authority" in invitations[0].subject
    link = SET_PASSWORD_LINK.search(str(invitations[0].body))
    assert link, invitations[0].body

    # --- the new agency administrator chooses a password and signs in -----------------------
    grace = open_page()
    grace.goto(link.group(1))
    expect(grace.get_by_role("heading", level=1)).to_have_text("Choose your password")
    grace.get_by_label(re.compile(r"^New password\W*$")).fill(NEW_PASSWORD)
    grace.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    shot(grace, "set-password")
    grace.get_by_role("button", name="Set password").click()
    expect(grace.get_by_role("heading", level=1)).to_have_text("Your password is set")
    shot(grace, "password-set")
    grace.get_by_role("main").get_by_role("link", name="sign in").click()

    sign_in(grace, "grace.okafor@rba.example.gov", password=NEW_PASSWORD)
    expect(grace.get_by_role("heading", level=1)).to_have_text("Dashboard")
    shot(grace, "agency-admin-dashboard")
    grace.get_by_role("navigation", name="Main").get_by_role("link", name="My agency").click()
    expect(grace.get_by_role("heading", level=1)).to_have_text("River Basin Authority (RBA)")
    shot(grace, "agency-page")
    grace.get_by_role("link", name="Manage people").click()
    expect(grace.get_by_role("heading", level=1)).to_have_text("People of River Basin Authority")
    shot(grace, "people-page")

    # --- and invites a staff member ------------------------------------------------------
    grace.get_by_role("main").get_by_role("link", name="Invite a staff member").click()
    expect(grace.get_by_label("Agency role")).to_have_value(Membership.Role.STAFF)
    grace.get_by_label("E-mail address").fill("tom.reyes@rba.example.gov")
    grace.get_by_label("First name").fill("Tom")
    grace.get_by_label("Last name").fill("Reyes")
    grace.get_by_label("Job title").fill("Hydrologist")
    shot(grace, "invite-staff")
    grace.get_by_role("button", name="Send invitation").click()

    expect(grace.get_by_role("heading", level=1)).to_have_text("People of River Basin Authority")
    expect(grace.get_by_role("status")).to_contain_text("tom.reyes@rba.example.gov")
    staff_row = grace.get_by_role("row").filter(has_text="Tom Reyes")
    expect(staff_row).to_contain_text("Hydrologist")
    expect(staff_row.get_by_role("combobox")).to_have_value(Membership.Role.STAFF)
    shot(grace, "people-after-staff-invited")

    staff_mail = mails_to("tom.reyes@rba.example.gov")
    assert len(staff_mail) == 1
    assert "Grace Okafor" in staff_mail[0].body
    assert SET_PASSWORD_LINK.search(str(staff_mail[0].body))
    assert Membership.objects.filter(
        agency=agency, user__email="tom.reyes@rba.example.gov", role=Membership.Role.STAFF
    ).exists()
