"""SCIM 2.0 provisioning (``/scim/v2/``): an agency's identity provider creates, updates
and deactivates its own agency's people, and nobody else's.

The request bodies are the specs' own examples: RFC 7643 §8.2 (the full User), RFC 7644
§3.3 (create), §3.4.2.2 (filter by userName) and §3.5.2 (PatchOp with Operations), plus
the ``active: false`` PATCH identity providers send to deactivate (Okta's form, and Entra
ID's, which says "Replace" and "False").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from agencies import services as agency_services
from agencies.models import Membership, ScimToken
from coordination.accounts import tokens as api_tokens
from coordination.accounts.tokens import hash_secret
from coordination.models import ApiToken, AuditEvent, User, UserSession
from taskforces.models import RoleAssignment

from ..factories import person

pytestmark = pytest.mark.usefixtures("module_world")

SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

# RFC 7643 §8.2, "Full User Representation" (the client's part of it: no id or meta)
RFC7643_FULL_USER: dict[str, Any] = {
    "schemas": [USER],
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {
        "formatted": "Ms. Barbara J Jensen, III",
        "familyName": "Jensen",
        "givenName": "Barbara",
        "middleName": "Jane",
        "honorificPrefix": "Ms.",
        "honorificSuffix": "III",
    },
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "profileUrl": "https://login.example.com/bjensen",
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "userType": "Employee",
    "title": "Tour Guide",
    "preferredLanguage": "en-US",
    "locale": "en-US",
    "timezone": "America/Los_Angeles",
    "active": True,
    "password": "t1meMa$heen",
}
# RFC 7644 §3.3, the create example
RFC7644_CREATE: dict[str, Any] = {
    "schemas": [USER],
    "userName": "bjensen",
    "externalId": "bjensen",
    "name": {
        "formatted": "Ms. Barbara J Jensen III",
        "familyName": "Jensen",
        "givenName": "Barbara",
    },
}
DEACTIVATE_OKTA = {
    "schemas": [PATCH],
    "Operations": [{"op": "replace", "value": {"active": False}}],
}
DEACTIVATE_ENTRA = {
    "schemas": [PATCH],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
}


def issue(agency, by) -> str:
    _, secret = agency_services.issue_scim_token(agency=agency, name="Our IdP", by=by)
    return secret


class Scim:
    """A SCIM client holding one agency's token."""

    def __init__(self, secret: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def call(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        kwargs: dict[str, Any] = {"content_type": SCIM, **extra}
        if body is not None:
            kwargs["data"] = json.dumps(body)
        response = getattr(self.client, method)(f"/scim/v2/{path}", **kwargs)
        if response.status_code != 204:
            assert response["Content-Type"].startswith(SCIM), response.content
        response.json_body = json.loads(response.content) if response.content else None
        return response


@pytest.fixture
def lead_scim(world) -> Scim:
    return Scim(issue(world.lead, world.lead_admin))


@pytest.fixture
def partner_scim(world) -> Scim:
    admin = person(world.partner, Membership.Role.ADMIN, email="admin@rhs.example.gov")
    return Scim(issue(world.partner, admin))


def scim_events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, actor_label__startswith="SCIM client"))


# --- the token --------------------------------------------------------------------------------


def test_the_token_is_stored_hashed_and_audited(world):
    token, secret = agency_services.issue_scim_token(
        agency=world.lead, name="Entra ID", by=world.lead_admin
    )
    stored = ScimToken.objects.get(pk=token.pk)
    assert stored.key_hash == hash_secret(secret) and secret not in stored.key_hash
    assert stored.prefix == secret[:8]
    event = AuditEvent.objects.get(action="scim_token.issued", object_id=str(token.pk))
    assert secret not in json.dumps(event.after)


@pytest.mark.parametrize("path", ["Users", "ServiceProviderConfig", "Schemas", "ResourceTypes"])
def test_without_a_token_or_with_a_bad_one_nothing_is_answered(world, path):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer not-a-token"}):
        response = Client(**headers).get(f"/scim/v2/{path}")
        assert response.status_code == 401
        body = response.json()
        assert body["schemas"] == [ERROR] and body["status"] == "401"
        assert response["WWW-Authenticate"] == 'Bearer realm="scim"'


def test_a_personal_api_token_is_not_a_scim_token(world):
    _, secret = api_tokens.create_token(owner=world.lead_admin, name="mine")
    assert Scim(secret).call("get", "Users").status_code == 401


def test_a_revoked_token_is_refused_at_once(world, lead_scim):
    assert lead_scim.call("get", "Users").status_code == 200
    token = ScimToken.objects.get(agency=world.lead)
    agency_services.revoke_scim_token(token=token, by=world.lead_admin)
    assert lead_scim.call("get", "Users").status_code == 401
    assert AuditEvent.objects.filter(action="scim_token.revoked").exists()


def test_a_suspended_agencys_token_is_refused(world, lead_scim):
    agency_services.suspend_agency(agency=world.lead, by=world.portal_admin, reason="Audit")
    assert lead_scim.call("get", "Users").status_code == 401


# --- discovery ----------------------------------------------------------------------------------


def test_discovery_resources(lead_scim):
    config = lead_scim.call("get", "ServiceProviderConfig").json_body
    assert config["patch"] == {"supported": True} and config["filter"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = lead_scim.call("get", "ResourceTypes").json_body
    assert [t["id"] for t in types["Resources"]] == ["User"]
    assert lead_scim.call("get", "ResourceTypes/User").json_body["schema"] == USER
    schemas = lead_scim.call("get", "Schemas").json_body
    assert [s["id"] for s in schemas["Resources"]] == [USER]
    names = {a["name"] for a in lead_scim.call("get", f"Schemas/{USER}").json_body["attributes"]}
    assert {"userName", "name", "title", "emails", "active"} <= names
    assert lead_scim.call("get", "Schemas/urn:nothing").status_code == 404


# --- create ---------------------------------------------------------------------------------------


def test_create_with_the_rfc_7643_full_user(world, lead_scim):
    response = lead_scim.call("post", "Users", RFC7643_FULL_USER)
    assert response.status_code == 201, response.json_body
    body = response.json_body
    user = User.objects.get(email="bjensen@example.com")
    assert body["id"] == str(user.pk) and body["userName"] == "bjensen@example.com"
    assert body["name"]["givenName"] == "Barbara" and body["title"] == "Tour Guide"
    assert body["active"] is True and body["meta"]["resourceType"] == "User"
    assert response["Location"] == body["meta"]["location"]
    assert (user.first_name, user.last_name, user.job_title) == ("Barbara", "Jensen", "Tour Guide")
    # a staff member of the token's agency, without a password (the spec's is not kept)
    membership = Membership.objects.get(user=user, is_active=True)
    assert membership.agency == world.lead and membership.role == Membership.Role.STAFF
    assert not user.has_usable_password()
    created = AuditEvent.objects.get(action="membership.created", object_id=str(membership.pk))
    assert created.actor is None and created.actor_label.startswith("SCIM client ")
    assert "National Flood Agency" in created.actor_label


def test_the_rfc_7644_create_example_is_refused_clearly_for_want_of_an_address(lead_scim):
    response = lead_scim.call("post", "Users", RFC7644_CREATE)
    assert response.status_code == 400
    assert response.json_body["scimType"] == "invalidValue"
    assert "e-mail address" in response.json_body["detail"]
    assert not User.objects.filter(email__startswith="bjensen").exists()


def test_create_refuses_a_taken_address_saying_nothing_of_whose(world, lead_scim):
    before = Membership.objects.count()
    body = {**RFC7643_FULL_USER, "userName": world.partner_staff.email, "emails": []}
    response = lead_scim.call("post", "Users", body)
    assert response.status_code == 409 and response.json_body["scimType"] == "uniqueness"
    assert "Regional Health" not in response.json_body["detail"]
    assert Membership.objects.count() == before
    assert Membership.objects.get(user=world.partner_staff, is_active=True).agency == world.partner


@pytest.mark.parametrize(
    ("change", "scim_type"),
    [
        ({"schemas": []}, "invalidSyntax"),
        ({"userName": 42}, "invalidValue"),
        ({"name": {"givenName": "Barbara"}}, "invalidValue"),
        ({"active": "maybe"}, "invalidValue"),
        ({"emails": [{"value": "other@example.com", "primary": True}]}, "invalidValue"),
        ({"title": "x" * 500}, "invalidValue"),
    ],
)
def test_create_validates_every_attribute_and_changes_nothing(lead_scim, change, scim_type):
    users = User.objects.count()
    response = lead_scim.call("post", "Users", {**RFC7643_FULL_USER, **change})
    assert response.status_code == 400, response.json_body
    assert response.json_body["schemas"] == [ERROR]
    assert response.json_body["scimType"] == scim_type
    assert User.objects.count() == users


def test_errors_name_the_scim_attribute(lead_scim):
    response = lead_scim.call("post", "Users", {**RFC7643_FULL_USER, "title": "x" * 500})
    assert response.json_body["detail"].startswith("title: ")


def test_a_body_that_is_not_json_is_a_scim_error(lead_scim):
    response = lead_scim.client.post("/scim/v2/Users", data="{nope", content_type=SCIM)
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"


# --- list and filter ---------------------------------------------------------------------------


def test_filter_by_username_as_in_rfc_7644(world, lead_scim):
    lead_scim.call("post", "Users", RFC7643_FULL_USER)
    response = lead_scim.call(
        "get", "Users", QUERY_STRING='filter=userName eq "bjensen@example.com"'
    )
    body = response.json_body
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert body["totalResults"] == 1 and body["Resources"][0]["userName"] == "bjensen@example.com"
    # attribute names and operators are case-insensitive (RFC 7644 §3.4.2.2)
    again = lead_scim.call("get", "Users", QUERY_STRING='filter=USERNAME EQ "BJensen@example.com"')
    assert again.json_body["totalResults"] == 1


@pytest.mark.parametrize("query", ['filter=title eq "x"', 'filter=userName co "b"', "count=many"])
def test_filters_it_cannot_answer_are_refused(lead_scim, query):
    response = lead_scim.call("get", "Users", QUERY_STRING=query)
    assert response.status_code == 400
    assert response.json_body["scimType"] in ("invalidFilter", "invalidValue")


def test_the_list_is_paged_and_its_queries_do_not_grow(
    world, lead_scim, django_assert_max_num_queries
):
    for n in range(12):
        person(world.lead, email=f"extra{n}@nfa.example.gov")
    with django_assert_max_num_queries(4):
        body = lead_scim.call("get", "Users", QUERY_STRING="count=5&startIndex=3").json_body
    assert body["itemsPerPage"] == 5 and body["startIndex"] == 3
    assert body["totalResults"] == Membership.objects.filter(agency=world.lead).count()


# --- one agency's token, one agency's people -----------------------------------------------------


def test_a_token_sees_only_its_own_agencys_people(world, lead_scim, partner_scim):
    lead_names = {r["userName"] for r in lead_scim.call("get", "Users").json_body["Resources"]}
    partner_names = {
        r["userName"] for r in partner_scim.call("get", "Users").json_body["Resources"]
    }
    assert world.lead_staff.email in lead_names and world.partner_staff.email not in lead_names
    assert (
        world.partner_staff.email in partner_names and world.lead_staff.email not in partner_names
    )
    assert world.portal_admin.email not in lead_names | partner_names
    query = f'filter=userName eq "{world.partner_staff.email}"'
    assert lead_scim.call("get", "Users", QUERY_STRING=query).json_body["totalResults"] == 0


@pytest.mark.parametrize(
    ("method", "body"),
    [("get", None), ("put", RFC7643_FULL_USER), ("patch", DEACTIVATE_OKTA), ("delete", None)],
)
def test_another_agencys_person_is_not_found_and_not_changed(
    world, lead_scim, partner_scim, method, body
):
    target = world.partner_staff
    response = lead_scim.call(method, f"Users/{target.pk}", body)
    assert response.status_code == 404 and response.json_body["schemas"] == [ERROR]
    target.refresh_from_db()
    assert target.is_active and target.email == "staff@rhs.example.gov"
    assert Membership.objects.filter(user=target, agency=world.partner, is_active=True).exists()
    # ... while the partner's own token reaches them
    assert partner_scim.call("get", f"Users/{target.pk}").status_code == 200


def test_someone_who_moved_to_another_agency_is_out_of_the_first_ones_reach(world, lead_scim):
    mover = world.lead_staff
    agency_services.end_membership(
        membership=Membership.objects.get(user=mover, is_active=True),
        by=world.lead_admin,
        reason="Left",
    )
    # still the lead's (their latest membership) until they join another agency
    assert lead_scim.call("get", f"Users/{mover.pk}").json_body["active"] is False
    partner_admin = person(world.partner, Membership.Role.ADMIN, email="admin2@rhs.example.gov")
    agency_services.add_member(
        agency=world.partner, email=mover.email, first_name="A", last_name="B", by=partner_admin
    )
    assert lead_scim.call("get", f"Users/{mover.pk}").status_code == 404
    assert lead_scim.call("patch", f"Users/{mover.pk}", DEACTIVATE_OKTA).status_code == 404
    mover.refresh_from_db()
    assert mover.is_active


# --- replace and patch --------------------------------------------------------------------------


def test_replace_changes_name_title_and_address(world, lead_scim):
    target = world.lead_staff
    body = {
        "schemas": [USER],
        "userName": "renamed@nfa.example.gov",
        "name": {"givenName": "Rhea", "familyName": "Nova"},
        "emails": [{"value": "renamed@nfa.example.gov", "type": "work", "primary": True}],
        "active": True,
    }
    response = lead_scim.call("put", f"Users/{target.pk}", body)
    assert response.status_code == 200, response.json_body
    target.refresh_from_db()
    assert (target.email, target.first_name, target.last_name) == (
        "renamed@nfa.example.gov",
        "Rhea",
        "Nova",
    )
    assert target.job_title == ""  # replace clears what the body leaves out
    event = AuditEvent.objects.get(action="person.updated", object_id=str(target.pk))
    assert event.actor_label.startswith("SCIM client") and event.after["email"] == target.email


def test_patch_with_operations_as_in_rfc_7644(world, lead_scim):
    target = world.lead_staff
    body = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "replace", "path": "title", "value": "Duty officer"},
            {"op": "replace", "path": "name.givenName", "value": "Sam"},
            {
                "op": "replace",
                "path": 'emails[type eq "work"].value',
                "value": "sam@nfa.example.gov",
            },
            {"op": "add", "path": "externalId", "value": "00u1"},
        ],
    }
    response = lead_scim.call("patch", f"Users/{target.pk}", body)
    assert response.status_code == 200, response.json_body
    assert response.json_body["title"] == "Duty officer"
    target.refresh_from_db()
    assert (target.job_title, target.first_name, target.email) == (
        "Duty officer",
        "Sam",
        "sam@nfa.example.gov",
    )
    lead_scim.call(
        "patch",
        f"Users/{target.pk}",
        {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "title"}]},
    )
    target.refresh_from_db()
    assert target.job_title == ""


@pytest.mark.parametrize(
    ("operations", "scim_type"),
    [
        ([{"op": "replace", "path": "password", "value": "x"}], "invalidPath"),
        ([{"op": "move", "path": "title", "value": "x"}], "invalidSyntax"),
        ([{"op": "remove", "path": "userName"}], "mutability"),
        ([{"op": "remove"}], "noTarget"),
        ([{"op": "replace", "path": "active", "value": 3}], "invalidValue"),
        ([], "invalidSyntax"),
        # the first operation is valid, the second is not: neither is applied
        (
            [
                {"op": "replace", "path": "title", "value": "ok"},
                {"op": "replace", "path": "userName", "value": "no"},
            ],
            "invalidValue",
        ),
    ],
)
def test_a_bad_patch_changes_nothing(world, lead_scim, operations, scim_type):
    target = world.lead_staff
    response = lead_scim.call(
        "patch", f"Users/{target.pk}", {"schemas": [PATCH], "Operations": operations}
    )
    assert response.status_code == 400 and response.json_body["scimType"] == scim_type
    target.refresh_from_db()
    assert target.is_active and target.job_title == "" and target.email == "staff@nfa.example.gov"


# --- deactivation --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["okta", "entra", "delete"])
def test_deactivation_takes_everything_away(world, lead_scim, how):
    target = world.lead_staff
    assert RoleAssignment.objects.open().filter(person=target).exists()
    _, api_secret = api_tokens.create_token(owner=target, name="scripts")
    browser = Client()
    browser.force_login(target)
    assert UserSession.objects.filter(user_id=target.pk).count() == 1
    if how == "delete":
        response = lead_scim.call("delete", f"Users/{target.pk}")
        assert response.status_code == 204
    else:
        response = lead_scim.call(
            "patch", f"Users/{target.pk}", DEACTIVATE_OKTA if how == "okta" else DEACTIVATE_ENTRA
        )
        assert response.status_code == 200 and response.json_body["active"] is False
    target.refresh_from_db()
    assert not target.is_active
    assert not Membership.objects.filter(user=target, is_active=True).exists()
    assert not RoleAssignment.objects.open().filter(person=target).exists()
    assert not UserSession.objects.filter(user_id=target.pk).exists()
    assert not ApiToken.objects.filter(owner=target, revoked_at__isnull=True).exists()
    assert api_secret  # (its use is refused: the end-to-end test below)
    ended = AuditEvent.objects.get(
        action="membership.ended",
        object_id=str(Membership.objects.get(user=target, agency=world.lead).pk),
    )
    assert ended.actor is None and ended.actor_label.startswith("SCIM client")
    deactivated = scim_events("person.deactivated")
    assert deactivated[0].after == {"is_active": False, "sessions": 1, "api_tokens": 1}
    if how == "delete":
        # deleted: from now on every request about them is "not found" (RFC 7644 §3.6)
        assert lead_scim.call("get", f"Users/{target.pk}").status_code == 404
        assert scim_events("person.deleted_by_provider")
    else:
        # the same deactivation again changes nothing and is not recorded twice
        lead_scim.call("patch", f"Users/{target.pk}", DEACTIVATE_OKTA)
        assert len(scim_events("person.deactivated")) == 1
        assert lead_scim.call("get", f"Users/{target.pk}").json_body["active"] is False


def test_a_deleted_person_is_not_found_afterwards_until_created_again(world, lead_scim):
    """RFC 7644 §3.6: after DELETE, every operation on the resource answers 404, and it
    is no longer listed; creating the same address again gives back the account (its
    history kept), active, with a staff membership and none of its former roles."""
    target = world.lead_staff
    path = f"Users/{target.pk}"
    assert lead_scim.call("delete", path).status_code == 204
    for method, body in (
        ("get", None),
        ("put", RFC7643_FULL_USER),
        ("patch", DEACTIVATE_OKTA),
        ("delete", None),
    ):
        answer = lead_scim.call(method, path, body)
        assert answer.status_code == 404, method
        assert answer.json_body["status"] == "404"
    listed = lead_scim.call("get", "Users", QUERY_STRING=f'filter=userName eq "{target.email}"')
    assert listed.json_body["totalResults"] == 0
    assert target.email not in json.dumps(lead_scim.call("get", "Users").json_body)

    again = {**RFC7643_FULL_USER, "userName": target.email, "emails": []}
    created = lead_scim.call("post", "Users", again)
    assert created.status_code == 201, created.json_body
    assert created.json_body["id"] == str(target.pk) and created.json_body["active"] is True
    target.refresh_from_db()
    assert target.is_active and target.last_name == RFC7643_FULL_USER["name"]["familyName"]
    membership = Membership.objects.get(user=target, is_active=True)
    assert membership.agency == world.lead and membership.role == Membership.Role.STAFF
    assert not RoleAssignment.objects.open().filter(person=target).exists()
    assert lead_scim.call("get", path).status_code == 200
    assert scim_events("person.provisioned_again")


def test_another_agencys_provider_cannot_create_a_person_another_deleted(
    world, lead_scim, partner_scim
):
    target = world.lead_staff
    assert lead_scim.call("delete", f"Users/{target.pk}").status_code == 204
    again = {**RFC7643_FULL_USER, "userName": target.email, "emails": []}
    refused = partner_scim.call("post", "Users", again)
    assert refused.status_code == 409
    assert not Membership.objects.filter(user=target, agency=world.partner).exists()


def test_a_deactivated_persons_live_session_and_api_token_stop_on_the_next_request(
    world, lead_scim
):
    target = world.lead_staff
    _, api_secret = api_tokens.create_token(owner=target, name="scripts")
    browser = Client()
    browser.force_login(target)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_secret}")
    task_force_url = f"/task-forces/{world.tf.pk}/"
    assert browser.get(task_force_url).status_code == 200
    assert api.get("/api/v1/task-forces/").status_code == 200

    assert lead_scim.call("patch", f"Users/{target.pk}", DEACTIVATE_OKTA).status_code == 200

    page = browser.get(task_force_url)
    assert page.status_code == 302 and "/accounts/login/" in page["Location"]
    assert api.get("/api/v1/task-forces/").status_code == 401


def test_reactivation_gives_back_the_account_and_membership_but_no_roles(world, lead_scim):
    target = world.lead_staff
    lead_scim.call("patch", f"Users/{target.pk}", DEACTIVATE_ENTRA)
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    response = lead_scim.call("patch", f"Users/{target.pk}", body)
    assert response.status_code == 200 and response.json_body["active"] is True
    target.refresh_from_db()
    assert target.is_active
    membership = Membership.objects.get(user=target, is_active=True)
    assert membership.agency == world.lead and membership.role == Membership.Role.STAFF
    assert not RoleAssignment.objects.open().filter(person=target).exists()
    assert scim_events("person.reactivated")


def test_created_inactive_is_deactivated_at_once(world, lead_scim):
    response = lead_scim.call("post", "Users", {**RFC7643_FULL_USER, "active": False})
    assert response.status_code == 201 and response.json_body["active"] is False
    user = User.objects.get(email="bjensen@example.com")
    assert not user.is_active and not Membership.objects.filter(user=user, is_active=True).exists()
