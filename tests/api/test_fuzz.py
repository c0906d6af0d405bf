"""Schema-driven fuzzing: schemathesis sends every operation of the OpenAPI schema
requests made from the schema (valid and invalid ones), as several personas with their
own API tokens, through the whole WSGI application, and checks that nothing is a server
error and that every answer (status code, content type, headers, body) is what the
schema says.

It runs only when asked for (``pytest -m schemathesis``; ``.ci/run`` has a step for it),
because it takes a few minutes. The examples are derandomised, so a run is repeatable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import schemathesis
from django.apps import apps
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coordination.accounts.tokens import create_token

# Requests per operation and persona (valid and invalid ones together).
MAX_EXAMPLES = 15
FUZZ_PERSONAS = ("portal_admin", "lead_liaison", "partner_staff", "outsider")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class InTestTransactionApp:
    """Django's WSGI application, kept inside the test's database transaction.

    Django closes "old" database connections when a request starts and ends, which would
    close the test's connection (it is inside a transaction) and lose the test data; the
    test client avoids that the same way, by not listening for those signals while it
    runs a request."""

    def __init__(self) -> None:
        self.handler = WSGIHandler()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = self.handler(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


def _load_schema(*, coverage: bool) -> Any:
    document = SchemaGenerator().get_schema(request=None, public=True)
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # the tests send each persona's real token instead
                "with-security-parameters": False,
            },
            # The coverage phase tries each parameter's boundaries and wrong types, and
            # methods the operation does not have: about a hundred requests an operation.
            "phases": {"coverage": {"enabled": coverage}},
        }
    )
    loaded = schemathesis.openapi.from_dict(document, config=config)
    loaded.app = InTestTransactionApp()
    loaded.hook(flatmap_case)
    return loaded


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
    "notifications": "coordination.Notification",
    "audit-events": "coordination.AuditEvent",
    "timeline-entries": "taskforces.TimelineEntry",
    "resource-kinds": "mutualaid.ResourceKind",
    "resource-requests": "mutualaid.ResourceRequest",
    "resource-offers": "mutualaid.Offer",
    "commitments": "mutualaid.Commitment",
    "agency-capabilities": "mutualaid.AgencyCapability",
}


# Body fields that name other objects, and the model each names.
REFERENCES: dict[str, str] = {
    "task_force": "taskforces.TaskForce",
    "objective": "taskforces.Objective",
    "assigned_role": "taskforces.Role",
    "agency": "agencies.Agency",
    "owner_agency": "agencies.Agency",
    "person": "coordination.User",
    "assignee": "coordination.User",
    "parties": "agencies.Agency",
    "contributing_agencies": "agencies.Agency",
    "eligible_agencies": "agencies.Agency",
    "ack_agencies": "agencies.Agency",
    "ack_roles": "taskforces.Role",
    "addressed_agencies": "agencies.Agency",
}


def _ids(label: str) -> list[int]:
    model = apps.get_model(label)
    return list(model._default_manager.order_by("-pk").values_list("pk", flat=True)[:40])


def flatmap_case(context: Any, case: Any) -> Any:
    """Random ids almost never name an object, so nearly every request would stop at
    "not found" and the services behind would go untried. In a valid case, the ``{id}``
    and the body's references are ids of objects that exist (which the persona may or
    may not see); the invalid cases and the coverage phase still send random ones."""

    def valid_at(location: ParameterLocation) -> bool:
        return case.meta is None or not case.meta.is_negative_at(location)

    choices: dict[tuple[str, str], Any] = {}
    if "id" in (case.path_parameters or {}) and valid_at(ParameterLocation.PATH):
        resource = context.operation.path.split("/")[3]
        ids = _ids(MODELS[resource])
        if ids:
            choices[("path", "id")] = st.sampled_from(ids)
    if isinstance(case.body, dict) and valid_at(ParameterLocation.BODY):
        for name, value in case.body.items():
            ids = _ids(REFERENCES[name]) if name in REFERENCES else []
            if not ids or value is None:
                continue
            if isinstance(value, list):
                choices[("body", name)] = st.lists(st.sampled_from(ids), max_size=3, unique=True)
            else:
                choices[("body", name)] = st.sampled_from(ids)
    if not choices:
        return st.just(case)

    def apply(drawn: dict[tuple[str, str], Any]) -> Any:
        for (where, name), value in drawn.items():
            (case.path_parameters if where == "path" else case.body)[name] = value
        return case

    return st.fixed_dictionaries(choices).map(apply)


@pytest.fixture(scope="module")
def tokens(module_world: SimpleNamespace, django_db_blocker: Any) -> Iterator[dict[str, str]]:
    """A token per persona, made inside the module's world transaction."""
    with django_db_blocker.unblock():
        made = {
            name: create_token(owner=getattr(module_world, name), name="Fuzzing")[1]
            for name in FUZZ_PERSONAS
        }
    yield made


@pytest.fixture
def generous_limits() -> Iterator[None]:
    rates = {"user": "1000000/hour", "token": "1000000/hour"}
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        yield


# Every operation's boundaries and wrong types (the coverage phase) once, as the persona
# who may do the most; then random requests (valid and invalid) as each persona.
thorough = _load_schema(coverage=True)
quick = _load_schema(coverage=False)
HYPOTHESIS = hypothesis_settings(
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def _run(case: Any, token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.mark.schemathesis
@pytest.mark.usefixtures("module_world", "generous_limits")
@thorough.parametrize()
@HYPOTHESIS
def test_api_boundaries(case: Any, tokens: dict[str, str], db: None) -> None:
    _run(case, tokens["lead_liaison"])


@pytest.mark.schemathesis
@pytest.mark.usefixtures("module_world", "generous_limits")
@pytest.mark.parametrize("persona", FUZZ_PERSONAS)
@quick.parametrize()
@HYPOTHESIS
def test_api_as(case: Any, persona: str, tokens: dict[str, str], db: None) -> None:
    _run(case, tokens[persona])
