"""Helpers the security sweeps share: opening a catalogue page as its persona, reading a
page's HTML for what the Content Security Policy forbids, and a snapshot of the database to
prove that a refused request changed nothing."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import decrypt
from django.apps import apps
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from coordination.models import AuditEvent
from tests.browser.conftest import fresh_totp_code, give_totp
from tests.factories import PASSWORD

from .pages import Visit


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counts (allauth's, the API's, the application form's) and used
    authenticator codes live in the cache; every test starts from none."""
    cache.clear()
    yield
    cache.clear()


def client_for(visit: Visit, **client_options: Any) -> Client:
    """A client signed in as the visit's person, the way the visit asks for."""
    client = Client(**client_options)
    user = visit.user
    if user is None:
        return client
    if visit.sign_in == "force":
        client.force_login(user)
        return client
    if visit.sign_in in ("totp", "half"):
        secret = totp_secret_of(user)
    # allauth's own sign-in, so its pages see a recent authentication; a form sign-in
    # needs the CSRF token when the client enforces it
    helper = Client()
    response = helper.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    if visit.sign_in == "totp":
        response = helper.post(reverse("mfa_authenticate"), {"code": fresh_totp_code(secret)})
        assert response.status_code == 302, response.content.decode()[:2000]
    if visit.sign_in in ("form", "totp"):
        # the account-security pages ask for the password again before showing anything
        response = helper.post(reverse("account_reauthenticate"), {"password": PASSWORD})
        assert response.status_code == 302, response.content.decode()[:2000]
    client.cookies = helper.cookies
    return client


class Clients:
    """``client_for`` for a sweep that visits many pages: one client per person and way
    of signing in, because an authenticator code works only once."""

    def __init__(self) -> None:
        self._clients: dict[tuple[Any, str], Client] = {}

    def __call__(self, visit: Visit) -> Client:
        key = (visit.user.pk if visit.user is not None else None, visit.sign_in)
        if key not in self._clients:
            self._clients[key] = client_for(visit)
        return self._clients[key]


def totp_secret_of(user: Any) -> str:
    """The secret of the person's authenticator app, set up now if they have none."""
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is None:
        return give_totp(user)
    return decrypt(existing.data["secret"])


def path_of(name: str, visit: Visit) -> str:
    path = reverse(name, kwargs=visit.kwargs)
    return f"{path}?{visit.query}" if visit.query else path


# --- reading pages ------------------------------------------------------------------------------

URL_ATTRIBUTES = ("href", "src", "action", "formaction", "data", "poster", "xlink:href")
LOADING_TAGS = {"script": "src", "link": "href", "img": "src", "iframe": "src", "source": "src"}


class PageProblems(HTMLParser):
    """Everything in a page that the Content Security Policy would refuse or that loads
    from elsewhere, and every POST form without a CSRF token."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_inline_script = False
        self._post_forms: list[dict[str, Any]] = []
        self.hx_writes: list[str] = []
        self.body_hx_headers: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name.lower(): value or "" for name, value in attrs}
        where = f"<{tag} {' '.join(f'{k}={v!r}' for k, v in a.items())}>"[:200]
        # a JSON data block (allauth's WebAuthn settings) is never run, and the CSP leaves
        # it alone; any other script without src would be refused
        if tag == "script" and not a.get("src") and a.get("type") != "application/json":
            self.problems.append(f"inline script: {where}")
        if tag == "style":
            self.problems.append(f"inline <style> element: {where}")
        for name, value in a.items():
            if name.startswith("on"):
                self.problems.append(f"inline event handler {name}=: {where}")
            if name == "style":
                self.problems.append(f"style attribute: {where}")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL: {where}")
            if name.startswith("hx-on"):
                self.problems.append(f"htmx inline handler (needs eval): {where}")
            if name in ("hx-post", "hx-put", "hx-patch", "hx-delete"):
                self.hx_writes.append(where)
        loaded = LOADING_TAGS.get(tag)
        if loaded and a.get(loaded) and not a[loaded].startswith(("/", "data:")):
            self.problems.append(f"loads from elsewhere: {where}")
        if tag == "body":
            self.body_hx_headers = a.get("hx-headers")
        if tag == "form" and a.get("method", "get").lower() == "post":
            action = a.get("action", "")
            if action.startswith(("http:", "https:", "//")):
                self.problems.append(f"form posts elsewhere: {where}")
            self._post_forms.append({"where": where, "token": False})
        if (
            tag == "input"
            and a.get("name") == "csrfmiddlewaretoken"
            and a.get("value")
            and self._post_forms
        ):
            self._post_forms[-1]["token"] = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._post_forms:
            form = self._post_forms.pop()
            if not form["token"]:
                self.problems.append(f"POST form without a CSRF token: {form['where']}")

    @classmethod
    def of(cls, html: str) -> list[str]:
        parser = cls()
        parser.feed(html)
        parser.close()
        found = list(parser.problems)
        for form in parser._post_forms:  # never closed
            if not form["token"]:
                found.append(f"POST form without a CSRF token: {form['where']}")
        if parser.hx_writes and "X-CSRFToken" not in (parser.body_hx_headers or ""):
            found.append(f"htmx writes without the CSRF header: {parser.hx_writes[0]}")
        return found


# --- proving nothing changed ----------------------------------------------------------------------

# Not the portal's data: sessions (a sign-in's own record), django-axes' record of sign-in
# attempts, content types.
IGNORED_APPS = {"sessions", "axes", "contenttypes"}


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the portal keeps, except records of refusals: the audit
    trail rightly records a refused request (``access.refused``, a failed sign-in), so
    only its successful events count as changes."""
    state: dict[str, list[dict[str, Any]]] = {}
    for model in apps.get_models():
        if model._meta.app_label in IGNORED_APPS or not model._meta.managed:
            continue
        rows = model._base_manager.all()
        if model is AuditEvent:
            rows = rows.filter(outcome=AuditEvent.Outcome.SUCCESS)
        state[model._meta.label] = list(rows.order_by("pk").values())
    return state


def changes(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]):
    """The tables whose rows differ, for the assertion message."""
    return {label for label in before if before[label] != after.get(label)}
