"""Every page of the portal, and how to open it: the catalogue the security sweeps walk.

``url_names()`` walks the project's URLconf. Each named URL must have an entry in
``PAGES`` (who opens it, with which path arguments, and who must be refused it) or in
``NOT_PAGES`` (with the reason it is not swept here). A URL in neither fails
``test_every_url_has_a_sample`` with its name, so a new page cannot be skipped silently.

A ``Page``'s functions take the world (tests/conftest.py ``build_world``, or the XSS
world built on it) and may create what they need through the services; each test runs
in its own savepoint, so nothing they create outlives the test.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from allauth.account.forms import default_token_generator as allauth_tokens
from allauth.account.utils import user_pk_to_url_str
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from agencies import services as agency_services
from agencies.models import Agency, Membership
from coordination.accounts.tokens import create_token
from coordination.models import Event, Notification
from coordination.notifications import dispatch
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.notifications import ACK_SALT

from ..factories import person
from ..identity.soft_key import SoftKey

# --- what a page needs ----------------------------------------------------------------------


@dataclass
class Visit:
    """One request: as whom (``None``: signed out), with which path arguments and query."""

    user: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    query: str = ""
    # "form": sign in through allauth's form (the account-security pages want a real
    # sign-in, not force_login); "totp": the same, with an authenticator app.
    sign_in: str = "force"


@dataclass(frozen=True)
class Page:
    """How the sweeps open one URL name.

    ``open`` gives the visit that must succeed (a 200 page, after redirects). ``get`` is
    False for URLs that only accept POST. ``html`` is False for answers that are not pages
    (JSON, a download). ``intruders`` gives visits that must be refused — people of other
    agencies, or outside the task force, asking for an object by its id — and ``refusal``
    the statuses that count as refused (404 "not found"; 403 where the project
    deliberately answers "you may see this but not do that"). A URL with path arguments
    and no intruders must say why in ``no_intruder``.

    ``data`` is a form the opener's POST would succeed with (it changes something: the
    sweeps check that, so the refusals they see are the refusal's doing, not a bad form).
    """

    open: Callable[[SimpleNamespace], Visit]
    get: bool = True
    html: bool = True
    intruders: Callable[[SimpleNamespace], list[Visit]] | None = None
    refusal: frozenset[int] = frozenset({404})
    no_intruder: str = ""
    data: Callable[[SimpleNamespace], dict[str, Any]] | None = None


def anonymous(kwargs: dict[str, Any] | None = None) -> Callable[[SimpleNamespace], Visit]:
    return lambda w: Visit(None, kwargs or {})


def as_(persona: str, **extra: Any) -> Callable[[SimpleNamespace], Visit]:
    return lambda w: Visit(getattr(w, persona), **extra)


def with_pk(persona: str, obj: Callable[[SimpleNamespace], Any], **extra: Any):
    return lambda w: Visit(getattr(w, persona), {"pk": obj(w).pk}, **extra)


def refused(obj: Callable[[SimpleNamespace], Any], *personas: str):
    """The same object asked for by each of ``personas``."""
    return lambda w: [Visit(getattr(w, p), {"pk": obj(w).pk}) for p in personas]


# --- objects the world does not have ------------------------------------------------------------


def applied_agency(w: SimpleNamespace) -> Agency:
    """An agency waiting for review (only portal administrators may see it)."""
    if not hasattr(w, "_applied"):
        w._applied = agency_services.apply_for_agency(
            name="Coastal Guard Service",
            level="national",
            sector="emergency_management",
            contact_email="apply@coastal.example.gov",
        )
    return w._applied


def lead_staff_membership(w: SimpleNamespace) -> Membership:
    return Membership.objects.get(user=w.lead_staff, agency=w.lead, ended_at__isnull=True)


def invited_membership(w: SimpleNamespace) -> Membership:
    """Someone the lead's administrator invited, who has not chosen a password yet."""
    if not hasattr(w, "_invited"):
        w._invited = agency_services.invite_member(
            agency=w.lead,
            email="not.yet@nfa.example.gov",
            first_name="Not",
            last_name="Yet",
            by=w.lead_admin,
        )
    return w._invited


def invitation(w: SimpleNamespace) -> SimpleNamespace:
    """The outsider agency invited to the task force, and a liaison officer to answer."""
    if not hasattr(w, "_invitation"):
        liaison = person(
            w.outsider_agency, Membership.Role.LIAISON, email="liaison@cta.example.gov"
        )
        participation = services.invite_agency(
            task_force=w.tf, agency=w.outsider_agency, by=w.lead_liaison
        )
        w._invitation = SimpleNamespace(participation=participation, liaison=liaison)
    return w._invitation


def dispatch_events() -> None:
    """Fan out every event the world's services recorded, as the worker would after
    commit: people's notification centres fill."""
    for event_id in Event.objects.filter(dispatched_at__isnull=True).values_list("pk", flat=True):
        dispatch(event_id)


def lead_staff_notification(w: SimpleNamespace) -> Any:
    dispatch_events()
    return Notification.objects.filter(recipient=w.lead_staff).order_by("pk").first()


def lead_staff_token(w: SimpleNamespace) -> Any:
    if not hasattr(w, "_token"):
        w._token, _secret = create_token(owner=w.lead_staff, name="Dispatch system")
    return w._token


def lead_scim_token(w: SimpleNamespace) -> Any:
    if not hasattr(w, "_scim_token"):
        w._scim_token, _secret = agency_services.issue_scim_token(
            agency=w.lead, name="Entra ID", by=w.lead_admin
        )
    return w._scim_token


def lead_staff_key(w: SimpleNamespace) -> Any:
    """A security key of lead_staff's: a software key's real registration
    (tests/identity/soft_key.py)."""
    if not hasattr(w, "_key"):
        w._key = SoftKey().store_for(w.lead_staff, "YubiKey")
    return w._key


def passkeys_required(w: SimpleNamespace) -> Visit:
    """The outsider's agency requires passkeys, and the outsider signed in without one."""
    admin = person(w.outsider_agency, Membership.Role.ADMIN, email="admin@cta.example.gov")
    agency_services.set_phishing_resistant_requirement(
        agency=w.outsider_agency, required=True, by=admin
    )
    return Visit(w.outsider)


def refused_after_password(obj: Callable[[SimpleNamespace], Any], *personas: str):
    """As ``refused``, each intruder signed in through allauth's pages with their
    authenticator app (its MFA pages ask for a recent sign-in first: the refusal must be
    the object's, not that)."""
    return lambda w: [Visit(getattr(w, p), {"pk": obj(w).pk}, **TOTP) for p in personas]


def welcome_link(w: SimpleNamespace) -> dict[str, str]:
    """The path arguments of the one-time link an invited person gets."""
    newcomer = person(w.lead, email="newcomer@nfa.example.gov")
    newcomer.set_unusable_password()
    newcomer.save(update_fields=["password"])
    return {
        "uidb64": urlsafe_base64_encode(force_bytes(newcomer.pk)),
        "token": default_token_generator.make_token(newcomer),
    }


def reset_key(w: SimpleNamespace) -> dict[str, str]:
    """The path arguments of a password-reset link for the lead staff member."""
    return {
        "uidb36": user_pk_to_url_str(w.lead_staff),
        "key": allauth_tokens.make_token(w.lead_staff),
    }


def ack_token(w: SimpleNamespace) -> dict[str, str]:
    update = w.updates[Marking.AMBER]
    return {"token": signing.dumps({"u": update.pk, "p": w.lead_staff.pk}, salt=ACK_SALT)}


def objective(w: SimpleNamespace) -> Any:
    return w.objectives[Marking.AMBER]


def red_objective(w: SimpleNamespace) -> Any:
    return w.objectives[Marking.RED]


def task(w: SimpleNamespace) -> Any:
    return w.tasks[Marking.AMBER]


def red_task(w: SimpleNamespace) -> Any:
    return w.tasks[Marking.RED]


def update(w: SimpleNamespace) -> Any:
    return w.updates[Marking.AMBER]


def red_update(w: SimpleNamespace) -> Any:
    return w.updates[Marking.RED]


def critical_update(w: SimpleNamespace) -> Any:
    """An update everyone who can see it must acknowledge."""
    if not hasattr(w, "_critical"):
        w._critical = services.post_update(
            task_force=w.tf,
            title="Evacuate now",
            body="The levee is failing.",
            marking=Marking.GREEN,
            requires_acknowledgement=True,
            by=w.lead_liaison,
        )
    return w._critical


def unread_notifications(w: SimpleNamespace) -> dict[str, Any]:
    dispatch_events()
    return {}


def tf(w: SimpleNamespace) -> Any:
    return w.tf


def hidden_task_force(w: SimpleNamespace) -> Any:
    """A task force the partner agency has nothing to do with."""
    if not hasattr(w, "_hidden_tf"):
        w._hidden_tf = services.form_task_force(
            name="Operation Harbour", mandate="Not shared.", by=w.lead_liaison
        )
    return w._hidden_tf


def hidden_role(w: SimpleNamespace) -> Any:
    return hidden_task_force(w).roles.get(template__slug="member")


# --- mutual aid (issue 20) ----------------------------------------------------------------------


def _needed_by() -> datetime.datetime:
    from django.utils import timezone

    return timezone.now() + datetime.timedelta(days=2)


def _raise(w: SimpleNamespace, task_force: Any, addressed: list[Any]) -> Any:
    from mutualaid import services as aid

    aid.ensure_resource_kinds()
    return aid.raise_request(
        task_force=task_force,
        by=w.lead_liaison,
        description="Boat teams",
        quantity=5,
        location="Upton",
        needed_by=_needed_by(),
        justification="Evacuation.",
        marking=Marking.GREEN,
        addressed_agencies=addressed,
    )


def aid_request(w: SimpleNamespace) -> Any:
    """A request of the lead agency addressed to the partner."""
    if not hasattr(w, "_aid_request"):
        w._aid_request = _raise(w, w.tf, [w.partner])
    return w._aid_request


def hidden_aid_request(w: SimpleNamespace) -> Any:
    """A request in a task force the partner agency is not part of."""
    if not hasattr(w, "_hidden_aid_request"):
        w._hidden_aid_request = _raise(w, hidden_task_force(w), [])
    return w._hidden_aid_request


def aid_offer(w: SimpleNamespace) -> Any:
    """The partner's pending offer against ``aid_request``."""
    from mutualaid import services as aid

    if not hasattr(w, "_aid_offer"):
        w._aid_offer = aid.make_offer(
            request=aid_request(w),
            by=w.partner_liaison,
            description="2 boats",
            quantity=2,
            available_from=_needed_by(),
        )
    return w._aid_offer


def aid_commitment(w: SimpleNamespace) -> Any:
    from mutualaid import services as aid

    if not hasattr(w, "_aid_commitment"):
        offer = aid.make_offer(
            request=aid_request(w),
            by=w.partner_liaison,
            description="1 boat",
            quantity=1,
            available_from=_needed_by(),
        )
        w._aid_commitment = aid.accept_offer(offer=offer, by=w.lead_liaison)
    return w._aid_commitment


def aid_capability(w: SimpleNamespace) -> Any:
    from mutualaid import services as aid
    from mutualaid.models import ResourceKind

    if not hasattr(w, "_aid_capability"):
        aid.ensure_resource_kinds()
        w._aid_capability = aid.set_capability(
            agency=w.partner, kind=ResourceKind.objects.first(), by=w.partner_liaison
        )
    return w._aid_capability


def aid_intruders(obj: Callable[[SimpleNamespace], Any], *seeing: str):
    """The outsider asking for ``obj``; the partner's people asking for a request in a
    task force their agency is not part of; and ``seeing`` personas, who see ``obj`` but
    may not do this to it (403)."""

    def visits(w: SimpleNamespace) -> list[Visit]:
        found = [
            Visit(w.outsider, {"pk": obj(w).pk}),
            Visit(w.partner_staff, {"pk": hidden_aid_request(w).pk}),
        ]
        found.extend(Visit(getattr(w, p), {"pk": obj(w).pk}) for p in seeing)
        return found

    return visits


def aid_request_form(w: SimpleNamespace) -> dict[str, Any]:
    return {
        "description": "Sandbags",
        "quantity": "3",
        "location": "Upton",
        "needed_by": _needed_by().strftime("%Y-%m-%dT%H:%M"),
        "priority": "2",
        "justification": "Defences.",
        "marking": str(Marking.GREEN.value),
    }


def aid_offer_form(w: SimpleNamespace) -> dict[str, Any]:
    return {
        "description": "Boats",
        "quantity": "1",
        "available_from": _needed_by().strftime("%Y-%m-%dT%H:%M"),
    }


def aid_kind(w: SimpleNamespace) -> dict[str, Any]:
    from mutualaid import services as aid
    from mutualaid.models import ResourceKind

    aid.ensure_resource_kinds()
    return {"kind": str(ResourceKind.objects.last().pk), "typical_quantity": "2"}


def outsider_intruders(obj: Callable[[SimpleNamespace], Any]):
    """The outsider (not in the task force) and the partner agency's people asking for an
    object of a task force their agency is not part of."""

    def visits(w: SimpleNamespace) -> list[Visit]:
        found = [
            Visit(w.outsider, {"pk": obj(w).pk}),
            Visit(w.partner_liaison, {"pk": _in_hidden(w, obj).pk}),
            Visit(w.partner_staff, {"pk": _in_hidden(w, obj).pk}),
        ]
        red = _red_counterpart(w, obj(w))
        if red is not None:  # above the lead–partner agreement (TLP:AMBER)
            found.append(Visit(w.partner_staff, {"pk": red.pk}))
        return found

    return visits


def _in_hidden(w: SimpleNamespace, obj: Callable[[SimpleNamespace], Any]) -> Any:
    """The counterpart of ``obj(w)`` in a task force the partner agency is not part of."""
    from taskforces.models import Objective, Role, RoleAssignment, Task, TaskForce, Update

    original = obj(w)
    hidden = hidden_task_force(w)
    if isinstance(original, TaskForce):
        return hidden
    if isinstance(original, Role):
        return hidden_role(w)
    if isinstance(original, RoleAssignment):
        return hidden.roles.get(template__slug="commander").assignments.first()
    if isinstance(original, Objective):
        return _hidden_objective(w)
    if isinstance(original, Task):
        return _hidden_objective(w).tasks.first()
    if isinstance(original, Update):
        if not hasattr(w, "_hidden_update"):
            w._hidden_update = services.post_update(
                task_force=hidden, title="Harbour", body="Not shared.", by=w.lead_liaison
            )
        return w._hidden_update
    raise TypeError(original)


def period(w: SimpleNamespace) -> Any:
    """Operational period 1 of the task force."""
    if not hasattr(w, "_period"):
        w._period = services.create_period(
            task_force=w.tf,
            starts_at=datetime.datetime(2026, 3, 2, 6, 0, tzinfo=datetime.UTC),
            ends_at=datetime.datetime(2026, 3, 2, 18, 0, tzinfo=datetime.UTC),
            notes="Day shift.",
            by=w.lead_liaison,
        )
    return w._period


def hidden_period(w: SimpleNamespace) -> Any:
    if not hasattr(w, "_hidden_period"):
        w._hidden_period = services.create_period(
            task_force=hidden_task_force(w),
            starts_at=datetime.datetime(2026, 3, 2, 6, 0, tzinfo=datetime.UTC),
            ends_at=datetime.datetime(2026, 3, 2, 18, 0, tzinfo=datetime.UTC),
            by=w.lead_liaison,
        )
    return w._hidden_period


def period_intruders(w: SimpleNamespace) -> list[Visit]:
    return [
        Visit(w.outsider, {"pk": period(w).pk}),
        Visit(w.partner_liaison, {"pk": hidden_period(w).pk}),
        Visit(w.partner_staff, {"pk": hidden_period(w).pk}),
    ]


# --- the timeline and handover (issue 19) ----------------------------------------------------


def timeline_entry(w: SimpleNamespace) -> Any:
    """The timeline entry of the TLP:AMBER update being posted."""
    from taskforces.models import TimelineEntry

    return TimelineEntry.objects.get(
        task_force=w.tf, action="update.posted", object_id=w.updates[Marking.AMBER].pk
    )


def timeline_intruders(w: SimpleNamespace) -> list[Visit]:
    from taskforces.models import TimelineEntry

    red = TimelineEntry.objects.get(
        task_force=w.tf, action="update.posted", object_id=w.updates[Marking.RED].pk
    )
    hidden = TimelineEntry.objects.filter(task_force=hidden_task_force(w)).first()
    return [
        Visit(w.outsider, {"pk": timeline_entry(w).pk}),
        Visit(w.partner_staff, {"pk": red.pk}),  # above the lead–partner agreement
        Visit(w.partner_staff, {"pk": hidden.pk}),
    ]


def handover(w: SimpleNamespace) -> SimpleNamespace:
    """Periods 1 (running now) and 2; lead_staff leaves the Member role at the end of
    period 1 and has written its brief, which partner_staff (staying on) takes over."""
    if not hasattr(w, "_handover"):
        now = datetime.datetime.now(datetime.UTC)
        hour = datetime.timedelta(hours=1)
        first = services.create_period(
            task_force=w.tf, starts_at=now - hour, ends_at=now + hour, by=w.lead_liaison
        )
        second = services.create_period(
            task_force=w.tf, starts_at=now + hour, ends_at=now + 9 * hour, by=w.lead_liaison
        )
        assignment = services.set_assignment_end(
            assignment=w.lead_staff_assignment, until=first.ends_at, by=w.lead_liaison
        )
        brief = services.write_handover_brief(
            assignment=assignment, period=first, risks="Levee.", by=w.lead_staff
        )
        w._handover = SimpleNamespace(
            period=first, next_period=second, assignment=assignment, brief=brief
        )
    return w._handover


def handover_intruders(obj: Callable[[SimpleNamespace], Any]):
    def visits(w: SimpleNamespace) -> list[Visit]:
        return [Visit(w.outsider, {"pk": obj(w).pk})]

    return visits


def report_visit(w: SimpleNamespace) -> Visit:
    return Visit(
        w.lead_staff, {"pk": w.tf.pk, "form": "ics-202"}, query=f"period={period(w).number}"
    )


def report_intruders(w: SimpleNamespace) -> list[Visit]:
    hidden = hidden_task_force(w)
    return [
        Visit(w.outsider, {"pk": w.tf.pk, "form": "ics-202"}, query=f"period={period(w).number}"),
        Visit(
            w.partner_staff,
            {"pk": hidden.pk, "form": "ics-202"},
            query=f"period={hidden_period(w).number}",
        ),
    ]


def lead_staff_feed(w: SimpleNamespace) -> Any:
    from taskforces.calendar import create_feed

    if not hasattr(w, "_feed"):
        w._feed, w._feed_secret = create_feed(actor=w.lead_staff)
    return w._feed


def feed_secret(w: SimpleNamespace) -> dict[str, str]:
    lead_staff_feed(w)
    return {"secret": w._feed_secret}


def audit_event(w: SimpleNamespace) -> Any:
    """An event done by a lead agency person (its agency administrator may read it)."""
    from coordination.models import AuditEvent

    return AuditEvent.objects.filter(actor=w.lead_liaison).order_by("pk").first()


def audit_intruders(w: SimpleNamespace) -> list[Visit]:
    """The partner agency's administrator (who reads only their own people's events),
    and people who are no administrators at all."""
    partner_admin = person(w.partner, Membership.Role.ADMIN, email="admin@rhs.example.gov")
    return [
        Visit(partner_admin, {"pk": audit_event(w).pk}),
        Visit(w.partner_liaison, {"pk": audit_event(w).pk}),
        Visit(w.outsider, {"pk": audit_event(w).pk}),
    ]


def _red_counterpart(w: SimpleNamespace, original: Any) -> Any:
    """The TLP:RED object of the same kind in the same task force, if ``original`` is an
    objective, task or update."""
    from taskforces.models import Objective, Task, Update

    for kind, red in ((Objective, red_objective), (Task, red_task), (Update, red_update)):
        if isinstance(original, kind):
            return red(w)
    return None


def _hidden_objective(w: SimpleNamespace) -> Any:
    if not hasattr(w, "_hidden_objective"):
        w._hidden_objective = services.create_objective(
            task_force=hidden_task_force(w),
            title="Harbour objective",
            owner_agency=w.lead,
            marking=Marking.GREEN,
            by=w.lead_liaison,
        )
        services.create_task(objective=w._hidden_objective, title="Harbour task", by=w.lead_liaison)
    return w._hidden_objective


# --- forms that succeed for the page's opener -----------------------------------------------------

APPLICATION = {
    "name": "Mountain Rescue Service",
    "level": "regional",
    "sector": "emergency_management",
    "contact_email": "contact@mrs.example.gov",
}
NEWCOMER = {
    "email": "newcomer@nfa.example.gov",
    "first_name": "Nia",
    "last_name": "Newcomer",
    "role": "staff",
}


IDENTITY_PROVIDER = {
    "issuer": "https://login.nfa.example.gov",
    "client_id": "concord",
    "client_secret": "not-shown-again",
    "domains": "nfa.example.gov",
    "new_people": "request",
}


def lead_identity_provider(w: SimpleNamespace) -> Any:
    """The lead agency's identity provider, registered, tested and enabled (the test of
    the connection is marked, not made: tests/identity reaches a real provider)."""
    from agencies.identity import services as identity_services

    if not hasattr(w, "_idp"):
        w._idp = identity_services.save_provider(
            agency=w.lead,
            by=w.lead_admin,
            issuer="https://login.nfa.example.gov",
            client_id="concord",
            client_secret="not-shown-again",
            domains=["nfa.example.gov"],
        )
        w._idp.tested_issuer = w._idp.issuer
        w._idp.is_enabled = True
        w._idp.save()
    return w._idp


def waiting_request(w: SimpleNamespace) -> Any:
    """Someone the lead agency's identity provider signed in for the first time."""
    from agencies.models import SignInRequest

    if not hasattr(w, "_waiting"):
        w._waiting = SignInRequest.objects.create(
            agency=w.lead, email="first.time@nfa.example.gov", first_name="First", last_name="Time"
        )
    return w._waiting


def agreement_form(w: SimpleNamespace) -> dict[str, Any]:
    return {
        "title": "NFA–CTA sharing",
        "parties": [w.outsider_agency.pk],
        "max_marking": int(Marking.GREEN),
        "valid_from": "2026-01-01",
    }


def objective_form(w: SimpleNamespace) -> dict[str, Any]:
    return {
        "title": "Evacuate the lower town",
        "owner_agency": w.lead.pk,
        "status": "on_track",
        "priority": 3,
        "marking": int(Marking.GREEN),
    }


def assign_form(w: SimpleNamespace) -> dict[str, Any]:
    return {"person": person(w.lead, email="reserve@nfa.example.gov").pk}


# --- the catalogue ------------------------------------------------------------------------------

TOTP = {"sign_in": "totp"}

PAGES: dict[str, Page] = {
    # the portal's own pages
    "dashboard": Page(as_("lead_liaison")),
    "healthz": Page(anonymous(), html=False),
    "notifications:centre": Page(as_("lead_staff")),
    "notifications:mark-read": Page(
        with_pk("lead_staff", lead_staff_notification),
        get=False,
        intruders=refused(lead_staff_notification, "lead_liaison", "partner_staff", "outsider"),
        data=lambda w: {},
    ),
    "notifications:mark-all-read": Page(as_("lead_staff"), get=False, data=unread_notifications),
    "notifications:preferences": Page(as_("lead_staff")),
    # what a task force's live page polls: versions of what the person sees, never
    # another's (tests/live/test_live.py checks an outsider learns nothing)
    "live:versions": Page(as_("lead_staff", query="topic=me&topic=tf:*"), html=False),
    "tokens": Page(as_("lead_staff")),
    "settings": Page(as_("lead_staff"), data=lambda w: {"time_zone": "Europe/Paris"}),
    "token-revoke": Page(
        with_pk("lead_staff", lead_staff_token),
        get=False,
        intruders=refused(lead_staff_token, "lead_admin", "partner_staff", "outsider"),
        data=lambda w: {},
    ),
    # agencies
    "agencies:apply": Page(anonymous(), data=lambda w: APPLICATION),
    "agencies:apply-done": Page(anonymous()),
    "agencies:directory": Page(as_("lead_staff")),
    "agencies:review-queue": Page(as_("portal_admin")),
    "agencies:detail": Page(
        with_pk("lead_staff", lambda w: w.partner),
        intruders=refused(applied_agency, "lead_admin", "partner_liaison", "outsider"),
    ),
    "agencies:review": Page(
        with_pk("portal_admin", applied_agency),
        intruders=refused(applied_agency, "lead_admin", "partner_liaison", "outsider"),
        data=lambda w: {"decision": "begin"},
    ),
    "agencies:status": Page(
        with_pk("portal_admin", lambda w: w.outsider_agency),
        intruders=refused(lambda w: w.outsider_agency, "lead_admin", "partner_liaison", "outsider"),
        data=lambda w: {"decision": "suspend", "suspend-reason": "Audit finding."},
    ),
    "agencies:people": Page(
        with_pk("lead_admin", lambda w: w.lead),
        intruders=refused(lambda w: w.lead, "partner_liaison", "partner_staff", "outsider"),
    ),
    "agencies:invite": Page(
        with_pk("lead_admin", lambda w: w.lead),
        intruders=refused(lambda w: w.lead, "partner_liaison", "partner_staff", "outsider"),
        data=lambda w: NEWCOMER,
    ),
    "agencies:identity": Page(
        with_pk("lead_admin", lambda w: w.lead),
        intruders=refused(lambda w: w.lead, "partner_liaison", "partner_staff", "outsider"),
        data=lambda w: {"required": "yes"},
    ),
    "agencies:scim-token-new": Page(
        with_pk("lead_admin", lambda w: w.lead),
        get=False,
        intruders=refused(lambda w: w.lead, "partner_liaison", "partner_staff", "outsider"),
        data=lambda w: {"name": "Okta"},
    ),
    "agencies:scim-token-revoke": Page(
        with_pk("lead_admin", lead_scim_token),
        get=False,
        intruders=refused(lead_scim_token, "lead_staff", "partner_liaison", "outsider"),
        data=lambda w: {},
    ),
    "agencies:agreement-new": Page(
        with_pk("lead_admin", lambda w: w.lead),
        # the directory shows the lead agency to everyone: proposing for it is refused
        intruders=refused(lambda w: w.lead, "partner_liaison", "partner_staff", "outsider"),
        refusal=frozenset({403}),
        data=agreement_form,
    ),
    "agencies:agreement": Page(
        with_pk("lead_admin", lambda w: w.agreement),
        intruders=refused(lambda w: w.agreement, "outsider"),
        data=lambda w: {"action": "terminate", "reason": "The exchange has ended."},
    ),
    "agencies:membership-role": Page(
        with_pk("lead_admin", lead_staff_membership),
        intruders=refused(lead_staff_membership, "partner_liaison", "partner_staff", "outsider"),
        data=lambda w: {"role": "liaison"},
    ),
    "agencies:membership-end": Page(
        with_pk("lead_admin", lead_staff_membership),
        intruders=refused(lead_staff_membership, "partner_liaison", "partner_staff", "outsider"),
        data=lambda w: {"reason": "Left the agency."},
    ),
    "agencies:membership-resend-invitation": Page(
        with_pk("lead_admin", invited_membership),
        get=False,
        intruders=refused(invited_membership, "partner_liaison", "partner_staff", "outsider"),
        data=lambda w: {},
    ),
    # the agency's own identity provider (tests/identity/ has the rest: a real provider)
    "agencies:identity-provider": Page(
        with_pk("lead_admin", lambda w: w.lead),
        intruders=refused(
            lambda w: w.lead, "lead_staff", "lead_liaison", "partner_liaison", "outsider"
        ),
        data=lambda w: IDENTITY_PROVIDER,
    ),
    "agencies:identity-provider-enable": Page(
        with_pk("lead_admin", lambda w: lead_identity_provider(w).agency),
        get=False,
        intruders=refused(lambda w: w.lead, "lead_staff", "partner_liaison", "outsider"),
        data=lambda w: {"enabled": "0"},
    ),
    "agencies:sign-in-requests": Page(
        with_pk("lead_admin", lambda w: w.lead),
        intruders=refused(lambda w: w.lead, "lead_staff", "partner_liaison", "outsider"),
    ),
    "agencies:sign-in-request-decide": Page(
        with_pk("lead_admin", waiting_request),
        get=False,
        intruders=refused(waiting_request, "lead_staff", "partner_liaison", "outsider"),
        data=lambda w: {"decision": "decline"},
    ),
    "agencies:set-password": Page(
        lambda w: Visit(None, welcome_link(w)),
        no_intruder="A one-time link signed for one person (Django's password-reset token); "
        "a wrong or used token shows no form and changes nothing (test_cross_agency).",
    ),
    "agencies:set-password-done": Page(anonymous()),
    # task forces
    "taskforces:list": Page(as_("lead_staff")),
    "taskforces:create": Page(
        as_("lead_liaison"),
        data=lambda w: {"name": "Dam watch", "mandate": "Watch the dams.", "marking": 1},
    ),
    "taskforces:detail": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "taskforces:edit": Page(
        with_pk("lead_liaison", tf),
        intruders=outsider_intruders(tf),
        data=lambda w: {"name": "Renamed", "mandate": "New mandate.", "marking": 2},
    ),
    "taskforces:status": Page(
        with_pk("lead_liaison", tf),
        get=False,
        intruders=outsider_intruders(tf),
        data=lambda w: {"status": "active"},
    ),
    "taskforces:invite": Page(
        with_pk("lead_liaison", tf),
        intruders=outsider_intruders(tf),
        data=lambda w: {"agency": w.outsider_agency.pk},
    ),
    "taskforces:organisation": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "taskforces:role-create": Page(
        with_pk("lead_liaison", tf),
        intruders=outsider_intruders(tf),
        data=lambda w: {
            "name": "Logistics lead",
            "responsibilities": "Supplies.",
            "capabilities": ["view_taskforce"],
        },
    ),
    "taskforces:objectives": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "taskforces:objective-create": Page(
        with_pk("lead_liaison", tf), intruders=outsider_intruders(tf), data=objective_form
    ),
    "taskforces:updates": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "taskforces:update-create": Page(
        with_pk("lead_liaison", tf),
        intruders=outsider_intruders(tf),
        data=lambda w: {"kind": "update", "title": "Dry", "body": "Levels falling.", "marking": 1},
    ),
    "taskforces:respond": Page(
        lambda w: Visit(invitation(w).liaison, {"pk": invitation(w).participation.pk}),
        intruders=refused(lambda w: invitation(w).participation, "partner_liaison", "outsider"),
        data=lambda w: {"decision": "accept"},
    ),
    "taskforces:withdraw": Page(
        with_pk("partner_liaison", lambda w: w.participation),
        intruders=refused(lambda w: w.participation, "outsider"),
        data=lambda w: {"reason": "Needed elsewhere."},
    ),
    "taskforces:assign": Page(
        with_pk("lead_liaison", lambda w: w.member_role),
        intruders=outsider_intruders(lambda w: w.member_role),
        data=assign_form,
    ),
    "taskforces:assignment-end": Page(
        with_pk("lead_liaison", lambda w: w.lead_staff_assignment),
        intruders=outsider_intruders(lambda w: w.lead_staff_assignment),
        data=lambda w: {"reason": "Rotation."},
    ),
    "taskforces:assignment-until": Page(
        with_pk("lead_liaison", lambda w: w.lead_staff_assignment),
        intruders=outsider_intruders(lambda w: w.lead_staff_assignment),
        data=lambda w: {"until": "2030-01-01T10:00"},
    ),
    "taskforces:objective": Page(
        with_pk("lead_staff", objective), intruders=outsider_intruders(objective)
    ),
    "taskforces:objective-edit": Page(
        with_pk("lead_liaison", objective),
        intruders=outsider_intruders(objective),
        data=objective_form,
    ),
    "taskforces:objective-status": Page(
        with_pk("lead_liaison", objective),
        get=False,
        intruders=outsider_intruders(objective),
        data=lambda w: {"status": "at_risk"},
    ),
    "taskforces:task-create": Page(
        with_pk("lead_liaison", objective),
        intruders=outsider_intruders(objective),
        data=lambda w: {"title": "Sandbags", "status": "todo"},
    ),
    "taskforces:task": Page(with_pk("lead_staff", task), intruders=outsider_intruders(task)),
    "taskforces:task-edit": Page(
        with_pk("lead_liaison", task),
        intruders=outsider_intruders(task),
        data=lambda w: {"title": "Sandbags", "status": "in_progress"},
    ),
    "taskforces:task-status": Page(
        with_pk("lead_liaison", task),
        get=False,
        intruders=outsider_intruders(task),
        data=lambda w: {"status": "done"},
    ),
    "taskforces:update": Page(with_pk("lead_staff", update), intruders=outsider_intruders(update)),
    "taskforces:acknowledge": Page(
        with_pk("lead_staff", critical_update),
        get=False,
        intruders=outsider_intruders(critical_update),
        data=lambda w: {},
    ),
    "taskforces:acknowledge-link": Page(
        lambda w: Visit(None, ack_token(w)),
        no_intruder="A link signed for one recipient and one update (7 days); a tampered "
        "token answers 400 and acknowledges nothing (test_cross_agency).",
    ),
    # the audit trail (portal administrators; agency administrators for their people)
    "audit:list": Page(as_("portal_admin")),
    "audit:export": Page(as_("portal_admin"), html=False),
    "audit:detail": Page(
        with_pk("portal_admin", audit_event),
        intruders=audit_intruders,
        # the audit pages are for administrators: anyone else is refused them outright
        refusal=frozenset({403, 404}),
    ),
    # access review (agency administrators)
    "agencies:access-review": Page(
        with_pk("lead_admin", lambda w: w.lead),
        intruders=refused(lambda w: w.lead, "partner_liaison", "partner_staff", "outsider"),
    ),
    # task lists, exports, operational periods and ICS reports
    "taskforces:tasks": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "taskforces:assignments-csv": Page(
        with_pk("lead_staff", tf), html=False, intruders=outsider_intruders(tf)
    ),
    "taskforces:objectives-csv": Page(
        with_pk("lead_staff", tf), html=False, intruders=outsider_intruders(tf)
    ),
    "taskforces:tasks-csv": Page(
        with_pk("lead_staff", tf), html=False, intruders=outsider_intruders(tf)
    ),
    "taskforces:periods": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "taskforces:period-create": Page(
        with_pk("lead_liaison", tf),
        intruders=outsider_intruders(tf),
        data=lambda w: {"starts_at": "2026-03-03T06:00", "ends_at": "2026-03-03T18:00"},
    ),
    "taskforces:period-edit": Page(
        with_pk("lead_liaison", period),
        intruders=period_intruders,
        data=lambda w: {
            "number": 1,
            "starts_at": "2026-03-02T06:00",
            "ends_at": "2026-03-02T20:00",
            "notes": "Longer day shift.",
        },
    ),
    "taskforces:period-delete": Page(
        with_pk("lead_liaison", period), intruders=period_intruders, data=lambda w: {}
    ),
    "taskforces:reports": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "taskforces:report": Page(report_visit, intruders=report_intruders),
    # mutual aid (issue 20)
    "mutualaid:list": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "mutualaid:csv": Page(with_pk("lead_staff", tf), html=False, intruders=outsider_intruders(tf)),
    "mutualaid:create": Page(
        with_pk("lead_liaison", tf),
        intruders=lambda w: [*outsider_intruders(tf)(w), Visit(w.partner_staff, {"pk": w.tf.pk})],
        refusal=frozenset({403, 404}),
        data=aid_request_form,
    ),
    "mutualaid:request": Page(
        with_pk("partner_staff", aid_request), intruders=aid_intruders(aid_request)
    ),
    "mutualaid:ics-213rr": Page(
        with_pk("partner_staff", aid_request), intruders=aid_intruders(aid_request)
    ),
    "mutualaid:offer": Page(
        with_pk("partner_liaison", aid_request),
        intruders=aid_intruders(aid_request, "partner_staff"),
        refusal=frozenset({403, 404}),
        data=aid_offer_form,
    ),
    "mutualaid:cancel": Page(
        with_pk("lead_liaison", aid_request),
        get=False,
        intruders=aid_intruders(aid_request, "partner_liaison", "lead_staff"),
        refusal=frozenset({403, 404}),
        data=lambda w: {"reason": "Stood down."},
    ),
    "mutualaid:accept": Page(
        with_pk("lead_liaison", aid_offer),
        get=False,
        intruders=aid_intruders(aid_offer, "partner_liaison", "lead_staff"),
        refusal=frozenset({403, 404}),
        data=lambda w: {"quantity": "1"},
    ),
    "mutualaid:decline": Page(
        with_pk("lead_liaison", aid_offer),
        get=False,
        intruders=aid_intruders(aid_offer, "partner_staff", "lead_staff"),
        refusal=frozenset({403, 404}),
        data=lambda w: {"reason": "Too far."},
    ),
    "mutualaid:withdraw": Page(
        with_pk("partner_liaison", aid_offer),
        get=False,
        intruders=aid_intruders(aid_offer, "partner_staff", "lead_liaison"),
        refusal=frozenset({403, 404}),
        data=lambda w: {},
    ),
    "mutualaid:commitment-step": Page(
        with_pk("partner_liaison", aid_commitment),
        get=False,
        intruders=aid_intruders(aid_commitment, "partner_staff", "lead_staff"),
        refusal=frozenset({403, 404}),
        data=lambda w: {"status": "mobilised"},
    ),
    "mutualaid:capabilities": Page(as_("partner_liaison"), data=aid_kind),
    "mutualaid:capability-remove": Page(
        with_pk("partner_liaison", aid_capability),
        get=False,
        intruders=refused(aid_capability, "partner_staff", "lead_liaison", "outsider"),
        data=lambda w: {},
    ),
    # the timeline and handover (issue 19)
    "taskforces:timeline": Page(with_pk("lead_staff", tf), intruders=outsider_intruders(tf)),
    "taskforces:timeline-entries": Page(
        with_pk("lead_staff", tf),
        html=False,  # a region of the timeline page, not a page
        intruders=outsider_intruders(tf),
    ),
    "taskforces:timeline-log": Page(
        with_pk("lead_staff", tf),
        intruders=outsider_intruders(tf),
        data=lambda w: {"kind": "log", "text": "Gauge at 4.2 m", "marking": 1},
    ),
    "taskforces:timeline-csv": Page(
        with_pk("lead_staff", tf), html=False, intruders=outsider_intruders(tf)
    ),
    "taskforces:timeline-pdf": Page(
        with_pk("lead_staff", tf), html=False, intruders=outsider_intruders(tf)
    ),
    "taskforces:timeline-significant": Page(
        with_pk("lead_staff", timeline_entry),
        get=False,
        intruders=timeline_intruders,
        data=lambda w: {"significant": "true"},
    ),
    "taskforces:handover": Page(
        lambda w: Visit(w.lead_liaison, {"pk": handover(w) and w.tf.pk}),
        intruders=outsider_intruders(tf),
    ),
    "taskforces:handover-mine": Page(
        lambda w: Visit(w.partner_staff, {"pk": handover(w) and w.tf.pk}),
        intruders=outsider_intruders(tf),
    ),
    "taskforces:handover-write": Page(
        lambda w: Visit(
            w.partner_staff,
            {"pk": w.partner_staff_assignment.pk},
            query=f"period={handover(w).period.number}",
        ),
        intruders=lambda w: [
            Visit(w.outsider, {"pk": w.partner_staff_assignment.pk}, query="period=1"),
            Visit(w.lead_staff, {"pk": w.partner_staff_assignment.pk}, query="period=1"),
        ],
        refusal=frozenset({403, 404}),
        data=lambda w: {"open_tasks": "", "risks": "Bridge", "marking": 1},
    ),
    "taskforces:handover-brief": Page(
        lambda w: Visit(w.partner_staff, {"pk": handover(w).brief.pk}),
        intruders=handover_intruders(lambda w: handover(w).brief),
    ),
    "taskforces:handover-acknowledge": Page(
        lambda w: Visit(w.partner_staff, {"pk": handover(w).brief.pk}),
        get=False,
        intruders=handover_intruders(lambda w: handover(w).brief),
        data=lambda w: {},
    ),
    "taskforces:briefing": Page(
        lambda w: Visit(w.lead_staff, {"pk": handover(w).next_period.pk}),
        intruders=handover_intruders(lambda w: handover(w).next_period),
    ),
    # the personal calendar feed
    "taskforces:calendar": Page(as_("lead_staff"), data=lambda w: {}),
    "taskforces:calendar-revoke": Page(
        with_pk("lead_staff", lead_staff_feed),
        get=False,
        intruders=refused(lead_staff_feed, "lead_liaison", "partner_staff", "outsider"),
        data=lambda w: {},
    ),
    "taskforces:calendar-feed": Page(
        lambda w: Visit(None, feed_secret(w)),
        html=False,
        no_intruder="The feed's address holds a secret of 43 random characters, made for "
        "one person and stored only as a hash; any other address is 404 "
        "(test_cross_agency).",
    ),
    # allauth's pages, in our templates
    "login": Page(anonymous()),
    "account_login": Page(anonymous()),
    "logout": Page(as_("lead_staff")),
    "account_logout": Page(as_("lead_staff")),
    "account_email": Page(as_("lead_staff")),
    "account_signup": Page(anonymous()),
    "account_inactive": Page(anonymous()),
    "account_reauthenticate": Page(as_("lead_staff", sign_in="form")),
    "account_change_password": Page(as_("lead_staff", sign_in="form")),
    "account_set_password": Page(as_("lead_staff", sign_in="form")),
    "account_reset_password": Page(anonymous()),
    "account_reset_password_done": Page(anonymous()),
    "account_reset_password_from_key": Page(
        lambda w: Visit(None, reset_key(w)),
        no_intruder="allauth's one-time password-reset link for one person; a wrong key "
        "shows no form and changes nothing (test_cross_agency).",
    ),
    "account_reset_password_from_key_done": Page(anonymous()),
    "mfa_index": Page(as_("lead_staff", **TOTP)),
    "mfa_authenticate": Page(as_("lead_staff", sign_in="half")),
    "mfa_reauthenticate": Page(as_("lead_staff", **TOTP)),
    "mfa_activate_totp": Page(as_("lead_staff", sign_in="form")),
    "mfa_deactivate_totp": Page(as_("lead_staff", **TOTP)),
    "mfa_view_recovery_codes": Page(as_("lead_staff", **TOTP)),
    "mfa_generate_recovery_codes": Page(as_("lead_staff", **TOTP)),
    "mfa_download_recovery_codes": Page(as_("lead_staff", **TOTP), html=False),
    "mfa_list_webauthn": Page(as_("lead_staff", sign_in="form")),
    "mfa_add_webauthn": Page(as_("lead_staff", sign_in="form")),
    "mfa_edit_webauthn": Page(
        with_pk("lead_staff", lead_staff_key, **TOTP),
        intruders=refused_after_password(lead_staff_key, "lead_admin", "partner_staff", "outsider"),
        data=lambda w: {"name": "Renamed key"},
    ),
    "mfa_remove_webauthn": Page(
        with_pk("lead_staff", lead_staff_key, **TOTP),
        intruders=refused_after_password(lead_staff_key, "lead_admin", "partner_staff", "outsider"),
        data=lambda w: {},
    ),
    # a plain GET is sent back to the sign-in page (the passkey script asks for JSON)
    "mfa_login_webauthn": Page(anonymous()),
    "passkey-required": Page(passkeys_required),
}

# URLs the page sweeps leave out, and why. Each is checked elsewhere, as named.
NOT_PAGES: dict[str, str] = {
    "mfa_reauthenticate_webauthn": "its page starts a WebAuthn ceremony with the person's "
    "registered keys, which needs a real key's public-key data: opened in Chromium, with a "
    "registered passkey, by tests/browser/test_passkeys.py",
    "account_email_verification_sent": "allauth's 'verification sent' page: Concord does "
    "not verify addresses (ACCOUNT_EMAIL_VERIFICATION = 'none'; administrators vouch for them)",
    "account_confirm_email": "allauth's address confirmation: no address verification in "
    "Concord (see account_email_verification_sent)",
    "account_confirm_login_code": "allauth's sign-in by e-mailed code: not enabled",
    "account_request_reauthentication_code": "allauth's reauthentication by e-mailed code: "
    "not enabled (reauthentication asks for the password)",
    "account_confirm_reauthentication_code": "as account_request_reauthentication_code",
    "agencies:identity-provider-test": "fetches the issuer's discovery document over the "
    "network: tests/identity/test_identity_providers.py opens it against a real provider "
    "and refuses it to staff, liaison officers and other agencies' administrators",
    "agencies:agency-sign-in": "the sign-in page's 'Continue with your agency': it changes "
    "nothing stored (it sends a person on, or back); tests/identity/test_identity_providers.py "
    "checks it refuses a POST without the CSRF token and drives it in Chromium",
    "openid_connect_login": "allauth's start of a sign-in through an agency's provider: "
    "reached from 'Continue with your agency', driven in Chromium by tests/identity",
    "openid_connect_callback": "allauth's return from an agency's provider: driven in "
    "Chromium against real providers by tests/identity (refusals included)",
    "socialaccount_login_cancelled": "allauth's 'sign-in cancelled at the provider' page",
    "socialaccount_login_error": "allauth's 'sign-in through the provider failed' page",
    "socialaccount_signup": "allauth's sign-up form after a provider's sign-in: never shown "
    "(the adapter makes the account or a request; SOCIALACCOUNT_AUTO_SIGNUP)",
    "socialaccount_connections": "allauth's 'connected accounts' page: linking is the "
    "adapter's on sign-in only; it refuses connecting and disconnecting "
    "(tests/identity/test_identity_providers.py)",
    "live:stream": "the live pages' event stream is served only under the ASGI server "
    "(the test client is WSGI: it answers 204, 'poll instead'); tests/live/test_live.py "
    "opens it under uvicorn and checks its refusals (signed out, bad topics or positions)",
}
# Whole URL prefixes left out: the JSON API (every operation is swept by
# tests/api/test_permission_matrix.py and fuzzed by tests/api/test_fuzz.py; its HTML
# documentation page is checked by test_csp.py on its own) and the Django admin (Django's
# own pages, for portal administrators who are superusers; test_csp.py checks a sample).
# And allauth's unnamed permanent redirects from its social accounts' old addresses
# (accounts/social/...) to the named pages under accounts/3rdparty/, listed in NOT_PAGES.
# SCIM (scim/v2/) is no page: a JSON protocol for agencies' identity providers, swept by
# tests/identity/test_scim.py (each agency's token against the other's people).
NOT_PAGE_PREFIXES = ("api/", "admin/", "accounts/social/", "scim/")


# --- walking the URLconf ------------------------------------------------------------------------


@dataclass(frozen=True)
class Url:
    name: str | None
    route: str
    params: tuple[str, ...]


def url_patterns() -> Iterator[Url]:
    """Every URL pattern of the project, with its namespaced name."""

    def walk(patterns: list[Any], prefix: str, namespace: str | None) -> Iterator[Url]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = namespace
                if pattern.namespace:
                    inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
            elif isinstance(pattern, URLPattern):
                name = pattern.name
                if name and namespace:
                    name = f"{namespace}:{name}"
                yield Url(
                    name, prefix + str(pattern.pattern), tuple(pattern.pattern.regex.groupindex)
                )

    yield from walk(get_resolver().url_patterns, "", None)


def swept_urls() -> list[Url]:
    """The URLs the page sweeps must cover (everything outside ``NOT_PAGE_PREFIXES``)."""
    return [
        url for url in url_patterns() if not url.route.lstrip("^").startswith(NOT_PAGE_PREFIXES)
    ]


def url_names() -> list[str]:
    names: list[str] = []
    for url in swept_urls():
        if url.name and url.name not in names:
            names.append(url.name)
    return names


def today() -> datetime.date:
    return datetime.date.today()
