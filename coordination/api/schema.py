"""The OpenAPI schema's house rules: every operation documents the errors it can answer,
all in the one error shape (``coordination.api.errors``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from .conditional import ConditionalMixin
from .errors import ErrorSerializer

ETAG_HEADER = {
    "schema": {"type": "string"},
    "description": "A validator of this answer: send it back as `If-None-Match` to get "
    "`304 Not Modified` while nothing it shows has changed.",
}

ERROR_DESCRIPTIONS = {
    "400": "The request (body, filters, ordering or page) is not valid; `fields` says where.",
    "401": "No valid credentials: sign in, or send a working API token.",
    "403": "You may see this but not do this; `message` says why.",
    "404": "There is no such object, or you may not see it (the answers are the same).",
    "429": "Too many requests; `Retry-After` says when to try again.",
    "409": "A request with this `Idempotency-Key` is still being processed; retry once it "
    "has finished.",
    "422": "This `Idempotency-Key` was used for another request (another operation or body).",
}

IDEMPOTENCY_KEY_DESCRIPTION = (
    "Optional; any 1 to 255 printable ASCII characters (e.g. a UUID) naming this create. "
    "A retry with the same key and body (by the same person, within "
    "`CONCORD_IDEMPOTENCY_KEY_HOURS`, 24 h by default) gets the first answer again, with "
    "`Idempotent-Replayed: true`, and creates nothing; the same key with another body is a "
    "422, and while the first request is still running, a 409. Only successful answers are "
    "remembered."
)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, with the error responses each operation can give."""

    def _error_codes(self) -> list[str]:
        codes = ["401", "403", "429"]
        if "{" in self.path:
            codes.append("404")
        if self.method in ("POST", "PATCH", "PUT") or self._is_list_view():
            codes.append("400")
        if self._is_idempotent():
            codes += ["409", "422"]
        return sorted(codes)

    def _is_idempotent(self) -> bool:
        """A create that honours ``Idempotency-Key`` (``coordination.api.idempotency``)."""
        handler = getattr(self.view, getattr(self.view, "action", None) or "", None)
        return self.method == "POST" and getattr(handler, "idempotent", False)

    def _is_conditional(self) -> bool:
        return (
            self.method == "GET"
            and isinstance(self.view, ConditionalMixin)
            and getattr(self.view, "action", None) in ("list", "retrieve")
        )

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self._is_conditional():
            parameters.append(
                OpenApiParameter(
                    "If-None-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="The `ETag` of an earlier answer: `304 Not Modified` (no "
                    "body) while nothing it shows has changed.",
                )
            )
        if self._is_idempotent():
            parameters.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description=IDEMPOTENCY_KEY_DESCRIPTION,
                )
            )
        return parameters

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if self._is_conditional() and direction == "response":
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("headers", {})["ETag"] = ETAG_HEADER
            responses["304"] = {
                "description": "Not modified: the answer is the one the `ETag` in "
                "`If-None-Match` names.",
                "headers": {"ETag": ETAG_HEADER},
            }
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]),
                    code,
                    direction=direction,
                )
        return responses
