"""The defects of issue 15 items 13 and 17, through the pages and the API as people and
agencies' systems send them: a control character in a suspension reason, a
right-to-left override in a title, dates in year 1 and year 9999, and text past its
maximum length. Each is a clear error on the field at fault and changes nothing.
(tests/coordination/test_free_text.py proves that every field has the checks; these prove they are what a
request meets.)"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import reverse

from agencies.models import Agency, SharingAgreement
from coordination.permissions.markings import Marking
from coordination.validators import PROSE_LENGTH, REASON_LENGTH
from taskforces.models import Objective, Task, Update

pytestmark = pytest.mark.usefixtures("module_world")

RLO = "Evacuate \u202eenoZ\u202c B"
CONTROL = "Compliance\x02 audit"


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for model in (Agency, SharingAgreement, Objective, Task, Update)
    }


def page_errors(response: Any) -> dict[str, list[str]]:
    """The errors of every form on a re-shown page, by field."""
    assert response.status_code == 200, response.status_code
    errors: dict[str, list[str]] = {}
    forms = {id(form): form for _, form in response.context.get("decisions") or []}
    if response.context.get("form") is not None:
        forms[id(response.context["form"])] = response.context["form"]
    for form in forms.values():
        if form.is_bound:
            for field, messages in form.errors.items():
                errors.setdefault(field, []).extend(messages)
    return errors


def api_fields(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    return response.json()["error"]["fields"]


# --- pages ----------------------------------------------------------------------------------


def objective_form(w: SimpleNamespace, **changes: Any) -> dict[str, Any]:
    return {
        "title": "Evacuate the lower town",
        "owner_agency": w.lead.pk,
        "status": "on_track",
        "priority": 3,
        "marking": int(Marking.GREEN),
        **changes,
    }


def test_page_refuses_a_control_character_in_a_suspension_reason(world, client) -> None:
    before = snapshot()
    client.force_login(world.portal_admin)
    response = client.post(
        reverse("agencies:status", args=[world.outsider_agency.pk]),
        {"decision": "suspend", "suspend-reason": CONTROL},
    )
    assert page_errors(response) == {"reason": ["Remove the control character U+0002."]}
    assert snapshot() == before


def test_page_refuses_a_direction_override_in_a_title(world, client) -> None:
    before = snapshot()
    client.force_login(world.lead_liaison)
    response = client.post(
        reverse("taskforces:objective-create", args=[world.tf.pk]),
        objective_form(world, title=RLO),
    )
    errors = page_errors(response)
    assert list(errors) == ["title"]
    assert "U+202E" in errors["title"][0]
    assert snapshot() == before


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_page_refuses_dates_out_of_range(world, client, day) -> None:
    before = snapshot()
    client.force_login(world.lead_liaison)
    objective = world.objectives[Marking.GREEN]
    task = objective.tasks.first()
    for url, data, field in (
        (
            reverse("taskforces:objective-create", args=[world.tf.pk]),
            objective_form(world, target_date=day),
            "target_date",
        ),
        (
            reverse("taskforces:task-edit", args=[task.pk]),
            {"title": task.title, "status": task.status, "due_date": day},
            "due_date",
        ),
        (
            reverse("agencies:agreement-new", args=[world.lead.pk]),
            {
                "title": "Lead–outsider sharing",
                "parties": [world.outsider_agency.pk],
                "max_marking": int(Marking.GREEN),
                "valid_from": "2026-01-01",
                "valid_until": day,
            },
            "valid_until",
        ),
    ):
        if "agreement" in url:
            client.force_login(world.lead_admin)
        errors = page_errors(client.post(url, data))
        assert list(errors) == [field], (url, errors)
        assert errors[field][0].startswith("Enter a date from 2000-01-01 to "), errors
    assert snapshot() == before


def test_page_refuses_an_update_body_past_its_maximum(world, client) -> None:
    before = snapshot()
    client.force_login(world.lead_liaison)
    response = client.post(
        reverse("taskforces:update-create", args=[world.tf.pk]),
        {
            "kind": "update",
            "title": "Levee report",
            "body": "x" * (PROSE_LENGTH + 1),
            "marking": int(Marking.GREEN),
        },
    )
    assert list(page_errors(response)) == ["body"]
    assert snapshot() == before


# --- API ------------------------------------------------------------------------------------


def test_api_refuses_a_control_character_in_a_suspension_reason(world, api) -> None:
    before = snapshot()
    response = api(world.portal_admin).post(
        f"/api/v1/agencies/{world.outsider_agency.pk}/suspend/", {"reason": CONTROL}, format="json"
    )
    assert api_fields(response) == {"reason": ["Remove the control character U+0002."]}
    assert snapshot() == before


def test_api_refuses_a_direction_override_in_a_title(world, api) -> None:
    before = snapshot()
    client = api(world.lead_liaison)
    for resource, body in (
        (
            "objectives",
            {
                "task_force": world.tf.pk,
                "title": RLO,
                "owner_agency": world.lead.pk,
                "marking": Marking.GREEN,
            },
        ),
        ("updates", {"task_force": world.tf.pk, "title": RLO, "body": "Levels falling."}),
    ):
        fields = api_fields(client.post(f"/api/v1/{resource}/", body, format="json"))
        assert list(fields) == ["title"], (resource, fields)
        assert "U+202E" in fields["title"][0]
    task = world.objectives[Marking.GREEN].tasks.first()
    fields = api_fields(client.patch(f"/api/v1/tasks/{task.pk}/", {"title": RLO}, format="json"))
    assert list(fields) == ["title"]
    assert snapshot() == before


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1999-12-31"])
def test_api_refuses_dates_out_of_range(world, api, day) -> None:
    before = snapshot()
    liaison = api(world.lead_liaison)
    objective = world.objectives[Marking.GREEN]
    task = objective.tasks.first()
    for client, method, url, body, field in (
        (
            liaison,
            "post",
            "/api/v1/objectives/",
            {
                "task_force": world.tf.pk,
                "title": "Evacuate Zone B",
                "owner_agency": world.lead.pk,
                "marking": Marking.GREEN,
                "target_date": day,
            },
            "target_date",
        ),
        (liaison, "patch", f"/api/v1/objectives/{objective.pk}/", {"target_date": day}, None),
        (liaison, "patch", f"/api/v1/tasks/{task.pk}/", {"due_date": day}, "due_date"),
        (
            api(world.lead_admin),
            "post",
            "/api/v1/agreements/",
            {
                "title": "Lead–outsider sharing",
                "parties": [world.lead.pk, world.outsider_agency.pk],
                "max_marking": Marking.GREEN,
                "valid_from": "2026-01-01",
                "valid_until": day,
            },
            "valid_until",
        ),
    ):
        field = field or next(iter(body))
        fields = api_fields(getattr(client, method)(url, body, format="json"))
        assert list(fields) == [field], (url, fields)
        assert fields[field][0].startswith("Enter a date from 2000-01-01 to "), fields
    assert snapshot() == before


def test_api_refuses_text_past_its_maximum(world, api) -> None:
    before = snapshot()
    fields = api_fields(
        api(world.lead_liaison).post(
            "/api/v1/updates/",
            {"task_force": world.tf.pk, "title": "Levee report", "body": "x" * (PROSE_LENGTH + 1)},
            format="json",
        )
    )
    assert list(fields) == ["body"]
    fields = api_fields(
        api(world.portal_admin).post(
            f"/api/v1/agencies/{world.outsider_agency.pk}/suspend/",
            {"reason": "x" * (REASON_LENGTH + 1)},
            format="json",
        )
    )
    assert list(fields) == ["reason"]
    assert snapshot() == before


def test_prose_keeps_line_breaks_tabs_and_right_to_left_text(world, api) -> None:
    body = "Levels:\r\n\tNorth 3.1 m\n\tSouth \u202bנמל\u202c 2.4 m"
    response = api(world.lead_liaison).post(
        "/api/v1/updates/",
        {"task_force": world.tf.pk, "title": "Levee report", "body": body},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Update.objects.get(pk=response.json()["id"]).body == body
