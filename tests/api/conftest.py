"""API test helpers: clients signed in as the personas or with a token, and the fuzzing
marker.

The schema-driven fuzz tests (``@pytest.mark.schemathesis``) take minutes, so they run
only when asked for: ``pytest -m schemathesis`` (as ``.ci/run`` does in its own step) or
with ``CONCORD_FUZZ=1``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient


def bearer(secret: str, scheme: str = "Bearer") -> APIClient:
    """A client that sends a personal API token (``Authorization: Bearer <secret>``)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {secret}")
    return client


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "schemathesis: schema-driven fuzzing of the API (slow; run with -m schemathesis)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = "schemathesis" in (config.getoption("markexpr") or "") or os.environ.get(
        "CONCORD_FUZZ"
    ) in ("1", "true", "yes")
    if asked:
        return
    fuzzing = [item for item in items if "schemathesis" in item.keywords]
    if fuzzing:
        config.hook.pytest_deselected(items=fuzzing)
        items[:] = [item for item in items if "schemathesis" not in item.keywords]


@pytest.fixture(autouse=True)
def _fresh_throttle_counts() -> Iterator[None]:
    """Request counts live in the cache; each test starts from none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> Callable[[Any], APIClient]:
    """``api(user)``: a client signed in as ``user`` (``None``: anonymous)."""

    def make(user: Any) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make
