"""The Content Security Policy on every page, and pages it has nothing to refuse in.

Every URL of the portal (tests/security/pages.py walks the URLconf; a URL with no sample
fails ``test_every_url_has_a_sample`` by name) is opened as the person who may see it:
the answer carries the policy, without 'unsafe-inline' or 'unsafe-eval' for scripts, and
its HTML has no inline script, no inline event handler, no javascript: URL, no style
attribute or element, loads nothing from another host, and every POST form carries the
CSRF token. The templates themselves are read too, so a partial no page happened to show
is held to the same rule. The API documentation and a sample of the Django admin, left
out of the page catalogue, are checked on their own.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from agencies.models import Agency
from tests.factories import UserFactory

from .conftest import PageProblems, client_for, path_of
from .pages import NOT_PAGES, PAGES, swept_urls, url_names

pytestmark = pytest.mark.usefixtures("module_world")

TEMPLATES = Path(settings.BASE_DIR) / "templates"
EXPECTED_POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:"},
    "font-src": {"'self'"},
    "connect-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def policy_of(response) -> dict[str, set[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives: dict[str, set[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = set(words[1:])
    return directives


def assert_strict_policy(response) -> None:
    policy = policy_of(response)
    for directive in ("script-src", "style-src", "default-src"):
        sources = policy.get(directive, set())
        assert not sources & {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*"}, (
            directive,
            sources,
        )
    assert policy == EXPECTED_POLICY
    assert response["X-Frame-Options"] == "DENY"


# --- the catalogue covers every URL ------------------------------------------------------------


def test_every_url_has_a_sample() -> None:
    """A new page must be added to tests/security/pages.py (or to NOT_PAGES, with why)."""
    unnamed = [url.route for url in swept_urls() if not url.name]
    missing = [name for name in url_names() if name not in PAGES and name not in NOT_PAGES]
    stale = sorted(set(PAGES) - set(url_names()))
    assert not unnamed, f"URLs without a name cannot be swept; name them: {unnamed}"
    assert not missing, (
        "These URLs have no sample in tests/security/pages.py PAGES (who may open them, "
        f"with which path arguments, and who must be refused): {missing}"
    )
    assert not stale, f"PAGES lists URL names that no longer exist: {stale}"


# --- every page ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [name for name, page in PAGES.items() if page.get])
def test_the_page_keeps_the_policy(world, name) -> None:
    page = PAGES[name]
    visit = page.open(world)
    client = client_for(visit)
    path = path_of(name, visit)

    response = client.get(path, follow=True)

    assert response.status_code == 200, (name, path, response.status_code)
    assert_strict_policy(response)
    if page.html:
        assert response["Content-Type"].startswith("text/html")
        problems = PageProblems.of(response.content.decode())
        assert not problems, (name, path, problems)


def test_error_pages_keep_the_policy(world) -> None:
    client = Client()
    client.force_login(world.lead_staff)
    pages = {
        404: client.get("/no-such-page/"),
        400: client.get(reverse("taskforces:list") + "?page=zero"),
        403: client.get(reverse("agencies:review-queue")),
    }
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(world.lead_staff)
    pages[403.1] = csrf.post(reverse("notifications:mark-all-read"))
    for status, response in pages.items():
        assert response.status_code == int(status), status
        assert_strict_policy(response)
        assert not PageProblems.of(response.content.decode()), status
    # 500.html is rendered without context or middleware when things are broken; read it
    assert not PageProblems.of((TEMPLATES / "500.html").read_text())


# --- the templates themselves -------------------------------------------------------------------

FORBIDDEN_IN_TEMPLATES = [
    # a JSON data block (allauth's WebAuthn settings) is never run: not a script
    (
        re.compile(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", re.I),
        "inline <script>",
    ),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\shx-on", re.I), "htmx inline handler"),
    (re.compile(r"(src|href)=\"(https?:)?//", re.I), "resource from another host"),
]


def test_no_template_holds_inline_script_or_style() -> None:
    """Every template, including partials and ones only some people see."""
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text()
        text = re.sub(r"{#.*?#}", "", text, flags=re.S)  # template comments say why, freely
        text = re.sub(r"{% comment %}.*?{% endcomment %}", "", text, flags=re.S)
        for pattern, what in FORBIDDEN_IN_TEMPLATES:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(TEMPLATES)}:{line}: {what}")
    assert not found, found


def test_the_page_reader_finds_what_the_policy_forbids() -> None:
    """The sweeps above are only as good as this reader: it must see each problem."""
    bad = {
        "<script>alert(1)</script>": "inline script",
        '<a href="javascript:alert(1)">x</a>': "javascript: URL",
        '<button onclick="go()">x</button>': "inline event handler",
        '<p style="color:red">x</p>': "style attribute",
        "<style>p{}</style>": "inline <style>",
        '<script src="https://cdn.example.com/x.js"></script>': "loads from elsewhere",
        '<form method="post"><input name="a"></form>': "without a CSRF token",
        '<body><button hx-post="/x/">x</button></body>': "without the CSRF header",
        '<div hx-on:click="alert(1)">x</div>': "htmx inline handler",
    }
    for html, expected in bad.items():
        problems = PageProblems.of(html)
        assert any(expected in p for p in problems), (html, problems)
    good = (
        '<body hx-headers=\'{"X-CSRFToken": "t"}\'><script src="/static/x.js"></script>'
        '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="t">'
        '<button hx-post="/x/">x</button></form><img src="data:image/png;base64,AA"></body>'
    )
    assert PageProblems.of(good) == []


# --- outside the catalogue: API documentation and the Django admin ------------------------------


def test_the_api_documentation_needs_no_exception_to_the_policy(world) -> None:
    client = Client()
    client.force_login(world.lead_staff)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert_strict_policy(page)
    html = page.content.decode()
    assert not PageProblems.of(html)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert any("script=" in src for src in scripts), scripts
    for src in scripts:
        script = client.get(src.replace("&amp;", "&"))
        assert script.status_code == 200, src
        content_type = script["Content-Type"]
        assert content_type.startswith(("application/javascript", "text/javascript")), src
    init = client.get(next(s for s in scripts if "script=" in s).replace("&amp;", "&"))
    assert b"SwaggerUIBundle" in init.content
    assert b'"validatorUrl": null' in init.content  # no badge fetched from swagger.io


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/agencies/agency/",
        "/admin/agencies/agency/add/",
        "/admin/agencies/agency/{agency}/change/",
        "/admin/coordination/user/",
        "/admin/coordination/auditevent/",
        "/admin/taskforces/roletemplate/",
        "/admin/axes/accessattempt/",
    ],
)
def test_the_django_admin_keeps_the_policy(world, path) -> None:
    superuser = UserFactory(is_staff=True, is_superuser=True, is_portal_admin=True)
    client = Client()
    client.force_login(superuser)
    response = client.get(path.format(agency=Agency.objects.first().pk))
    assert response.status_code == 200, path
    assert_strict_policy(response)
    assert not PageProblems.of(response.content.decode()), path
