"""The OpenAPI schema's house rules: every operation documents the errors it can answer,
all in the one error shape (``coordination.api.errors``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse

from .errors import ErrorSerializer

ERROR_DESCRIPTIONS = {
    "400": "The request (body, filters, ordering or page) is not valid; `fields` says where.",
    "401": "No valid credentials: sign in, or send a working API token.",
    "403": "You may see this but not do this; `message` says why.",
    "404": "There is no such object, or you may not see it (the answers are the same).",
    "429": "Too many requests; `Retry-After` says when to try again.",
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, with the error responses each operation can give."""

    def _error_codes(self) -> list[str]:
        codes = ["401", "403", "429"]
        if "{" in self.path:
            codes.append("404")
        if self.method in ("POST", "PATCH", "PUT") or self._is_list_view():
            codes.append("400")
        return sorted(codes)

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]),
                    code,
                    direction=direction,
                )
        return responses
