"""An agency's identity provider deletes a person, then creates the same address twice at
the same moment (a retry sent while the first request is still running): on PostgreSQL
with real threads released together, for several rounds. One creation gives the account
back (201); the other is told the address is taken (409 uniqueness, as any second creation
of an address), never a second answer of success and never a database error; the person
has one active membership."""

from __future__ import annotations

import json
import threading
from typing import Any

from django.db import connection
from django.test import Client

from agencies import services as agency_services
from agencies.models import Membership
from tests.factories import AgencyFactory, person

from .harness import RACES_ON_POSTGRESQL

ROUNDS = 5
SCIM = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"

pytestmark = RACES_ON_POSTGRESQL


def _created_at_once(secret: str, body: dict[str, Any]) -> list[Any]:
    """Two POSTs of the same person, released together: each answer's status and body."""
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def create(index: int) -> None:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            answer = client.post("/scim/v2/Users", json.dumps(body), content_type=SCIM)
            answers[index] = (answer.status_code, json.loads(answer.content or b"{}"))
        except Exception as error:
            answers[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return answers


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
