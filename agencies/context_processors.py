"""What every page's navigation needs from agencies: the person's active membership (their
agency and their role in it), read through ``membership_of`` so that a page reads it once
whatever else on the page asks for it (the who-am-I bar, the navigation, the views)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import membership_of


def membership(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"my_membership": SimpleLazyObject(lambda: membership_of(user))}
