"""API lists of task-force content, kept in each web process until anything they could
show changes.

An integration polling ``/api/v1/objectives/`` gets the same answer again and again until
something changes. Each web process keeps the answer (at most
``CONCORD_API_KEPT_LISTS`` of them, least recently used go first; 0 keeps none) under a
key made of

* who asks, the full address asked (filters, ordering, page, host), the format and the
  language;
* the ``access`` epoch — moved by the database whenever anything anyone's access inside
  task forces is computed from changes (``taskforces.access``);
* the ``content`` epoch — moved by the database whenever anything these lists show
  changes: task forces, participations, roles, assignments, periods, objectives, tasks,
  updates, acknowledgements, agencies, agreements, people's names (migration
  ``taskforces/0007``).

So a kept answer is used only while every row behind it is as it was, and never once the
asker's access could have changed with time alone (an assignment of theirs starting or
ending, an agreement by the day: ``Access.valid_until``). Rate limits and authentication
still run on every request. Any change anywhere moves the ``content`` epoch, so under a
steady stream of changes few answers are reused: the gain is for reading between
changes, which is what polling integrations mostly do.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone, translation
from rest_framework.request import Request
from rest_framework.response import Response

from coordination import epochs

from .. import access

EPOCHS = (access.EPOCH, "content")
LONGEST = 300  # seconds: a kept answer is not used after this anyway (memory, not freshness)

# this process's kept answers: key → (kept until, the bytes sent, their content type)
answers: epochs.Kept[str, tuple[datetime.datetime, bytes, str]] = epochs.Kept()


def key_for(request: Request) -> str | None:
    """The key of this request's answer, or None when it must not be kept (an epoch row
    missing, as in a freshly flushed database). The asker's access is looked up under the
    access epoch read here, so the list's own permission filter does not read it again."""
    current = epochs.current_many(*EPOCHS)
    if len(current) != len(EPOCHS):
        return None
    access.access_at_epoch(request.user, current[access.EPOCH])
    media = request.accepted_renderer.media_type if request.accepted_renderer else ""
    parts = [
        str(request.user.pk),
        request.build_absolute_uri(),
        media,
        translation.get_language() or "",
        *(str(current[name]) for name in EPOCHS),
    ]
    return "list:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


class KeptListMixin:
    """For a ``ReadOnlyResourceViewSet``: its list answers are kept (see the module), as
    the bytes sent, so a kept answer is neither serialised nor rendered again."""

    request: Request

    def list(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        size = settings.CONCORD_API_KEPT_LISTS
        key = key_for(request) if size > 0 else None
        now = timezone.now()
        if key is not None:
            found = answers.get(key)
            if found is not None and found[0] > now:
                _, content, content_type = found
                return HttpResponse(content, content_type=content_type)
        response: Response = super().list(request, *args, **kwargs)  # type: ignore[misc]
        if key is not None and response.status_code == 200:
            longest = now + datetime.timedelta(seconds=LONGEST)
            valid_until = access.access_for(request.user).valid_until
            until = min(valid_until, longest) if valid_until else longest
            if until > now:

                def keep(rendered: HttpResponse) -> None:
                    answers.put(key, (until, rendered.content, rendered["Content-Type"]), size)

                response.add_post_render_callback(keep)
        return response
