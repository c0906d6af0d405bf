"""Every change to agencies, memberships and sharing agreements."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from coordination import audit, notifications
from coordination.accounts import deprovision, tokens
from coordination.models import User
from coordination.notifications import mail
from coordination.permissions import PermissionDenied, require
from coordination.permissions.markings import Marking
from coordination.validators import validate_fields

from .models import Agency, AgreementAcceptance, Membership, ScimToken, SharingAgreement
from .signals import agency_status_changed, membership_ended

S = Agency.Status


# Which lifecycle moves exist, and whether each needs a written reason.
@dataclass(frozen=True)
class AgencyAction:
    """One move of an agency's lifecycle: the states it may start from, the state it leads
    to, whether it needs a written reason, and how a refusal names it."""

    sources: frozenset[str]
    target: str
    needs_reason: bool
    verb: str


# Each action only from its own states: approving is for an application under review,
# reinstating for a suspended agency, although both make an agency active.
AGENCY_ACTIONS: dict[str, AgencyAction] = {
    "begin_review": AgencyAction(frozenset({S.APPLIED}), S.UNDER_REVIEW, False, "reviewed"),
    "approve": AgencyAction(frozenset({S.UNDER_REVIEW}), S.ACTIVE, False, "approved"),
    # changes requested from the applicant
    "request_changes": AgencyAction(
        frozenset({S.UNDER_REVIEW}), S.APPLIED, True, "sent back for changes"
    ),
    "reject": AgencyAction(frozenset({S.APPLIED, S.UNDER_REVIEW}), S.REJECTED, True, "rejected"),
    "suspend": AgencyAction(frozenset({S.ACTIVE}), S.SUSPENDED, True, "suspended"),
    "reinstate": AgencyAction(frozenset({S.SUSPENDED}), S.ACTIVE, False, "reinstated"),
    "offboard": AgencyAction(frozenset({S.ACTIVE, S.SUSPENDED}), S.OFFBOARDED, True, "offboarded"),
}
# (from, to) → needs a reason: every move some action makes (each pair by one action only)
AGENCY_TRANSITIONS: dict[tuple[str, str], bool] = {
    (source, act.target): act.needs_reason
    for act in AGENCY_ACTIONS.values()
    for source in sorted(act.sources)  # sorted: one order in every process
}
if len(AGENCY_TRANSITIONS) != sum(len(a.sources) for a in AGENCY_ACTIONS.values()):
    raise RuntimeError("Two agency actions make the same move; each move must be one action's.")


def _action_for(old: str, to_status: str) -> str | None:
    for name, act in AGENCY_ACTIONS.items():
        if act.target == to_status and old in act.sources:
            return name
    return None


AGENCY_FIELDS = (
    "name",
    "acronym",
    "level",
    "sector",
    "jurisdiction",
    "contact_email",
    "website",
    "time_zone",
)


@transaction.atomic
def apply_for_agency(
    *,
    name: str,
    level: str,
    sector: str,
    contact_email: str,
    acronym: str = "",
    jurisdiction: str = "",
    website: str = "",
    time_zone: str = "",
    applicant: User | None = None,
) -> Agency:
    """Record a new agency's application; it waits for a portal administrator's review.
    Its time zone is the portal's unless one is given (the Django admin's form)."""
    agency = Agency(
        name=name.strip(),
        acronym=acronym.strip(),
        level=level,
        sector=sector,
        jurisdiction=jurisdiction.strip(),
        contact_email=contact_email.strip(),
        website=website.strip(),
    )
    if time_zone.strip():
        agency.time_zone = time_zone.strip()
    if Agency.objects.filter(name__iexact=agency.name).exists():
        raise ValidationError({"name": "An agency with this name already exists or has applied."})
    agency.full_clean()
    try:
        with transaction.atomic():
            agency.save()
    except IntegrityError as error:  # a simultaneous application with the same name
        raise ValidationError(
            {"name": "An agency with this name already exists or has applied."}
        ) from error
    audit.record(
        actor=applicant,
        action="agency.applied",
        obj=agency,
        after=audit.snapshot(agency, AGENCY_FIELDS),
    )
    notifications.emit("agency.applied", agency, actor=applicant)
    return agency


@transaction.atomic
def update_agency(*, agency: Agency, by: User, **changes: Any) -> Agency:
    """Edit an agency's details (not its status: that has its own transitions)."""
    require(by, "change", agency)
    unknown = set(changes) - set(AGENCY_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed here."))
    agency = Agency.objects.select_for_update(no_key=True, of=("self",)).get(pk=agency.pk)
    before = audit.snapshot(agency, AGENCY_FIELDS)
    for name, value in changes.items():
        setattr(agency, name, value.strip() if isinstance(value, str) else value)
    agency.full_clean()
    agency.save(update_fields=list(changes))
    audit.record(
        actor=by,
        action="agency.updated",
        obj=agency,
        before=before,
        after=audit.snapshot(agency, AGENCY_FIELDS),
    )
    return agency


@transaction.atomic
def transition_agency(
    *,
    agency: Agency,
    by: User,
    action: str | None = None,
    to_status: str | None = None,
    reason: str = "",
) -> Agency:
    """Move an agency along its lifecycle by one of ``AGENCY_ACTIONS`` (or, with
    ``to_status``, by the one action that makes that move from the agency's state).
    Portal administrators only; an action from any other state is refused.

    Suspension takes its people's access away at once (the permission core checks the
    agency's status); offboarding also ends their assignments and participations.
    """
    require(by, "review", agency)
    agency = Agency.objects.select_for_update(no_key=True, of=("self",)).get(pk=agency.pk)
    old = agency.status
    if action is None:
        if to_status not in S.values:
            raise ValidationError({"status": f"Unknown status {to_status!r}."})
        action = _action_for(old, str(to_status))
        if action is None:
            raise ValidationError(
                {
                    "status": f"An agency that is {S(old).label.lower()} cannot become "
                    f"{S(str(to_status)).label.lower()}."
                }
            )
    if action not in AGENCY_ACTIONS:
        raise ValidationError({"action": f"Unknown action {action!r}."})
    act = AGENCY_ACTIONS[action]
    if old not in act.sources:
        allowed = " or ".join(sorted(S(source).label.lower() for source in act.sources))
        raise ValidationError(
            {
                "status": f"Only an agency that is {allowed} can be {act.verb}; "
                f"{agency} is {S(old).label.lower()}."
            }
        )
    to_status = act.target
    reason = reason.strip()
    if act.needs_reason and not reason:
        raise ValidationError({"reason": "Give a reason; the agency will be told it."})
    agency.status = to_status
    agency.status_reason = reason
    validate_fields(agency, {"status_reason": "reason"})
    agency.status_changed_at = timezone.now()
    agency.save(update_fields=["status", "status_reason", "status_changed_at"])
    audit.record(
        actor=by,
        action=f"agency.{to_status}",
        obj=agency,
        before={"status": old},
        after={"status": to_status, "reason": reason},
    )
    agency_status_changed.send(
        sender=Agency, agency=agency, old_status=old, new_status=to_status, by=by, reason=reason
    )
    if to_status != S.UNDER_REVIEW:
        notifications.emit(
            "agency.decided", agency, actor=by, data={"status": to_status, "reason": reason}
        )
    return agency


def begin_review(*, agency: Agency, by: User) -> Agency:
    return transition_agency(agency=agency, action="begin_review", by=by)


def approve_agency(*, agency: Agency, by: User) -> Agency:
    return transition_agency(agency=agency, action="approve", by=by)


def request_changes(*, agency: Agency, by: User, reason: str) -> Agency:
    return transition_agency(agency=agency, action="request_changes", by=by, reason=reason)


def reject_agency(*, agency: Agency, by: User, reason: str) -> Agency:
    return transition_agency(agency=agency, action="reject", by=by, reason=reason)


def suspend_agency(*, agency: Agency, by: User, reason: str) -> Agency:
    return transition_agency(agency=agency, action="suspend", by=by, reason=reason)


def reinstate_agency(*, agency: Agency, by: User) -> Agency:
    return transition_agency(agency=agency, action="reinstate", by=by)


def offboard_agency(*, agency: Agency, by: User, reason: str) -> Agency:
    return transition_agency(agency=agency, action="offboard", by=by, reason=reason)


@transaction.atomic
def add_member(
    *,
    agency: Agency,
    email: str,
    first_name: str,
    last_name: str,
    by: User | None,
    role: str = Membership.Role.STAFF,
    job_title: str = "",
    password: str | None = None,
    actor_label: str = "",
) -> Membership:
    """Create a staff account in an agency (or tie an existing person without an agency to it).

    ``by`` is None only for the first administrator named when an agency is approved by
    a management command, and for the agency's own identity provider (SCIM), named by
    ``actor_label`` in the audit trail; otherwise the agency's administrators (or portal
    admins) act.
    """
    if by is not None:
        require(by, "manage_members", agency)
    if agency.status in (S.OFFBOARDED, S.REJECTED):
        raise ValidationError({"agency": f"{agency} is {agency.get_status_display().lower()}."})
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"Unknown agency role {role!r}."})
    email = email.strip().lower()
    names = {"first_name": first_name.strip(), "last_name": last_name.strip()}
    missing = {field: "This field is required." for field, value in names.items() if not value}
    if missing:
        raise ValidationError(missing)
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(
            email=email,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            job_title=job_title,
        )
        user.full_clean(exclude=["password"])
        if password:
            try:
                password_validation.validate_password(password, user)
            except ValidationError as error:
                raise ValidationError({"password": error.messages}) from error
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif Membership.objects.filter(user=user, is_active=True).exists():
        raise ValidationError({"email": "This person already belongs to an agency."})
    membership = Membership(user=user, agency=agency, role=role)
    membership.full_clean(validate_constraints=False)
    membership.save()
    audit.record(
        actor=by,
        actor_label=actor_label,
        action="membership.created",
        obj=membership,
        after={"agency": agency.pk, "role": role, "user": user.pk},
    )
    return membership


@transaction.atomic
def set_member_role(*, membership: Membership, role: str, by: User) -> Membership:
    """Change a person's agency role, e.g. name a liaison officer."""
    require(by, "change", membership)
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"Unknown agency role {role!r}."})
    membership = Membership.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=membership.pk
    )
    if not membership.is_active:
        raise ValidationError({"membership": "This membership has ended."})
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        actor=by,
        action="membership.role_changed",
        obj=membership,
        before={"role": old},
        after={"role": role},
    )
    return membership


@transaction.atomic
def end_membership(*, membership: Membership, by: User, reason: str) -> Membership:
    """Deactivate a person in their agency: every role they hold ends with it."""
    require(by, "change", membership)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason."})
    if membership.user_id == by.pk:
        raise ValidationError({"membership": "You cannot end your own membership."})
    return _end_membership(membership=membership, by=by, reason=reason)


def _end_membership(
    *, membership: Membership, by: User | None, reason: str, actor_label: str = ""
) -> Membership:
    """End a membership (the caller has checked who acts, in its transaction): locked,
    audited, and announced, so the person's role assignments end with it. ``by`` is None
    when the agency's identity provider acts (SCIM), named by ``actor_label``."""
    membership = Membership.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=membership.pk
    )
    if not membership.is_active:
        raise ValidationError({"membership": "This membership has already ended."})
    membership.is_active = False
    membership.ended_at = timezone.now()
    membership.save(update_fields=["is_active", "ended_at"])
    audit.record(
        actor=by,
        actor_label=actor_label,
        action="membership.ended",
        obj=membership,
        before={"is_active": True},
        after={"is_active": False, "reason": reason},
    )
    membership_ended.send(sender=Membership, membership=membership, by=by, reason=reason)
    return membership


# --- sharing agreements: proposed by one party, in force once every party accepts ----------

# who may act for a party: its administrators and liaison officers
AGREEMENT_ROLES = Membership.AGREEMENT_ROLES


def _acting_party(by: User, agreement: SharingAgreement | None = None) -> Agency:
    """The agency ``by`` acts for in an agreement: their own, active, as its administrator
    or liaison officer — and, for an existing agreement, one of its parties."""
    membership = (
        Membership.objects.select_related("agency")
        .filter(user=by, is_active=True, role__in=AGREEMENT_ROLES)
        .first()
    )
    if membership is None or membership.agency.status != S.ACTIVE:
        raise PermissionDenied(
            "Only an administrator or liaison officer of an active agency acts for it in a "
            "sharing agreement."
        )
    if agreement is not None and not agreement.parties.filter(pk=membership.agency_id).exists():
        raise PermissionDenied(f"{membership.agency} is not a party to this agreement.")
    return membership.agency


def _tell_the_others(kind: str, agreement: SharingAgreement, by: User, acting: Agency) -> None:
    notifications.emit(kind, agreement, actor=by, data={"agency": acting.pk})


@transaction.atomic
def propose_agreement(
    *,
    title: str,
    parties: Iterable[Agency],
    max_marking: int,
    valid_from: datetime.date,
    by: User,
    valid_until: datetime.date | None = None,
    task_force: Any = None,
) -> SharingAgreement:
    """An administrator or liaison officer proposes an agreement between their own agency
    and one or more others. Their agency's acceptance is the proposal itself; it comes
    into force when every other party has accepted (:func:`accept_agreement`). No one names
    agencies other than their own except as the other parties of their own proposal."""
    own = _acting_party(by)
    party_list = list({agency.pk: agency for agency in parties}.values())
    if own.pk not in {agency.pk for agency in party_list}:
        raise ValidationError(
            {"parties": f"Your own agency, {own}, must be a party to what it proposes."}
        )
    if len(party_list) < 2:
        raise ValidationError({"parties": "An agreement needs at least two agencies."})
    inactive = [agency for agency in party_list if agency.status != S.ACTIVE]
    if inactive:
        raise ValidationError(
            {"parties": f"{inactive[0]} is not active and cannot be a party to an agreement."}
        )
    if max_marking not in Marking.values:
        raise ValidationError({"max_marking": "Choose a TLP marking."})
    if valid_until is not None and valid_from is not None and valid_until < valid_from:
        raise ValidationError({"valid_until": "The agreement cannot end before it starts."})
    agreement = SharingAgreement(
        title=title.strip(),
        max_marking=max_marking,
        valid_from=valid_from,
        valid_until=valid_until,
        task_force=task_force,
        created_by=by,
        proposed_by_agency=own,
        status=SharingAgreement.Status.PROPOSED,
    )
    agreement.full_clean()
    agreement.save()
    agreement.parties.set(party_list)
    AgreementAcceptance.objects.create(agreement=agreement, agency=own, accepted_by=by)
    audit.record(
        actor=by,
        action="agreement.proposed",
        obj=agreement,
        after={
            "parties": [a.pk for a in party_list],
            "max_marking": max_marking,
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None,
            "task_force": agreement.task_force_id,
            "proposed_by": own.pk,
        },
    )
    _tell_the_others("agreement.proposed", agreement, by, own)
    return agreement


@transaction.atomic
def accept_agreement(*, agreement: SharingAgreement, by: User) -> SharingAgreement:
    """An administrator or liaison officer accepts a proposed agreement for their agency, a
    party that has not accepted yet. With the last party's acceptance it comes into force."""
    agreement = SharingAgreement.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=agreement.pk
    )
    # the policy refuses, with its reason, one who does not act for a party that has yet
    # to accept a proposal (read under the agreement's lock: two acceptances queue)
    require(by, "accept", agreement)
    own = _acting_party(by, agreement)
    AgreementAcceptance.objects.create(agreement=agreement, agency=own, accepted_by=by)
    audit.record(actor=by, action="agreement.accepted", obj=agreement, after={"agency": own.pk})
    waiting = agreement.parties.exclude(pk__in=agreement.acceptances.values("agency_id"))
    if waiting.exists():
        _tell_the_others("agreement.accepted", agreement, by, own)
        return agreement
    agreement.status = SharingAgreement.Status.ACTIVE
    agreement.in_force_at = timezone.now()
    agreement.save(update_fields=["status", "in_force_at"])  # coverage follows (triggers)
    audit.record(
        actor=by,
        action="agreement.in_force",
        obj=agreement,
        before={"status": SharingAgreement.Status.PROPOSED},
        after={"status": SharingAgreement.Status.ACTIVE},
    )
    _tell_the_others("agreement.in_force", agreement, by, own)
    return agreement


@transaction.atomic
def terminate_agreement(*, agreement: SharingAgreement, by: User, reason: str) -> SharingAgreement:
    """Any party ends an agreement, proposed or in force (declining a proposal is ending
    it); it stops covering anything at once."""
    agreement = SharingAgreement.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=agreement.pk
    )
    require(by, "terminate", agreement)  # a party's administrator or liaison; not ended
    own = _acting_party(by, agreement)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason; the other parties will be told it."})
    old = agreement.status
    agreement.status = SharingAgreement.Status.TERMINATED
    agreement.terminated_at = timezone.now()
    agreement.terminated_by = by
    agreement.termination_reason = reason
    agreement.full_clean()
    agreement.save(update_fields=["status", "terminated_at", "terminated_by", "termination_reason"])
    audit.record(
        actor=by,
        action="agreement.terminated",
        obj=agreement,
        before={"status": old},
        after={"status": agreement.status, "agency": own.pk, "reason": reason},
    )
    notifications.emit(
        "agreement.terminated", agreement, actor=by, data={"agency": own.pk, "reason": reason}
    )
    return agreement


def _invitation_email(*, membership: Membership, by: User, link: str) -> tuple[str, str]:
    """Subject and body of the invitation: the agency, who invited them, the link.

    It says nothing about any task force: the invitee has no role yet, and an e-mail
    leaves the portal's access rules behind.
    """
    agency = membership.agency
    inviter = by.get_full_name() or by.email
    days = max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)
    subject = f"Your Concord account at {agency}"
    body = (
        f"Hello {membership.user.get_full_name() or membership.user.email},\n\n"
        f"{inviter} has created a Concord account for you as "
        f"{membership.get_role_display().lower()} of {agency}.\n\n"
        f"Choose your password here (the link works once, for {days} days):\n{link}\n\n"
        f"Your agency's liaison officers give you roles in task forces; you will see them "
        f"after you sign in.\n\n"
        f"If you did not expect this, ignore this message or tell {agency} "
        f"({agency.contact_email}).\n"
    )
    return subject, body


@transaction.atomic
def invite_member(
    *,
    agency: Agency,
    email: str,
    first_name: str,
    last_name: str,
    by: User,
    role: str = Membership.Role.STAFF,
    job_title: str = "",
    request: HttpRequest | None = None,
) -> Membership:
    """Add a person to an agency and e-mail them a one-time link to choose their password.

    The account starts without a usable password; the e-mail is queued in the mail outbox
    with the membership, so a rolled-back invitation sends nothing and a mail server that
    is down delays it rather than losing it (:func:`resend_invitation` sends it again).
    """
    membership = add_member(
        agency=agency,
        email=email,
        first_name=first_name,
        last_name=last_name,
        by=by,
        role=role,
        job_title=job_title,
    )
    _queue_invitation(membership=membership, by=by, request=request)
    return membership


def _queue_invitation(
    *, membership: Membership, by: User, request: HttpRequest | None = None
) -> None:
    """Queue the invitation e-mail in the mail outbox, in the caller's transaction: it goes
    out once that commits, and a mail server that is down only delays it."""
    user = membership.user
    path = reverse(
        "agencies:set-password",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    link = request.build_absolute_uri(path) if request is not None else path
    subject, body = _invitation_email(membership=membership, by=by, link=link)
    mail.queue_email(to=[user.email], subject=subject, body=body)


def invitation_pending(membership: Membership) -> bool:
    """Has the invited person yet to choose a password? (Only then can it be re-sent.)"""
    return membership.is_active and not membership.user.has_usable_password()


@transaction.atomic
def resend_invitation(
    *, membership: Membership, by: User, request: HttpRequest | None = None
) -> Membership:
    """E-mail the invitation again, with a fresh link, to a member who has not chosen a
    password yet (the first e-mail may never have arrived). Whoever may invite may re-send:
    the agency's administrators and portal administrators. Audited."""
    require(by, "manage_members", membership.agency)
    membership = (
        Membership.objects.select_for_update(no_key=True, of=("self",))
        .select_related("user", "agency")
        .get(pk=membership.pk)
    )
    if not membership.is_active:
        raise ValidationError({"membership": "This membership has ended."})
    if not invitation_pending(membership):
        raise ValidationError(
            {
                "membership": f"{membership.user} has already chosen a password; they can "
                "reset it from the sign-in page."
            }
        )
    _queue_invitation(membership=membership, by=by, request=request)
    audit.record(
        actor=by,
        action="membership.invitation_resent",
        obj=membership,
        after={"user": membership.user_id, "email": membership.user.email},
    )
    return membership


# --- the agency's identity: phishing-resistant sign-in, SCIM tokens -------------------------


@transaction.atomic
def set_phishing_resistant_requirement(*, agency: Agency, required: bool, by: User) -> Agency:
    """An administrator of the agency (or a portal administrator) decides whether its
    people must sign in with a passkey or security key. From the next request on, a
    person of the agency signed in with an authenticator code alone is refused and told
    what to do (``coordination.accounts.signin.PhishingResistantMiddleware``)."""
    require(by, "change", agency)
    agency = Agency.objects.select_for_update(no_key=True, of=("self",)).get(pk=agency.pk)
    before = agency.requires_phishing_resistant_mfa
    if before == required:
        return agency
    agency.requires_phishing_resistant_mfa = required
    agency.save(update_fields=["requires_phishing_resistant_mfa"])
    audit.record(
        actor=by,
        action="agency.phishing_resistant_mfa_set",
        obj=agency,
        before={"requires_phishing_resistant_mfa": before},
        after={"requires_phishing_resistant_mfa": required},
    )
    return agency


# Enough for an identity provider and its test tenant; a bound keeps a leaked session from
# minting tokens without end.
MAX_ACTIVE_SCIM_TOKENS = 5


@transaction.atomic
def issue_scim_token(*, agency: Agency, name: str, by: User) -> tuple[ScimToken, str]:
    """Issue a SCIM bearer token to the agency's identity provider; returns it and its
    secret, which is shown once and never stored (only its SHA-256 hash is). Its
    administrators (or portal administrators) issue them, for an active agency."""
    require(by, "manage_members", agency)
    agency = Agency.objects.select_for_update(no_key=True, of=("self",)).get(pk=agency.pk)
    if agency.status != S.ACTIVE:
        raise ValidationError(
            {
                "agency": f"{agency} is {agency.get_status_display().lower()}: only an active "
                "agency provisions its people."
            }
        )
    if agency.scim_tokens.filter(revoked_at__isnull=True).count() >= MAX_ACTIVE_SCIM_TOKENS:
        raise ValidationError(
            {
                "name": f"{agency} already has {MAX_ACTIVE_SCIM_TOKENS} SCIM tokens; revoke one first."
            }
        )
    secret = secrets.token_urlsafe(32)
    token = ScimToken(
        agency=agency,
        name=name.strip(),
        prefix=secret[:8],
        key_hash=tokens.hash_secret(secret),
        created_by=by,
    )
    token.full_clean()
    token.save()
    audit.record(
        actor=by,
        action="scim_token.issued",
        obj=token,
        after={"agency": agency.pk, "name": token.name, "prefix": token.prefix},
    )
    return token, secret


@transaction.atomic
def revoke_scim_token(*, token: ScimToken, by: User) -> ScimToken:
    """Revoke an agency's SCIM token; its client is refused from the next request on."""
    require(by, "manage_members", token.agency)
    token = ScimToken.objects.select_for_update(no_key=True, of=("self",)).get(pk=token.pk)
    if token.revoked_at is not None:
        raise ValidationError({"token": "This token has already been revoked."})
    token.revoked_at = timezone.now()
    token.revoked_by = by
    token.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(
        actor=by,
        action="scim_token.revoked",
        obj=token,
        before={"revoked_at": None},
        after={"revoked_at": token.revoked_at.isoformat()},
    )
    return token


# --- provisioning by the agency's identity provider (SCIM 2.0, agencies/scim/) --------------
#
# The identity provider acts through its agency's token: it is not a person, so these
# services take the token, check nothing about "who" beyond it, and name it in the audit
# trail ("SCIM client <prefix>… of <agency>"). Which people a token reaches is
# ``selectors.provisioned_people``: the token's agency's, nobody else's.

PERSON_FIELDS = ("email", "first_name", "last_name", "job_title", "is_active")


def _provisioned(token: ScimToken, user_id: int) -> User:
    """The person, locked, if they are the token's agency's; ``User.DoesNotExist`` (the
    answer for any other id) otherwise."""
    from .selectors import provisioned_people

    return (
        provisioned_people(token.agency)
        .select_for_update(no_key=True, of=("self",))
        .get(pk=user_id)
    )


def _check_email(email: str, *, user: User | None) -> str:
    email = email.strip().lower()
    clash = User.objects.filter(email__iexact=email)
    if user is not None:
        clash = clash.exclude(pk=user.pk)
    if clash.exists():
        # the same answer whoever holds the address: it says nothing about other agencies
        raise ValidationError(
            {
                "userName": ValidationError(
                    "This userName (e-mail address) is already in use.", code="unique"
                )
            }
        )
    return email


@transaction.atomic
def scim_create_person(
    *,
    token: ScimToken,
    email: str,
    first_name: str,
    last_name: str,
    job_title: str = "",
    active: bool = True,
) -> User:
    """The identity provider creates a person: an account and a staff membership of the
    token's agency (:func:`add_member`), with no password (they sign in through the
    agency's identity provider, or choose one by a password reset). Created inactive
    (``active: false``), they are at once deactivated."""
    agency = Agency.objects.get(pk=token.agency_id)
    if agency.status != S.ACTIVE:
        raise PermissionDenied(f"{agency} is not active and provisions nobody.")
    from .selectors import deleted_by_provider

    deleted = deleted_by_provider(agency, email)
    if deleted is not None:
        # created again after the provider deleted them: the same account (its history
        # kept) with a new staff membership, as reactivating gives
        return _provision_again(
            token=token,
            user=deleted,
            first_name=first_name,
            last_name=last_name,
            job_title=job_title,
            active=active,
        )
    email = _check_email(email, user=None)
    membership = add_member(
        agency=agency,
        email=email,
        first_name=first_name,
        last_name=last_name,
        job_title=job_title,
        by=None,
        actor_label=token.actor_label,
    )
    user = membership.user
    if not active:
        scim_deactivate_person(token=token, user=user)
        user.refresh_from_db()
    return user


@transaction.atomic
def scim_update_person(
    *,
    token: ScimToken,
    user: User,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    job_title: str | None = None,
    active: bool | None = None,
) -> User:
    """The identity provider changes a person of its agency: name, job title, e-mail
    address (their sign-in name) and whether they are active. ``None`` leaves a field as
    it is. Deactivating goes through :func:`scim_deactivate_person`; reactivating gives
    back an account and a staff membership of the agency, but none of the roles they held."""
    user = _provisioned(token, user.pk)
    before = audit.snapshot(user, PERSON_FIELDS)
    changes: dict[str, str] = {}
    if email is not None and email.strip().lower() != user.email:
        changes["email"] = _check_email(email, user=user)
    for name, value in (
        ("first_name", first_name),
        ("last_name", last_name),
        ("job_title", job_title),
    ):
        if value is not None and value.strip() != getattr(user, name):
            changes[name] = value.strip()
    if changes:
        for name, value in changes.items():
            setattr(user, name, value)
        user.full_clean(exclude=["password"], validate_unique=False)
        user.save(update_fields=list(changes))
        audit.record(
            actor=None,
            actor_label=token.actor_label,
            action="person.updated",
            obj=user,
            before={name: before[name] for name in changes},
            after=audit.snapshot(user, tuple(changes)),
        )
    if active is False:
        scim_deactivate_person(token=token, user=user)
    elif active is True:
        _reactivate(token=token, user=user)
    user.refresh_from_db()
    return user


def _reactivate(*, token: ScimToken, user: User) -> None:
    agency = Agency.objects.get(pk=token.agency_id)
    has_membership = Membership.objects.filter(user=user, agency=agency, is_active=True).exists()
    if user.is_active and has_membership:
        return
    if agency.status != S.ACTIVE:
        raise PermissionDenied(f"{agency} is not active and provisions nobody.")
    if not user.is_active:
        user.is_active = True
        user.save(update_fields=["is_active"])
    if not has_membership:
        membership = Membership(user=user, agency=agency, role=Membership.Role.STAFF)
        membership.full_clean(validate_constraints=False)
        membership.save()
    audit.record(
        actor=None,
        actor_label=token.actor_label,
        action="person.reactivated",
        obj=user,
        before={"is_active": False},
        after={"is_active": True, "agency": agency.pk},
    )


def _provision_again(
    *,
    token: ScimToken,
    user: User,
    first_name: str,
    last_name: str,
    job_title: str,
    active: bool,
) -> User:
    """A person the agency's identity provider deleted, created by it again: among its
    people once more, with the names the creation gives, and active unless created
    inactive (reactivating gives a staff membership, none of the roles held before)."""
    user = User.objects.select_for_update(no_key=True, of=("self",)).get(pk=user.pk)
    restored = (
        Membership.objects.filter(user=user, agency_id=token.agency_id)
        .exclude(deprovisioned_at=None)
        .update(deprovisioned_at=None)
    )
    if not restored:
        # another creation of the same address gave the account back while this one
        # waited for its row: the address is taken now, as for any other creation
        _check_email(user.email, user=None)
    audit.record(
        actor=None,
        actor_label=token.actor_label,
        action="person.provisioned_again",
        obj=user,
        after={"agency": token.agency_id},
    )
    return scim_update_person(
        token=token,
        user=user,
        first_name=first_name,
        last_name=last_name,
        job_title=job_title,
        active=True if active else None,
    )


@transaction.atomic
def scim_delete_person(*, token: ScimToken, user: User) -> None:
    """The identity provider deletes a person of its agency (``DELETE``): deactivated as
    by ``active: false`` (:func:`scim_deactivate_person`), and from then on not among its
    provisioned people, so every later request about them answers "not found" (RFC 7644
    §3.6). The account stays, with its history, for the audit trail; creating the same
    address again gives it back."""
    user = scim_deactivate_person(token=token, user=user)
    latest = (
        Membership.objects.select_for_update(no_key=True, of=("self",))
        .filter(user=user, agency_id=token.agency_id)
        .order_by("-joined_at", "-pk")
        .first()
    )
    if latest is not None and latest.deprovisioned_at is None:
        latest.deprovisioned_at = timezone.now()
        latest.save(update_fields=["deprovisioned_at"])
        audit.record(
            actor=None,
            actor_label=token.actor_label,
            action="person.deleted_by_provider",
            obj=user,
            after={"agency": token.agency_id},
        )


@transaction.atomic
def scim_deactivate_person(*, token: ScimToken, user: User) -> User:
    """The identity provider deactivates a person of its agency (``active: false``, or
    ``DELETE``): their membership ends (:func:`_end_membership`, so every role they hold
    ends with it, as when an administrator ends it), their account is deactivated, and
    every session and API token they have ends. Access is gone from their next request.
    Deactivating someone already inactive changes nothing."""
    user = _provisioned(token, user.pk)
    membership = Membership.objects.filter(
        user=user, agency_id=token.agency_id, is_active=True
    ).first()
    if membership is None and not user.is_active:
        return user
    reason = f"Deactivated by {token.actor_label}"
    if membership is not None:
        _end_membership(
            membership=membership, by=None, reason=reason, actor_label=token.actor_label
        )
    was_active = user.is_active
    user.is_active = False
    user.save(update_fields=["is_active"])
    ended = deprovision.end_sessions_and_tokens(user=user)
    audit.record(
        actor=None,
        actor_label=token.actor_label,
        action="person.deactivated",
        obj=user,
        before={"is_active": was_active},
        after={"is_active": False, **ended},
    )
    return user
