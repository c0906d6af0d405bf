"""The production settings: Django's deployment checks find nothing, and a response under
them carries every header and cookie flag the issue asks for (HTTPS redirect, HSTS, secure
and HttpOnly cookies, X-Frame-Options DENY, Referrer-Policy, nosniff,
Cross-Origin-Opener-Policy, the Content Security Policy)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import global_settings, settings
from django.test import Client, override_settings

from tests.factories import PASSWORD

ROOT = Path(settings.BASE_DIR)
# What .ci/run sets for the same check (there, with a freshly generated secret key).
CI_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "coordination.settings.production",
    "DJANGO_SECRET_KEY": "ci-" + "x9Tq2LmZ7pRv4Ks8Wd1Yb6Nc3Hf5Jg0A" * 2,
    "DJANGO_ALLOWED_HOSTS": "concord.example.gov",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/concord_ci",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp://127.0.0.1:1025",
    "DEFAULT_FROM_EMAIL": "concord@example.gov",
}
# The settings a response's headers and cookies come from.
SECURITY_SETTINGS = (
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SAMESITE",
    "X_FRAME_OPTIONS",
    "CONTENT_SECURITY_POLICY",
    "PASSWORD_HASHERS",
    "AUTH_PASSWORD_VALIDATORS",
)


def run_check(*extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL", "EMAIL_URL", "CONCORD_"))
    }
    environment.update(CI_ENVIRONMENT)
    environment.update(env or {})
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "check", *extra],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deployment_checks_find_nothing() -> None:
    result = run_check("--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout


def test_the_deployment_checks_would_catch_a_weakened_setting() -> None:
    """The check above can fail: without HSTS it warns, and the run fails."""
    result = run_check("--deploy", "--fail-level", "WARNING", env={"DJANGO_HSTS_SECONDS": "0"})
    assert result.returncode != 0
    assert "security.W004" in result.stdout + result.stderr


def test_production_refuses_a_bad_application_rate() -> None:
    result = run_check(env={"CONCORD_APPLY_RATE": "lots"})
    assert result.returncode != 0
    assert "CONCORD_APPLY_RATE must look like 5/hour" in result.stderr


@pytest.fixture
def production(monkeypatch) -> Iterator[ModuleType]:
    """coordination.settings.production, loaded with the CI environment."""
    for key, value in CI_ENVIRONMENT.items():
        monkeypatch.setenv(key, value)
    sys.modules.pop("coordination.settings.production", None)
    module = importlib.import_module("coordination.settings.production")
    yield module
    sys.modules.pop("coordination.settings.production", None)


def test_a_production_response_carries_every_security_header(production, world) -> None:
    # what production.py (and base.py) leave unset is Django's default
    values = {
        name: getattr(production, name)
        if hasattr(production, name)
        else getattr(global_settings, name)
        for name in SECURITY_SETTINGS
    }
    # the test's fast hasher stays: signing in below is not what is being tested
    values["PASSWORD_HASHERS"] = settings.PASSWORD_HASHERS
    with override_settings(**values):
        plain = Client().get("/accounts/login/")
        assert plain.status_code == 301
        assert plain["Location"] == "https://testserver/accounts/login/"

        client = Client()
        response = client.get("/accounts/login/", secure=True)
        assert response.status_code == 200
        assert (
            response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        )
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        csrf = response.cookies["csrftoken"]
        assert csrf["secure"] and csrf["httponly"] and csrf["samesite"] == "Lax"

        # behind the proxy, which says the request came over HTTPS
        proxied = Client().get("/accounts/login/", headers={"X-Forwarded-Proto": "https"})
        assert proxied.status_code == 200

        signed_in = client.post(
            "/accounts/login/",
            {"login": world.lead_staff.email, "password": PASSWORD},
            secure=True,
        )
        assert signed_in.status_code == 302
        session = signed_in.cookies["sessionid"]
        assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
        assert not session["max-age"] and not session["expires"]  # ends with the browser


def test_production_hashes_passwords_with_argon2(production) -> None:
    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    from django.contrib.auth.hashers import make_password

    with override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS):
        assert make_password("a-long-enough-passphrase").startswith("argon2$argon2id$")
