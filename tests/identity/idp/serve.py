"""Start the test identity provider: ``python -m tests.identity.idp.serve [--port N]
[--home DIR] [--seed FILE]``.

Makes its home directory (a temporary one unless named), an RS256 key, its database; seeds
clients and people from ``--seed`` (JSON: ``{"clients": [...], "people": [...]}``, the same
fields as the test-only endpoints take); then serves on 127.0.0.1 and prints one line,
``IDP_READY <issuer>``, once it accepts connections (port 0 picks a free one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path


def _key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--home", default="")
    parser.add_argument("--seed", default="")
    args = parser.parse_args()

    home = Path(args.home or tempfile.mkdtemp(prefix="concord-idp-"))
    home.mkdir(parents=True, exist_ok=True)
    (home / "key.pem").write_text(_key_pem())
    (home / "idp.sqlite3").unlink(missing_ok=True)
    (home / "people.json").unlink(missing_ok=True)
    os.environ["IDP_HOME"] = str(home)
    os.environ.setdefault("IDP_SECRET_KEY", secrets.token_urlsafe(32))
    os.environ.setdefault("IDP_ADMIN_TOKEN", secrets.token_urlsafe(32))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.identity.idp.settings"

    import django

    django.setup()
    from django.core.management import call_command
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
    from django.core.wsgi import get_wsgi_application
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)

    if args.seed:
        seed = json.loads(Path(args.seed).read_text())
        client = Client(HTTP_AUTHORIZATION=f"Bearer {os.environ['IDP_ADMIN_TOKEN']}")
        for kind, url in (("clients", "/test-only/clients/"), ("people", "/test-only/people/")):
            for item in seed.get(kind, []):
                answer = client.post(url, json.dumps(item), content_type="application/json")
                if answer.status_code != 200:
                    sys.exit(f"Could not seed {kind}: {answer.content!r}")

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            if os.environ.get("IDP_VERBOSE"):
                super().log_message(format, *args)

    server = WSGIServer(("127.0.0.1", args.port), Quiet, ipv6=False)
    server.daemon_threads = True
    server.set_app(get_wsgi_application())
    port = server.server_address[1]
    print(f"IDP_READY http://127.0.0.1:{port}/o", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in `make idp`
        server.serve_forever()


if __name__ == "__main__":
    main()
