"""Agency pages: the public application, the directory and agency page, the portal
administrators' review and status pages, and agency administrators' people and agreement
pages. (The access review, task-force work shown among them, is in
``taskforces/access_review.py``.)

Each view fetches through the permission core (an agency the person may not act on is
"not found", whether it exists or not), calls a service, and renders. A service's
ValidationError lands on the form (shown with status 200, nothing changed); its
PermissionDenied becomes a 403 page through ``PermissionDeniedMiddleware``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from coordination import audit
from coordination.accounts import onetime
from coordination.models import User
from coordination.permissions import PermissionDenied, can, explain
from coordination.web.pages import paginate, run_service, visible_or_404
from coordination.web.ratelimit import limit_posts

from . import selectors, services
from .filtersets import AgencyFilter
from .forms import (
    AgreementActionForm,
    AgreementForm,
    ApplicationForm,
    DecisionForm,
    EndMembershipForm,
    InviteForm,
    MemberRoleForm,
    PhishingResistantForm,
    ScimTokenForm,
)
from .identity import services as identity_services
from .models import Agency, AgreementAcceptance, Membership, ScimToken, SharingAgreement
from .selectors import membership_of

S = Agency.Status
GET_POST = require_http_methods(["GET", "POST"])


def _query_without(request: HttpRequest, param: str) -> str:
    """The current query string minus ``param``, for pagination links."""
    query = request.GET.copy()
    query.pop(param, None)
    return query.urlencode()


def _me(request: HttpRequest) -> User:
    """The signed-in person (every view that calls this requires sign-in)."""
    return cast(User, request.user)


def _safe_next(request: HttpRequest, url: str | None, default: str) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return default


# --- the public application -------------------------------------------------------------


@GET_POST
@limit_posts("apply", setting="CONCORD_APPLY_RATE")
def apply(request: HttpRequest) -> HttpResponse:
    """Anyone may apply for their agency; a portal administrator reviews the application.
    Submissions are limited per client address (``CONCORD_APPLY_RATE``)."""
    form = ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        applicant = request.user if request.user.is_authenticated else None
        agency = run_service(
            form, lambda: services.apply_for_agency(applicant=applicant, **form.cleaned_data)
        )
        if agency is not None:
            messages.success(request, f"We have received the application for {agency}.")
            return redirect("agencies:apply-done")
    return render(request, "agencies/apply.html", {"form": form})


def apply_done(request: HttpRequest) -> HttpResponse:
    return render(request, "agencies/apply_done.html")


# --- directory and agency page ----------------------------------------------------------


@login_required
def directory(request: HttpRequest) -> HttpResponse:
    """Every agency the person may see, filtered by name, level, sector and status."""
    filterset = AgencyFilter(
        request.GET or None, queryset=Agency.objects.restrict(request.user, "view")
    )
    context: dict[str, Any] = {"filter": filterset, "query": _query_without(request, "page")}
    if filterset.is_bound and not filterset.is_valid():
        # Bad filter values are named on the form, never silently ignored.
        return render(request, "agencies/directory.html", context, status=400)
    context["page_obj"] = paginate(request, filterset.qs)
    return render(request, "agencies/directory.html", context)


@login_required
def agency_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An agency: its facts, the task forces it takes part in, its liaison officers and
    its sharing agreements — each only as far as the viewer may see them."""
    user = request.user
    agency = visible_or_404(Agency.objects.all(), user, pk, "view")
    # the task forces it takes part in: their app's model, reached by its relation to the
    # agency (agencies import nothing of taskforces)
    participations = (
        agency.participations.restrict(user, "view")
        .select_related("task_force__lead_agency")
        .order_by("-task_force__created_at", "-pk")
    )
    agreements = paginate(
        request, selectors.visible_agreements_of(user, agency), param="agreements_page"
    )
    to_accept = set(
        SharingAgreement.objects.restrict(user, "accept")
        .filter(pk__in=[a.pk for a in agreements])
        .values_list("pk", flat=True)
    )
    may = {action: can(user, action, agency) for action in ("change", "manage_members", "review")}
    may["propose"] = _may_propose_for(user, agency)
    return render(
        request,
        "agencies/agency_detail.html",
        {
            "agency": agency,
            "participations": paginate(request, participations, param="page"),
            "liaisons": paginate(
                request, selectors.visible_liaisons_of(user, agency), param="liaisons_page"
            ),
            "agreements": agreements,
            "to_accept": to_accept,
            "queries": {
                param: _query_without(request, param)
                for param in ("page", "liaisons_page", "agreements_page")
            },
            "may": may,
            "in_review": agency.status in (S.APPLIED, S.UNDER_REVIEW),
            # how far the background part of offboarding has got (portal administrators)
            "offboarding": agency.offboarding_jobs.order_by("-pk").first()
            if may["review"] and agency.status == S.OFFBOARDED
            else None,
            "why": explain(user, "view", agency),
        },
    )


# --- review and status (portal administrators) ------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One lifecycle move a portal administrator can make on an agency."""

    key: str
    label: str
    to_status: str
    with_reason: bool
    help: str
    done: str
    call: Callable[..., Agency]


REVIEW_DECISIONS = (
    Decision(
        "begin",
        "Begin review",
        S.UNDER_REVIEW,
        False,
        "Mark the application as being reviewed.",
        "You are reviewing {agency}.",
        lambda agency, by, reason: services.begin_review(agency=agency, by=by),
    ),
    Decision(
        "approve",
        "Approve",
        S.ACTIVE,
        False,
        "The agency becomes active and can take part in task forces.",
        "{agency} is approved and now active. Invite its first agency administrator.",
        lambda agency, by, reason: services.approve_agency(agency=agency, by=by),
    ),
    Decision(
        "request_changes",
        "Request changes",
        S.APPLIED,
        True,
        "Send the application back to the applicant with what to change.",
        "Changes requested from {agency}.",
        lambda agency, by, reason: services.request_changes(agency=agency, by=by, reason=reason),
    ),
    Decision(
        "reject",
        "Reject",
        S.REJECTED,
        True,
        "Refuse the application. This cannot be undone.",
        "The application from {agency} is rejected.",
        lambda agency, by, reason: services.reject_agency(agency=agency, by=by, reason=reason),
    ),
)
STATUS_DECISIONS = (
    Decision(
        "suspend",
        "Suspend",
        S.SUSPENDED,
        True,
        "Its people lose access to every task force at once, until it is reinstated.",
        "{agency} is suspended.",
        lambda agency, by, reason: services.suspend_agency(agency=agency, by=by, reason=reason),
    ),
    Decision(
        "reinstate",
        "Reinstate",
        S.ACTIVE,
        False,
        "The agency becomes active again; its people's roles apply again.",
        "{agency} is reinstated.",
        lambda agency, by, reason: services.reinstate_agency(agency=agency, by=by),
    ),
    Decision(
        "offboard",
        "Offboard",
        S.OFFBOARDED,
        True,
        "The agency leaves Concord: its people lose access at once; its assignments and "
        "participations end in the background. This cannot be undone.",
        "{agency} is offboarded. Its assignments and participations are being ended in the "
        "background; this page shows how far it has got.",
        lambda agency, by, reason: services.offboard_agency(agency=agency, by=by, reason=reason),
    ),
)


def _decide(
    request: HttpRequest,
    agency: Agency,
    decisions: tuple[Decision, ...],
    template: str,
    after: Callable[[Decision, Agency], str],
) -> HttpResponse:
    """Offer the decisions open to the agency now, each as its own form; carry one out."""
    available = [
        d for d in decisions if (agency.status, d.to_status) in services.AGENCY_TRANSITIONS
    ]
    posted: tuple[Decision, DecisionForm] | None = None
    if request.method == "POST":
        decision = next((d for d in decisions if d.key == request.POST.get("decision")), None)
        if decision is None:
            raise BadRequest("Choose one of the decisions offered on the page.")
        form = DecisionForm(request.POST, prefix=decision.key, with_reason=decision.with_reason)
        if form.is_valid():
            reason = form.cleaned_data.get("reason", "")
            done = run_service(
                form, lambda: decision.call(agency=agency, by=_me(request), reason=reason)
            )
            if done is not None:
                messages.success(request, decision.done.format(agency=done))
                return redirect(after(decision, done))
        posted = (decision, form)
        if decision not in available:  # the agency moved on since the page was shown
            available.append(decision)
    forms = [
        (
            d,
            posted[1]
            if posted and posted[0] == d
            else DecisionForm(prefix=d.key, with_reason=d.with_reason),
        )
        for d in available
    ]
    return render(request, template, {"agency": agency, "decisions": forms})


@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    """Applications waiting for review, oldest first. Portal administrators only."""
    if not request.user.is_portal_admin:  # type: ignore[union-attr]
        raise PermissionDenied("Only portal administrators review agency applications.")
    page_obj = paginate(request, selectors.applications_to_review(request.user))
    return render(request, "agencies/review_queue.html", {"page_obj": page_obj})


@login_required
@GET_POST
def review(request: HttpRequest, pk: int) -> HttpResponse:
    """One application: begin review, approve, request changes or reject."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "review")

    def after(decision: Decision, agency: Agency) -> str:
        if decision.key == "begin":
            return reverse("agencies:review", args=[agency.pk])
        if decision.key == "approve":  # next: its first agency administrator
            return reverse("agencies:invite", args=[agency.pk]) + "?role=admin"
        return reverse("agencies:review-queue")

    return _decide(request, agency, REVIEW_DECISIONS, "agencies/review.html", after)


@login_required
@GET_POST
def agency_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Suspend, reinstate or offboard an agency, each confirmed with its own form."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "review")
    return _decide(
        request,
        agency,
        STATUS_DECISIONS,
        "agencies/status.html",
        lambda decision, agency: reverse("agencies:detail", args=[agency.pk]),
    )


# --- people (agency administrators) -----------------------------------------------------


@login_required
def people(request: HttpRequest, pk: int) -> HttpResponse:
    """The agency's memberships, active first, with role changes and ending."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "manage_members")
    return render(
        request,
        "agencies/people.html",
        {
            "agency": agency,
            "page_obj": paginate(request, selectors.people_of(request.user, agency)),
            "roles": Membership.Role.choices,
        },
    )


@login_required
@GET_POST
def invite(request: HttpRequest, pk: int) -> HttpResponse:
    """Invite a staff member by e-mail; they choose their password through a link."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "manage_members")
    role = request.GET.get("role")
    form = InviteForm(
        request.POST or None, initial={"role": role} if role in Membership.Role.values else {}
    )
    if request.method == "POST" and form.is_valid():
        membership = run_service(
            form,
            lambda: services.invite_member(
                agency=agency, by=_me(request), request=request, **form.cleaned_data
            ),
        )
        if membership is not None:
            messages.success(
                request,
                f"{membership.user} is now {membership.get_role_display().lower()} of {agency}. "
                f"We have e-mailed {membership.user.email} a link to choose a password.",
            )
            return redirect("agencies:people", agency.pk)
    return render(request, "agencies/invite.html", {"agency": agency, "form": form})


def _membership_or_404(request: HttpRequest, pk: int) -> Membership:
    return visible_or_404(
        Membership.objects.select_related("user", "agency"), request.user, pk, "change"
    )


@login_required
@GET_POST
def membership_role(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a person's agency role (e.g. name a liaison officer)."""
    membership = _membership_or_404(request, pk)
    form = MemberRoleForm(request.POST or None, initial={"role": membership.role})
    if request.method == "POST" and form.is_valid():
        done = run_service(
            form,
            lambda: services.set_member_role(
                membership=membership, role=form.cleaned_data["role"], by=_me(request)
            ),
        )
        if done is not None:
            messages.success(
                request, f"{done.user} is now {done.get_role_display().lower()} of {done.agency}."
            )
            return redirect("agencies:people", membership.agency_id)
    return render(
        request, "agencies/membership_role.html", {"membership": membership, "form": form}
    )


@login_required
@GET_POST
def membership_end(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm, with a reason, that a person no longer belongs to the agency."""
    membership = _membership_or_404(request, pk)
    form = EndMembershipForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        done = run_service(
            form,
            lambda: services.end_membership(
                membership=membership, by=_me(request), reason=form.cleaned_data["reason"]
            ),
        )
        if done is not None:
            messages.success(request, f"{done.user} no longer belongs to {done.agency}.")
            return redirect("agencies:people", membership.agency_id)
    return render(request, "agencies/membership_end.html", {"membership": membership, "form": form})


@login_required
@require_http_methods(["POST"])
def membership_resend_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    """E-mail a member's invitation again (they have not chosen a password yet)."""
    membership = _membership_or_404(request, pk)
    try:
        done = services.resend_invitation(membership=membership, by=_me(request), request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"The invitation is on its way to {done.user.email} again, with a new link.",
        )
    return redirect("agencies:people", membership.agency_id)


# --- sharing agreements -----------------------------------------------------------------


def _may_propose_for(user: Any, agency: Agency) -> bool:
    """Does the person act for this agency in agreements (its administrator or liaison
    officer, the agency active)?"""
    mine = membership_of(user)
    return (
        mine is not None
        and mine.agency_id == agency.pk
        and mine.role in services.AGREEMENT_ROLES
        and agency.status == S.ACTIVE
    )


@login_required
@GET_POST
def agreement_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Propose an information-sharing agreement between this agency (the person's own) and
    others; it comes into force once every other party has accepted it."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "view")
    if not _may_propose_for(request.user, agency):
        raise PermissionDenied(
            "Only an administrator or liaison officer of an active agency proposes its "
            "sharing agreements."
        )
    form = AgreementForm(request.POST or None, agency=agency)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        agreement = run_service(
            form,
            lambda: services.propose_agreement(
                title=data["title"],
                parties=[agency, *data["parties"]],
                max_marking=data["max_marking"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
                by=_me(request),
            ),
        )
        if agreement is not None:
            messages.success(
                request,
                f"The agreement “{agreement}” is proposed. It comes into force once every "
                "other party has accepted it; their liaison officers have been told.",
            )
            return redirect("agencies:agreement", agreement.pk)
    return render(request, "agencies/agreement_form.html", {"agency": agency, "form": form})


@login_required
@GET_POST
def agreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One agreement: its terms, which parties have accepted it (by whom, when), and, for a
    party's administrator or liaison officer, accepting it or terminating it."""
    user = request.user
    agreement = visible_or_404(
        SharingAgreement.objects.select_related("proposed_by_agency", "task_force"),
        user,
        pk,
        "view",
    )
    may = {action: can(user, action, agreement) for action in ("accept", "terminate")}
    form = AgreementActionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["action"]
        if chosen == AgreementActionForm.TERMINATE and not form.cleaned_data["reason"].strip():
            form.add_error("reason", "Give a reason; the other parties will be told it.")
        else:
            done = run_service(
                form,
                lambda: (
                    services.accept_agreement(agreement=agreement, by=_me(request))
                    if chosen == AgreementActionForm.ACCEPT
                    else services.terminate_agreement(
                        agreement=agreement, by=_me(request), reason=form.cleaned_data["reason"]
                    )
                ),
            )
            if done is not None:
                messages.success(
                    request,
                    f"The agreement “{done}” is now {done.get_status_display().lower()}.",
                )
                return redirect("agencies:agreement", agreement.pk)
    acceptances = {
        a.agency_id: a
        for a in AgreementAcceptance.objects.filter(agreement=agreement).select_related(
            "accepted_by"
        )
    }
    parties = [(party, acceptances.get(party.pk)) for party in agreement.parties.all()]
    return render(
        request,
        "agencies/agreement_detail.html",
        {
            "agreement": agreement,
            "parties": parties,
            "may": may,
            "form": form,
            "why": explain(user, "view", agreement),
        },
        status=400 if request.method == "POST" else 200,
    )


class ChoosePasswordView(auth_views.PasswordResetConfirmView):
    """The invitation's "choose your password" link: Django's reset confirmation, used
    once. The token stays valid until the password changes, so submissions racing each
    other would all pass Django's check; the first to record its use
    (``coordination.accounts.onetime``) sets the password, the others are told the link is used."""

    template_name = "agencies/set_password.html"
    success_url = reverse_lazy("agencies:set-password-done")

    def form_valid(self, form: Any) -> HttpResponse:
        token = self.request.session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN, "")
        with transaction.atomic():
            if not onetime.use_once(onetime.INVITATION, f"{self.user.pk}:{token}"):
                form.add_error(
                    None,
                    "This link has already been used to choose a password. Sign in with "
                    "that password, or ask for a password reset from the sign-in page.",
                )
                return self.form_invalid(form)
            return super().form_valid(form)


# --- the agency's identity: phishing-resistant sign-in, SCIM tokens (its administrators) ----


def _identity_page(
    request: HttpRequest,
    agency: Agency,
    *,
    mfa_form: PhishingResistantForm | None = None,
    token_form: ScimTokenForm | None = None,
    created: ScimToken | None = None,
    secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "agencies/identity.html",
        {
            "agency": agency,
            "mfa_form": mfa_form
            or PhishingResistantForm(
                initial={"required": "yes" if agency.requires_phishing_resistant_mfa else "no"}
            ),
            "token_form": token_form or ScimTokenForm(),
            "tokens": agency.scim_tokens.select_related("created_by", "revoked_by"),
            "created": created,
            "secret": secret,
            "scim_url": request.build_absolute_uri(reverse("scim:users")).removesuffix("Users"),
            # single sign-on is set up on its own page; this one says where it stands
            "provider": identity_services.provider_of(agency),
            "pending": identity_services.pending_requests(agency).count(),
        },
        status=status,
    )


@never_cache
@login_required
@GET_POST
def identity(request: HttpRequest, pk: int) -> HttpResponse:
    """How the agency's people sign in, in one place: single sign-on through the agency's
    identity provider (where it stands; set up on its own page), whether a passkey or
    security key is required, and the SCIM tokens of its identity provider."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "manage_members")
    if request.method != "POST":
        return _identity_page(request, agency)
    form = PhishingResistantForm(request.POST)
    if form.is_valid():
        done = run_service(
            form,
            lambda: services.set_phishing_resistant_requirement(
                agency=agency, required=form.cleaned_data["required"], by=_me(request)
            ),
        )
        if done is not None:
            messages.success(
                request,
                f"{done}'s people must now sign in with a passkey or security key."
                if done.requires_phishing_resistant_mfa
                else f"{done}'s people may sign in with an authenticator app or a passkey.",
            )
            return redirect("agencies:identity", agency.pk)
    return _identity_page(request, agency, mfa_form=form, status=400)


@never_cache
@login_required
@require_http_methods(["POST"])
def scim_token_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a SCIM token; its secret is on this answer only, never stored or shown again."""
    agency = visible_or_404(Agency.objects.all(), request.user, pk, "manage_members")
    form = ScimTokenForm(request.POST)
    if form.is_valid():
        result = run_service(
            form,
            lambda: services.issue_scim_token(
                agency=agency, name=form.cleaned_data["name"], by=_me(request)
            ),
        )
        if result is not None:
            created, secret = result
            return _identity_page(request, agency, created=created, secret=secret)
    return _identity_page(request, agency, token_form=form, status=400)


@login_required
@require_http_methods(["POST"])
def scim_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke a SCIM token of an agency the person manages; another agency's is "not found"."""
    managed = Agency.objects.restrict(request.user, "manage_members")
    token = ScimToken.objects.select_related("agency").filter(agency__in=managed, pk=pk).first()
    if token is None:
        audit.record_hidden_object(actor=request.user, model=ScimToken, pk=pk)
        raise Http404("Not found.")
    if token.revoked_at is None:
        services.revoke_scim_token(token=token, by=_me(request))
        messages.success(request, f"The SCIM token “{token.name}” was revoked; it no longer works.")
    return redirect("agencies:identity", token.agency_id)
