"""SQL-looking input in every filter: each query parameter of every filterable page and of
every API list, given text an injection would use, answers 200 with no row the unfiltered
list does not have, or 400 with a message — never a server error — and afterwards every
table is still there with the same rows.

Filterable pages are found, not listed: every catalogue page (tests/security/pages.py)
whose answer carries a django-filter FilterSet has each of its filters tried. API lists
and their parameters come from the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from .conftest import Clients, changes, client_for, path_of, snapshot
from .pages import PAGES

pytestmark = pytest.mark.usefixtures("module_world")

INJECTIONS = ["' OR '1'='1", "1; DROP TABLE agencies_agency", "%' --", '1" OR "1"="1', "1 OR 1=1"]
UNLIMITED = override_settings(
    REST_FRAMEWORK={
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "100000/hour", "token": "100000/hour"},
    }
)


def tables() -> set[str]:
    return set(connection.introspection.table_names())


def shown_pks(response) -> set[Any]:
    context = response.context
    if context is None:
        return set()
    if "page_obj" in context:
        return {obj.pk for obj in context["page_obj"].object_list}
    return {obj.pk for obj in context["filter"].qs}


# --- pages ----------------------------------------------------------------------------------------


def test_every_filter_of_every_page_refuses_or_ignores_sql(world) -> None:
    before_tables = tables()
    filtered_pages: dict[str, list[str]] = {}
    clients = Clients()
    for name, page in PAGES.items():
        if not page.get or not page.html:
            continue
        visit = page.open(world)
        client = clients(visit)
        path = path_of(name, visit)
        plain = client.get(path)
        context = plain.context
        if plain.status_code != 200 or context is None or "filter" not in context:
            continue
        params = [*context["filter"].filters, "page"]
        filtered_pages[name] = params
        everything = shown_pks(plain) | {obj.pk for obj in context["filter"].queryset}
        before = snapshot()
        for param in params:
            for text in INJECTIONS:
                response = client.get(path, {param: text})
                where = f"{name} ?{param}={text!r}"
                assert response.status_code in (200, 400), (where, response.status_code)
                if response.status_code == 400:
                    assert param in response.content.decode() or "page" in param, where
                else:
                    assert shown_pks(response) <= everything, where
        assert not changes(before, snapshot()), name
    # the pages with filters today; a new filtered page joins by having a sample in PAGES
    assert {"agencies:directory", "taskforces:list", "taskforces:objectives"} <= set(
        filtered_pages
    ), filtered_pages
    assert tables() == before_tables


def test_object_ids_in_page_paths_take_only_numbers(world) -> None:
    client = client_for(PAGES["taskforces:detail"].open(world))
    for text in INJECTIONS:
        response = client.get(f"/task-forces/{quote(text)}/")
        assert response.status_code == 404, text


# --- the API --------------------------------------------------------------------------------------


def list_operations() -> dict[str, list[str]]:
    document = SchemaGenerator().get_schema(request=None, public=True)
    return {
        path: [p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"]
        for path, item in document["paths"].items()
        if "get" in item and "{" not in path
    }


def ids_of(response) -> set[Any]:
    body = response.json()
    results = body.get("results") if isinstance(body, dict) else body
    return {row.get("id") for row in results or []} if isinstance(results, list) else set()


def test_every_api_list_parameter_refuses_or_ignores_sql(world) -> None:
    operations = list_operations()
    assert len(operations) >= 12
    before_tables, before = tables(), snapshot()
    with UNLIMITED:
        for path, params in operations.items():
            client = APIClient()
            client.force_authenticate(world.lead_liaison)
            plain = client.get(path, {"page_size": 200} if "page_size" in params else {})
            if plain.status_code == 403:  # e.g. the audit trail: administrators only
                client.force_authenticate(world.portal_admin)
                plain = client.get(path, {"page_size": 200} if "page_size" in params else {})
            assert plain.status_code == 200, (path, plain.status_code)
            everything = ids_of(plain)
            for param in params:
                for text in INJECTIONS:
                    response = client.get(path, {param: text})
                    where = f"{path}?{param}={text!r}"
                    assert response.status_code in (200, 400), (where, response.status_code)
                    if response.status_code == 400:
                        error = response.json()["error"]
                        assert error["fields"] and param in error["fields"], (where, error)
                    else:
                        assert ids_of(response) <= everything, where
    assert tables() == before_tables
    assert not changes(before, snapshot())


def test_api_object_ids_take_only_numbers(world) -> None:
    client = APIClient()
    client.force_authenticate(world.lead_liaison)
    for text in INJECTIONS:
        for resource in ("agencies", "task-forces", "objectives"):
            response = client.get(f"/api/v1/{resource}/{quote(text)}/")
            assert response.status_code == 404, (resource, text, response.status_code)
