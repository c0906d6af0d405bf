"""The concurrency tests' marker: ``slow`` (tens of seconds each, real threads against
PostgreSQL). They run in the normal suite; ``-m "not slow"`` leaves them out of a quick
local run."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes tens of seconds (deselect with -m 'not slow')")
