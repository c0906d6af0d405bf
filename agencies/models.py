"""Agencies, their people (memberships) and what they agreed to share."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from coordination.permissions import RestrictedQuerySet
from coordination.permissions.markings import Marking
from coordination.timefmt import portal_zone_name
from coordination.validators import (
    REASON_LENGTH,
    day_validators,
    line_field,
    line_validators,
    prose_field,
    validate_time_zone,
)


class Agency(models.Model):
    """A government body or partner organisation. Only an active agency takes part in task forces."""

    class Level(models.TextChoices):
        NATIONAL = "national", "National"
        REGIONAL = "regional", "Regional"
        LOCAL = "local", "Local"
        TRIBAL = "tribal", "Tribal"
        INTERNATIONAL = "international", "International"
        NON_GOVERNMENTAL = "non_governmental", "Non-governmental"

    class Sector(models.TextChoices):
        LAW_ENFORCEMENT = "law_enforcement", "Law enforcement"
        HEALTH = "health", "Health"
        EMERGENCY_MANAGEMENT = "emergency_management", "Emergency management"
        TRANSPORT = "transport", "Transport"
        DEFENCE = "defence", "Defence"
        ENVIRONMENT = "environment", "Environment"
        BORDER = "border", "Border and customs"
        SOCIAL_SERVICES = "social_services", "Social services"
        INTELLIGENCE = "intelligence", "Intelligence"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        UNDER_REVIEW = "under_review", "Under review"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        OFFBOARDED = "offboarded", "Offboarded"
        REJECTED = "rejected", "Rejected"

    name = line_field(unique=True)
    acronym = line_field(max_length=20, blank=True)
    level = models.CharField(max_length=20, choices=Level.choices)
    sector = models.CharField(max_length=30, choices=Sector.choices)
    jurisdiction = line_field(blank=True)
    contact_email = models.EmailField(validators=line_validators())
    website = models.URLField(blank=True, validators=line_validators())
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.APPLIED, db_index=True
    )
    status_reason = prose_field(max_length=REASON_LENGTH, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(auto_now_add=True)
    # set by the agency's administrators (agencies.services.set_phishing_resistant_requirement):
    # its people must sign in with a passkey or security key, never an authenticator code
    # alone (coordination.accounts.signin.PhishingResistantMiddleware)
    requires_phishing_resistant_mfa = models.BooleanField(
        "requires a passkey or security key",
        default=False,
        help_text="Its people must sign in with a passkey or security key (WebAuthn).",
    )
    # Where its people read times unless they chose their own zone (coordination.timefmt);
    # new agencies start in the portal's zone (settings.TIME_ZONE).
    time_zone = models.CharField(
        max_length=64, default=portal_zone_name, validators=[validate_time_zone]
    )

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "agencies"
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="agency_name_unique_ignoring_case",
                violation_error_message="An agency with this name already exists or has applied.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def changes_requested(self) -> bool:
        """Sent back to the applicant for changes: "applied" again after a review (an
        application only returns to "applied" by the request-changes decision, the one
        move into that state, which also records when and why)."""
        return self.status == self.Status.APPLIED and self.status_changed_at is not None

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(models.Model):
    """A person's tie to their agency, with their agency-level role. One active one per person."""

    class Role(models.TextChoices):
        STAFF = "staff", "Staff"
        LIAISON = "liaison", "Liaison officer"
        ADMIN = "admin", "Agency administrator"

    # the roles that act for their agency in sharing agreements (propose, accept, terminate)
    AGREEMENT_ROLES = (Role.ADMIN, Role.LIAISON)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    is_active = models.BooleanField(default=True)
    joined_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # When the agency's identity provider deleted the person (SCIM ``DELETE``): from then
    # on they are not among its provisioned people (SCIM answers "not found" for them, as
    # RFC 7644 §3.6 asks) until it creates them again. Deactivating leaves this empty.
    deprovisioned_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("agency__name", "user__email")
        constraints = [
            models.UniqueConstraint(
                fields=("user",),
                condition=Q(is_active=True),
                name="membership_one_active_per_person",
            ),
        ]
        indexes = [
            models.Index(fields=("agency", "role", "is_active")),
            # every active agency's liaison officers are visible to everyone: read them
            # through this small index, not by scanning every membership
            models.Index(
                fields=("agency",),
                condition=models.Q(role="liaison", is_active=True),
                name="membership_active_liaison",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()}, {self.agency}"


class SharingAgreement(models.Model):
    """What its parties agreed to share, up to which marking, for which period.

    With ``task_force`` set it covers only that task force's items; without, everything
    the parties share with one another. An agency proposes it (its administrator or liaison
    officer), naming itself and the other parties; it comes into force only once an
    administrator or liaison officer of **every** party has accepted it
    (``AgreementAcceptance``); any party may terminate it, before or after.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed, waiting for every party"
        ACTIVE = "active", "In force"
        TERMINATED = "terminated", "Terminated"

    title = line_field()
    parties = models.ManyToManyField(Agency, related_name="agreements")
    task_force = models.ForeignKey(
        "taskforces.TaskForce",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="agreements",
    )
    max_marking = models.PositiveSmallIntegerField(
        "highest marking covered", choices=Marking.choices, default=Marking.GREEN
    )
    valid_from = models.DateField(validators=day_validators())
    valid_until = models.DateField(null=True, blank=True, validators=day_validators())
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROPOSED)
    proposed_by_agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    in_force_at = models.DateTimeField(null=True, blank=True)
    terminated_at = models.DateTimeField(null=True, blank=True)
    terminated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    termination_reason = prose_field(max_length=REASON_LENGTH, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ("-valid_from", "title")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
                name="agreement_period_ordered",
                violation_error_code="period",
                violation_error_message="The agreement cannot end before it starts.",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AgreementAcceptance(models.Model):
    """One party's acceptance of an agreement: by whom (an administrator or liaison officer
    of that party) and when. The agreement comes into force with the last one."""

    agreement = models.ForeignKey(
        SharingAgreement, on_delete=models.CASCADE, related_name="acceptances"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("accepted_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=("agreement", "agency"), name="one_acceptance_per_party"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agency} accepted {self.agreement}"


class AgreementCoverage(models.Model):
    """What one party of an agreement in force sees of another's matters through it: one
    row per ordered pair of parties (both ways), only while the agreement is in force.
    Database triggers on agreements and their parties keep these rows (migration
    ``agencies/0007``), in the transaction that changes the agreement, whoever changes it
    (a service, the admin, a bulk load): nothing else writes them.

    The highest marking an agency sees in a task force led by another agency is read from
    these rows (``taskforces.access.ceilings``): one index lookup per pair of agencies,
    however many agreements either agency has."""

    agreement = models.ForeignKey(
        SharingAgreement, on_delete=models.CASCADE, related_name="coverage"
    )
    # both looked up through the (agency, partner) index below: no index of their own, so
    # the planner has one plan to consider
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+", db_index=False)
    partner = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+", db_index=False)
    # the agreement's task force, when it covers only that one
    task_force = models.ForeignKey(
        "taskforces.TaskForce", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    max_marking = models.PositiveSmallIntegerField(choices=Marking.choices)
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("agreement", "agency", "partner"), name="one_coverage_per_pair"
            ),
        ]
        indexes = [models.Index(fields=("agency", "partner"), name="coverage_by_pair")]

    def __str__(self) -> str:
        return f"{self.agency_id} sees {self.partner_id} up to {self.max_marking}"


class OffboardingJob(models.Model):
    """The background part of offboarding an agency: ending its people's open role
    assignments and withdrawing its open participations, in batches
    (``taskforces.services.run_offboarding``). The agency itself is offboarded in the
    request, which takes its people's access away at once; this row shows how far the
    rest has got. Each batch records its progress in its own transaction, so a job whose
    worker died resumes where it stopped, and running it again ends nothing twice."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to start"
        RUNNING = "running", "In progress"
        DONE = "done", "Done"

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="offboarding_jobs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    total = models.PositiveIntegerField(help_text="Assignments and participations to end.")
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text="The last failure, while it is retried.")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # moved by every batch: a job not moved for a while has lost its worker
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"Offboarding {self.agency}: {self.done}/{self.total} ({self.state})"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.done * 100 // self.total)


class IdentityProvider(models.Model):
    """An agency's own OpenID Connect identity provider, through which its people sign in.

    It vouches only for the e-mail domains listed for it (``IdentityDomain``; a domain
    belongs to one agency's provider at most) and only ever signs people into accounts of
    its own agency (``agencies.identity.adapter``). The client id and secret live in
    allauth's ``SocialApp`` row (``social_app``, provider ``openid_connect``, provider id
    ``agency-<agency id>``), the one place allauth reads them from; no audit event, log line
    or page ever shows the secret.
    """

    class NewPeople(models.TextChoices):
        ACCOUNT = "account", "Get an account as staff at once"
        REQUEST = "request", "Ask; an agency administrator approves"

    agency = models.OneToOneField(
        Agency, on_delete=models.CASCADE, related_name="identity_provider"
    )
    social_app = models.OneToOneField(
        "socialaccount.SocialApp", on_delete=models.PROTECT, related_name="+"
    )
    issuer = models.URLField("issuer URL", max_length=500, validators=line_validators())
    mfa_enforced = models.BooleanField(
        "the identity provider enforces multi-factor authentication",
        default=False,
        help_text="Then a sign-in whose amr claim names a second factor (mfa, hwk, otp) or "
        "whose acr is one listed below needs no Concord authenticator code.",
    )
    mfa_acr_values = line_field(
        "acr values that mean multi-factor",
        max_length=500,
        blank=True,
        help_text="Space-separated, as your identity provider sends them (optional).",
    )
    new_people = models.CharField(
        "people without an account yet",
        max_length=10,
        choices=NewPeople.choices,
        default=NewPeople.REQUEST,
    )
    password_sign_in = models.BooleanField(
        "people of the agency may still sign in with a Concord password", default=True
    )
    is_enabled = models.BooleanField("enabled", default=False)
    # the issuer the last successful "Test connection" reached: enabling needs it to be
    # the issuer configured now
    tested_issuer = models.URLField(max_length=500, blank=True)
    tested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("agency__name",)

    def __str__(self) -> str:
        return f"Identity provider of {self.agency}"

    @property
    def provider_id(self) -> str:
        return self.social_app.provider_id

    @property
    def is_tested(self) -> bool:
        return bool(self.tested_issuer) and self.tested_issuer == self.issuer


class IdentityDomain(models.Model):
    """An e-mail domain an agency's identity provider vouches for. Unique across every
    agency: an address belongs to one agency's provider at most, which the database holds
    even when two administrators claim the same domain at once."""

    provider = models.ForeignKey(IdentityProvider, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)

    class Meta:
        ordering = ("domain",)

    def __str__(self) -> str:
        return self.domain


class SignInRequest(models.Model):
    """A person whom their agency's identity provider signed in for the first time, where
    the agency asks its administrators to approve new people: nothing is created for them
    until an administrator approves (``agencies.identity.services.approve_request``)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for an administrator"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="sign_in_requests")
    email = models.EmailField(validators=line_validators())
    first_name = line_field(max_length=150, blank=True)
    last_name = line_field(max_length=150, blank=True)
    job_title = line_field(max_length=150, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-requested_at", "-id")
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(status="pending"),
                name="one_pending_sign_in_request_per_address",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} asks to join {self.agency}"


class ScimToken(models.Model):
    """A bearer token issued to one agency's identity provider for SCIM 2.0 provisioning
    (``/scim/v2/``, ``agencies.scim``): it creates, updates and deactivates that agency's
    people, and only theirs.

    Only the SHA-256 hash of the secret is stored; the secret is shown once, when an
    administrator of the agency issues it. ``prefix`` tells tokens apart in lists and in
    the audit trail, where what a token did is recorded as done by "SCIM client <prefix>"
    of its agency."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="scim_tokens")
    name = line_field(max_length=100)
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "SCIM token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def actor_label(self) -> str:
        """How the audit trail names what this token's client did."""
        return f"SCIM client {self.prefix}… of {self.agency}"
