"""A web process, once it has loaded the portal, freezes what it loaded so that Python's
garbage collector stops walking it on every full collection (``coordination.web.memory``).

Checked in a new interpreter, as gunicorn and uvicorn start one: importing the entry point
loads every view and leaves the loaded objects frozen; what a request then makes in a cycle
is still collected."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

PROBE = """
import gc, json, sys, weakref
import {module}

class Node:
    pass

def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)

frozen = gc.get_freeze_count()
made = cycle()
gc.collect()
print(json.dumps({{
    "frozen": frozen,
    "views_loaded": "taskforces.views" in sys.modules and "mutualaid.views" in sys.modules,
    "cycle_collected": made() is None,
}}))
"""


@pytest.mark.parametrize("module", ["coordination.wsgi", "coordination.asgi"])
def test_the_entry_point_loads_the_views_and_freezes_them(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    env["DJANGO_SETTINGS_MODULE"] = "coordination.settings.test"
    done = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        [sys.executable, "-c", PROBE.format(module=module)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # Django, the apps and their views: far more than a bare interpreter's few thousand
    assert found["frozen"] > 50_000
    assert found["views_loaded"]
    assert found["cycle_collected"]
