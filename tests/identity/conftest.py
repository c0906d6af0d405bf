"""Real OpenID Connect providers for the identity tests, each in its own process
(``tests/identity/idp/``, django-oauth-toolkit), and agencies registered with them.

``idp_a`` and ``idp_b`` are two separate providers started once per test session on free
ports; a test registers Concord as a client of one (``connect``) and the people it will
sign in as (``IdP.add_person``).
"""

from __future__ import annotations

import json
import os
import secrets
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
IDP_PASSWORD = "idp-password-not-concords"


@dataclass
class IdP:
    """A running test identity provider and how to talk to its test-only endpoints."""

    process: subprocess.Popen[str]
    issuer: str
    admin_token: str

    @property
    def base(self) -> str:
        return self.issuer.removesuffix("/o")

    def _post(self, path: str, data: dict[str, object]) -> None:
        answer = requests.post(
            self.base + path,
            data=json.dumps(data),
            headers={
                "Authorization": f"Bearer {self.admin_token}",
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        assert answer.status_code == 200, answer.text

    def add_client(
        self, *, client_id: str, client_secret: str, redirect_uri: str, signed_out_uri: str = ""
    ) -> None:
        self._post(
            "/test-only/clients/",
            {
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [redirect_uri],
                "post_logout_redirect_uris": [signed_out_uri] if signed_out_uri else [],
            },
        )

    def add_person(
        self,
        username: str,
        *,
        email: str,
        given_name: str = "Ada",
        family_name: str = "Lovelace",
        job_title: str = "",
        email_verified: bool = True,
        amr: list[str] | None = None,
    ) -> str:
        self._post(
            "/test-only/people/",
            {
                "username": username,
                "password": IDP_PASSWORD,
                "email": email,
                "given_name": given_name,
                "family_name": family_name,
                "job_title": job_title,
                "email_verified": email_verified,
                "amr": amr or ["pwd"],
            },
        )
        return username


def _start(tmp: Path) -> IdP:
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "IDP_ADMIN_TOKEN": token, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "tests.identity.idp.serve", "--home", str(tmp)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return IdP(process=process, issuer="", admin_token=token)


def _wait_ready(idp: IdP, timeout: float = 90) -> None:
    assert idp.process.stdout is not None
    deadline = time.monotonic() + timeout
    output = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([idp.process.stdout], [], [], 1)
        if ready:
            line = idp.process.stdout.readline()
            if not line and idp.process.poll() is not None:
                break
            output.append(line)
            if line.startswith("IDP_READY "):
                idp.issuer = line.split()[1]
                return
    idp.process.kill()
    pytest.fail("The test identity provider did not start:\n" + "".join(output))


@pytest.fixture(scope="session")
def _idps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IdP, IdP]]:
    # both start at once: each spends most of its start-up migrating its own database
    first = _start(tmp_path_factory.mktemp("idp-a"))
    second = _start(tmp_path_factory.mktemp("idp-b"))
    try:
        _wait_ready(first)
        _wait_ready(second)
        yield first, second
    finally:
        for idp in (first, second):
            idp.process.terminate()
            try:
                idp.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                idp.process.kill()


@pytest.fixture(scope="session")
def idp_a(_idps: tuple[IdP, IdP]) -> IdP:
    return _idps[0]


@pytest.fixture(scope="session")
def idp_b(_idps: tuple[IdP, IdP]) -> IdP:
    return _idps[1]


@pytest.fixture
def connect(live_server):
    """Register an agency's identity provider in Concord (through the services, as its
    page does: saved, tested against the real provider, enabled) and Concord as a client
    of that provider, with the redirect URI the page shows."""
    from agencies.identity import services
    from agencies.models import IdentityProvider
    from tests.factories import UserFactory

    def do(idp: IdP, agency, *, domains: list[str], **choices: object) -> IdentityProvider:
        admin = UserFactory(is_portal_admin=True)
        client_id = f"concord-{agency.pk}-{secrets.token_hex(4)}"
        client_secret = secrets.token_urlsafe(24)
        provider = services.save_provider(
            agency=agency,
            by=admin,
            issuer=idp.issuer,
            client_id=client_id,
            client_secret=client_secret,
            domains=domains,
            **choices,  # type: ignore[arg-type]
        )
        report = services.record_test(provider=provider, by=admin)
        assert report.ok, report.problems
        provider = services.set_enabled(provider=provider, by=admin, enabled=True)
        idp.add_client(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=f"{live_server.url}/accounts/oidc/{provider.provider_id}/login/callback/",
            signed_out_uri=f"{live_server.url}/accounts/login/",
        )
        return provider

    return do
