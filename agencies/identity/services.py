"""Every change to agencies' identity providers and to the sign-in requests they cause.

Registering, editing, testing, enabling and disabling a provider are for the agency's
administrators and portal administrators (the agency's ``change`` permission); each is
audited with the values before and after, never with the client secret. Accounts an
identity provider brings in are made through ``agencies.services.add_member``, like every
other membership.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from coordination import audit, notifications
from coordination.models import AuditEvent, User
from coordination.permissions import require

from .. import services as agency_services
from ..models import Agency, IdentityDomain, IdentityProvider, Membership, SignInRequest
from .discovery import DiscoveryReport, discover, fetch_discovery

PROVIDER = "openid_connect"
# What the audit trail keeps of a provider's settings: everything but the secret.
AUDITED = (
    "issuer",
    "client_id",
    "domains",
    "mfa_enforced",
    "mfa_acr_values",
    "new_people",
    "password_sign_in",
    "is_enabled",
)

# Addresses anyone can get: an identity provider vouching for one of these would vouch for
# strangers, so no agency may claim them (a government agency's people have their own
# domain). Not exhaustive; docs/identity.md says so.
PUBLIC_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "live.com",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "mail.ru",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "tutanota.com",
        "qq.com",
        "163.com",
    }
)
DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
MAX_DOMAINS = 50


def provider_id_for(agency: Agency) -> str:
    """The allauth provider id of an agency's identity provider: one per agency."""
    return f"agency-{agency.pk}"


def clean_domains(values: list[str]) -> list[str]:
    """Lower-cased, unique, well-formed e-mail domains; public mail domains refused."""
    domains: list[str] = []
    errors: list[str] = []
    for raw in values:
        domain = raw.strip().lower().rstrip(".")
        if not domain:
            continue
        if domain.startswith("@"):
            domain = domain[1:]
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            errors.append(f"{raw.strip()!r} is not a domain name.")
            continue
        labels = ascii_domain.split(".")
        if len(labels) < 2 or len(ascii_domain) > 253 or not all(map(DOMAIN_LABEL.match, labels)):
            errors.append(f"{raw.strip()!r} is not a domain name (like agency.gov).")
            continue
        if labels[-1].isdigit():
            errors.append(f"{raw.strip()!r} is an address, not a domain name.")
            continue
        if ascii_domain in PUBLIC_MAIL_DOMAINS:
            errors.append(
                f"{ascii_domain} is a public e-mail service: anyone can have an address there, "
                "so no agency's identity provider may vouch for it."
            )
            continue
        if ascii_domain not in domains:
            domains.append(ascii_domain)
    if errors:
        raise ValidationError({"domains": errors})
    if not domains:
        raise ValidationError({"domains": "Name at least one e-mail domain."})
    if len(domains) > MAX_DOMAINS:
        raise ValidationError({"domains": f"At most {MAX_DOMAINS} domains."})
    return domains


def clean_issuer(issuer: str) -> str:
    """An absolute https:// URL (http:// only for ``CONCORD_IDP_INSECURE_HOSTS``), without
    query or fragment, without a trailing slash."""
    issuer = issuer.strip()
    try:
        URLValidator(schemes=["https", "http"])(issuer)
    except ValidationError as error:
        raise ValidationError({"issuer": "Enter the issuer's full URL."}) from error
    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise ValidationError({"issuer": "An issuer URL has no query (?) or fragment (#)."})
    if parts.scheme == "http" and parts.hostname not in settings.CONCORD_IDP_INSECURE_HOSTS:
        raise ValidationError({"issuer": "The issuer must be an https:// address."})
    return issuer.rstrip("/")


def _snapshot(provider: IdentityProvider) -> dict[str, Any]:
    app = provider.social_app
    return {
        "issuer": provider.issuer,
        "client_id": app.client_id,
        "domains": sorted(provider.domains.values_list("domain", flat=True)),
        "mfa_enforced": provider.mfa_enforced,
        "mfa_acr_values": provider.mfa_acr_values,
        "new_people": provider.new_people,
        "password_sign_in": provider.password_sign_in,
        "is_enabled": provider.is_enabled,
    }


def _set_domains(provider: IdentityProvider, domains: list[str]) -> None:
    """Replace the provider's domains. A domain another agency's provider holds is refused
    by name; the unique index refuses it too when two requests claim it at once."""
    taken = list(
        IdentityDomain.objects.filter(domain__in=domains)
        .exclude(provider=provider)
        .values_list("domain", flat=True)
    )
    if taken:
        raise ValidationError(
            {
                "domains": [
                    f"{domain} is already vouched for by another agency's identity provider."
                    for domain in sorted(taken)
                ]
            }
        )
    provider.domains.exclude(domain__in=domains).delete()
    existing = set(provider.domains.values_list("domain", flat=True))
    try:
        with transaction.atomic():
            IdentityDomain.objects.bulk_create(
                [IdentityDomain(provider=provider, domain=d) for d in domains if d not in existing]
            )
    except IntegrityError as error:
        raise ValidationError(
            {"domains": "Another agency's identity provider has just claimed one of these domains."}
        ) from error


def _lock_agency(agency: Agency) -> Agency:
    return Agency.objects.select_for_update(no_key=True, of=("self",)).get(pk=agency.pk)


@transaction.atomic
def save_provider(
    *,
    agency: Agency,
    by: User,
    issuer: str,
    client_id: str,
    client_secret: str,
    domains: list[str],
    mfa_enforced: bool = False,
    mfa_acr_values: str = "",
    new_people: str = IdentityProvider.NewPeople.REQUEST,
    password_sign_in: bool = True,
) -> IdentityProvider:
    """Register the agency's identity provider, or change it. A new provider starts
    disabled; changing the issuer disables it again until it is tested. An empty
    ``client_secret`` keeps the one stored (a page never shows it back)."""
    require(by, "change", agency)
    agency = _lock_agency(agency)
    if agency.status in (Agency.Status.OFFBOARDED, Agency.Status.REJECTED):
        raise ValidationError({"agency": f"{agency} is {agency.get_status_display().lower()}."})
    issuer = clean_issuer(issuer)
    domains = clean_domains(domains)
    client_id = client_id.strip()
    if not client_id or len(client_id) > 191:
        raise ValidationError({"client_id": "Enter the client id (at most 191 characters)."})
    if new_people not in IdentityProvider.NewPeople.values:
        raise ValidationError({"new_people": "Choose what happens to people without an account."})
    provider = (
        IdentityProvider.objects.select_for_update(of=("self",))
        .select_related("social_app")
        .filter(agency=agency)
        .first()
    )
    before = _snapshot(provider) if provider is not None else None
    wanted = {
        "issuer": issuer,
        "client_id": client_id,
        "domains": sorted(domains),
        "mfa_enforced": mfa_enforced,
        "mfa_acr_values": " ".join(mfa_acr_values.split()),
        "new_people": new_people,
        "password_sign_in": password_sign_in,
        "is_enabled": provider.is_enabled if provider is not None else False,
    }
    if provider is not None and before == wanted and not client_secret:
        return provider  # saved unchanged: nothing to write, nothing to record
    if provider is None:
        if not client_secret:
            raise ValidationError({"client_secret": "Enter the client secret."})
        app = SocialApp(provider=PROVIDER, provider_id=provider_id_for(agency))
        provider = IdentityProvider(agency=agency)
    else:
        app = provider.social_app
        if provider.issuer != issuer:
            provider.is_enabled = False  # a new issuer is tested before it signs anyone in
    if len(client_secret) > 191:
        raise ValidationError({"client_secret": "At most 191 characters."})
    app.name = f"{agency.acronym or agency.name}"[:40]
    app.client_id = client_id
    if client_secret:
        app.secret = client_secret
    # PKCE as well as the client secret: a stolen authorization code is worth nothing
    app.settings = {"server_url": issuer, "oauth_pkce_enabled": True}
    app.save()
    provider.social_app = app
    provider.issuer = issuer
    provider.mfa_enforced = mfa_enforced
    provider.mfa_acr_values = " ".join(mfa_acr_values.split())
    provider.new_people = new_people
    provider.password_sign_in = password_sign_in
    provider.full_clean(exclude=["social_app", "agency"])
    provider.save()
    _set_domains(provider, domains)
    after = _snapshot(provider)
    if before is None or before != after or client_secret:
        audit.record(
            actor=by,
            action="identity_provider.registered"
            if before is None
            else "identity_provider.updated",
            obj=provider,
            before=before,
            # that the secret changed is worth knowing; the secret itself is never recorded
            after={**after, "client_secret_changed": bool(client_secret)},
        )
    return provider


@transaction.atomic
def record_test(*, provider: IdentityProvider, by: User) -> DiscoveryReport:
    """Fetch the provider's discovery document and remember whether it passed for this
    issuer (enabling needs a pass). Audited either way."""
    require(by, "change", provider.agency)
    report = discover(provider.issuer)
    locked = IdentityProvider.objects.select_for_update(of=("self",)).get(pk=provider.pk)
    if report.ok:
        locked.tested_issuer = locked.issuer
        locked.tested_at = timezone.now()
        locked.save(update_fields=["tested_issuer", "tested_at", "updated_at"])
    audit.record(
        actor=by,
        action="identity_provider.tested",
        obj=locked,
        outcome=AuditEvent.Outcome.SUCCESS if report.ok else AuditEvent.Outcome.FAILURE,
        after={"issuer": locked.issuer, "ok": report.ok, "problems": report.problems},
    )
    provider.tested_issuer, provider.tested_at = locked.tested_issuer, locked.tested_at
    return report


@transaction.atomic
def set_enabled(*, provider: IdentityProvider, by: User, enabled: bool) -> IdentityProvider:
    """Turn the provider on (only after a successful test of its current issuer) or off.
    Off, its people sign in with passwords again (where they have one)."""
    require(by, "change", provider.agency)
    _lock_agency(provider.agency)
    provider = (
        IdentityProvider.objects.select_for_update(of=("self",))
        .select_related("social_app", "agency")
        .get(pk=provider.pk)
    )
    if enabled and not provider.is_tested:
        raise ValidationError(
            {"is_enabled": "Test the connection to this issuer successfully before enabling it."}
        )
    if provider.is_enabled == enabled:
        return provider
    provider.is_enabled = enabled
    provider.save(update_fields=["is_enabled", "updated_at"])
    audit.record(
        actor=by,
        action="identity_provider.enabled" if enabled else "identity_provider.disabled",
        obj=provider,
        before={"is_enabled": not enabled},
        after={"is_enabled": enabled},
    )
    return provider


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].strip().lower().rstrip(".")


def provider_for_email(email: str, *, enabled_only: bool = True) -> IdentityProvider | None:
    """The identity provider that vouches for ``email``'s domain, if any (enabled ones
    only, unless asked), with its agency and app."""
    domain = domain_of(email)
    if not domain:
        return None
    queryset = IdentityProvider.objects.select_related("agency", "social_app").filter(
        domains__domain=domain
    )
    if enabled_only:
        queryset = queryset.filter(is_enabled=True, agency__status=Agency.Status.ACTIVE)
    return queryset.first()


def provider_of(agency: Agency) -> IdentityProvider | None:
    """The agency's identity provider, if it registered one, with its app and domains."""
    return (
        IdentityProvider.objects.select_related("social_app")
        .prefetch_related("domains")
        .filter(agency=agency)
        .first()
    )


def pending_requests(agency: Agency) -> QuerySet[SignInRequest]:
    """The first sign-ins waiting for the agency's administrators, oldest first."""
    return SignInRequest.objects.filter(
        agency=agency, status=SignInRequest.Status.PENDING
    ).order_by("requested_at", "pk")


def provider_for_app(provider_id: str) -> IdentityProvider | None:
    return (
        IdentityProvider.objects.select_related("agency", "social_app")
        .filter(social_app__provider=PROVIDER, social_app__provider_id=provider_id)
        .first()
    )


def password_refused_for(user: Any) -> IdentityProvider | None:
    """The provider of ``user``'s agency if that agency lets its people sign in only
    through it (enabled, password sign-in off), else None."""
    membership = (
        Membership.objects.filter(user_id=user.pk, is_active=True)
        .select_related("agency__identity_provider__social_app")
        .first()
    )
    provider = getattr(membership.agency, "identity_provider", None) if membership else None
    if provider is not None and provider.is_enabled and not provider.password_sign_in:
        return provider
    return None


# --- people an identity provider brings in ----------------------------------------------------


@dataclass(frozen=True)
class Claims:
    """What Concord takes from an identity provider about a person."""

    email: str
    first_name: str
    last_name: str
    job_title: str


@transaction.atomic
def create_account(*, provider: IdentityProvider, claims: Claims) -> Membership:
    """The first sign-in of a verified address of the agency's domains, where the agency
    gives new people an account at once: a staff account and membership of that agency,
    audited as the identity provider's doing."""
    agency = _lock_agency(provider.agency)
    membership = agency_services.add_member(
        agency=agency,
        email=claims.email,
        first_name=claims.first_name,
        last_name=claims.last_name,
        job_title=claims.job_title,
        by=None,
    )
    audit.record(
        actor=None,
        actor_label=f"identity provider of {agency}",
        action="identity.account_created",
        obj=membership,
        after={"agency": agency.pk, "user": membership.user_id, "email": claims.email},
    )
    return membership


@transaction.atomic
def request_access(*, provider: IdentityProvider, claims: Claims) -> SignInRequest:
    """The first sign-in of a verified address where the agency's administrators approve
    new people: a pending request (one per address; signing in again refreshes it)."""
    agency = _lock_agency(provider.agency)
    existing = (
        SignInRequest.objects.select_for_update()
        .filter(email__iexact=claims.email, status=SignInRequest.Status.PENDING)
        .first()
    )
    if existing is not None and existing.agency_id != agency.pk:
        existing.status = SignInRequest.Status.DECLINED  # a domain that moved agencies
        existing.decided_at = timezone.now()
        existing.save(update_fields=["status", "decided_at"])
        existing = None
    request = existing or SignInRequest(agency=agency, email=claims.email)
    request.first_name = claims.first_name
    request.last_name = claims.last_name
    request.job_title = claims.job_title
    request.full_clean(validate_constraints=False)
    request.save()
    if existing is None:
        audit.record(
            actor=None,
            actor_label=f"identity provider of {agency}",
            action="identity.access_requested",
            obj=request,
            after={"agency": agency.pk, "email": claims.email},
        )
        # the agency's administrators hear of it (once per request, not per sign-in)
        notifications.emit(
            "identity.access_requested", agency, data={"email": claims.email, "request": request.pk}
        )
    return request


@transaction.atomic
def decide_request(*, request: SignInRequest, by: User, approve: bool) -> SignInRequest:
    """Approve (a staff account and membership of the agency, through ``add_member``) or
    decline a pending request. The agency's administrators and portal administrators."""
    require(by, "manage_members", request.agency)
    _lock_agency(request.agency)
    request = SignInRequest.objects.select_for_update().select_related("agency").get(pk=request.pk)
    if request.status != SignInRequest.Status.PENDING:
        raise ValidationError({"status": "This request has already been decided."})
    if approve:
        existing = User.objects.filter(email__iexact=request.email).first()
        conflict = agency_conflict(existing, request.agency) if existing is not None else None
        if conflict:
            raise ValidationError({"email": f"The account of {request.email} {conflict}."})
        agency_services.add_member(
            agency=request.agency,
            email=request.email,
            first_name=request.first_name or request.email.partition("@")[0],
            last_name=request.last_name or "-",
            job_title=request.job_title,
            by=by,
        )
    request.status = SignInRequest.Status.APPROVED if approve else SignInRequest.Status.DECLINED
    request.decided_by = by
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    audit.record(
        actor=by,
        action="identity.access_approved" if approve else "identity.access_declined",
        obj=request,
        before={"status": SignInRequest.Status.PENDING},
        after={"status": request.status, "email": request.email},
    )
    return request


def agency_conflict(user: Any, agency: Agency) -> str | None:
    """Why ``user`` may not be signed in or added as a person of ``agency``, or None.

    A person's agency never changes through an identity provider (MISP #9478): an account
    with an active membership elsewhere, or whose past memberships were all elsewhere, is
    not this agency's to claim; nor is a portal administrator's account without one."""
    memberships = list(
        Membership.objects.filter(user_id=user.pk).values_list("agency_id", "is_active")
    )
    active = [agency_id for agency_id, is_active in memberships if is_active]
    if active:
        return None if active[0] == agency.pk else "belongs to another agency"
    if memberships and agency.pk not in {agency_id for agency_id, _ in memberships}:
        return "belonged to another agency"
    if not memberships and (user.is_portal_admin or user.is_superuser):
        return "is a portal administrator's account"
    return None


# the session key that says through which provider the person signed in (its id)
SIGNED_IN_THROUGH = "concord_signed_in_through"


def end_session_url(provider_id: int, after: str) -> str | None:
    """Where to send someone signing out of Concord who signed in through this provider, so
    that their session there ends too (OpenID Connect RP-Initiated Logout 1.0): the
    provider's ``end_session_endpoint`` with Concord's client id and ``after`` to come back
    to; ``None`` when the provider announces none or cannot be reached (the sign-out of
    Concord stands either way). The endpoint must use the issuer's scheme."""
    provider = IdentityProvider.objects.select_related("social_app").filter(pk=provider_id).first()
    if provider is None:
        return None
    try:
        answer = fetch_discovery(provider.issuer)
        endpoint = answer.json().get("end_session_endpoint") if answer.status_code == 200 else None
    except (requests.RequestException, ValueError, AttributeError):
        return None
    if not isinstance(endpoint, str):
        return None
    parts = urlsplit(endpoint)
    if parts.scheme != urlsplit(provider.issuer).scheme or not parts.hostname:
        return None
    query = urlencode(
        {"client_id": provider.social_app.client_id, "post_logout_redirect_uri": after}
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
