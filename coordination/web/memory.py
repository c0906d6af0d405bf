"""What a web process does with its memory once it has loaded the portal.

Python's cyclic garbage collector runs while a request allocates objects, and now and then
(a *full* collection) it walks every object the process holds: Django, the apps, their
models, URL patterns and templates, some 200,000 objects loaded once and kept for the life
of the process. A request that allocates much (a board of sixty objectives, a person with
hundreds of roles) set off such a walk every few dozen requests, and that request took 130
to 180 ms where its neighbours took 15 to 65 (``benchmarks/HISTORY.md``, "the collector's
pauses").

``settle`` loads what the first request would otherwise load (the URL patterns and,
through them, every view), collects what starting up left, and *freezes* the rest
(``gc.freeze``): full collections no longer walk it. What requests make is collected as
before. Nothing is kept for later requests: only the collector's bookkeeping changes. (A
frozen object dropped later is still freed when nothing refers to it; only a reference
cycle among frozen objects would stay, at most what the process held when it started.)
"""

from __future__ import annotations

import gc

from django.urls import get_resolver


def settle() -> None:
    """Load the URL patterns, collect, and freeze what the loaded portal holds. Called by
    the WSGI and ASGI entry points, in each process that serves requests."""
    get_resolver().url_patterns  # noqa: B018 - imports every view module
    gc.collect()
    gc.freeze()
