"""The lifecycle actions end to end through the API (the matrix covers who may; these
follow each change through), my notifications, and the audit trail's reader rules."""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from agencies import services as agency_services
from agencies.models import Agency, Membership, SharingAgreement
from coordination.models import AuditEvent, Notification
from coordination.permissions.markings import Marking
from taskforces.models import Objective, Participation, RoleAssignment

from ..conftest import role_named
from ..factories import AgencyFactory, acting_for, person

# The world is built once for the module; each test changes it only in its own savepoint.
pytestmark = pytest.mark.usefixtures("module_world")


def as_(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def ok(response: Any, status_code: int = 200) -> dict[str, Any]:
    assert response.status_code == status_code, response.content[:500]
    return response.json()


def test_agency_lifecycle(world: SimpleNamespace) -> None:
    applied = ok(
        as_(world.outsider).post(
            "/api/v1/agencies/",
            {
                "name": "Severn Volunteer Boats",
                "level": "non_governmental",
                "sector": "emergency_management",
                "contact_email": "boats@svb.example.org",
            },
        ),
        201,
    )
    assert applied["status"] == "applied"
    url = f"/api/v1/agencies/{applied['id']}/"
    # the applicant cannot see an application; a portal administrator can
    assert as_(world.outsider).get(url).status_code == 404
    admin = as_(world.portal_admin)
    assert ok(admin.post(url + "begin-review/"))["status"] == "under_review"
    response = admin.post(url + "request-changes/", {})
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]
    changes = ok(admin.post(url + "request-changes/", {"reason": "Add your website."}))
    assert (changes["status"], changes["status_reason"]) == ("applied", "Add your website.")
    ok(admin.post(url + "begin-review/"))
    assert ok(admin.post(url + "approve/"))["status"] == "active"
    # now it is in everyone's directory
    assert ok(as_(world.outsider).get(url))["status"] == "active"
    again = admin.post(url + "approve/")
    assert again.status_code == 400
    assert again.json()["error"]["fields"]["status"]
    assert ok(admin.post(url + "suspend/", {"reason": "Audit"}))["status"] == "suspended"
    assert ok(admin.post(url + "reinstate/"))["status"] == "active"
    assert ok(admin.post(url + "offboard/", {"reason": "Merged"}))["status"] == "offboarded"
    actions = list(
        AuditEvent.objects.filter(object_type="agencies.agency", object_id=str(applied["id"]))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "agency.applied",
        "access.refused",  # the applicant asked for their hidden application by id
        "agency.under_review",
        "agency.applied",
        "agency.under_review",
        "agency.active",
        "agency.suspended",
        "agency.active",
        "agency.offboarded",
    ]


def test_reject_an_application(world: SimpleNamespace) -> None:
    agency = agency_services.apply_for_agency(
        name="Nobody Rescue",
        level=Agency.Level.LOCAL,
        sector=Agency.Sector.OTHER,
        contact_email="x@nobody.example.org",
    )
    body = ok(
        as_(world.portal_admin).post(
            f"/api/v1/agencies/{agency.pk}/reject/", {"reason": "Not a public body."}
        )
    )
    assert body["status"] == "rejected"


def test_memberships_invite_change_role_end(world: SimpleNamespace, mailoutbox: list[Any]) -> None:
    client = as_(world.lead_admin)
    created = ok(
        client.post(
            "/api/v1/memberships/",
            {
                "agency": world.lead.pk,
                "email": "New.Officer@NFA.example.gov",
                "first_name": "New",
                "last_name": "Officer",
                "role": "staff",
            },
        ),
        201,
    )
    assert created["user"]["email"] == "new.officer@nfa.example.gov"
    url = f"/api/v1/memberships/{created['id']}/"
    assert ok(client.patch(url, {"role": "liaison"}))["role"] == "liaison"
    ended = ok(client.post(url + "end/", {"reason": "Retired"}))
    assert ended["is_active"] is False
    duplicate = client.post(
        "/api/v1/memberships/",
        {
            "agency": world.lead.pk,
            "email": world.lead_staff.email,
            "first_name": "A",
            "last_name": "B",
        },
    )
    assert duplicate.status_code == 400
    assert "email" in duplicate.json()["error"]["fields"]


def test_an_agreement_is_proposed_accepted_by_every_party_and_terminated(
    world: SimpleNamespace, django_capture_on_commit_callbacks: Any
) -> None:
    lead = as_(world.lead_admin)
    terms = {
        "title": "Flood data exchange",
        "parties": [world.lead.pk, world.partner.pk],
        "max_marking": Marking.RED,
        "valid_from": "2026-01-01",
        "valid_until": "2026-12-31",
    }
    # putting it in force alone is refused, and changes nothing
    alone = lead.post("/api/v1/agreements/", {**terms, "activate": True})
    assert alone.status_code == 400
    assert "activate" in alone.json()["error"]["fields"]
    # nobody names two other agencies: a third agency's administrator is refused
    third = as_(acting_for(world.outsider_agency)).post("/api/v1/agreements/", terms)
    assert third.status_code == 400
    assert "parties" in third.json()["error"]["fields"]
    assert not SharingAgreement.objects.filter(title="Flood data exchange").exists()

    with django_capture_on_commit_callbacks(execute=True):  # its notifications go out
        created = ok(lead.post("/api/v1/agreements/", terms), 201)
    assert created["status"] == "proposed"
    assert {p["id"] for p in created["parties"]} == {world.lead.pk, world.partner.pk}
    url = f"/api/v1/agreements/{created['id']}/"
    # the proposer's side has accepted by proposing; it cannot accept again
    assert lead.post(url + "accept/").status_code == 403
    # a partner's staff member does not act for the partner
    assert as_(world.partner_staff).post(url + "accept/").status_code == 403
    # the partner's liaison officer was told, and accepts: now it is in force
    told = Notification.objects.filter(recipient=world.partner_liaison, kind="agreement.proposed")
    assert told.count() == 1
    accepted = ok(as_(world.partner_liaison).post(url + "accept/"))
    assert accepted["status"] == "active"
    # either party terminates it, with a reason the other party is told
    assert as_(world.partner_liaison).post(url + "terminate/", {"reason": " "}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        ended = ok(
            as_(world.partner_liaison).post(url + "terminate/", {"reason": "Project closed"})
        )
    assert ended["status"] == "terminated"
    assert as_(world.lead_admin).post(url + "terminate/", {"reason": "Again"}).status_code == 403
    actions = AuditEvent.objects.filter(
        object_type="agencies.sharingagreement",
        object_id=str(created["id"]),
        action__startswith="agreement.",  # not the refusals, which are audited too
    ).order_by("id")
    assert list(actions.values_list("action", flat=True)) == [
        "agreement.proposed",
        "agreement.accepted",
        "agreement.in_force",
        "agreement.terminated",
    ]
    assert Notification.objects.filter(
        recipient=world.lead_liaison, kind="agreement.terminated"
    ).exists()
    backwards = lead.post(
        "/api/v1/agreements/", {**terms, "valid_from": "2026-06-01", "valid_until": "2026-01-01"}
    )
    assert backwards.status_code == 400
    assert "valid_until" in backwards.json()["error"]["fields"]


def test_task_force_form_transition_invite_accept(world: SimpleNamespace) -> None:
    lead = as_(world.lead_liaison)
    formed = ok(
        lead.post("/api/v1/task-forces/", {"name": "Coastal surge", "mandate": "Prepare."}), 201
    )
    assert formed["lead_agency"]["id"] == world.lead.pk
    assert formed["status"] == "forming"
    tf_url = f"/api/v1/task-forces/{formed['id']}/"
    assert ok(lead.patch(tf_url, {"marking": Marking.GREEN}))["marking"] == Marking.GREEN
    assert ok(lead.post(tf_url + "transition/", {"status": "active"}))["status"] == "active"

    invitation = ok(
        lead.post(tf_url + "invite/", {"agency": world.outsider_agency.pk, "message": "Join us"}),
        201,
    )
    assert invitation["status"] == "invited"
    # the invited agency's people see their invitation; its liaison answers it
    assert (
        ok(as_(world.outsider).get(f"/api/v1/participations/{invitation['id']}/"))["status"]
        == "invited"
    )
    outsider_liaison = person(world.outsider_agency, Membership.Role.LIAISON)
    answer = as_(outsider_liaison)
    assert answer.post(f"/api/v1/participations/{invitation['id']}/accept/").status_code == 200
    assert Participation.objects.get(pk=invitation["id"]).status == "accepted"
    # accepting gave them their agency's Liaison officer role, so they see the task force
    assert ok(answer.get(tf_url))["id"] == formed["id"]
    # twice: the invitation is no longer open
    assert answer.post(f"/api/v1/participations/{invitation['id']}/accept/").status_code == 400
    withdrawn = ok(
        answer.post(f"/api/v1/participations/{invitation['id']}/withdraw/", {"reason": "Done"})
    )
    assert withdrawn["status"] == "withdrawn"
    assert answer.get(tf_url).status_code == 404


def test_decline_an_invitation(world: SimpleNamespace) -> None:
    other: Any = AgencyFactory(name="Canal Trust")
    liaison = person(other, Membership.Role.LIAISON)
    invitation = ok(
        as_(world.lead_liaison).post(
            f"/api/v1/task-forces/{world.tf.pk}/invite/", {"agency": other.pk}
        ),
        201,
    )
    declined = ok(
        as_(liaison).post(
            f"/api/v1/participations/{invitation['id']}/decline/", {"reason": "No boats"}
        )
    )
    assert (declined["status"], declined["reason"]) == ("declined", "No boats")


def test_partner_liaison_assigns_ends_and_sets_end(world: SimpleNamespace) -> None:
    nurse = person(world.partner, email="nurse@rhs.example.gov")
    observer = role_named(world.tf, "observer")
    client = as_(world.partner_liaison)
    until = timezone.now() + datetime.timedelta(days=10)
    assignment = ok(
        client.post(
            f"/api/v1/roles/{observer.pk}/assign/", {"person": nurse.pk, "until": until.isoformat()}
        ),
        201,
    )
    assert assignment["person"]["id"] == nurse.pk
    assert assignment["agency"]["id"] == world.partner.pk
    assert assignment["is_current"] is True
    # the new holder sees the task force at once
    assert as_(nurse).get(f"/api/v1/task-forces/{world.tf.pk}/").status_code == 200
    url = f"/api/v1/role-assignments/{assignment['id']}/"
    assert ok(client.post(url + "set-end/", {"until": None}))["ends_at"] is None
    past = client.post(url + "set-end/", {"until": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400
    assert "until" in past.json()["error"]["fields"]
    ended = ok(client.post(url + "end/", {"reason": "Rotated out"}))
    assert ended["is_current"] is False
    assert as_(nurse).get(f"/api/v1/task-forces/{world.tf.pk}/").status_code == 404
    # the holder still sees their own, ended, assignment
    assert ok(as_(nurse).get(url))["end_reason"] == "Rotated out"
    current = ok(client.get(f"/api/v1/role-assignments/?person={nurse.pk}&current=true"))
    assert current["count"] == 0


def test_roles_create_and_change(world: SimpleNamespace) -> None:
    client = as_(world.lead_liaison)
    role = ok(
        client.post(
            "/api/v1/roles/",
            {
                "task_force": world.tf.pk,
                "name": "Hydrologist",
                "responsibilities": "Models river levels.",
                "capabilities": ["view_taskforce", "post_updates"],
                "max_holders": 2,
                "eligible_agencies": [world.lead.pk],
            },
        ),
        201,
    )
    assert [a["id"] for a in role["eligible_agencies"]] == [world.lead.pk]
    changed = ok(
        client.patch(f"/api/v1/roles/{role['id']}/", {"max_holders": None, "eligible_agencies": []})
    )
    assert (changed["max_holders"], changed["eligible_agencies"]) == (None, [])
    bad = client.patch(f"/api/v1/roles/{role['id']}/", {"capabilities": ["post_updates"]})
    assert bad.status_code == 400


def test_objectives_and_tasks(world: SimpleNamespace) -> None:
    client = as_(world.lead_liaison)
    objective = ok(
        client.post(
            "/api/v1/objectives/",
            {
                "task_force": world.tf.pk,
                "title": "Evacuate Zone B",
                "owner_agency": world.lead.pk,
                "contributing_agencies": [world.partner.pk],
                "priority": Objective.Priority.CRITICAL,
                "target_date": "2026-12-24",
                "marking": Marking.GREEN,
            },
        ),
        201,
    )
    assert objective["progress"] == 0
    url = f"/api/v1/objectives/{objective['id']}/"
    changed = ok(client.patch(url, {"status": "at_risk", "contributing_agencies": []}))
    assert (changed["status"], changed["contributing_agencies"]) == ("at_risk", [])
    outsider_owner = client.patch(url, {"owner_agency": world.outsider_agency.pk})
    assert outsider_owner.status_code == 400
    assert "owner_agency" in outsider_owner.json()["error"]["fields"]

    task = ok(
        client.post(
            "/api/v1/tasks/",
            {
                "objective": objective["id"],
                "title": "Knock on doors",
                "assignee": world.partner_staff.pk,
            },
        ),
        201,
    )
    # the assignee moves it along; only task managers change more
    staff = as_(world.partner_staff)
    assert ok(staff.patch(f"/api/v1/tasks/{task['id']}/", {"status": "done"}))["status"] == "done"
    refused = staff.patch(f"/api/v1/tasks/{task['id']}/", {"title": "Renamed"})
    assert refused.status_code == 403
    assert ok(client.get(url))["progress"] == 100
    both = client.post(
        "/api/v1/tasks/",
        {
            "objective": objective["id"],
            "title": "Both",
            "assignee": world.partner_staff.pk,
            "assigned_role": world.member_role.pk,
        },
    )
    assert both.status_code == 400


def test_a_red_objective_is_refused_to_those_who_cannot_mark_red(world: SimpleNamespace) -> None:
    before = Objective.objects.count()
    response = as_(world.partner_liaison).post(
        "/api/v1/updates/",
        {"task_force": world.tf.pk, "title": "Secret", "body": "x", "marking": Marking.RED},
    )
    assert response.status_code == 400
    assert "marking" in response.json()["error"]["fields"]
    assert Objective.objects.count() == before


def test_updates_post_and_acknowledge(world: SimpleNamespace) -> None:
    posted = ok(
        as_(world.lead_liaison).post(
            "/api/v1/updates/",
            {
                "task_force": world.tf.pk,
                "title": "Evacuation order for Zone B",
                "body": "Confirm you have read this.",
                "kind": "sitrep",
                "marking": Marking.AMBER,
                "requires_acknowledgement": True,
                "ack_roles": [world.member_role.pk],
            },
        ),
        201,
    )
    url = f"/api/v1/updates/{posted['id']}/"
    staff = as_(world.partner_staff)
    assert ok(staff.get(url))["acknowledged_by_me"] is False
    first = ok(staff.post(url + "acknowledge/"))
    second = ok(staff.post(url + "acknowledge/"))
    assert first == second
    assert first["update_id"] == posted["id"]
    assert ok(staff.get(url))["acknowledged_by_me"] is True
    listed = ok(
        staff.get(f"/api/v1/updates/?requires_acknowledgement=true&task_force={world.tf.pk}")
    )
    assert [u["id"] for u in listed["results"]] == [posted["id"]]
    # the liaison is not asked
    refused = as_(world.partner_liaison).post(url + "acknowledge/")
    assert refused.status_code == 403
    assert "asks other roles or agencies" in refused.json()["error"]["message"]


def test_my_notifications(world: SimpleNamespace) -> None:
    Notification.objects.all().delete()
    mine = [
        Notification.objects.create(
            recipient=world.partner_staff, kind="task.assigned", title=f"Task {n}"
        )
        for n in range(3)
    ]
    theirs = Notification.objects.create(
        recipient=world.lead_staff, kind="task.assigned", title="Not yours"
    )
    client = as_(world.partner_staff)
    listed = ok(client.get("/api/v1/notifications/"))
    assert {n["id"] for n in listed["results"]} == {n.pk for n in mine}
    assert ok(client.get("/api/v1/notifications/unread-count/")) == {"unread": 3}
    assert client.get(f"/api/v1/notifications/{theirs.pk}/").status_code == 404
    assert client.post(f"/api/v1/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    read = ok(client.post(f"/api/v1/notifications/{mine[0].pk}/read/"))
    assert read["read_at"] is not None
    assert (
        ok(client.post(f"/api/v1/notifications/{mine[0].pk}/read/"))["read_at"] == read["read_at"]
    )
    assert ok(client.get("/api/v1/notifications/?unread=true"))["count"] == 2
    assert ok(client.post("/api/v1/notifications/read-all/")) == {"marked": 2}
    assert ok(client.get("/api/v1/notifications/unread-count/")) == {"unread": 0}
    assert ok(as_(world.lead_staff).get("/api/v1/notifications/unread-count/")) == {"unread": 1}


def test_audit_trail_readers(world: SimpleNamespace) -> None:
    applicant = agency_services.apply_for_agency(
        name="Coastal Volunteer Rescue",
        level="non_governmental",
        sector="emergency_management",
        contact_email="hello@cvr.example.org",
    )
    agency_services.transition_agency(
        agency=applicant, action="begin_review", by=world.portal_admin
    )
    events = AuditEvent.objects.all()
    by_lead = events.filter(actor=world.lead_liaison).values_list("pk", flat=True)
    by_partner = events.filter(actor=world.partner_liaison).values_list("pk", flat=True)
    by_portal = events.filter(actor=world.portal_admin).values_list("pk", flat=True)
    assert by_lead and by_partner and by_portal

    admin = ok(as_(world.portal_admin).get("/api/v1/audit-events/?page_size=200"))
    assert admin["count"] == events.count()

    lead_admin = as_(world.lead_admin)
    seen = {e["id"] for e in ok(lead_admin.get("/api/v1/audit-events/?page_size=200"))["results"]}
    assert set(by_lead) <= seen
    assert not seen & set(by_partner)
    assert not seen & set(by_portal)
    assert lead_admin.get(f"/api/v1/audit-events/{by_partner[0]}/").status_code == 404
    assert (
        ok(lead_admin.get(f"/api/v1/audit-events/{by_lead[0]}/"))["actor"] == world.lead_liaison.pk
    )
    filtered = ok(
        lead_admin.get(f"/api/v1/audit-events/?actor={world.lead_liaison.pk}&action=update.posted")
    )
    assert filtered["count"] == 2

    for persona in ("lead_liaison", "lead_staff", "partner_liaison", "partner_staff", "outsider"):
        response = as_(getattr(world, persona)).get("/api/v1/audit-events/")
        assert response.status_code == 403, persona
        assert response.json()["error"]["message"].startswith("Only portal administrators")


def test_audit_trail_follows_the_actor_agency_at_the_time(world: SimpleNamespace) -> None:
    """Someone who left the Lead agency: their later events are not its business."""
    mover = person(world.lead, email="mover@nfa.example.gov")
    before = agency_services.apply_for_agency(
        name="Before the move",
        level="local",
        sector="other",
        contact_email="a@b.example.org",
        applicant=mover,
    )
    agency_services.end_membership(
        membership=Membership.objects.get(user=mover), by=world.lead_admin, reason="Moved"
    )
    Membership.objects.create(user=mover, agency=world.partner)
    after = agency_services.apply_for_agency(
        name="After the move",
        level="local",
        sector="other",
        contact_email="c@d.example.org",
        applicant=mover,
    )
    seen = {
        e["object_repr"]
        for e in ok(as_(world.lead_admin).get(f"/api/v1/audit-events/?actor={mover.pk}"))["results"]
    }
    assert str(before) in seen
    assert str(after) not in seen


def test_session_needs_the_second_factor_when_required(world: SimpleNamespace) -> None:
    client = Client()
    client.force_login(world.partner_staff)
    assert client.get("/api/v1/agencies/").status_code == 200
    with override_settings(CONCORD_REQUIRE_MFA=True):
        response = client.get("/api/v1/agencies/")
        assert response.status_code == 401
        assert "authenticator" in response.json()["error"]["message"]


def test_session_writes_need_the_csrf_token(world: SimpleNamespace) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.lead_liaison)
    response = client.post(f"/api/v1/task-forces/{world.tf.pk}/transition/", {"status": "active"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]
    assert RoleAssignment.objects.exists()
