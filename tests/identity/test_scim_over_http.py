"""SCIM over real HTTP, as an identity provider calls it: a live server, the bodies as
bytes on the wire with ``application/scim+json``, the bearer token in the header. The
same three calls identity providers make when a person joins and leaves: create, find by
userName, PATCH ``active: false``."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest

from agencies import services as agency_services
from agencies.models import Membership
from coordination.models import User

from ..factories import AgencyFactory, person
from .test_scim import DEACTIVATE_OKTA, RFC7643_FULL_USER

pytestmark = pytest.mark.django_db(transaction=True)


def call(
    base: str, secret: str, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the test's own live server
        f"{base}/scim/v2/{path}",
        data=data,
        method=method,
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/scim+json",
            "Accept": "application/scim+json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            raw = response.read()
            return response.status, dict(response.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_an_identity_provider_creates_finds_and_deactivates_over_http(live_server):
    agency = AgencyFactory(name="Border Force", acronym="BF")
    admin = person(agency, Membership.Role.ADMIN, email="admin@bf.example.gov")
    _, secret = agency_services.issue_scim_token(agency=agency, name="Okta", by=admin)
    base = live_server.url

    status, headers, created = call(base, secret, "POST", "Users", RFC7643_FULL_USER)
    assert status == 201, created
    assert headers["Content-Type"].startswith("application/scim+json")
    assert headers["Location"] == created["meta"]["location"]

    query = urllib.parse.urlencode({"filter": 'userName eq "bjensen@example.com"'})
    status, _, found = call(base, secret, "GET", f"Users?{query}")
    assert status == 200 and found["totalResults"] == 1
    assert found["Resources"][0]["id"] == created["id"]

    status, _, patched = call(base, secret, "PATCH", f"Users/{created['id']}", DEACTIVATE_OKTA)
    assert status == 200 and patched["active"] is False
    user = User.objects.get(pk=created["id"])
    assert not user.is_active and not Membership.objects.filter(user=user, is_active=True).exists()

    status, headers, error = call(base, "wrong", "GET", "Users")
    assert status == 401 and error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
