"""The API's JSON parser: DRF's, refusing two kinds of valid-looking JSON that break
things further on.

* Deep nesting. Python's JSON scanner recurses once per level and fails with a
  ``RecursionError`` (a 500) near a thousand levels; no request of this API nests more
  than a few, so more than ``MAX_DEPTH`` is refused before the scanner sees it.
* Lone surrogates (``"\\ud800"`` without its pair). JSON allows the escape, but the
  string is not Unicode text: it cannot be encoded as UTF-8, so echoing it in an answer
  or storing it fails. Refused wherever it appears, in keys and values alike.

Both are ``ParseError``: a 400 in the API's error shape, before any view runs.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils import json

# The deepest nesting a request body may have (an object holding a list is two levels).
MAX_DEPTH = 32

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str) -> int:
    """How deeply the arrays and objects of ``text`` nest (brackets inside strings do
    not count). Linear, with no recursion, whatever the input."""
    brackets = _BRACKET.findall(_STRING.sub("", text))
    return max(accumulate(_STEP[b] for b in brackets), default=0)


def has_lone_surrogate(data: Any) -> bool:
    """Whether any string (key or value) anywhere in parsed JSON holds a lone surrogate.
    Iterative: the depth is already bounded, but a loop needs no bound at all."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounding nesting depth and refusing lone surrogates."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except ValueError as exc:  # not in the declared encoding
            raise ParseError(f"JSON parse error - {exc}") from None
        if nesting_depth(text) > MAX_DEPTH:
            raise ParseError(
                f"JSON parse error - the body nests arrays and objects more than "
                f"{MAX_DEPTH} levels deep."
            )
        try:
            parse_constant = json.strict_constant if api_settings.STRICT_JSON else None
            data = json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if has_lone_surrogate(data):
            raise ParseError(
                "JSON parse error - a string holds a lone surrogate (an escape between "
                "\\ud800 and \\udfff without its pair), which is not text."
            )
        return data
