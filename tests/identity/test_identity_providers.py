"""An agency's identity provider: its page (who may, who may not), what it accepts, the
test of the connection against a real provider, enabling; the password sign-in of an
agency that allows only its provider; "Continue with your agency"; sign-in requests; and
the adapter's refusals that the browser journeys do not reach."""

from __future__ import annotations

import socket

import pytest
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialLogin
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse

from agencies import services as agency_services
from agencies.identity import services
from agencies.identity.adapter import SocialAccountAdapter
from agencies.models import (
    IdentityDomain,
    IdentityProvider,
    Membership,
    SignInRequest,
)
from coordination.models import AuditEvent, User
from tests.factories import PASSWORD, AgencyFactory, UserFactory, person

pytestmark = pytest.mark.django_db

SECRET = "s3cret-never-shown-again"


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "issuer": "https://login.river.example/realms/staff",
        "client_id": "concord",
        "client_secret": SECRET,
        "domains": "river.example\nRIVER-ops.example.",
        "new_people": "request",
        "password_sign_in": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def river():
    return AgencyFactory(name="River Authority")


@pytest.fixture
def river_admin(river):
    return person(river, Membership.Role.ADMIN, email="admin@river.example")


def register(agency, by, **overrides: object) -> IdentityProvider:
    values: dict[str, object] = {
        "issuer": "https://login.example.net",
        "client_id": "concord",
        "client_secret": SECRET,
        "domains": [f"agency{agency.pk}.example"],
    }
    values.update(overrides)
    return services.save_provider(agency=agency, by=by, **values)  # type: ignore[arg-type]


def enable_untested(provider: IdentityProvider) -> IdentityProvider:
    """Mark a provider tested and enabled without reaching it (for tests of what happens
    after; the test of the connection itself is tested against a real provider below)."""
    provider.tested_issuer = provider.issuer
    provider.is_enabled = True
    provider.save()
    return provider


# --- the page: who may, who may not -----------------------------------------------------------


def test_the_agencys_administrator_registers_its_provider(client, river, river_admin):
    client.force_login(river_admin)
    url = reverse("agencies:identity-provider", args=[river.pk])
    assert client.get(url).status_code == 200
    answer = client.post(url, form_data())
    assert answer.status_code == 302
    provider = IdentityProvider.objects.get(agency=river)
    assert provider.issuer == "https://login.river.example/realms/staff"
    assert not provider.is_enabled
    assert sorted(provider.domains.values_list("domain", flat=True)) == [
        "river-ops.example",
        "river.example",
    ]
    app = provider.social_app
    assert (app.provider, app.provider_id, app.client_id, app.secret) == (
        "openid_connect",
        f"agency-{river.pk}",
        "concord",
        SECRET,
    )
    event = AuditEvent.objects.get(action="identity_provider.registered")
    assert event.actor == river_admin
    assert event.after["client_secret_changed"] is True
    assert SECRET not in str(event.after) and SECRET not in str(event.before)
    # the page never shows the secret back
    assert SECRET not in client.get(url).content.decode()


def test_saving_it_unchanged_writes_and_records_nothing(client, river, river_admin):
    client.force_login(river_admin)
    url = reverse("agencies:identity-provider", args=[river.pk])
    client.post(url, form_data())
    provider = IdentityProvider.objects.get(agency=river)
    events = AuditEvent.objects.count()
    assert client.post(url, form_data(client_secret="")).status_code == 302
    again = IdentityProvider.objects.get(agency=river)
    assert again.updated_at == provider.updated_at
    assert AuditEvent.objects.count() == events


def test_saving_again_without_a_secret_keeps_it(client, river, river_admin):
    client.force_login(river_admin)
    url = reverse("agencies:identity-provider", args=[river.pk])
    client.post(url, form_data())
    client.post(url, form_data(client_secret="", client_id="concord-2"))
    app = IdentityProvider.objects.get(agency=river).social_app
    assert (app.client_id, app.secret) == ("concord-2", SECRET)
    updated = AuditEvent.objects.get(action="identity_provider.updated")
    assert updated.before["client_id"] == "concord" and updated.after["client_id"] == "concord-2"
    assert updated.after["client_secret_changed"] is False


@pytest.mark.parametrize("who", ["staff", "liaison", "other_admin"])
def test_nobody_else_of_any_agency_sees_or_changes_the_page(client, river, river_admin, who):
    register(river, river_admin)
    other = AgencyFactory()
    visitor = {
        "staff": lambda: person(river),
        "liaison": lambda: person(river, Membership.Role.LIAISON),
        "other_admin": lambda: person(other, Membership.Role.ADMIN),
    }[who]()
    client.force_login(visitor)
    for name in ("identity-provider", "identity-provider-test", "identity-provider-enable"):
        url = reverse(f"agencies:{name}", args=[river.pk])
        assert client.get(url).status_code in (404, 405)
        assert client.post(url, form_data(enabled="1")).status_code == 404
    assert client.get(reverse("agencies:sign-in-requests", args=[river.pk])).status_code == 404
    provider = IdentityProvider.objects.get(agency=river)
    assert provider.social_app.client_id == "concord" and not provider.is_enabled


def test_a_portal_administrator_registers_it_during_onboarding(client, river):
    client.force_login(UserFactory(is_portal_admin=True))
    answer = client.post(reverse("agencies:identity-provider", args=[river.pk]), form_data())
    assert answer.status_code == 302
    assert IdentityProvider.objects.filter(agency=river).exists()


def test_the_page_reads_a_fixed_number_of_queries(
    client, river, river_admin, django_assert_max_num_queries
):
    provider = register(river, river_admin, domains=[f"d{i}.example" for i in range(30)])
    for i in range(20):
        SignInRequest.objects.create(agency=river, email=f"p{i}@d1.example")
    assert provider.domains.count() == 30
    client.force_login(river_admin)
    with django_assert_max_num_queries(16):
        assert client.get(reverse("agencies:identity-provider", args=[river.pk])).status_code == 200
    with django_assert_max_num_queries(12):
        assert client.get(reverse("agencies:sign-in-requests", args=[river.pk])).status_code == 200


def test_sign_in_and_provisioning_is_one_place(client, river, river_admin):
    """The agency's page links one "Sign-in and provisioning" page, which says where single
    sign-on stands and leads to its set-up; the set-up page leads back."""
    client.force_login(river_admin)
    agency_page = client.get(reverse("agencies:detail", args=[river.pk])).content.decode()
    hub = reverse("agencies:identity", args=[river.pk])
    setup = reverse("agencies:identity-provider", args=[river.pk])
    assert hub in agency_page and setup not in agency_page
    page = client.get(hub).content.decode()
    assert "Not set up" in page and "Set up single sign-on" in page and setup in page

    register(river, river_admin, domains=["river.example.gov"])
    page = client.get(hub).content.decode()
    assert "Disabled" in page and "river.example.gov" in page
    assert "Change, test, enable or disable your identity provider" in page
    assert reverse("agencies:sign-in-requests", args=[river.pk]) in page
    assert hub in client.get(setup).content.decode()


def test_the_sign_in_and_provisioning_page_reads_a_fixed_number_of_queries(
    client, river, river_admin, django_assert_max_num_queries
):
    register(river, river_admin, domains=["river.example.gov"])
    client.force_login(river_admin)
    hub = reverse("agencies:identity", args=[river.pk])
    with django_assert_max_num_queries(20) as small:
        assert client.get(hub).status_code == 200
    provider = IdentityProvider.objects.get(agency=river)  # more of everything it lists
    for i in range(10):
        provider.domains.create(domain=f"more{i}.example.gov")
        SignInRequest.objects.create(agency=river, email=f"p{i}@river.example.gov")
    for i in range(5):  # as many working tokens as an agency may hold
        agency_services.issue_scim_token(agency=river, name=f"Token {i}", by=river_admin)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(hub).status_code == 200


# --- what it accepts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("domains", "gmail.com", "public e-mail service"),
        ("domains", "river.example\nOutlook.com", "public e-mail service"),
        ("domains", "not a domain", "is not a domain name"),
        ("domains", "localhost", "is not a domain name"),
        ("domains", "10.0.0.1", "an address, not a domain"),
        ("domains", "", "This field is required"),
        ("issuer", "http://login.river.example", "must be an https://"),
        ("issuer", "https://login.river.example/?tenant=1", "no query"),
        ("issuer", "ftp://login.river.example", "full URL"),
        ("client_secret", "", "Enter the client secret"),
        ("client_id", "", "This field is required"),
        ("new_people", "everyone", "Select a valid choice"),
    ],
)
def test_bad_settings_are_named_and_change_nothing(
    client, river, river_admin, field, value, message
):
    client.force_login(river_admin)
    answer = client.post(
        reverse("agencies:identity-provider", args=[river.pk]), form_data(**{field: value})
    )
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert not IdentityProvider.objects.exists() and not SocialApp.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="identity_provider.").exists()


def test_a_domain_belongs_to_one_agency_only(client, river, river_admin):
    other = AgencyFactory()
    register(other, person(other, Membership.Role.ADMIN), domains=["river.example"])
    client.force_login(river_admin)
    answer = client.post(reverse("agencies:identity-provider", args=[river.pk]), form_data())
    assert answer.status_code == 400
    assert "river.example is already vouched for by another agency" in answer.content.decode()
    assert list(IdentityDomain.objects.values_list("domain", flat=True)) == ["river.example"]
    assert not IdentityProvider.objects.filter(agency=river).exists()


def test_enabling_needs_a_passing_test_of_the_current_issuer(client, river, river_admin):
    provider = register(river, river_admin)
    client.force_login(river_admin)
    url = reverse("agencies:identity-provider-enable", args=[river.pk])
    answer = client.post(url, {"enabled": "1"})
    assert answer.status_code == 400
    assert "Test the connection" in answer.content.decode()
    provider.refresh_from_db()
    assert not provider.is_enabled
    assert client.post(url, {"enabled": "maybe"}).status_code == 400


def test_changing_the_issuer_disables_the_provider_until_tested_again(river, river_admin):
    provider = enable_untested(register(river, river_admin))
    provider = register(river, river_admin, issuer="https://elsewhere.example.net")
    assert not provider.is_enabled and not provider.is_tested


# --- the connection test, against a real provider ---------------------------------------------


def test_test_connection_reaches_the_real_provider_then_enabling_works(
    client, river, river_admin, idp_a
):
    register(river, river_admin, issuer=idp_a.issuer)
    client.force_login(river_admin)
    answer = client.post(reverse("agencies:identity-provider-test", args=[river.pk]))
    assert answer.status_code == 200
    body = answer.content.decode()
    assert "The connection works" in body and f"{idp_a.issuer}/token/" in body
    answer = client.post(
        reverse("agencies:identity-provider-enable", args=[river.pk]), {"enabled": "1"}
    )
    assert answer.status_code == 302
    assert IdentityProvider.objects.get(agency=river).is_enabled
    actions = list(
        AuditEvent.objects.filter(action__startswith="identity_provider.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "identity_provider.registered",
        "identity_provider.tested",
        "identity_provider.enabled",
    ]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("where", ["closed port", "wrong issuer"])
def test_test_connection_says_clearly_what_is_wrong(client, river, river_admin, idp_a, where):
    issuer = (
        f"http://127.0.0.1:{_closed_port()}/o" if where == "closed port" else idp_a.base
    )  # the provider's base, not its issuer: no discovery document there
    register(river, river_admin, issuer=issuer)
    client.force_login(river_admin)
    answer = client.post(reverse("agencies:identity-provider-test", args=[river.pk]))
    assert answer.status_code == 502
    body = answer.content.decode()
    assert "The connection does not work" in body
    assert ("Could not reach" if where == "closed port" else "answered HTTP 404") in body
    assert not IdentityProvider.objects.get(agency=river).is_tested
    assert AuditEvent.objects.get(action="identity_provider.tested").outcome == "failure"


def test_test_connection_never_reaches_a_private_network_unless_trusted(
    client, river, river_admin, idp_a, settings
):
    """Concord's server must not be made to fetch from its own network (the database, the
    cache, a cloud's metadata service): an issuer whose host is at a private or loopback
    address is refused before anything is fetched, unless the operators trust the host."""
    register(river, river_admin, issuer=idp_a.issuer)  # http://127.0.0.1:<port>/o
    client.force_login(river_admin)
    test_url = reverse("agencies:identity-provider-test", args=[river.pk])
    settings.CONCORD_IDP_INSECURE_HOSTS = []  # as in production
    settings.CONCORD_IDP_PRIVATE_HOSTS = []
    refused = client.post(test_url)
    assert refused.status_code == 502
    body = refused.content.decode()
    assert "127.0.0.1 is at 127.0.0.1, an address of a private or local network" in body
    assert "Could not reach" not in body and "answered HTTP" not in body  # nothing fetched
    assert not IdentityProvider.objects.get(agency=river).is_tested

    settings.CONCORD_IDP_PRIVATE_HOSTS = ["127.0.0.1"]  # the operators trust it
    assert client.post(test_url).status_code == 200
    assert IdentityProvider.objects.get(agency=river).is_tested


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("10.1.2.3", True),
        ("172.16.0.9", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # a cloud's metadata service
        ("127.0.0.2", True),
        ("::1", True),
        ("fd00::1", True),
        ("0.0.0.0", True),  # noqa: S104 - an address refused, not bound
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
    ],
)
def test_private_and_local_addresses_are_recognised(settings, host, private):
    from agencies.identity.discovery import private_address

    settings.CONCORD_IDP_INSECURE_HOSTS = []
    settings.CONCORD_IDP_PRIVATE_HOSTS = []
    assert (private_address(host) is not None) is private


# --- password sign-in where the agency allows only its provider ------------------------------


@pytest.mark.parametrize("password_sign_in", [True, False])
def test_password_sign_in_follows_the_agencys_choice(client, river, river_admin, password_sign_in):
    staff = person(river, email="ops@river.example")
    enable_untested(register(river, river_admin, domains=["river.example"]))
    IdentityProvider.objects.update(password_sign_in=password_sign_in)
    answer = client.post(
        reverse("account_login"), {"login": "ops@river.example", "password": PASSWORD}
    )
    signed_in = client.session.get("_auth_user_id") == str(staff.pk)
    assert signed_in is password_sign_in
    if not password_sign_in:
        assert "signs its people in through its own identity provider" in answer.content.decode()


def test_an_address_of_another_domain_is_refused_after_its_password(client, river, river_admin):
    staff = person(river, email="ops@old-river-domain.example")
    enable_untested(register(river, river_admin, domains=["river.example"]))
    IdentityProvider.objects.update(password_sign_in=False)
    answer = client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert "signs its people in through its own identity provider" in answer.content.decode()
    # a wrong password says only that, as before: nothing about the agency's choice
    answer = client.post(reverse("account_login"), {"login": staff.email, "password": "wrong"})
    assert "identity provider" not in answer.content.decode()


def test_a_disabled_provider_refuses_no_password(client, river, river_admin):
    staff = person(river, email="ops@river.example")
    register(river, river_admin, domains=["river.example"], password_sign_in=False)
    client.post(reverse("account_login"), {"login": staff.email, "password": PASSWORD})
    assert client.session.get("_auth_user_id") == str(staff.pk)


# --- "Continue with your agency" ---------------------------------------------------------------


def test_continue_with_an_address_no_provider_vouches_for(client, river, river_admin):
    register(river, river_admin, domains=["river.example"])  # registered, not enabled
    answer = client.post(reverse("agencies:agency-sign-in"), {"login": "ops@river.example"})
    assert answer.status_code == 302
    assert answer["Location"] == reverse("account_login") + "?email=ops@river.example"
    page = client.get(answer["Location"])
    assert 'value="ops@river.example"' in page.content.decode()
    assert "does not sign its people in" in page.content.decode()


def test_continue_with_your_agency_needs_the_csrf_token(river, river_admin):
    from django.test import Client

    enable_untested(register(river, river_admin, domains=["river.example"]))
    strict = Client(enforce_csrf_checks=True)
    answer = strict.post(reverse("agencies:agency-sign-in"), {"login": "ops@river.example"})
    assert answer.status_code == 403
    strict.get(reverse("account_login"))
    token = strict.cookies["csrftoken"].value
    answer = strict.post(
        reverse("agencies:agency-sign-in"),
        {"login": "nobody@elsewhere.example"},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 302


def test_continue_with_a_bad_address(client):
    answer = client.post(reverse("agencies:agency-sign-in"), {"login": "not an address"})
    assert answer.status_code == 302 and answer["Location"] == reverse("account_login")
    assert client.get(reverse("agencies:agency-sign-in")).status_code == 405


def test_continue_with_your_agency_leads_to_its_provider(client, river, river_admin, idp_a):
    enable_untested(register(river, river_admin, issuer=idp_a.issuer, domains=["river.example"]))
    answer = client.post(reverse("agencies:agency-sign-in"), {"login": "Ops@River.example"})
    assert answer.status_code == 200
    body = answer.content.decode()
    assert f'href="{idp_a.issuer}/authorize/?' in body
    assert "login_hint=ops%40river.example" in body and "code_challenge=" in body


def test_a_provider_moved_to_a_private_address_after_its_test_is_not_reached_at_sign_in(
    client, river, river_admin, idp_a, settings
):
    """Test connection checks the provider's address once; a name can be moved to a private
    address afterwards (DNS rebinding). Every request Concord sends a provider at sign-in
    looks the host up again: the same working provider, now at an address nobody trusts,
    is not reached, and the person is told Concord could not reach their agency's sign-in
    service instead of being sent on."""
    enable_untested(register(river, river_admin, issuer=idp_a.issuer, domains=["river.example"]))
    settings.CONCORD_IDP_INSECURE_HOSTS = []  # 127.0.0.1: as if the name now led there
    settings.CONCORD_IDP_PRIVATE_HOSTS = []
    answer = client.post(reverse("agencies:agency-sign-in"), {"login": "ops@river.example"})
    assert answer.status_code == 502
    assert "could not reach River" in answer.content.decode()
    assert idp_a.issuer not in answer.content.decode()

    settings.CONCORD_IDP_PRIVATE_HOSTS = ["127.0.0.1"]  # the operators trust it again
    answer = client.post(reverse("agencies:agency-sign-in"), {"login": "ops@river.example"})
    assert f'href="{idp_a.issuer}/authorize/?' in answer.content.decode()


def test_a_provider_that_is_down_at_sign_in_is_said_so(client, river, river_admin):
    """The provider answered its test, then went down: "Continue with your agency" says
    Concord could not reach it (502), not a server error."""
    closed = "http://127.0.0.1:9/o"  # the discard port: nothing listens
    enable_untested(register(river, river_admin, issuer=closed, domains=["river.example"]))
    answer = client.post(reverse("agencies:agency-sign-in"), {"login": "ops@river.example"})
    assert answer.status_code == 502
    assert "could not reach River" in answer.content.decode()


def test_where_signing_out_sends_someone_who_signed_in_through_a_provider(
    river, river_admin, idp_a, settings
):
    """The provider's end_session_endpoint (read from its discovery document) with
    Concord's client id and the way back; nothing (Concord's sign-out alone) when the
    provider cannot be reached or is not there."""
    from agencies.identity.services import end_session_url

    provider = enable_untested(register(river, river_admin, issuer=idp_a.issuer))
    back = "http://testserver/accounts/login/"
    url = end_session_url(provider.pk, back)
    assert url is not None and url.startswith(f"{idp_a.issuer}/logout/?")
    assert f"client_id={provider.social_app.client_id}" in url
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Faccounts%2Flogin%2F" in url

    provider.issuer = "http://127.0.0.1:9/o"  # down
    provider.save(update_fields=["issuer"])
    assert end_session_url(provider.pk, back) is None
    assert end_session_url(0, back) is None  # no such provider


def test_signing_out_after_a_password_sign_in_is_concords_alone(client, river, river_admin):
    client.force_login(river_admin)
    answer = client.post(reverse("account_logout"))
    assert answer.status_code == 302 and "_auth_user_id" not in client.session


def test_the_provider_page_shows_the_sign_out_address_to_register(client, river, river_admin):
    register(river, river_admin)
    client.force_login(river_admin)
    page = client.get(reverse("agencies:identity-provider", args=[river.pk])).content.decode()
    assert "Sign-out redirect URI to register" in page
    assert "http://testserver/accounts/login/" in page


def test_every_request_to_a_provider_is_checked_where_it_goes(settings, idp_a):
    """The session allauth fetches with (``SocialAccountAdapter.get_requests_session``):
    each request, redirects included, is refused before connecting to a private address,
    and sent when the host is trusted."""
    import requests

    from agencies.identity.adapter import SocialAccountAdapter
    from agencies.identity.discovery import PrivateAddress

    settings.CONCORD_IDP_INSECURE_HOSTS = []
    settings.CONCORD_IDP_PRIVATE_HOSTS = []
    well_known = f"{idp_a.issuer}/.well-known/openid-configuration"
    with SocialAccountAdapter().get_requests_session() as session:
        for url in (well_known, "http://169.254.169.254/latest/meta-data/", "http://[::1]/"):
            with pytest.raises(PrivateAddress):
                session.get(url)
        settings.CONCORD_IDP_PRIVATE_HOSTS = ["127.0.0.1"]
        assert session.get(well_known).json()["issuer"] == idp_a.issuer
        # a trusted host's redirect to an untrusted private one is refused too
        redirect = requests.Request("GET", "http://localhost/").prepare()
        with pytest.raises(PrivateAddress):
            session.send(redirect)


def test_a_name_that_resolves_publicly_for_the_check_and_privately_for_the_connection_is_refused(
    settings, idp_a, monkeypatch
):
    """DNS rebinding: a DNS server under an attacker's control answers a public address
    when Concord checks the provider's name, then a private one when the connection looks
    it up a moment later. The connection checks the address it actually reached before
    sending anything, so the provider (here the real one, on this machine) is not reached:
    refused as any private address is, at "Test connection" and at sign-in alike."""
    import requests

    from agencies.identity.discovery import PrivateAddress, discover

    settings.CONCORD_IDP_INSECURE_HOSTS = []
    settings.CONCORD_IDP_PRIVATE_HOSTS = []
    name = "idp.rebinding.example"
    lookups: list[str] = []
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != name:
            return real(host, *args, **kwargs)
        lookups.append(host)
        # the first lookup of each round is answered publicly, the later ones locally
        return real("93.184.215.14" if len(lookups) == 1 else "127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    issuer = idp_a.issuer.replace("127.0.0.1", name)
    well_known = f"{issuer}/.well-known/openid-configuration"
    # (this provider answers only requests that name its own host, as Django's
    # ALLOWED_HOSTS has it; a service inside a network often answers any)
    as_itself = {"Host": idp_a.issuer.split("/")[2]}

    # what the rebinding would give without the connection's check: the provider answers
    lookups.append("(a round of the plain session: every lookup local)")
    plain = requests.get(well_known, headers=as_itself, timeout=10)
    assert plain.json()["issuer"] == idp_a.issuer

    lookups.clear()
    with (
        SocialAccountAdapter().get_requests_session() as session,
        pytest.raises(PrivateAddress) as refused,
    ):
        session.get(well_known, headers=as_itself)
    assert (refused.value.host, refused.value.address) == (name, "127.0.0.1")
    assert len(lookups) == 2  # the name's check, then the connection's own lookup

    lookups.clear()
    report = discover(issuer)
    assert not report.ok
    assert f"{name} is at 127.0.0.1, an address of a private or local network" in (
        " ".join(report.problems)
    )

    # a host the operators trust is reached wherever it is (its name is not checked: the
    # connection's lookup is the round's first, answered locally here)
    lookups[:] = ["(a round with a trusted name)"]
    settings.CONCORD_IDP_PRIVATE_HOSTS = [name]
    with SocialAccountAdapter().get_requests_session() as session:
        assert session.get(well_known, headers=as_itself).json()["issuer"] == idp_a.issuer


# --- sign-in requests -----------------------------------------------------------------------


def _request(agency, email: str = "new@river.example") -> SignInRequest:
    return SignInRequest.objects.create(
        agency=agency, email=email, first_name="New", last_name="Person", job_title="Analyst"
    )


def test_an_administrator_approves_a_request(client, river, river_admin):
    waiting = _request(river)
    client.force_login(river_admin)
    page = client.get(reverse("agencies:sign-in-requests", args=[river.pk]))
    assert "new@river.example" in page.content.decode()
    answer = client.post(
        reverse("agencies:sign-in-request-decide", args=[waiting.pk]), {"decision": "approve"}
    )
    assert answer.status_code == 302
    membership = Membership.objects.get(user__email="new@river.example")
    assert (membership.agency, membership.role) == (river, Membership.Role.STAFF)
    assert membership.user.job_title == "Analyst"
    waiting.refresh_from_db()
    assert (waiting.status, waiting.decided_by) == (SignInRequest.Status.APPROVED, river_admin)
    assert AuditEvent.objects.filter(action="identity.access_approved").exists()


def test_another_agencys_administrator_cannot_decide(client, river):
    waiting = _request(river)
    other = AgencyFactory()
    client.force_login(person(other, Membership.Role.ADMIN))
    answer = client.post(
        reverse("agencies:sign-in-request-decide", args=[waiting.pk]), {"decision": "approve"}
    )
    assert answer.status_code == 404
    waiting.refresh_from_db()
    assert waiting.status == SignInRequest.Status.PENDING
    assert not User.objects.filter(email="new@river.example").exists()


def test_approving_never_moves_a_person_from_another_agency(river, river_admin):
    other = AgencyFactory()
    elsewhere = person(other, email="new@river.example")
    Membership.objects.filter(user=elsewhere).update(is_active=False)
    with pytest.raises(ValidationError, match="belonged to another agency"):
        services.decide_request(request=_request(river), by=river_admin, approve=True)
    assert not Membership.objects.filter(user=elsewhere, agency=river).exists()


# --- the adapter's refusals -------------------------------------------------------------------


def _sign_in_through(
    provider: IdentityProvider, email: str, process: str = "login", **claims: object
):
    return _signing_in(provider, email, process, **claims)[1]


def _signing_in(provider: IdentityProvider, email: str, process: str = "login", **claims: object):
    """The callback's request and the sign-in, after the adapter's checks have passed."""
    request = RequestFactory().get("/accounts/oidc/callback/")
    SessionMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type]
    request.user = AnonymousUser()
    userinfo = {"sub": f"sub-{email}", "email": email, "email_verified": True, **claims}
    account = SocialAccount(
        provider=provider.provider_id,
        uid=userinfo["sub"],
        extra_data={"userinfo": userinfo, "id_token": {"sub": userinfo["sub"], "amr": ["pwd"]}},
    )
    login = SocialLogin(account=account, user=User(email=email))
    login.state = {"process": process}
    with context.request_context(request):  # as allauth's middleware sets it
        SocialAccountAdapter().pre_social_login(request, login)
    return request, login


@pytest.mark.parametrize(
    ("whose", "reason"),
    [
        ("other agency", "other_agency"),
        ("portal administrator", "no_membership"),
        ("ended membership", "no_membership"),
    ],
)
def test_an_existing_account_outside_the_agency_is_never_linked(river, river_admin, whose, reason):
    provider = enable_untested(register(river, river_admin, domains=["river.example"]))
    email = "someone@river.example"
    if whose == "other agency":
        user = person(AgencyFactory(), email=email)
    elif whose == "portal administrator":
        user = UserFactory(email=email, is_portal_admin=True)
    else:
        user = person(river, email=email)
        Membership.objects.filter(user=user).update(is_active=False)
    with pytest.raises(ImmediateHttpResponse) as refused:
        _sign_in_through(provider, email)
    assert refused.value.response.status_code == 403
    assert not SocialAccount.objects.filter(user=user).exists()
    assert AuditEvent.objects.get(action="identity.refused").after["reason"] == reason


def test_the_same_agencys_account_is_linked(river, river_admin):
    provider = enable_untested(register(river, river_admin, domains=["river.example"]))
    staff = person(river, email="ops@river.example")
    _sign_in_through(provider, "ops@river.example")
    assert SocialAccount.objects.get(user=staff).provider == provider.provider_id
    assert AuditEvent.objects.filter(action="identity.linked").exists()


def test_a_first_sign_in_finding_its_account_just_made_is_asked_to_sign_in_again(
    river, river_admin
):
    """Two first sign-ins of one new address, the second saved after the first made the
    account (what a race leaves; raced with threads in tests/concurrency/): a 409 page
    saying to sign in again, audited, nothing more written."""
    provider = enable_untested(
        register(river, river_admin, domains=["river.example"], new_people="account")
    )
    first, second = (_signing_in(provider, "new@river.example") for _ in range(2))
    with context.request_context(first[0]):
        made = SocialAccountAdapter().save_user(*first)
    with pytest.raises(ImmediateHttpResponse) as refused, context.request_context(second[0]):
        SocialAccountAdapter().save_user(*second)
    assert refused.value.response.status_code == 409
    assert b"Sign in again through your agency" in refused.value.response.content
    assert User.objects.filter(email="new@river.example").count() == 1
    assert Membership.objects.filter(user=made).count() == 1
    assert SocialAccount.objects.filter(user=made).count() == 1
    refusal = AuditEvent.objects.get(action="identity.refused")
    assert refusal.after["reason"] == "account_just_created"


@pytest.mark.parametrize("state", ["disabled", "agency suspended"])
def test_a_provider_not_in_service_signs_nobody_in(river, river_admin, state):
    provider = enable_untested(register(river, river_admin, domains=["river.example"]))
    person(river, email="ops@river.example")
    if state == "disabled":
        IdentityProvider.objects.update(is_enabled=False)
    else:
        type(river).objects.filter(pk=river.pk).update(status="suspended")
    provider.refresh_from_db()
    with pytest.raises(ImmediateHttpResponse):
        _sign_in_through(provider, "ops@river.example")
    assert not SocialAccount.objects.exists()


def test_a_provider_is_never_connected_to_an_account_by_its_holders_choice(river, river_admin):
    provider = enable_untested(register(river, river_admin, domains=["river.example"]))
    person(river, email="ops@river.example")
    with pytest.raises(ImmediateHttpResponse):
        _sign_in_through(provider, "ops@river.example", process="connect")
    assert not SocialAccount.objects.exists()
    assert AuditEvent.objects.get(action="identity.refused").after["reason"] == "not_a_sign_in"


def test_nobody_unlinks_their_account_from_the_agencys_provider(client, river, river_admin):
    provider = enable_untested(register(river, river_admin, domains=["river.example"]))
    staff = person(river, email="ops@river.example")
    _sign_in_through(provider, "ops@river.example")
    linked = SocialAccount.objects.get(user=staff)
    client.force_login(staff)
    client.post(reverse("socialaccount_connections"), {"account": linked.pk})
    assert SocialAccount.objects.filter(pk=linked.pk).exists()


@pytest.mark.parametrize(
    ("mfa_enforced", "acr_values", "id_token", "vouched"),
    [
        (True, "", {"amr": ["pwd", "mfa"]}, True),
        (True, "", {"amr": ["HWK"]}, True),
        (True, "", {"amr": ["otp"]}, True),
        (True, "", {"amr": ["pwd"]}, False),
        (True, "", {"amr": "mfa"}, False),  # not a list: not RFC 8176
        (True, "", {}, False),
        (True, "urn:agency:loa:2 phr", {"acr": "phr"}, True),
        (True, "urn:agency:loa:2", {"acr": "urn:agency:loa:1"}, False),
        (True, "", {"acr": "phr"}, False),  # no acr values accepted
        (False, "phr", {"amr": ["mfa"], "acr": "phr"}, False),  # the agency does not trust it
    ],
)
def test_which_claims_count_as_the_second_factor(
    river, river_admin, mfa_enforced, acr_values, id_token, vouched
):
    from agencies.identity.adapter import mfa_vouched

    provider = register(river, river_admin, mfa_enforced=mfa_enforced, mfa_acr_values=acr_values)
    account = SocialAccount(
        provider=provider.provider_id, uid="1", extra_data={"id_token": id_token}
    )
    assert mfa_vouched(provider, SocialLogin(account=account)) is vouched
