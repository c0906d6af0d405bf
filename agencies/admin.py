"""Django admin for agencies, memberships and sharing agreements: every change through
``agencies.services``; lifecycle moves are admin actions."""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from coordination.admin import (
    ConcordModelAdmin,
    ReadOnlyAdmin,
    ServiceFormMixin,
    acting_user,
    apply_each,
    reason_action,
)
from coordination.web.forms import line_field

from . import services
from .models import (
    Agency,
    AgreementAcceptance,
    AgreementCoverage,
    IdentityDomain,
    IdentityProvider,
    Membership,
    OffboardingJob,
    ScimToken,
    SharingAgreement,
    SignInRequest,
)

# --- agencies --------------------------------------------------------------------------


def _transition_action(name: str, description: str, service: Any, done: str) -> Any:
    """An action for a lifecycle move that needs no reason."""

    def action(
        model_admin: admin.ModelAdmin, request: HttpRequest, queryset: models.QuerySet[Agency]
    ) -> None:
        apply_each(
            request,
            queryset,
            lambda agency: service(agency=agency, by=acting_user(request)),
            done=done,
        )

    action.__name__ = name
    return admin.action(description=description, permissions=["change"])(action)


def _with_reason(service: Any) -> Any:
    return lambda agency, *, by, reason: service(agency=agency, by=by, reason=reason)


begin_review = _transition_action(
    "begin_review", "Begin review", services.begin_review, "Review begun"
)
approve = _transition_action("approve", "Approve", services.approve_agency, "Approved")
reinstate = _transition_action(
    "reinstate", "Reinstate (after suspension)", services.reinstate_agency, "Reinstated"
)
request_changes = reason_action(
    name="request_changes",
    description="Request changes from the applicant",
    intro="The applications below go back to the applicant with your reason.",
    call=_with_reason(services.request_changes),
    done="Changes requested",
)
reject = reason_action(
    name="reject",
    description="Reject application",
    intro="The applications below will be rejected. The agency is told your reason.",
    call=_with_reason(services.reject_agency),
    done="Rejected",
)
suspend = reason_action(
    name="suspend",
    description="Suspend",
    intro="Suspending an agency takes its people's access away at once; reinstating it "
    "gives back exactly what they held. The agency is told your reason.",
    call=_with_reason(services.suspend_agency),
    done="Suspended",
)
offboard = reason_action(
    name="offboard",
    description="Offboard",
    intro="Offboarding ends every role assignment of the agency's people and withdraws it "
    "from its task forces. It cannot be undone.",
    call=_with_reason(services.offboard_agency),
    done="Offboarded",
)


@admin.register(Agency)
class AgencyAdmin(ServiceFormMixin, ConcordModelAdmin):
    """Agencies: details edited through ``update_agency``, new ones recorded through
    ``apply_for_agency``; the status moves only through the actions."""

    description = (
        "An agency's status changes only through the actions (begin review, approve, "
        "suspend, …), which record the move in the audit trail."
    )
    list_display = ("name", "acronym", "level", "sector", "status", "status_changed_at")
    list_filter = ("status", "level", "sector")
    search_fields = ("name", "acronym", "jurisdiction", "contact_email")
    readonly_fields = ("status", "status_reason", "status_changed_at", "applied_at")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    actions = [begin_review, approve, request_changes, reject, suspend, reinstate, offboard]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        details = (None, {"fields": services.AGENCY_FIELDS})
        if obj is None:
            return (details,)
        return (details, ("Lifecycle", {"fields": self.readonly_fields}))

    def save_through_service(
        self, request: HttpRequest, form: forms.ModelForm, change: bool
    ) -> Agency:
        data = {name: form.cleaned_data[name] for name in services.AGENCY_FIELDS}
        if not change:
            return services.apply_for_agency(applicant=acting_user(request), **data)
        changes = {name: data[name] for name in form.changed_data if name in data}
        if not changes:
            return Agency.objects.get(pk=form.instance.pk)
        return services.update_agency(agency=form.instance, by=acting_user(request), **changes)


# --- memberships -----------------------------------------------------------------------


class MembershipAddForm(forms.ModelForm):
    """A new person in an agency (or an existing person without an agency tied to it)."""

    email = forms.EmailField(label="E-mail address")
    first_name = line_field(max_length=150)
    last_name = line_field(max_length=150)
    job_title = line_field(max_length=150, required=False)

    class Meta:
        model = Membership
        fields = ("agency", "role")


end_memberships = reason_action(
    name="end_memberships",
    description="End selected memberships",
    intro="Each person below leaves their agency; every task force role they hold ends "
    "with it, at once.",
    call=lambda membership, *, by, reason: services.end_membership(
        membership=membership, by=by, reason=reason
    ),
    done="Memberships ended",
)


@admin.register(Membership)
class MembershipAdmin(ServiceFormMixin, ConcordModelAdmin):
    """People's ties to agencies: added through ``add_member``, agency role changed
    through ``set_member_role``, ended through ``end_membership`` (the action)."""

    description = (
        "New people are added with add_member (they set a password through a reset or "
        "the user page); ending a membership ends the person's roles too."
    )
    list_display = ("user", "agency", "role", "is_active", "joined_at", "ended_at")
    list_filter = ("role", "is_active", ("agency", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__email", "user__first_name", "user__last_name", "agency__name")
    list_select_related = ("user", "agency")
    actions = [end_memberships]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = MembershipAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return (
                (None, {"fields": ("agency", "role")}),
                ("Person", {"fields": ("email", "first_name", "last_name", "job_title")}),
            )
        return (
            (None, {"fields": ("user", "agency", "role", "is_active", "joined_at", "ended_at")}),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("user", "agency", "is_active", "joined_at", "ended_at")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "agency":
            kwargs["queryset"] = Agency.objects.restrict(request.user, "manage_members")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_through_service(
        self, request: HttpRequest, form: forms.ModelForm, change: bool
    ) -> Membership:
        data = form.cleaned_data
        if not change:
            return services.add_member(
                agency=data["agency"],
                role=data["role"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                job_title=data.get("job_title", ""),
                by=acting_user(request),
            )
        if "role" not in form.changed_data:
            return Membership.objects.get(pk=form.instance.pk)
        return services.set_member_role(
            membership=form.instance, role=data["role"], by=acting_user(request)
        )


# --- sharing agreements ----------------------------------------------------------------


@admin.register(SharingAgreement)
class SharingAgreementAdmin(ReadOnlyAdmin):
    """Agreements are what the parties agreed: proposed, accepted and terminated by the
    parties' administrators and liaison officers in the portal (``agencies.services``),
    never here. The admin shows them."""

    description = (
        "Agreements are proposed, accepted and terminated by the parties' administrators "
        "and liaison officers, on their agency's page in the portal; one comes into force "
        "when every party has accepted it. Nothing to edit here."
    )
    list_display = (
        "title",
        "max_marking",
        "status",
        "valid_from",
        "valid_until",
        "task_force",
        "proposed_by_agency",
    )
    list_filter = ("status", "max_marking")
    search_fields = ("title", "parties__name", "parties__acronym")
    list_select_related = ("task_force", "proposed_by_agency")
    fields = (
        "title",
        "party_list",
        "max_marking",
        "valid_from",
        "valid_until",
        "task_force",
        "status",
        "proposed_by_agency",
        "created_by",
        "created_at",
        "in_force_at",
        "terminated_at",
        "termination_reason",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[SharingAgreement]:
        return super().get_queryset(request).prefetch_related("parties")

    @admin.display(description="parties")
    def party_list(self, obj: SharingAgreement) -> str:
        return ", ".join(str(agency) for agency in obj.parties.all())


@admin.register(AgreementAcceptance)
class AgreementAcceptanceAdmin(ReadOnlyAdmin):
    """Who accepted which agreement for which party, and when (shown for agreements the
    viewer may see)."""

    description = "Each party's acceptance of an agreement; made in the portal."
    list_display = ("agreement", "agency", "accepted_by", "accepted_at")
    fields = list_display

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        visible = SharingAgreement.objects.restrict(user, "view").values("pk")
        return queryset.filter(agreement_id__in=visible)


@admin.register(AgreementCoverage)
class AgreementCoverageAdmin(ReadOnlyAdmin):
    """What each party of an agreement in force sees of the others: rows the database keeps
    beside the agreements (``AgreementCoverage``); shown for agreements the viewer may see."""

    description = (
        "One row per pair of parties of each agreement in force, kept by the database "
        "beside the agreements: the ceiling of what an agency sees in the other's task "
        "forces. Nothing to edit; change the agreement instead."
    )
    list_display = ("agreement", "agency", "partner", "task_force", "max_marking", "valid_from")
    fields = (*list_display, "valid_until")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        visible = SharingAgreement.objects.restrict(user, "view").values("pk")
        return queryset.filter(agreement_id__in=visible)


@admin.register(OffboardingJob)
class OffboardingJobAdmin(ReadOnlyAdmin):
    """The background work of an offboarding: how far it has gone (shown on the agency's
    page too). Portal administrators offboard; they follow it here."""

    description = "Offboarding in the background: assignments ended and participations withdrawn."
    list_display = ("agency", "state", "done", "total", "created_at", "finished_at")
    fields = (*list_display, "started_at", "error")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset if user.is_portal_admin else queryset.none()


# --- agencies' identity providers --------------------------------------------------------------

# allauth registers its own admin for social apps (which hold each agency's client secret),
# social accounts and tokens: changing them there would skip the rules and the audit trail
# of agencies.identity.services, and show the secret. Each agency's provider page does it.
for _model in (SocialApp, SocialAccount, SocialToken):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(IdentityProvider)
class IdentityProviderAdmin(ReadOnlyAdmin):
    """Agencies' identity providers, for portal administrators to look at; registered and
    changed on each agency's identity provider page (never here, never with the secret)."""

    description = (
        "Each agency's OpenID Connect identity provider. Register, test, enable and "
        "disable it on the agency's page (Sign-in through your identity provider)."
    )
    list_display = ("agency", "issuer", "is_enabled", "password_sign_in", "new_people")
    fields = (*list_display, "mfa_enforced", "mfa_acr_values", "tested_at", "updated_at")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset if user.is_portal_admin else queryset.none()


@admin.register(SignInRequest)
class SignInRequestAdmin(ReadOnlyAdmin):
    """People an agency's identity provider signed in for the first time, waiting for the
    agency's administrators (who decide on the agency's sign-in requests page)."""

    description = "Decided by the agency's administrators on its sign-in requests page."
    list_display = ("email", "agency", "status", "requested_at", "decided_by", "decided_at")
    fields = (*list_display, "first_name", "last_name", "job_title")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset if user.is_portal_admin else queryset.none()


@admin.register(IdentityDomain)
class IdentityDomainAdmin(ReadOnlyAdmin):
    """Which agency's identity provider vouches for which e-mail domain (one each)."""

    description = "Set on the agency's identity provider page."
    list_display = ("domain", "provider")
    fields = list_display

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        return queryset if user.is_portal_admin else queryset.none()


@admin.register(ScimToken)
class ScimTokenAdmin(ReadOnlyAdmin):
    """Agencies' SCIM tokens (never a secret: only hashes are stored), for the agencies the
    viewer manages; issued and revoked on the agency's sign-in and provisioning page."""

    description = (
        "Tokens agencies' identity providers provision people with (SCIM). Issue and "
        "revoke them on the agency's “Sign-in and provisioning” page."
    )
    list_display = ("name", "agency", "prefix", "created_at", "last_used_at", "revoked_at")
    fields = (*list_display, "created_by", "revoked_by")

    def permitted(self, queryset: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        managed = Agency.objects.restrict(user, "manage_members").values("pk")
        return queryset.filter(agency_id__in=managed)
