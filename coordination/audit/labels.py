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
