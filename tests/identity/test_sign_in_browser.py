"""Signing in through an agency's own identity provider, in Chromium, against real OpenID
Connect providers in their own processes (conftest.py): routed by e-mail address, signed
in at the provider, back in Concord with the right agency's membership; and every way an
identity provider could reach outside its agency refused."""

from __future__ import annotations

import re

import pytest

from agencies.models import IdentityProvider, Membership, SignInRequest
from coordination.models import AuditEvent, Notification, User
from tests.browser.conftest import _fresh_cache, fresh_totp_code, give_totp  # noqa: F401
from tests.factories import AgencyFactory, person

from .conftest import IDP_PASSWORD, IdP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_for(browser, live_server):
    """A fresh browser (its own cookies) that may reach Concord and the given providers,
    nothing else."""
    contexts = []

    def make(*idps: IdP):
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(20_000)
        allowed = [re.escape(live_server.url)] + [re.escape(idp.base) for idp in idps]
        context.route(re.compile(r"^(?!(" + "|".join(allowed) + r")).*"), lambda r: r.abort())
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def through_agency(page, email: str, username: str) -> None:
    """Concord's sign-in page: the address, "Continue with your agency"; then the
    provider's own sign-in page."""
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    page.locator("#id_login").fill(email)
    page.get_by_role("button", name="Continue with your agency").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agency identity provider")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(IDP_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_first_sign_in_makes_a_staff_account_of_that_agency(
    idp_a, connect, page_for, live_server, settings
):
    from playwright.sync_api import expect

    settings.CONCORD_REQUIRE_MFA = True  # the provider's second factor counts instead
    agency = AgencyFactory(name="River Authority")
    connect(
        idp_a,
        agency,
        domains=["river.example"],
        new_people=IdentityProvider.NewPeople.ACCOUNT,
        mfa_enforced=True,
    )
    idp_a.add_person(
        "grace",
        email="Grace.Hopper@river.example",
        given_name="Grace",
        family_name="Hopper",
        job_title="Flood warden",
        amr=["pwd", "mfa"],
    )
    page = page_for(idp_a)
    through_agency(page, "grace.hopper@river.example", "grace")

    expect(page).to_have_url(live_server.url + "/")
    user = User.objects.get(email="grace.hopper@river.example")
    assert (user.first_name, user.last_name, user.job_title) == ("Grace", "Hopper", "Flood warden")
    assert not user.has_usable_password()
    membership = Membership.objects.get(user=user, is_active=True)
    assert (membership.agency, membership.role) == (agency, Membership.Role.STAFF)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"identity.account_created", "membership.created", "auth.signed_in"} <= actions


def test_new_people_wait_for_an_administrator_where_the_agency_says_so(idp_a, connect, page_for):
    from playwright.sync_api import expect

    agency = AgencyFactory(name="Coast Guard")
    admin = person(agency, Membership.Role.ADMIN)
    person(AgencyFactory(), Membership.Role.ADMIN)  # another agency's: never told
    connect(idp_a, agency, domains=["coast.example"])  # new people: a request (the default)
    idp_a.add_person("lin", email="lin@coast.example", given_name="Lin", family_name="Wu")
    page = page_for(idp_a)
    through_agency(page, "lin@coast.example", "lin")

    expect(page.get_by_role("heading", level=1)).to_have_text("Your request is with Coast Guard")
    assert not User.objects.filter(email="lin@coast.example").exists()
    request = SignInRequest.objects.get(email="lin@coast.example")
    assert (request.agency, request.status) == (agency, SignInRequest.Status.PENDING)
    # the agency's administrator is told, once, and nobody else
    told = Notification.objects.filter(kind="identity.access_requested")
    assert list(told.values_list("recipient", flat=True)) == [admin.pk]
    # signing in again refreshes the request: no second one, no second notification
    page = page_for(idp_a)
    through_agency(page, "lin@coast.example", "lin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your request is with Coast Guard")
    assert SignInRequest.objects.filter(email="lin@coast.example").count() == 1
    assert told.count() == 1


def test_a_second_agencys_provider_cannot_sign_in_an_address_of_the_first(
    idp_a, idp_b, connect, page_for
):
    from playwright.sync_api import expect

    first = AgencyFactory(name="First Agency")
    second = AgencyFactory(name="Second Agency")
    connect(idp_a, first, domains=["first.example"], new_people="account")
    connect(idp_b, second, domains=["second.example"], new_people="account")
    # the first agency's person already has an account; the second agency's provider
    # asserts that address for someone who signed in there
    victim = person(first, email="alice@first.example")
    idp_b.add_person("mallory", email="alice@first.example")

    page = page_for(idp_a, idp_b)
    through_agency(page, "mallory@second.example", "mallory")

    expect(page.get_by_role("heading", level=1)).to_have_text("Not signed in")
    expect(page.get_by_role("alert")).to_contain_text("not of a domain Second Agency vouches for")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))  # nobody is signed in
    assert list(Membership.objects.filter(user=victim).values_list("agency", flat=True)) == [
        first.pk
    ]
    assert not Membership.objects.filter(agency=second).exists()
    assert User.objects.filter(email__endswith="@second.example").count() == 0
    refusal = AuditEvent.objects.get(action="identity.refused")
    assert refusal.outcome == AuditEvent.Outcome.DENIED
    assert refusal.after == {
        "agency": second.pk,
        "email": "alice@first.example",
        "reason": "domain_not_vouched",
    }


def test_an_unverified_address_is_refused(idp_a, connect, page_for):
    from playwright.sync_api import expect

    agency = AgencyFactory(name="Health Board")
    connect(idp_a, agency, domains=["health.example"], new_people="account")
    idp_a.add_person("sam", email="sam@health.example", email_verified=False)
    page = page_for(idp_a)
    through_agency(page, "sam@health.example", "sam")

    expect(page.get_by_role("alert")).to_contain_text("did not confirm that your e-mail address")
    assert not User.objects.filter(email="sam@health.example").exists()
    assert AuditEvent.objects.get(action="identity.refused").after["reason"] == "email_not_verified"


@pytest.mark.parametrize("mfa_enforced", [True, False], ids=["idp-mfa-trusted", "not-trusted"])
def test_the_providers_second_factor_replaces_concords_only_where_the_agency_says(
    idp_a, connect, page_for, live_server, settings, mfa_enforced
):
    from playwright.sync_api import expect

    settings.CONCORD_REQUIRE_MFA = True
    agency = AgencyFactory(name="Fire Service")
    connect(idp_a, agency, domains=["fire.example"], mfa_enforced=mfa_enforced)
    staff = person(agency, email="kim@fire.example")
    secret = give_totp(staff)
    idp_a.add_person("kim", email="kim@fire.example", amr=["pwd", "hwk"])
    page = page_for(idp_a)
    through_agency(page, "kim@fire.example", "kim")

    if mfa_enforced:
        expect(page).to_have_url(live_server.url + "/")
    else:
        expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
        page.locator("#id_code").fill(fresh_totp_code(secret))
        page.get_by_role("main").get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(live_server.url + "/")
    # the existing account of the same agency was linked, not a new one made
    assert User.objects.filter(email="kim@fire.example").count() == 1
    linked = AuditEvent.objects.get(action="identity.signed_in_through_provider")
    assert linked.after["mfa_by_idp"] is mfa_enforced


def test_signing_out_ends_the_session_at_the_agencys_provider_too(
    idp_a, connect, page_for, live_server
):
    """On a shared desk, signing out of Concord must not leave the agency's provider
    signed in: the next "Continue with your agency" would pass straight through as the
    person who left. Concord's sign-out sends them to the provider's own sign-out
    (RP-Initiated Logout), which asks them to confirm and comes back to Concord's sign-in
    page; then the provider asks for credentials again."""
    from playwright.sync_api import expect

    agency = AgencyFactory(name="River Authority")
    connect(idp_a, agency, domains=["river.example"], new_people=IdentityProvider.NewPeople.ACCOUNT)
    idp_a.add_person("ada", email="ada@river.example", given_name="Ada", family_name="King")
    page = page_for(idp_a)
    through_agency(page, "ada@river.example", "ada")
    expect(page).to_have_url(live_server.url + "/")

    page.get_by_role("button", name="Sign out").first.click()
    expect(page).to_have_url(re.compile("^" + re.escape(idp_a.base)))
    page.get_by_role("button").filter(has_text=re.compile("log ?out|yes", re.I)).first.click()
    expect(page).to_have_url(live_server.url + "/accounts/login/")

    page.locator("#id_login").fill("ada@river.example")
    page.get_by_role("button", name="Continue with your agency").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Agency identity provider")
    expect(page.locator("#id_password")).to_be_visible()
