"""The permission matrix of ``tests/coordination/test_permission_matrix.py``, repeated
through the API: every persona × every object × every operation the API offers on it
(retrieve, partial update, each action, and the creations that name it), with the HTTP
status each must get written out below; and every list, checked against the core table.

What the status codes mean:

* 404 — the person may not see the object (the same answer as for an id that does not
  exist, so hidden objects do not leak);
* 403 — they see it but may not do this (the body says why);
* 400 — an object named in the request *body* that they may not see ("does not exist",
  as for any bad id), or a request the rules refuse in this state (e.g. the lead agency
  cannot withdraw from its own task force);
* 200 / 201 — done, through the service.

``test_api_table_agrees_with_the_core_table`` checks the table against the core's: a 404
exactly where the core says "cannot view", a 403 exactly where it says "views but may
not", success or a state refusal exactly where it says "may".
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import Agency, Membership, SharingAgreement
from coordination.permissions.markings import Marking
from taskforces.models import (
    Objective,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    Update,
)

from .. import conftest
from ..conftest import built_once
from ..coordination.test_permission_matrix import (
    EXPECTED,
    OBJECT_MODELS,
    PERSONAS,
    build_matrix_world,
)

RESOURCE: dict[type[Any], str] = {
    Agency: "agencies",
    Membership: "memberships",
    SharingAgreement: "agreements",
    TaskForce: "task-forces",
    Participation: "participations",
    Role: "roles",
    RoleAssignment: "role-assignments",
    Objective: "objectives",
    Task: "tasks",
    Update: "updates",
}

Request = tuple[str, str, dict[str, Any] | None]
Op = Callable[[SimpleNamespace, Any], Request]


def detail(suffix: str = "", method: str = "post", body: Any = None) -> Op:
    """An operation on the object's own URL: ``/{resource}/{id}/{suffix}``."""

    def op(w: SimpleNamespace, obj: Any) -> Request:
        url = f"/api/v1/{RESOURCE[type(obj)]}/{obj.pk}/{suffix}"
        return method, url, body(w, obj) if callable(body) else body

    return op


def naming(resource: str, body: Callable[[SimpleNamespace, Any], dict[str, Any]]) -> Op:
    """A creation on another resource whose body names the object by id."""

    def op(w: SimpleNamespace, obj: Any) -> Request:
        return "post", f"/api/v1/{resource}/", body(w, obj)

    return op


def in_a_month(w: SimpleNamespace, obj: Any) -> dict[str, Any]:
    return {"until": (timezone.now() + datetime.timedelta(days=30)).isoformat()}


OPS: dict[str, Op] = {
    "retrieve": detail(method="get"),
    # agencies
    "patch_agency": detail(method="patch", body={"jurisdiction": "Severn basin"}),
    "suspend": detail("suspend/", body={"reason": "Compliance audit"}),
    "begin_review": detail("begin-review/"),
    "add_member": naming(
        "memberships",
        lambda w, obj: {
            "agency": obj.pk,
            "email": "new.person@example.gov",
            "first_name": "New",
            "last_name": "Person",
        },
    ),
    # memberships
    "patch_membership": detail(method="patch", body=lambda w, obj: {"role": obj.role}),
    "end_membership": detail("end/", body={"reason": "Left the agency"}),
    # agreements
    "accept_agreement": detail("accept/"),
    "terminate": detail("terminate/", body={"reason": "The exchange has ended."}),
    # task forces
    "patch_task_force": detail(method="patch", body={"mandate": "Protect life and levees."}),
    "transition": detail("transition/", body={"status": "active"}),
    "invite": detail("invite/", body=lambda w, obj: {"agency": w.outsider_agency.pk}),
    "create_role": naming(
        "roles",
        lambda w, obj: {
            "task_force": obj.pk,
            "name": "Hydrologist",
            "responsibilities": "Models the river levels.",
            "capabilities": ["view_taskforce"],
        },
    ),
    "create_objective": naming(
        "objectives",
        lambda w, obj: {
            "task_force": obj.pk,
            "title": "Evacuate Zone B",
            "owner_agency": w.lead.pk,
            "marking": Marking.GREEN,
        },
    ),
    "post_update": naming(
        "updates",
        lambda w, obj: {
            "task_force": obj.pk,
            "title": "Levels at 4.2 m",
            "body": "Still rising.",
            "marking": Marking.GREEN,
        },
    ),
    # participations
    "withdraw": detail("withdraw/", body={"reason": "Mission complete"}),
    "accept": detail("accept/"),
    "decline": detail("decline/", body={"reason": "No capacity"}),
    # roles
    "patch_role": detail(method="patch", body={"responsibilities": "Holds the line."}),
    "assign": detail("assign/", body=lambda w, obj: {"person": w.lead_staff.pk}),
    # assignments
    "end_assignment": detail("end/", body={"reason": "Rotated out"}),
    "set_end": detail("set-end/", body=in_a_month),
    "recertify": detail("recertify/", body={"note": "Still on the rota"}),
    # objectives and tasks
    "patch_objective": detail(method="patch", body={"priority": Objective.Priority.HIGH}),
    "create_task": naming("tasks", lambda w, obj: {"objective": obj.pk, "title": "Fill sandbags"}),
    "patch_task": detail(method="patch", body={"status": Task.Status.IN_PROGRESS}),
    # updates
    "acknowledge": detail("acknowledge/"),
}

# Operations whose body (not URL) names the object: an unseen object is a 400 there.
NAMING_OPS = {"add_member", "create_role", "create_objective", "post_update", "create_task"}

# Which rule of the core table each operation exercises: the person may do it when any
# of these (object, action) cells is "yes". ``None`` for the object means "this row's
# object". Visibility is always the row object's own "view" cell (or SEEN_AS's).
CORE_RULE: dict[str, list[tuple[str | None, str]]] = {
    "retrieve": [(None, "view")],
    "patch_agency": [(None, "change")],
    "suspend": [(None, "review")],
    "begin_review": [(None, "review")],
    "add_member": [(None, "manage_members")],
    "patch_membership": [(None, "change")],
    "end_membership": [(None, "change")],
    "accept_agreement": [(None, "accept")],
    "terminate": [(None, "terminate")],
    "patch_task_force": [(None, "change")],
    "transition": [(None, "change")],
    "invite": [(None, "manage_participation")],
    "create_role": [(None, "change")],
    "create_objective": [(None, "manage_objectives")],
    "post_update": [(None, "post_updates")],
    # an agency's liaison answers for it; those managing participation may withdraw it too
    "withdraw": [(None, "respond"), ("task_force", "manage_participation")],
    "accept": [(None, "respond")],
    "decline": [(None, "respond")],
    "patch_role": [("task_force", "change")],
    "assign": [("task_force", "assign_roles")],
    "end_assignment": [(None, "end")],
    "set_end": [(None, "change")],
    "recertify": [(None, "recertify")],
    "patch_objective": [(None, "change")],
    "create_task": [("task_force", "manage_tasks")],
    "patch_task": [(None, "change")],
    "acknowledge": [(None, "acknowledge")],
}

# Objects the API table adds to the core's, and whose core row stands for their sight.
SEEN_AS = {"role_observer": "role_member"}

# fmt: off
# Columns: padm = portal_admin, ladm = lead_admin, llia = lead_liaison, lsta = lead_staff,
# plia = partner_liaison, psta = partner_staff, outs = outsider.
API_GRID: list[tuple[str, str, int, int, int, int, int, int, int]] = [
    # object                              operation           padm ladm llia lsta plia psta outs
    # --- agencies: the directory is open; changes belong to their admins and portal admins
    ("agency_lead",                       "retrieve",         200, 200, 200, 200, 200, 200, 200),
    ("agency_lead",                       "patch_agency",     200, 200, 403, 403, 403, 403, 403),
    ("agency_lead",                       "suspend",          200, 403, 403, 403, 403, 403, 403),
    ("agency_lead",                       "add_member",       201, 201, 403, 403, 403, 403, 403),
    ("agency_partner",                    "retrieve",         200, 200, 200, 200, 200, 200, 200),
    ("agency_partner",                    "patch_agency",     200, 403, 403, 403, 403, 403, 403),
    ("agency_partner",                    "suspend",          200, 403, 403, 403, 403, 403, 403),
    ("agency_partner",                    "add_member",       201, 403, 403, 403, 403, 403, 403),
    ("agency_outsider",                   "retrieve",         200, 200, 200, 200, 200, 200, 200),
    ("agency_outsider",                   "patch_agency",     200, 403, 403, 403, 403, 403, 403),
    ("agency_outsider",                   "suspend",          200, 403, 403, 403, 403, 403, 403),
    ("agency_outsider",                   "add_member",       201, 403, 403, 403, 403, 403, 403),
    # an application is seen by portal administrators only
    ("agency_applied",                    "retrieve",         200, 404, 404, 404, 404, 404, 404),
    ("agency_applied",                    "patch_agency",     200, 404, 404, 404, 404, 404, 404),
    ("agency_applied",                    "begin_review",     200, 404, 404, 404, 404, 404, 404),
    ("agency_applied",                    "add_member",       201, 400, 400, 400, 400, 400, 400),
    # --- memberships
    ("membership_lead_staff",             "retrieve",         200, 200, 200, 200, 404, 404, 404),
    ("membership_lead_staff",             "patch_membership", 200, 200, 403, 403, 404, 404, 404),
    ("membership_lead_staff",             "end_membership",   200, 200, 403, 403, 404, 404, 404),
    ("membership_partner_liaison",        "retrieve",         200, 200, 200, 200, 200, 200, 200),
    ("membership_partner_liaison",        "patch_membership", 200, 403, 403, 403, 403, 403, 403),
    ("membership_partner_liaison",        "end_membership",   200, 403, 403, 403, 403, 403, 403),
    ("membership_partner_staff",          "retrieve",         200, 404, 404, 404, 200, 200, 404),
    ("membership_partner_staff",          "patch_membership", 200, 404, 404, 404, 403, 403, 404),
    ("membership_partner_staff",          "end_membership",   200, 404, 404, 404, 403, 403, 404),
    # --- the Lead↔Partner agreement, in force: nothing left to accept
    ("agreement",                         "retrieve",         200, 200, 200, 200, 200, 200, 404),
    ("agreement",                         "accept_agreement", 403, 403, 403, 403, 403, 403, 404),
    ("agreement",                         "terminate",        403, 200, 200, 403, 200, 403, 404),
    # --- proposed by the lead's liaison: the lead has accepted, the partner has not
    ("agreement_proposed",                "retrieve",         200, 200, 200, 200, 200, 200, 404),
    ("agreement_proposed",                "accept_agreement", 403, 403, 403, 403, 200, 403, 404),
    ("agreement_proposed",                "terminate",        403, 200, 200, 403, 200, 403, 404),
    # --- the task force: only through current role assignments
    ("task_force",                        "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("task_force",                        "patch_task_force", 404, 404, 200, 403, 403, 403, 404),
    ("task_force",                        "transition",       404, 404, 200, 403, 403, 403, 404),
    ("task_force",                        "invite",           404, 404, 201, 403, 403, 403, 404),
    ("task_force",                        "create_role",      400, 400, 201, 403, 403, 403, 400),
    ("task_force",                        "create_objective", 400, 400, 201, 403, 403, 403, 400),
    ("task_force",                        "post_update",      400, 400, 201, 201, 201, 201, 400),
    # --- participations; the lead agency cannot withdraw, an accepted one is not open
    ("participation_lead",                "retrieve",         404, 200, 200, 200, 200, 200, 404),
    ("participation_lead",                "withdraw",         404, 403, 400, 403, 403, 403, 404),
    ("participation_lead",                "accept",           404, 403, 400, 403, 403, 403, 404),
    ("participation_lead",                "decline",          404, 403, 400, 403, 403, 403, 404),
    ("participation_partner",             "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("participation_partner",             "withdraw",         404, 404, 200, 403, 200, 403, 404),
    ("participation_partner",             "accept",           404, 404, 403, 403, 400, 403, 404),
    ("participation_partner",             "decline",          404, 404, 403, 403, 400, 403, 404),
    # --- roles; assigning lead_staff as Observer: only a liaison of the Lead agency may
    ("role_member",                       "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("role_member",                       "patch_role",       404, 404, 200, 403, 403, 403, 404),
    ("role_commander",                    "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("role_commander",                    "patch_role",       404, 404, 200, 403, 403, 403, 404),
    ("role_observer",                     "assign",           404, 404, 201, 403, 400, 403, 404),
    # --- role assignments: ended by a liaison (or an agency administrator, who also sees
    #     and recertifies them) of the holder's agency
    ("assignment_lead_liaison_commander", "retrieve",         404, 200, 200, 200, 200, 200, 404),
    ("assignment_lead_liaison_commander", "end_assignment",   404, 200, 200, 403, 403, 403, 404),
    ("assignment_lead_liaison_commander", "set_end",          404, 403, 200, 403, 403, 403, 404),
    ("assignment_lead_liaison_commander", "recertify",        404, 200, 403, 403, 403, 403, 404),
    ("assignment_lead_staff",             "retrieve",         404, 200, 200, 200, 200, 200, 404),
    ("assignment_lead_staff",             "end_assignment",   404, 200, 200, 403, 403, 403, 404),
    ("assignment_lead_staff",             "set_end",          404, 403, 200, 403, 403, 403, 404),
    ("assignment_lead_staff",             "recertify",        404, 200, 403, 403, 403, 403, 404),
    ("assignment_partner_staff",          "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("assignment_partner_staff",          "end_assignment",   404, 404, 403, 403, 200, 403, 404),
    ("assignment_partner_staff",          "set_end",          404, 404, 403, 403, 200, 403, 404),
    ("assignment_partner_staff",          "recertify",        404, 404, 403, 403, 403, 403, 404),
    # --- objectives: partner ceiling TLP:AMBER; TLP:RED needs view_restricted
    ("objective_green",                   "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("objective_green",                   "patch_objective",  404, 404, 200, 403, 403, 403, 404),
    ("objective_green",                   "create_task",      400, 400, 201, 403, 403, 403, 400),
    ("objective_amber",                   "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("objective_amber",                   "patch_objective",  404, 404, 200, 403, 403, 403, 404),
    ("objective_amber",                   "create_task",      400, 400, 201, 403, 403, 403, 400),
    ("objective_amber_strict",            "retrieve",         404, 404, 200, 200, 404, 404, 404),
    ("objective_amber_strict",            "patch_objective",  404, 404, 200, 403, 404, 404, 404),
    ("objective_amber_strict",            "create_task",      400, 400, 201, 403, 400, 400, 400),
    ("objective_red",                     "retrieve",         404, 404, 200, 404, 404, 404, 404),
    ("objective_red",                     "patch_objective",  404, 404, 200, 404, 404, 404, 404),
    ("objective_red",                     "create_task",      400, 400, 201, 400, 400, 400, 400),
    # --- tasks carry their objective's marking; assignees and role holders change status
    ("task_green",                        "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("task_green",                        "patch_task",       404, 404, 200, 403, 403, 403, 404),
    ("task_amber",                        "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("task_amber",                        "patch_task",       404, 404, 200, 403, 403, 403, 404),
    ("task_amber_strict",                 "retrieve",         404, 404, 200, 200, 404, 404, 404),
    ("task_amber_strict",                 "patch_task",       404, 404, 200, 403, 404, 404, 404),
    ("task_red",                          "retrieve",         404, 404, 200, 404, 404, 404, 404),
    ("task_red",                          "patch_task",       404, 404, 200, 404, 404, 404, 404),
    ("task_amber_for_partner_staff",      "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("task_amber_for_partner_staff",      "patch_task",       404, 404, 200, 403, 403, 200, 404),
    ("task_amber_for_member_role",        "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("task_amber_for_member_role",        "patch_task",       404, 404, 200, 200, 403, 200, 404),
    ("task_amber_strict_for_member_role", "retrieve",         404, 404, 200, 200, 404, 404, 404),
    ("task_amber_strict_for_member_role", "patch_task",       404, 404, 200, 200, 404, 404, 404),
    # --- updates: none in the world asks for acknowledgement
    ("update_amber",                      "retrieve",         404, 404, 200, 200, 200, 200, 404),
    ("update_amber",                      "acknowledge",      404, 404, 403, 403, 403, 403, 404),
    ("update_red",                        "retrieve",         404, 404, 200, 404, 404, 404, 404),
    ("update_red",                        "acknowledge",      404, 404, 403, 404, 404, 404, 404),
]

# Creations that name no object of the table: who may make one.
CREATE_GRID: list[tuple[str, int, int, int, int, int, int, int]] = [
    # operation                  padm ladm llia lsta plia psta outs
    ("apply_for_agency",          201, 201, 201, 201, 201, 201, 201),
    ("form_task_force",           403, 403, 201, 403, 201, 403, 403),
    ("create_agreement",          403, 201, 201, 403, 201, 403, 403),
]
# fmt: on

CREATES: dict[str, Callable[[SimpleNamespace], tuple[str, dict[str, Any]]]] = {
    "apply_for_agency": lambda w: (
        "agencies",
        {
            "name": "Severn Volunteer Boats",
            "level": "non_governmental",
            "sector": "emergency_management",
            "contact_email": "boats@svb.example.org",
        },
    ),
    "form_task_force": lambda w: (
        "task-forces",
        {"name": "Coastal surge cell", "mandate": "Prepare for the spring tides."},
    ),
    "create_agreement": lambda w: (
        "agreements",
        {
            "title": "Flood data exchange",
            "parties": [w.lead.pk, w.partner.pk],
            "max_marking": Marking.GREEN,
            "valid_from": "2026-01-01",
        },
    ),
}

API_EXPECTED: dict[tuple[str, str, str], int] = {
    (persona, name, op): code
    for name, op, *codes in API_GRID
    for persona, code in zip(PERSONAS, codes, strict=True)
}


def build_api_world() -> SimpleNamespace:
    w = build_matrix_world()
    w.objects["role_observer"] = conftest.role_named(w.tf, "observer")
    return w


@pytest.fixture(scope="class")
def aw(django_db_setup: None, django_db_blocker: Any) -> Iterator[SimpleNamespace]:
    """The matrix world, built once for the class inside a transaction rolled back at its
    end; each cell runs in its own savepoint (``db``), so a cell's writes vanish."""
    yield from built_once(django_db_blocker, build_api_world)


def call(user: Any, request: Request) -> Any:
    method, url, body = request
    client = APIClient()
    client.force_authenticate(user)
    return (
        getattr(client, method)(url, body, format="json")
        if body is not None
        else getattr(client, method)(url)
    )


def assert_error_shape(response: Any, status_code: int) -> None:
    error = response.json()["error"]
    assert error["status"] == status_code
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)


class TestApiMatrix:
    @pytest.mark.parametrize(
        ("persona", "name", "op"), sorted(API_EXPECTED), ids=lambda value: value
    )
    def test_cell(self, db: None, aw: SimpleNamespace, persona: str, name: str, op: str) -> None:
        user = getattr(aw, persona)
        obj = aw.objects[name]
        response = call(user, OPS[op](aw, obj))
        expected = API_EXPECTED[(persona, name, op)]
        assert response.status_code == expected, (persona, name, op, response.content[:500])
        if expected >= 400:
            assert_error_shape(response, expected)
            if expected == 404:
                # exactly what an id that does not exist gets
                assert response.json() == {
                    "error": {
                        "status": 404,
                        "code": "not_found",
                        "message": "Not found.",
                        "fields": {},
                    }
                }
        elif op != "retrieve" and response.status_code in (200, 201) and "id" in response.json():
            # what the write answers is readable by the writer (it went through restrict)
            assert isinstance(response.json()["id"], int)

    @pytest.mark.parametrize(("persona", "op"), [(p, o) for o, *_ in CREATE_GRID for p in PERSONAS])
    def test_create(self, db: None, aw: SimpleNamespace, persona: str, op: str) -> None:
        resource, body = CREATES[op](aw)
        expected = dict(zip(PERSONAS, next(r for r in CREATE_GRID if r[0] == op)[1:], strict=True))
        response = call(getattr(aw, persona), ("post", f"/api/v1/{resource}/", body))
        assert response.status_code == expected[persona], response.content[:500]
        if expected[persona] == 403:
            assert_error_shape(response, 403)

    @pytest.mark.parametrize("persona", PERSONAS)
    @pytest.mark.parametrize("model", list(RESOURCE), ids=lambda m: RESOURCE[m])
    def test_list_shows_exactly_what_the_core_lets_them_see(
        self, db: None, aw: SimpleNamespace, persona: str, model: type[Any]
    ) -> None:
        response = call(
            getattr(aw, persona), ("get", f"/api/v1/{RESOURCE[model]}/?page_size=200", None)
        )
        assert response.status_code == 200
        body = response.json()
        assert body["count"] <= 200
        listed = {item["id"] for item in body["results"]}
        objects: dict[str, Any] = aw.objects
        for name, obj in objects.items():
            if type(obj) is not model:
                continue
            seen = EXPECTED[(persona, SEEN_AS.get(name, name), "view")]
            assert (obj.pk in listed) is seen, (persona, name)

    def test_other_ids_are_not_found(self, db: None, aw: SimpleNamespace) -> None:
        """An id nobody has is answered exactly like an object the person may not see."""
        for model, resource in RESOURCE.items():
            missing = (
                model._default_manager.order_by("-pk").values_list("pk", flat=True).first() or 0
            ) + 1000
            response = call(aw.outsider, ("get", f"/api/v1/{resource}/{missing}/", None))
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"


def test_api_table_agrees_with_the_core_table() -> None:
    """Each written status follows from the core's answers: 404 where the person cannot
    see the object (400 when the body names it), 403 where they see it but may not,
    success (or a refusal for the object's state, 400) where they may."""
    for (persona, name, op), code in API_EXPECTED.items():
        seen = EXPECTED[(persona, SEEN_AS.get(name, name), "view")]
        allowed = any(
            EXPECTED[(persona, SEEN_AS.get(obj, obj) if obj else SEEN_AS.get(name, name), action)]
            for obj, action in CORE_RULE[op]
        )
        where = (persona, name, op, code)
        if not seen:
            assert code == (400 if op in NAMING_OPS else 404), where
        elif not allowed:
            assert code == 403, where
        else:
            assert code in (200, 201, 400), where


def test_api_table_covers_every_object_and_operation() -> None:
    names = {name for name, *_ in API_GRID}
    assert set(OBJECT_MODELS) <= names
    assert {op for _, op, *_ in API_GRID} == set(OPS)
    rows = [(name, op) for name, op, *_ in API_GRID]
    assert len(rows) == len(set(rows)), "a row is written twice"
    for name in names:
        assert any(op == "retrieve" for n, op, *_ in API_GRID if n == name) or name in SEEN_AS
