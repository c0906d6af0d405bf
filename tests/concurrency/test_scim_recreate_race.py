"""An agency's identity provider deletes a person, then creates the same address twice at
the same moment (a retry sent while the first request is still running): on PostgreSQL
with real threads released together, for several rounds. One creation gives the account
back (201); the other is told the address is taken (409 uniqueness, as any second creation
of an address), never a second answer of success and never a database error; the person
has one active membership."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from agencies import services as agency_services
from agencies.models import Membership
from tests.factories import AgencyFactory, person

from .harness import RACES_ON_POSTGRESQL, release_together

ROUNDS = 5
SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"

pytestmark = RACES_ON_POSTGRESQL


def _created_at_once(secret: str, body: dict[str, Any]) -> list[Any]:
    """Two POSTs of the same person, released together: each answer's status and body."""

    def create() -> tuple[int, Any]:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        answer = client.post("/scim/v2/Users", json.dumps(body), content_type=SCIM)
        return answer.status_code, json.loads(answer.content or b"{}")

    return release_together(None, create, create)


def test_one_of_two_creations_at_once_of_a_deleted_person_gives_the_account_back():
    coast = AgencyFactory(name="Coastal Authority")
    admin = person(coast, Membership.Role.ADMIN, email="admin@coast.example")
    token, secret = agency_services.issue_scim_token(agency=coast, name="Our IdP", by=admin)
    target = person(coast, email="diver@coast.example")
    body = {
        "schemas": [USER],
        "userName": target.email,
        "name": {"givenName": "Dana", "familyName": "Diver"},
    }
    for round_ in range(ROUNDS):
        agency_services.scim_delete_person(token=token, user=target)
        answers = _created_at_once(secret, body)
        statuses = sorted(a[0] for a in answers if isinstance(a, tuple))
        assert statuses == [201, 409], (round_, answers)
        refused = next(a[1] for a in answers if a[0] == 409)
        assert refused["scimType"] == "uniqueness", refused
        assert Membership.objects.filter(user=target, is_active=True).count() == 1
        target.refresh_from_db()
        assert target.is_active
