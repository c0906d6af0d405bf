"""Persona fixtures that mirror the real people of Concord.

``world`` builds one task force led by the Lead agency with the Partner agency taking
part, and these people:

* ``portal_admin`` — onboards agencies; no role in any task force;
* ``lead_admin`` — agency administrator of the lead agency; no role in the task force;
* ``lead_liaison`` — formed the task force (Commander + Liaison officer);
* ``lead_staff`` — Member, assigned by the lead liaison;
* ``partner_liaison`` — accepted the invitation (Liaison officer);
* ``partner_staff`` — Member, assigned by the partner liaison;
* ``outsider`` — staff of an active agency that is not in the task force.

Lead and Partner have a sharing agreement up to TLP:AMBER. Objectives exist at GREEN,
AMBER, AMBER+STRICT and RED, each with one task; updates at AMBER and RED.
"""

from __future__ import annotations

import copy
import datetime
import os
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from django.db import connections, transaction

from agencies import services as agency_services
from agencies.models import Membership
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Role

from .factories import AgencyFactory, UserFactory, person

T = TypeVar("T")


# What reading a person's access inside task forces costs, once per request
# (taskforces.access.compute): their membership with their holdings, their roles' grants
# and, where they see task forces led by other agencies, the agreements deciding the
# ceilings there -- one statement.
ACCESS_QUERIES = 1


@pytest.fixture(scope="session", autouse=True)
def _mail_through_the_outbox(django_test_environment: None) -> None:
    """Django's test set-up replaces EMAIL_BACKEND with its in-memory backend; put the
    mail outbox back, so tests send e-mail the way production does (the outbox's transport,
    CONCORD_EMAIL_TRANSPORT, is the in-memory backend: ``django.core.mail.outbox``)."""
    from django.conf import settings

    settings.EMAIL_BACKEND = "coordination.notifications.mail.OutboxBackend"


def role_named(task_force, slug: str) -> Role:
    return Role.objects.get(task_force=task_force, template__slug=slug)


def not_executed(captured_queries: list[dict[str, Any]], statements: tuple[str, ...]) -> list[str]:
    """The names of those ``statements`` (``coordination.db.fetch_all``'s SQL) that the
    captured queries never executed prepared (``EXECUTE name(...)``)."""
    from coordination import db

    executed = [q["sql"] for q in captured_queries if q["sql"].startswith("EXECUTE ")]
    names = [db.statement_name(statement) for statement in statements]
    return [n for n in names if not any(sql.startswith(f"EXECUTE {n}(") for sql in executed)]


def page_read_by(client: Any, user: Any, url: str, statements: tuple[str, ...]) -> str:
    """The page at ``url`` as ``user`` sees it, asserting it answered 200 and executed
    each of ``statements`` prepared (PostgreSQL, prepared statements on)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    assert connection.vendor == "postgresql"
    client.force_login(user)
    prepared = override_settings(CONCORD_DB_PREPARED_STATEMENTS=True)
    with prepared, CaptureQueriesContext(connection) as page:
        response = client.get(url)
    assert response.status_code == 200
    assert not_executed(page.captured_queries, statements) == []
    return response.content.decode()


@pytest.fixture
def world(request, db) -> SimpleNamespace:
    """A fresh world per test. Modules marked ``usefixtures("module_world")`` get a copy of
    one built once per module instead (building takes about a second on PostgreSQL); the
    mark makes pytest set the module fixture up before the test's transaction starts."""
    if "module_world" in request.fixturenames:
        return copy.deepcopy(request.getfixturevalue("module_world"))
    return build_world()


def built_once(django_db_blocker: Any, builder: Callable[[], T]) -> Iterator[T]:
    """For wide fixtures (module or class scope): ``builder()`` run once inside a
    transaction that is rolled back when the fixture ends. Each test still runs in its own
    savepoint nested inside it (pytest-django's ``db``), so a test's writes vanish too."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = builder()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker) -> Iterator[SimpleNamespace]:
    """``build_world()`` once per module, inside a transaction rolled back when the module
    ends; each test still runs in its own savepoint nested inside it."""
    yield from built_once(django_db_blocker, build_world)


def build_world() -> SimpleNamespace:
    w = SimpleNamespace()
    w.lead = AgencyFactory(name="National Flood Agency", acronym="NFA")
    w.partner = AgencyFactory(
        name="Regional Health Service", acronym="RHS", level="regional", sector="health"
    )
    w.outsider_agency = AgencyFactory(
        name="City Transport Authority", acronym="CTA", level="local", sector="transport"
    )

    w.portal_admin = UserFactory(email="admin@concord.example.gov", is_portal_admin=True)
    w.lead_admin = person(w.lead, Membership.Role.ADMIN, email="admin@nfa.example.gov")
    w.lead_liaison = person(w.lead, Membership.Role.LIAISON, email="liaison@nfa.example.gov")
    w.lead_staff = person(w.lead, email="staff@nfa.example.gov")
    w.partner_liaison = person(w.partner, Membership.Role.LIAISON, email="liaison@rhs.example.gov")
    w.partner_staff = person(w.partner, email="staff@rhs.example.gov")
    w.outsider = person(w.outsider_agency, email="staff@cta.example.gov")

    # proposed by the lead's administrator, accepted by the partner's liaison officer
    w.agreement = agency_services.propose_agreement(
        title="NFA–RHS information sharing",
        parties=[w.lead, w.partner],
        max_marking=Marking.AMBER,
        valid_from=datetime.date(2020, 1, 1),
        by=w.lead_admin,
    )
    w.agreement = agency_services.accept_agreement(agreement=w.agreement, by=w.partner_liaison)

    w.tf = services.form_task_force(
        name="River Severn flood response", mandate="Protect life and property.", by=w.lead_liaison
    )
    w.participation = services.invite_agency(task_force=w.tf, agency=w.partner, by=w.lead_liaison)
    services.respond_to_invitation(participation=w.participation, accept=True, by=w.partner_liaison)
    w.member_role = role_named(w.tf, "member")
    w.lead_staff_assignment = services.assign_role(
        role=w.member_role, person=w.lead_staff, assigned_by=w.lead_liaison
    )
    w.partner_staff_assignment = services.assign_role(
        role=w.member_role, person=w.partner_staff, assigned_by=w.partner_liaison
    )

    w.objectives = {}
    w.tasks = {}
    for marking in (Marking.GREEN, Marking.AMBER, Marking.AMBER_STRICT, Marking.RED):
        objective = services.create_objective(
            task_force=w.tf,
            title=f"Objective {marking.label}",
            owner_agency=w.lead,
            contributing_agencies=[w.partner],
            marking=marking,
            by=w.lead_liaison,
        )
        w.objectives[marking] = objective
        w.tasks[marking] = services.create_task(
            objective=objective, title=f"Task {marking.label}", by=w.lead_liaison
        )
    w.updates = {
        marking: services.post_update(
            task_force=w.tf,
            title=f"Update {marking.label}",
            body="Levels rising.",
            marking=marking,
            by=w.lead_liaison,
        )
        for marking in (Marking.AMBER, Marking.RED)
    }
    return w


# the people of the world, by their attribute names
PERSONAS = (
    "portal_admin",  # a member of no agency
    "lead_admin",
    "lead_liaison",
    "lead_staff",
    "partner_liaison",
    "partner_staff",
    "outsider",
)


@pytest.fixture
def personas(world: SimpleNamespace) -> dict[str, object]:
    return {name: getattr(world, name) for name in PERSONAS}


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """The session's one Chromium (Debian's, driven by Playwright's sync API, which can
    run only once per process): every browser test, wherever it lives, uses this one."""
    from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, _browser_available

    missing = _browser_available()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"Browser tests must run on CI, but {missing}.")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        # Playwright's event loop stays set as this thread's running loop from its start
        # to its end, and while one runs Django keeps this thread's database connections
        # apart from those it opened before (asgiref's Local): the tests since then have
        # used connections of their own, which Django's teardown, run after the loop has
        # stopped, would not see; left open, they kept the test database from being
        # dropped ("is being accessed by other users"). Closed here, while they are seen.
        connections.close_all()
        chromium.close()
