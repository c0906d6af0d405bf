"""Helpers for the access review tests."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.utils import timezone

from taskforces.models import RoleAssignment


@pytest.fixture
def committed(django_capture_on_commit_callbacks) -> Callable[[Callable[[], Any]], Any]:
    """Run a block as if its transaction committed: after-commit work (dispatch, e-mail)
    runs, as a worker would run it."""

    def run(fn: Callable[[], Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn()

    return run


def backdate(assignments: Iterable[RoleAssignment], days: int) -> None:
    """Make the assignments start ``days`` ago (never recertified), as if long held."""
    start = timezone.now() - datetime.timedelta(days=days)
    RoleAssignment.objects.filter(pk__in=[a.pk for a in assignments]).update(
        starts_at=start, recertified_at=None, recertified_by=None
    )
