"""The test identity provider: its sign-in page, django-oauth-toolkit's OpenID Connect
endpoints under /o/ (the issuer is <base>/o), and test-only endpoints that register a
client or a person, guarded by the admin token the starter chose."""

from __future__ import annotations

import hmac
import json
import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.models import get_application_model

from .validator import PEOPLE, people


def _admin(request: HttpRequest) -> dict[str, Any] | None:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not hmac.compare_digest(token, os.environ["IDP_ADMIN_TOKEN"]):
        return None
    return json.loads(request.body)


@csrf_exempt
@require_POST
def add_client(request: HttpRequest) -> JsonResponse:
    data = _admin(request)
    if data is None:
        return JsonResponse({"error": "forbidden"}, status=403)
    Application = get_application_model()
    Application.objects.filter(client_id=data["client_id"]).delete()
    Application.objects.create(
        name=data["client_id"],
        client_id=data["client_id"],
        client_secret=data["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(data["redirect_uris"]),
        post_logout_redirect_uris=" ".join(data.get("post_logout_redirect_uris", [])),
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )
    return JsonResponse({"ok": True})


@csrf_exempt
@require_POST
def add_person(request: HttpRequest) -> JsonResponse:
    data = _admin(request)
    if data is None:
        return JsonResponse({"error": "forbidden"}, status=403)
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=data["username"])
    user.email = data["email"]
    user.first_name = data.get("given_name", "")
    user.last_name = data.get("family_name", "")
    user.set_password(data["password"])
    user.save()
    from django.conf import settings

    registry = people()
    registry[data["username"]] = {
        "email": data["email"],
        "email_verified": data.get("email_verified", True),
        "job_title": data.get("job_title", ""),
        "amr": data.get("amr", ["pwd"]),
    }
    (settings.HOME / PEOPLE).write_text(json.dumps(registry))
    return JsonResponse({"ok": True})


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("test-only/clients/", add_client),
    path("test-only/people/", add_person),
]
