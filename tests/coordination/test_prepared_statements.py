"""The statements run on almost every request are prepared once per PostgreSQL connection
(``coordination.db``): the answers are the same as without preparing, and a connection
prepares each statement once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from coordination import db
from coordination.permissions.markings import Marking
from taskforces import access, selectors, services

from ..conftest import not_executed, page_read_by

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PREPARE is PostgreSQL's")


def test_prepared_answers_equal_plain_ones_and_each_is_prepared_once(world, settings) -> None:
    people = [world.lead_liaison, world.partner_staff, world.outsider, world.portal_admin]
    settings.CONCORD_DB_PREPARED_STATEMENTS = False
    plain = [access.compute(p) for p in people]
    settings.CONCORD_DB_PREPARED_STATEMENTS = True
    with CaptureQueriesContext(connection) as first:
        prepared = [access.compute(p) for p in people]
    with CaptureQueriesContext(connection) as again:
        assert [access.compute(p) for p in people] == prepared
    assert prepared == plain
    assert not [q for q in again.captured_queries if q["sql"].startswith("PREPARE")]
    assert all(
        q["sql"].startswith("EXECUTE concord_")
        for q in again.captured_queries
        if "agreementcoverage" not in q["sql"]
    )
    assert len(first.captured_queries) >= len(again.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again(settings) -> None:
    from ..conftest import build_world

    world = build_world()
    settings.CONCORD_DB_PREPARED_STATEMENTS = True
    expected = access.compute(world.partner_staff)
    connection.close()  # a new session knows nothing of the old one's statements
    assert access.compute(world.partner_staff) == expected


def test_placeholders_must_match_the_parameters(settings) -> None:
    settings.CONCORD_DB_PREPARED_STATEMENTS = True
    with pytest.raises(ValueError, match="placeholders"):
        db.fetch_all("SELECT %s, %s", (1,))
    assert db.fetch_all("SELECT %s::int + 1, '100%%'", (1,)) == [(2, "100%")]


def test_prepared_statements_are_planned_once(world, settings) -> None:
    """A prepared statement is run with the plan made for it, not planned again on each
    run: the access statement's ids are arrays, for which PostgreSQL would otherwise keep
    choosing a fresh ("custom") plan, and planning is what preparing saves."""
    settings.CONCORD_DB_PREPARED_STATEMENTS = True
    for _ in range(8):
        access.compute(world.lead_liaison)
    plans = db.fetch_all(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s",
        (db.statement_name(access._ACCESS_SQL),),
        prepare=False,
    )
    generic, custom = plans[0]
    assert custom == 0
    assert generic >= 8


def test_the_dashboards_lists_are_read_by_their_prepared_statements(client, world):
    """The dashboard reads the roles, task forces and next tasks of someone with roles by
    the statements ``tests/coordination/test_one_access_rule.py`` holds equal to the
    querysets, not through the ORM."""
    services.create_task(
        objective=world.objectives[Marking.GREEN],
        title="Fill sandbags",
        assignee=world.lead_staff,
        by=world.lead_liaison,
    )
    statements = (selectors._MY_ASSIGNMENTS, selectors._MY_TASK_FORCES, selectors._MY_NEXT_TASKS)
    html = page_read_by(client, world.lead_staff, reverse("dashboard"), statements)
    assert world.tf.name in html and "Fill sandbags" in html


def test_an_api_write_reads_its_task_force_as_the_pages_do(world, settings) -> None:
    """An update posted through the API names its task force by id; the id is read by
    ``visible_task_force``'s statement, and a task force the poster may not see is refused
    with the answer a missing one gets, both before anything is written."""
    from rest_framework.test import APIClient

    from taskforces.models import TaskForce, Update

    settings.CONCORD_DB_PREPARED_STATEMENTS = True
    client = APIClient()
    client.force_authenticate(world.lead_liaison)
    body = {"title": "River level", "body": "Rising at the weir."}
    with CaptureQueriesContext(connection) as posted:
        response = client.post(
            "/api/v1/updates/", {**body, "task_force": world.tf.pk}, format="json"
        )
    assert response.status_code == 201, response.content
    assert not_executed(posted.captured_queries, (selectors._VISIBLE_TASK_FORCE,)) == []
    outsider = APIClient()
    outsider.force_authenticate(world.outsider)  # world.tf is hidden from them
    missing = TaskForce.objects.order_by("-pk").first().pk + 1
    before = Update.objects.count()
    answers = [
        outsider.post("/api/v1/updates/", {**body, "task_force": pk}, format="json")
        for pk in (world.tf.pk, missing)
    ]
    assert [a.status_code for a in answers] == [400, 400]
    messages = [a.json()["error"]["fields"]["task_force"] for a in answers]
    assert messages[0] == [m.replace(str(missing), str(world.tf.pk)) for m in messages[1]]
    assert Update.objects.count() == before


def test_the_task_force_page_is_read_by_its_prepared_statements(client, world):
    """A task force's page reads its task force, its objectives, updates and agencies, and
    the story of why the person sees it, by the statements
    ``tests/coordination/test_one_access_rule.py`` holds to the rule."""
    from taskforces.permissions import explanations

    statements = (
        selectors._VISIBLE_TASK_FORCE,
        selectors._TF_OBJECTIVES,
        selectors._TF_UPDATES,
        selectors._TF_PARTICIPATIONS,
        explanations._PARTICIPATION,
        explanations._ASSIGNMENTS,
    )
    url = reverse("taskforces:detail", args=[world.tf.pk])
    html = page_read_by(client, world.lead_staff, url, statements)
    assert world.objectives[Marking.GREEN].title in html and world.partner.name in html
    assert f"You hold the role Member, assigned by {world.lead_liaison}" in html


def test_the_objectives_board_is_read_by_its_prepared_statements(client, world):
    """The board reads its cards (count, page, tasks) and its owner filter's options by
    the statements ``test_one_access_rule.py`` holds to the board's queryset, filtered
    or not."""
    from taskforces import board

    statements = (board._COUNT, board._PAGE, board._TASKS, board._OWNERS)
    url = reverse("taskforces:objectives", args=[world.tf.pk])
    html = page_read_by(client, world.lead_staff, url, statements)
    assert world.objectives[Marking.GREEN].title in html
    assert f'<option value="{world.partner.pk}">{world.partner.name}</option>' in html
    filtered = f"{url}?owner_agency={world.lead.pk}&q=objective"
    html = page_read_by(client, world.lead_staff, filtered, statements)
    assert world.objectives[Marking.GREEN].title in html
    assert f'<option value="{world.lead.pk}" selected>{world.lead.name}</option>' in html
