"""A software security key for tests that need a registered WebAuthn credential without a
browser: a real P-256 key pair, a "none"-attestation registration response and signed
assertions, built with python-fido2's own types, so the server verifies them exactly as it
verifies a hardware key's. (The browser ceremonies run in Chromium's virtual authenticator:
tests/browser/test_passkeys.py.)"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from allauth.mfa.models import Authenticator
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import (
    Aaguid,
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)

F = AuthenticatorData.FLAG


class SoftKey:
    """One credential for ``rp_id``, as a resident passkey with user verification."""

    def __init__(self, rp_id: str = "localhost", origin: str = "http://localhost") -> None:
        self.rp_id = rp_id
        self.origin = origin
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.counter = 0

    def _rp_hash(self) -> bytes:
        return hashlib.sha256(self.rp_id.encode()).digest()

    def registration(self, challenge: bytes | str = b"\0" * 16) -> dict[str, Any]:
        """The browser's answer to ``navigator.credentials.create`` (JSON form)."""
        public = ES256.from_cryptography_key(self.private.public_key())
        credential = AttestedCredentialData.create(Aaguid.NONE, self.credential_id, public)
        auth_data = AuthenticatorData.create(
            self._rp_hash(), F.UP | F.UV | F.AT, self.counter, credential
        )
        attestation = AttestationObject.create("none", auth_data, {})
        client_data = CollectedClientData.create("webauthn.create", challenge, self.origin)
        raw_id = websafe_encode(self.credential_id)
        return {
            "id": raw_id,
            "rawId": raw_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "attestationObject": websafe_encode(attestation),
            },
            "clientExtensionResults": {"credProps": {"rk": True}},
        }

    def assertion(
        self, request_options: dict[str, Any], user_handle: bytes | None = None
    ) -> dict[str, Any]:
        """The browser's answer to ``navigator.credentials.get`` for the server's options."""
        public_key = request_options["publicKey"]
        challenge = websafe_decode(public_key["challenge"])
        self.counter += 1
        auth_data = AuthenticatorData.create(self._rp_hash(), F.UP | F.UV, self.counter)
        client_data = CollectedClientData.create("webauthn.get", challenge, self.origin)
        signature = self.private.sign(
            bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256())
        )
        raw_id = websafe_encode(self.credential_id)
        response: dict[str, Any] = {
            "clientDataJSON": websafe_encode(client_data),
            "authenticatorData": websafe_encode(bytes(auth_data)),
            "signature": websafe_encode(signature),
        }
        if user_handle is not None:
            response["userHandle"] = websafe_encode(user_handle)
        return {
            "id": raw_id,
            "rawId": raw_id,
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        }

    def store_for(self, user: Any, name: str = "Soft key") -> Authenticator:
        """Register this key for ``user`` as allauth stores a registered one."""
        return Authenticator.objects.create(
            user=user,
            type=Authenticator.Type.WEBAUTHN,
            data={"name": name, "credential": self.registration()},
        )


def as_json(data: dict[str, Any]) -> str:
    return json.dumps(data)
