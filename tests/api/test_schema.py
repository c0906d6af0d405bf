"""The OpenAPI schema is valid with no warning, documents every operation's request,
response and errors, and its documentation page is served without a CDN."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from django.core.management import call_command
from django.test import Client


def test_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    # --fail-on-warn turns any warning (an unresolvable field, an unnamed enum collision,
    # an undocumented authenticator...) into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.stat().st_size > 0


def schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_every_operation_documents_its_responses(db: None, client: Client) -> None:
    document = schema(client)
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 55
    for path, method, operation in operations:
        assert path.startswith("/api/v1/"), path
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert len(success) == 1, (path, method)
        assert "content" in responses[success[0]], (path, method)
        for code in ("401", "403", "429"):
            assert responses[code]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, (path, method, code)
        if "{id}" in path:
            assert "404" in responses, (path, method)
        if method in ("post", "patch") and "requestBody" in operation:
            assert "400" in responses, (path, method)
            assert list(operation["requestBody"]["content"]) == ["application/json"]
        assert {"tokenAuth": []} in operation["security"], (path, method)


def test_lifecycle_changes_are_actions_not_status_fields(db: None, client: Client) -> None:
    document = schema(client)
    components = document["components"]["schemas"]
    for name in ("PatchedAgencyChangeRequest", "PatchedTaskForceChangeRequest"):
        assert "status" not in components[name]["properties"], name
    for action in (
        "/api/v1/agencies/{id}/approve/",
        "/api/v1/agencies/{id}/suspend/",
        "/api/v1/task-forces/{id}/transition/",
        "/api/v1/task-forces/{id}/invite/",
        "/api/v1/participations/{id}/accept/",
        "/api/v1/participations/{id}/withdraw/",
        "/api/v1/roles/{id}/assign/",
        "/api/v1/role-assignments/{id}/end/",
        "/api/v1/updates/{id}/acknowledge/",
    ):
        assert "post" in document["paths"][action], action


def test_docs_page_is_served_without_a_cdn(db: None, client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    for source in sources:
        assert source.startswith("/"), source  # nothing from another host
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in sources
    script = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert script.status_code == 200
