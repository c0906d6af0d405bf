"""What the audit trail's codes mean, in words a person reads (the pages and the CSV's
"Action (in words)" column). The codes themselves stay as recorded: they are what filters,
exports and the hash chain use; this only names them. An action not listed here (a new one)
is still shown readably, from its code."""

from __future__ import annotations

from django.apps import apps

ACTION_LABELS: dict[str, str] = {
    "access.refused": "Refused access",
    "account.time_zone_changed": "Changed their time zone",
    "agency.applied": "Agency applied to join",
    "agency.under_review": "Agency application taken under review",
    "agency.active": "Agency approved or reinstated",
    "agency.suspended": "Agency suspended",
    "agency.offboarded": "Agency offboarded",
    "agency.rejected": "Agency application rejected",
    "agency.updated": "Agency details changed",
    "agreement.proposed": "Sharing agreement proposed",
    "agreement.accepted": "Sharing agreement accepted",
    "agreement.in_force": "Sharing agreement came into force",
    "agreement.terminated": "Sharing agreement terminated",
    "api_token.created": "API token created",
    "api_token.revoked": "API token revoked",
    "assignment.created": "Role assigned",
    "assignment.end_date_set": "Role assignment end date set",
    "assignment.ended": "Role assignment ended",
    "assignment.recertified": "Role assignment recertified",
    "audit.purged": "Old audit events purged",
    "auth.api_token_refused": "API token refused",
    "auth.locked_out": "Locked out after failed sign-ins",
    "auth.sign_in_failed": "Sign-in failed",
    "auth.signed_in": "Signed in",
    "auth.signed_out": "Signed out",
    "auth.password_changed": "Password changed",
    "auth.password_reset": "Password reset",
    "auth.password_set": "Password set",
    "calendar_feed.created": "Calendar feed created",
    "calendar_feed.fetched": "Calendar feed read",
    "calendar_feed.revoked": "Calendar feed revoked",
    "export.csv": "Exported a CSV file",
    "export.pdf": "Exported a PDF report",
    "membership.created": "Person invited to the agency",
    "membership.ended": "Agency membership ended",
    "membership.invitation_resent": "Invitation sent again",
    "membership.role_changed": "Agency role changed",
    "mfa.added": "Authenticator app added",
    "mfa.failed": "Authenticator code refused",
    "mfa.removed": "Authenticator app removed",
    "mfa.reset": "Recovery codes renewed",
    "objective.created": "Objective created",
    "objective.updated": "Objective changed",
    "participation.invited": "Agency invited to a task force",
    "participation.accepted": "Task force invitation accepted",
    "participation.declined": "Task force invitation declined",
    "participation.withdrawn": "Agency withdrew from a task force",
    "period.created": "Operational period planned",
    "period.deleted": "Operational period removed",
    "period.updated": "Operational period changed",
    "role.created": "Task force role created",
    "role.updated": "Task force role changed",
    "task.created": "Task created",
    "task.updated": "Task changed",
    "taskforce.formed": "Task force formed",
    "taskforce.status_changed": "Task force status changed",
    "taskforce.updated": "Task force details changed",
    "update.acknowledged": "Update acknowledged",
    "update.posted": "Update posted",
    "agency.phishing_resistant_mfa_set": "Agency's passkey requirement changed",
    "agency_capability.removed": "Agency withdrew a resource it can provide",
    "agency_capability.set": "Agency published a resource it can provide",
    "auth.scim_token_refused": "SCIM token refused",
    "commitment.cancelled": "Resource commitment cancelled",
    "commitment.demobilised": "Resource commitment demobilised",
    "commitment.mobilised": "Resource commitment mobilised",
    "commitment.on_scene": "Resource commitment on scene",
    "decision.written": "Decision logged on the timeline",
    "handover.acknowledged": "Handover brief acknowledged",
    "handover.submitted": "Handover brief written",
    "identity.access_approved": "Sign-in request through the agency's provider approved",
    "identity.access_declined": "Sign-in request through the agency's provider declined",
    "identity.access_requested": "Asked to join through the agency's identity provider",
    "identity.account_created": "Account created through the agency's identity provider",
    "identity.linked": "Account linked to the agency's identity provider",
    "identity.refused": "Sign-in through an identity provider refused",
    "identity.signed_in_through_provider": "Signed in through the agency's identity provider",
    "identity_provider.disabled": "Identity provider disabled",
    "identity_provider.enabled": "Identity provider enabled",
    "identity_provider.registered": "Identity provider registered",
    "identity_provider.tested": "Identity provider connection tested",
    "identity_provider.updated": "Identity provider changed",
    "log.written": "Log entry written on the timeline",
    "person.deactivated": "Person deactivated by the agency's provisioning",
    "person.reactivated": "Person reactivated by the agency's provisioning",
    "person.deleted_by_provider": "Person deleted by the agency's provisioning",
    "person.provisioned_again": "Person created again by the agency's provisioning",
    "person.updated": "Person's details changed by the agency's provisioning",
    "report.downloaded": "Report downloaded",
    "resource_offer.accepted": "Resource offer accepted",
    "resource_offer.declined": "Resource offer declined",
    "resource_offer.made": "Resources offered",
    "resource_offer.withdrawn": "Resource offer withdrawn",
    "resource_request.cancelled": "Resource request cancelled",
    "resource_request.raised": "Resources requested",
    "scim_token.issued": "SCIM token issued",
    "scim_token.revoked": "SCIM token revoked",
    "timeline.not_significant": "Timeline entry no longer marked significant",
    "timeline.significant": "Timeline entry marked significant",
}


def action_label(code: str) -> str:
    """``agency.under_review`` → "Agency application taken under review"; an unlisted code
    reads as its words ("thing.did_it" → "Thing: did it")."""
    if code in ACTION_LABELS:
        return ACTION_LABELS[code]
    subject, _, verb = code.partition(".")
    words = subject.replace("_", " ").capitalize()
    return f"{words}: {verb.replace('_', ' ').replace('.', ' ')}" if verb else words


def object_kind_label(object_type: str) -> str:
    """``agencies.agency`` → "Agency": the model's own name for itself."""
    try:
        model = apps.get_model(object_type)
    except (LookupError, ValueError):
        return object_type
    return str(model._meta.verbose_name).capitalize()
