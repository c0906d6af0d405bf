"""Links for the rows of a page, reversed once per page rather than once per row.

``{% url %}`` in a loop resolves the URL pattern again for every row (tens of
microseconds each): the objectives board, with three links per card and one per task,
spent more time reversing URLs than reading its objectives. A URL that takes one
primary key is reversed once per request with a marker in the key's place; each row's
link is then the text on either side of the marker around its own key. Nothing is kept
between requests, so a changed URLconf (tests' overrides) is always followed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

# a key no row has, whose digits cannot occur elsewhere in one of these short paths
_MARKER = 987_654_321_987


def row_link(name: str) -> Callable[[int], str]:
    """``link(pk)`` gives ``reverse(name, args=[pk])`` for the URL named ``name``, whose
    one argument is an integer primary key."""
    head, marker, tail = reverse(name, args=[_MARKER]).partition(str(_MARKER))
    if not marker or str(_MARKER) in tail:  # cannot happen with a pk path; never guess
        return lambda pk: reverse(name, args=[pk])
    return lambda pk: f"{head}{int(pk)}{tail}"
