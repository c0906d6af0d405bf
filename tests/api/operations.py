"""The API's operations as its OpenAPI schema lists them (so a new operation is covered
the day it is added), and a fingerprint of the whole database to show that a refused
request changed nothing."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from django.apps import apps
from drf_spectacular.generators import SchemaGenerator

WRITE_METHODS = ("post", "put", "patch", "delete")

# The model behind each resource's ``{id}``.
MODELS: dict[str, str] = {
    "agencies": "agencies.Agency",
    "memberships": "agencies.Membership",
    "agreements": "agencies.SharingAgreement",
    "task-forces": "taskforces.TaskForce",
    "participations": "taskforces.Participation",
    "roles": "taskforces.Role",
    "role-assignments": "taskforces.RoleAssignment",
    "objectives": "taskforces.Objective",
    "tasks": "taskforces.Task",
    "updates": "taskforces.Update",
    "timeline-entries": "taskforces.TimelineEntry",
    "notifications": "coordination.Notification",
    "audit-events": "coordination.AuditEvent",
    "resource-kinds": "mutualaid.ResourceKind",
    "agency-capabilities": "mutualaid.AgencyCapability",
    "resource-requests": "mutualaid.ResourceRequest",
    "resource-offers": "mutualaid.Offer",
    "commitments": "mutualaid.Commitment",
}


@cache
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def write_operations() -> list[tuple[str, str]]:
    """Every (method, path template) that changes something, e.g.
    ``("post", "/api/v1/roles/{id}/assign/")``."""
    return [
        (method, path)
        for path, operations in schema()["paths"].items()
        for method in operations
        if method in WRITE_METHODS
    ]


def create_operations() -> list[tuple[str, str]]:
    """The write operations that make something new (those answering 201 Created)."""
    return [
        (method, path)
        for method, path in write_operations()
        if "201" in schema()["paths"][path][method]["responses"]
    ]


def url_for(path: str, user: Any) -> str:
    """The path with ``{id}`` replaced by an object of its resource the person may see
    (or any, if they see none)."""
    if "{id}" not in path:
        return path
    model = apps.get_model(MODELS[path.split("/")[3]])
    manager = model._default_manager
    visible = manager.restrict(user, "view") if hasattr(manager, "restrict") else manager
    pk = (
        visible.order_by("pk").values_list("pk", flat=True).first()
        or manager.order_by("pk").values_list("pk", flat=True).first()
    )
    return path.replace("{id}", str(pk))


def database_fingerprint() -> str:
    """A digest of every row of every table the project's models have."""
    digest = hashlib.sha256()
    for model in apps.get_models():
        digest.update(model._meta.label.encode())
        for row in model._default_manager.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()
