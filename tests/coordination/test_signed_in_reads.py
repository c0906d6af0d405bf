"""What every signed-in page reads before its own work: the session, the person, and the
person's membership with its agency. Each is one statement (prepared on PostgreSQL,
``coordination.db``) instead of the ORM's queries; these tests hold them to what the ORM
read: the same session data and expiry rule, the same membership and agency."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agencies.models import Membership
from agencies.selectors import membership_of
from coordination.accounts.sessions import SessionStore
from coordination.models import User, UserSession
from coordination.permissions import request_memory

from ..factories import AgencyFactory, person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _prepared_as_in_production(settings) -> None:
    # the test settings run statements unprepared (see coordination/settings/test.py)
    settings.CONCORD_DB_PREPARED_STATEMENTS = True


def _prepared(queries: CaptureQueriesContext) -> bool:
    """On PostgreSQL, whether every statement ran prepared (``EXECUTE``, or the
    ``PREPARE`` before its first run on this connection); elsewhere there is nothing to
    prepare."""
    if connection.vendor != "postgresql":
        return True
    return all(q["sql"].startswith(("EXECUTE concord_", "PREPARE concord_")) for q in queries)


def _orm_membership(user: User) -> Membership | None:
    return Membership.objects.select_related("agency").filter(user=user, is_active=True).first()


def _fields(instance: object) -> dict[str, object]:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}  # type: ignore[attr-defined]


def test_the_membership_and_its_agency_are_the_orms_in_one_statement(world) -> None:
    for user in (world.lead_liaison, world.partner_staff, world.lead_admin, world.portal_admin):
        expected = _orm_membership(user)
        with CaptureQueriesContext(connection) as queries:
            found = membership_of(user)
            agency_name = found.agency.name if found else None
        assert len([q for q in queries if not q["sql"].startswith("PREPARE")]) == 1
        assert _prepared(queries), [q["sql"] for q in queries]
        if expected is None:
            assert found is None
            continue
        assert found is not None
        assert _fields(found) == _fields(expected)
        assert _fields(found.agency) == _fields(expected.agency)
        assert agency_name == expected.agency.name
        assert not found._state.adding and not found.agency._state.adding
        # a saved instance as the ORM makes it: it saves back to the same row
        found.save(update_fields=["role"])


def test_an_ended_membership_is_no_membership_and_the_new_one_is_read(world) -> None:
    user = person(world.partner, Membership.Role.STAFF, email="mover@example.gov")
    old = membership_of(user)
    assert old is not None and old.agency_id == world.partner.pk
    old.is_active = False
    old.ended_at = timezone.now()
    old.save(update_fields=["is_active", "ended_at"])
    assert membership_of(user) is None
    elsewhere = AgencyFactory(name="Elsewhere Agency", acronym="ELS")
    Membership.objects.create(user=user, agency=elsewhere, role=Membership.Role.STAFF)
    found = membership_of(user)
    assert found is not None and found.agency == elsewhere and found.agency.acronym == "ELS"


def test_no_one_signed_in_reads_no_membership() -> None:
    with CaptureQueriesContext(connection) as queries:
        assert membership_of(None) is None
        assert membership_of(User()) is None
    assert len(queries) == 0


def test_a_request_reads_the_membership_once(world) -> None:
    with request_memory.request_memory(), CaptureQueriesContext(connection) as queries:
        first = membership_of(world.lead_liaison)
        assert membership_of(world.lead_liaison) is first
    assert len([q for q in queries if not q["sql"].startswith("PREPARE")]) == 1


def _session_for(client: Client) -> UserSession:
    return UserSession.objects.get(session_key=client.session.session_key)


def test_the_person_by_their_id_is_the_orms_row_in_one_statement(world) -> None:
    """Django's authentication backend reads the signed-in person with
    ``_default_manager.get(pk=...)`` on every request: one prepared statement giving the
    row the ORM gives. Anything else asked of ``get`` is the ORM's own."""
    someone = world.partner_staff
    with CaptureQueriesContext(connection) as queries:
        found = User.objects.get(pk=someone.pk)
        by_id = User._default_manager.get(id=str(someone.pk))
    assert len([q for q in queries if not q["sql"].startswith("PREPARE")]) == 2
    assert _prepared(queries), [q["sql"] for q in queries]
    orm = User.objects.filter(pk=someone.pk).get()
    assert _fields(found) == _fields(by_id) == _fields(orm)
    assert found._state.adding is False and found._state.db == "default"
    missing = User.objects.order_by("-pk").first().pk + 1
    for nothing in (missing, -1, None, 2**63, 10**30):
        with pytest.raises(User.DoesNotExist):
            User.objects.get(pk=nothing)
    with pytest.raises(ValueError, match="expected a number"):
        User.objects.get(pk="someone")
    with CaptureQueriesContext(connection) as queries:
        assert User.objects.get(email=someone.email) == someone
        assert User.objects.get(pk=someone.pk, is_active=True) == someone
    assert not any(q["sql"].startswith(("EXECUTE", "PREPARE")) for q in queries)


def test_a_signed_in_request_reads_the_person_by_the_statement(world) -> None:
    client = Client()
    client.force_login(world.lead_liaison)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard")).status_code == 200
    orm_reads = [
        q["sql"]
        for q in queries
        if 'FROM "coordination_user" WHERE "coordination_user"."id" =' in q["sql"]
    ]
    assert orm_reads == []


def test_a_session_loads_its_data_in_one_statement(world) -> None:
    client = Client()
    client.force_login(world.lead_liaison)
    key = client.session.session_key
    store = SessionStore(key)
    with CaptureQueriesContext(connection) as queries:
        data = store.load()
    assert len([q for q in queries if not q["sql"].startswith("PREPARE")]) == 1
    assert _prepared(queries), [q["sql"] for q in queries]
    assert int(data[SESSION_KEY]) == world.lead_liaison.pk
    assert data == SessionStore().decode(_session_for(client).session_data)
    assert store.session_key == key


def test_an_expired_session_loads_nothing_and_signs_no_one_in(world) -> None:
    client = Client()
    client.force_login(world.lead_liaison)
    assert client.get(reverse("dashboard")).status_code == 200
    session = _session_for(client)
    session.expire_date = timezone.now() - dt.timedelta(seconds=1)
    session.save(update_fields=["expire_date"])
    store = SessionStore(session.session_key)
    assert store.load() == {}
    assert store.session_key is None  # forgotten: saving it makes a new one
    answer = client.get(reverse("dashboard"))
    assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]


def test_an_unknown_session_key_loads_nothing() -> None:
    store = SessionStore("no-such-session-key-0123456789")
    assert store.load() == {}
    assert store.session_key is None
