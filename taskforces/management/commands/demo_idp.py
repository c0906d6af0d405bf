"""``manage.py demo_idp``: the demo agency's identity provider, for ``make idp``.

Starts the local OpenID Connect provider the identity tests use (``tests/identity/idp/``,
django-oauth-toolkit, a development dependency) on 127.0.0.1:8001 with Concord registered
as its client and two people of the National Flood Agency; tests the connection from
Concord and enables the agency's provider, as its administrator would on its page; then
serves until Ctrl-C. Run ``make run`` first (the demo data registers the provider).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from agencies.identity import services as identity_services
from agencies.models import Agency, IdentityProvider, Membership

from .seed_demo import (
    AGENCIES,
    DEMO_IDP_CLIENT_ID,
    DEMO_IDP_DOMAIN,
    DEMO_IDP_PORT,
    DEMO_IDP_SECRET,
    DEMO_PASSWORD,
    register_demo_idp,
)

# who signs in at the demo provider: an existing NFA account (linked at first sign-in) and
# a newcomer (an account made at first sign-in)
PEOPLE = (
    ("ops", "Priya", "Nair", "Operations Officer"),
    ("newcomer", "Sam", "Rivers", "Hydrologist"),
)


class Command(BaseCommand):
    help = "Start the demo agency's local identity provider (make idp) and enable it."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            import oauth2_provider  # noqa: F401
        except ImportError as error:
            raise CommandError(
                "The demo identity provider needs the development dependencies: make venv"
            ) from error
        spec = next(s for s in AGENCIES if s.domain == DEMO_IDP_DOMAIN)
        agency = Agency.objects.filter(name=spec.name).first()
        admin = (
            Membership.objects.filter(agency=agency, role=Membership.Role.ADMIN, is_active=True)
            .select_related("user")
            .first()
        )
        if agency is None or admin is None:
            raise CommandError("Load the demo data first (make run, or manage.py seed_demo).")
        provider = IdentityProvider.objects.filter(agency=agency).first()
        if provider is None:
            register_demo_idp(agency, admin.user)
            provider = IdentityProvider.objects.get(agency=agency)
        callback = settings.CONCORD_BASE_URL.rstrip("/") + reverse(
            "openid_connect_callback", kwargs={"provider_id": provider.provider_id}
        )
        home = Path(tempfile.mkdtemp(prefix="concord-demo-idp-"))
        seed = {
            "clients": [
                {
                    "client_id": DEMO_IDP_CLIENT_ID,
                    "client_secret": DEMO_IDP_SECRET,
                    "redirect_uris": [callback],
                    "post_logout_redirect_uris": [
                        settings.CONCORD_BASE_URL.rstrip("/") + reverse("account_login")
                    ],
                }
            ],
            "people": [
                {
                    "username": local,
                    "password": DEMO_PASSWORD,
                    "email": spec.email(local),
                    "given_name": first,
                    "family_name": last,
                    "job_title": title,
                    "email_verified": True,
                    "amr": ["pwd", "mfa"],
                }
                for local, first, last, title in PEOPLE
            ],
        }
        (home / "seed.json").write_text(json.dumps(seed))
        process = subprocess.Popen(  # noqa: S603 (this interpreter, the project's own module)
            [
                sys.executable,
                "-m",
                "tests.identity.idp.serve",
                "--port",
                str(DEMO_IDP_PORT),
                "--home",
                str(home),
                "--seed",
                str(home / "seed.json"),
            ],
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self._wait_ready(process)
            report = identity_services.record_test(provider=provider, by=admin.user)
            if not report.ok:
                raise CommandError("Test connection failed: " + " ".join(report.problems))
            identity_services.set_enabled(provider=provider, by=admin.user, enabled=True)
            out = self.stdout.write
            out(self.style.SUCCESS(f"{agency}'s identity provider runs at {provider.issuer}"))
            out("On the sign-in page, type one of these addresses and press")
            out("“Continue with your agency”; sign in at the provider as:")
            for local, *_ in PEOPLE:
                out(f"  {local:<10} password {DEMO_PASSWORD}   ({spec.email(local)})")
            out("Ctrl-C stops it.")
            process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            process.terminate()
            process.wait(timeout=10)

    @staticmethod
    def _wait_ready(process: subprocess.Popen[str]) -> None:
        if process.stdout is None:  # never: Popen above pipes it
            raise CommandError("The demo identity provider's output is not readable.")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("IDP_READY "):
                return
            if not line and process.poll() is not None:
                break
        raise CommandError("The demo identity provider did not start (is port 8001 free?).")
