"""The claims the test identity provider asserts: each person's as registered (address,
whether it is verified, names, job title, and the authentication methods, ``amr``, it says
were used), from the people file in ``IDP_HOME``."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from oauth2_provider.oauth2_validators import OAuth2Validator

PEOPLE = "people.json"


def people() -> dict[str, dict[str, Any]]:
    path = settings.HOME / PEOPLE
    return json.loads(path.read_text()) if path.exists() else {}


class Validator(OAuth2Validator):
    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "job_title": "profile",
        "amr": "openid",
    }

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        person = people().get(request.user.username, {})
        claims = {
            "email": person.get("email", request.user.email),
            "email_verified": person.get("email_verified", True),
            "given_name": request.user.first_name,
            "family_name": request.user.last_name,
            "name": f"{request.user.first_name} {request.user.last_name}".strip(),
            "job_title": person.get("job_title", ""),
            "amr": person.get("amr", ["pwd"]),
        }
        return claims
