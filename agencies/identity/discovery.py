"""Reaching an identity provider: its OpenID Connect discovery document ("Test connection").

The answer is a plain report a page can show, never an exception: what was fetched, and
what is wrong with it (unreachable, not JSON, an issuer that is not the one configured, an
endpoint missing).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

WELL_KNOWN = "/.well-known/openid-configuration"
# what Concord needs from the provider: where to send people, where to fetch tokens and
# the person's claims, and the keys the ID token is signed with
REQUIRED = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")


@dataclass
class DiscoveryReport:
    """What "Test connection" found at an issuer."""

    issuer: str
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    endpoints: dict[str, str] = field(default_factory=dict)
    scopes: list[str] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + WELL_KNOWN


def private_address(host: str) -> str | None:
    """The first address ``host`` resolves to that is not on the public internet
    (loopback, private, link-local, reserved...), or ``None``. Concord's server fetches
    what an agency administrator typed: it must not be made to reach its own network
    (its database, its cache, a cloud's metadata service). Hosts the operator names in
    ``CONCORD_IDP_PRIVATE_HOSTS`` or ``CONCORD_IDP_INSECURE_HOSTS`` (a provider on the
    agency's own network, a local demo) may be anywhere."""
    if _trusted(host):
        return None
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return None  # unknown: the fetch itself says it could not reach it
    for *_, address in found:
        private = _not_public(str(address[0]))
        if private is not None:
            return private
    return None


def _trusted(host: str) -> bool:
    """Is ``host`` one the operators allow anywhere (``CONCORD_IDP_PRIVATE_HOSTS``,
    ``CONCORD_IDP_INSECURE_HOSTS``)?"""
    return host in {*settings.CONCORD_IDP_PRIVATE_HOSTS, *settings.CONCORD_IDP_INSECURE_HOSTS}


def _not_public(address: str) -> str | None:
    """``address`` (an IP, with or without an IPv6 zone) when it is not on the public
    internet, else ``None``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return None if ip.is_global else str(ip)


class PrivateAddress(requests.ConnectionError):
    """Refused before anything is sent: the host is at an address of a private or local
    network (by its name's check, or by where its connection arrived)."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} is at {address}, an address of a private network.")
        self.host, self.address = host, address


class _PeerChecked:
    """A urllib3 connection that, once connected and before sending anything (the TLS
    handshake included), checks the address it is connected to: the one the connection
    itself looked up, not the one ``private_address`` saw a moment before. A DNS server
    answering a public address to the check and a private one to the connection (DNS
    rebinding) reaches nothing."""

    host: str

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]  # urllib3's connection
        if _trusted(self.host):
            return sock
        private = _not_public(str(sock.getpeername()[0]))
        if private is not None:
            sock.close()
            # (an OSError, as requests' errors are: urllib3 wraps it; the session unwraps)
            raise PrivateAddress(self.host, private)
        return sock


class _CheckedHTTPConnection(_PeerChecked, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_PeerChecked, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _PeerCheckedAdapter(HTTPAdapter):
    """requests' adapter, its direct connections checked where they arrive. (Through a
    proxy the connection is to the proxy, which the operators chose: there the host's
    name is checked, as every request's is.)"""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


def _refusal_in(error: BaseException) -> PrivateAddress | None:
    """The ``PrivateAddress`` a connection raised, behind the requests ``ConnectionError``
    that urllib3 wraps it in (a ``MaxRetryError`` whose reason holds it among its
    arguments), or ``None``."""
    seen: set[int] = set()
    pending: list[Any] = [error]
    while pending:
        found = pending.pop()
        if not isinstance(found, BaseException) or id(found) in seen:
            continue
        if isinstance(found, PrivateAddress):
            return found
        seen.add(id(found))
        pending += [found.__cause__, found.__context__, getattr(found, "reason", None)]
        pending += list(found.args)
    return None


class PublicOnlySession(requests.Session):
    """How Concord reaches identity providers, at "Test connection" and at every sign-in
    (allauth's discovery, token, claims and keys requests, through
    ``SocialAccountAdapter.get_requests_session``): the host of each request, and of each
    redirect followed, is looked up again just before it is sent and refused when at a
    private address (``private_address``), so a provider whose name was moved to one
    after it was tested is not reached either; and each connection checks the address it
    actually reached before sending anything (``_PeerChecked``), so a name that resolves
    differently for the check and for the connection is refused too. Within ``timeout``
    seconds."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.mount("http://", _PeerCheckedAdapter())
        self.mount("https://", _PeerCheckedAdapter())

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        host = urlsplit(request.url or "").hostname or ""
        private = private_address(host)
        if private is not None:
            raise PrivateAddress(host, private)
        try:
            return super().send(request, **kwargs)
        except requests.ConnectionError as error:
            refused = _refusal_in(error)
            if refused is None or refused is error:  # (a redirect's own refusal: as it is)
                raise
            raise refused from error


def fetch_discovery(issuer: str) -> requests.Response:
    """The answer to a request for ``issuer``'s discovery document (no redirect followed;
    raises ``requests.RequestException``, ``PrivateAddress`` among them)."""
    with PublicOnlySession(settings.CONCORD_IDP_TIMEOUT) as session:
        return session.get(
            discovery_url(issuer), headers={"Accept": "application/json"}, allow_redirects=False
        )


def discover(issuer: str) -> DiscoveryReport:
    """Fetch ``issuer``'s discovery document and check what Concord relies on."""
    report = DiscoveryReport(issuer=issuer)
    url = discovery_url(issuer)
    try:
        response = fetch_discovery(issuer)
    except PrivateAddress as refused:
        report.problems.append(
            f"{refused.host} is at {refused.address}, an address of a private or local "
            "network: Concord reaches identity providers on the public internet only. If "
            "your provider is on a network Concord's operators trust, ask them to name it "
            "in CONCORD_IDP_PRIVATE_HOSTS."
        )
        return report
    except requests.RequestException as error:
        report.problems.append(f"Could not reach {url}: {type(error).__name__}.")
        return report
    if response.status_code != 200:
        report.problems.append(f"{url} answered HTTP {response.status_code}, not 200.")
        return report
    try:
        document: Any = response.json()
    except ValueError:
        report.problems.append(f"{url} did not answer JSON.")
        return report
    if not isinstance(document, dict):
        report.problems.append(f"{url} did not answer a JSON object.")
        return report
    announced = document.get("issuer")
    # OpenID Connect Discovery 1.0, section 4.3: the issuer in the document must be the one
    # it was fetched for, or tokens would be accepted from someone else's issuer
    if not isinstance(announced, str) or announced.rstrip("/") != issuer.rstrip("/"):
        report.problems.append(
            f"The document names its issuer as {announced!r}, not {issuer!r}. Use exactly "
            "the issuer URL your identity provider announces."
        )
    for name in REQUIRED:
        value = document.get(name)
        if isinstance(value, str) and value:
            report.endpoints[name] = value
        else:
            report.problems.append(f"The document has no {name}.")
    scopes = document.get("scopes_supported")
    if isinstance(scopes, list):
        report.scopes = [str(s) for s in scopes][:50]
        missing = {"openid", "email"} - set(report.scopes)
        if missing:
            report.problems.append(
                "The provider does not offer the scope(s) " + ", ".join(sorted(missing)) + "."
            )
    claims = document.get("claims_supported")
    if isinstance(claims, list):
        report.claims = [str(c) for c in claims][:100]
    report.ok = not report.problems
    return report
