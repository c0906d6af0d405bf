"""A task force's own marking limits who sees its mandate, exactly as an item's marking
limits who sees the item (issue 15, item 2).

In the world the task force is marked TLP:AMBER and the Lead–Partner agreement covers up to
TLP:AMBER. Lead people see up to TLP:AMBER+STRICT, and TLP:RED only with the capability to
view restricted items (lead_liaison is Commander; lead_staff a Member).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from coordination.permissions import PermissionDenied
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.access import access_for
from taskforces.models import TaskForce
from taskforces.selectors import sees_mandate, task_forces_for

from ..conftest import role_named

pytestmark = pytest.mark.usefixtures("module_world")


MANDATE = "Protect life and property."
PERSONAS = ("lead_liaison", "lead_staff", "partner_liaison", "partner_staff")


def mark(w: SimpleNamespace, marking: int) -> TaskForce:
    return services.update_task_force(task_force=w.tf, by=w.lead_liaison, marking=marking)


def api_mandate(user: Any, tf: TaskForce) -> dict[str, Any]:
    client = APIClient()
    client.force_authenticate(user)
    detail = client.get(f"/api/v1/task-forces/{tf.pk}/")
    assert detail.status_code == 200
    listed = client.get("/api/v1/task-forces/").json()["results"]
    assert [row for row in listed if row["id"] == tf.pk] == [detail.json()]
    return detail.json()


def page_html(client: Any, user: Any, tf: TaskForce) -> str:
    client.force_login(user)
    response = client.get(reverse("taskforces:detail", args=[tf.pk]))
    assert response.status_code == 200
    return response.content.decode()


# who sees the mandate, per marking of the task force: the same people who see an item of it
EXPECTED = {
    Marking.CLEAR: {"lead_liaison", "lead_staff", "partner_liaison", "partner_staff"},
    Marking.AMBER: {"lead_liaison", "lead_staff", "partner_liaison", "partner_staff"},
    Marking.AMBER_STRICT: {"lead_liaison", "lead_staff"},
    Marking.RED: {"lead_liaison"},
}


@pytest.mark.parametrize("marking", list(EXPECTED), ids=lambda m: Marking(m).name)
def test_the_mandate_is_seen_by_exactly_those_who_see_an_item_of_its_marking(
    world, client, marking
):
    tf = mark(world, marking)
    for persona in PERSONAS:
        user = getattr(world, persona)
        expected = persona in EXPECTED[marking]
        # the one rule: what an item of that marking would be
        assert access_for(user).sees(tf.pk, tf.marking) is expected, persona
        assert sees_mandate(user, tf) is expected, persona
        body = api_mandate(user, tf)
        assert body["mandate"] == (MANDATE if expected else None), persona
        assert body["mandate_withheld"] is (not expected), persona
        html = page_html(client, user, tf)
        assert (MANDATE in html) is expected, persona
        if not expected:
            assert "The mandate is marked" in html, persona


def test_the_task_force_itself_stays_visible_when_the_mandate_is_withheld(world):
    tf = mark(world, Marking.RED)
    assert tf in task_forces_for(world.partner_staff)
    assert api_mandate(world.partner_staff, tf)["name"] == tf.name


def test_searching_the_mandate_finds_only_mandates_the_person_sees(world, client):
    tf = mark(world, Marking.AMBER_STRICT)
    for persona, found in (("lead_staff", True), ("partner_staff", False)):
        api = APIClient()
        api.force_authenticate(getattr(world, persona))
        ids = [
            row["id"]
            for row in api.get("/api/v1/task-forces/", {"q": "property"}).json()["results"]
        ]
        assert (tf.pk in ids) is found, persona
        client.force_login(getattr(world, persona))
        page = client.get(reverse("taskforces:list"), {"q": "property"}).content.decode()
        assert (tf.name in page) is found, persona
        # the name is searched for everyone who sees the task force
        ids = [
            row["id"]
            for row in api.get("/api/v1/task-forces/", {"q": tf.name[:10]}).json()["results"]
        ]
        assert tf.pk in ids, persona


def partner_deputy(w: SimpleNamespace) -> Any:
    """The partner's staff member as Deputy commander: they may edit the task force, and
    see up to what the Lead–Partner agreement covers (TLP:AMBER)."""
    deputy = role_named(w.tf, "deputy-commander")
    services.assign_role(role=deputy, person=w.partner_staff, assigned_by=w.partner_liaison)
    return w.partner_staff


def test_nobody_marks_a_task_force_above_what_they_see(world):
    deputy = partner_deputy(world)
    with pytest.raises(ValidationError) as error:
        services.update_task_force(task_force=world.tf, by=deputy, marking=Marking.AMBER_STRICT)
    assert "marking" in error.value.message_dict
    world.tf.refresh_from_db()
    assert world.tf.marking == Marking.AMBER
    # up to their own ceiling is fine
    services.update_task_force(task_force=world.tf, by=deputy, marking=Marking.GREEN)


def test_nobody_edits_a_task_force_whose_mandate_they_cannot_see(world, client):
    deputy = partner_deputy(world)
    tf = mark(world, Marking.RED)
    assert not sees_mandate(deputy, tf)
    with pytest.raises(PermissionDenied):
        services.update_task_force(task_force=tf, by=deputy, name="Renamed")
    api = APIClient()
    api.force_authenticate(deputy)
    assert api.patch(f"/api/v1/task-forces/{tf.pk}/", {"name": "Renamed"}).status_code == 403
    client.force_login(deputy)
    assert client.get(reverse("taskforces:edit", args=[tf.pk])).status_code == 403
    tf.refresh_from_db()
    assert (tf.name, tf.mandate) == ("River Severn flood response", MANDATE)
