"""Sign-in, lockout, password and second-factor events, into the audit trail.

They come from Django (signed in, signed out, failed sign-in), django-axes (lockout) and
allauth (password changed/set/reset, authenticators added/removed/reset, a wrong second
factor code). Connected in ``CoordinationConfig.ready``. No secret is ever recorded: a
failed sign-in keeps the address typed, never the password.
"""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from axes import signals as axes_signals
from django.contrib.auth import signals as auth_signals

from coordination import audit
from coordination.models import AuditEvent
from coordination.web.timezones import remember_zone


def _typed_login(credentials: dict[str, Any] | None) -> str:
    for key in ("email", "username", "login"):
        value = (credentials or {}).get(key)
        if value:
            return str(value).strip().lower()[:254]
    return ""


def signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit.record(actor=user, action="auth.signed_in", obj=user)
    if request is not None:
        # A new sign-in reads the agency's time zone afresh (it may have changed).
        remember_zone(request, user)


def signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and user.pk:
        audit.record(actor=user, action="auth.signed_out", obj=user)


def sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    typed = _typed_login(credentials)
    audit.record(
        actor=None,
        actor_label=typed or "unknown",
        action="auth.sign_in_failed",
        outcome=AuditEvent.Outcome.FAILURE,
        after={"login": typed},
    )


def locked_out(sender: Any, request: Any = None, username: Any = None, **kwargs: Any) -> None:
    typed = str(username or "").strip().lower()[:254]
    audit.record(
        actor=None,
        actor_label=typed or "unknown",
        action="auth.locked_out",
        outcome=AuditEvent.Outcome.DENIED,
        after={"login": typed, "ip_address": kwargs.get("ip_address") or ""},
    )


def _password_event(action: str) -> Any:
    def receiver(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
        if user is not None and user.pk:
            audit.record(actor=user, action=action, obj=user)

    receiver.__name__ = action.replace(".", "_")
    return receiver


def _authenticator_event(action: str, outcome: str = AuditEvent.Outcome.SUCCESS) -> Any:
    def receiver(
        sender: Any, request: Any = None, user: Any = None, authenticator: Any = None, **kwargs: Any
    ) -> None:
        if user is None or not user.pk:
            return
        audit.record(
            actor=user,
            action=action,
            obj=user,
            outcome=outcome,
            after={"authenticator": getattr(authenticator, "type", "") or ""},
        )

    receiver.__name__ = action.replace(".", "_")
    return receiver


_RECEIVERS: list[tuple[Any, Any]] = [
    (auth_signals.user_logged_in, signed_in),
    (auth_signals.user_logged_out, signed_out),
    (auth_signals.user_login_failed, sign_in_failed),
    (axes_signals.user_locked_out, locked_out),
    (account_signals.password_changed, _password_event("auth.password_changed")),
    (account_signals.password_set, _password_event("auth.password_set")),
    (account_signals.password_reset, _password_event("auth.password_reset")),
    (mfa_signals.authenticator_added, _authenticator_event("mfa.added")),
    (mfa_signals.authenticator_removed, _authenticator_event("mfa.removed")),
    (mfa_signals.authenticator_reset, _authenticator_event("mfa.reset")),
    (
        mfa_signals.authentication_failed,
        _authenticator_event("mfa.failed", AuditEvent.Outcome.FAILURE),
    ),
]


def connect() -> None:
    for signal, receiver in _RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"concord-audit-{receiver.__name__}")
