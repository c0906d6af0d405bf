"""Object ids from another agency in every URL: for each URL that names an object, the
people who may not see it — the outsider (an agency outside the task force), the partner
agency's people asking for an object of a task force their agency is not part of, or for
an item marked above their agreement — are told "not found" (404; 403 only where the
catalogue says the project deliberately answers "you may see this but not do that"), for
GET and for POST with a form that would have worked for the rightful person, and nothing
changes. GET on a URL that only accepts POST answers 405 before anything is looked up.

URLs whose path holds a signed one-time token instead of an id (password links,
acknowledgement links) are tested at the end: a tampered or foreign token opens nothing.
"""

from __future__ import annotations

import pytest
from allauth.account.forms import default_token_generator as allauth_tokens
from allauth.account.utils import user_pk_to_url_str
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from coordination.permissions.markings import Marking
from taskforces.models import Acknowledgement
from taskforces.notifications import ACK_SALT
from tests.factories import PASSWORD

from .conftest import changes, client_for, path_of, snapshot
from .pages import PAGES, lead_staff_feed, swept_urls

pytestmark = pytest.mark.usefixtures("module_world")

WITH_INTRUDERS = [name for name, page in PAGES.items() if page.intruders is not None]


def test_every_url_with_an_object_in_its_path_names_its_intruders() -> None:
    """A URL with path arguments must list who may not open it, or say why nobody."""
    silent = sorted(
        url.name
        for url in swept_urls()
        if url.params
        and url.name in PAGES
        and PAGES[url.name].intruders is None
        and not PAGES[url.name].no_intruder
    )
    assert not silent, f"URLs with object ids but no intruders in tests/security/pages.py: {silent}"


@pytest.mark.parametrize("name", WITH_INTRUDERS)
def test_other_agencies_cannot_open_or_change_the_object(world, name) -> None:
    page = PAGES[name]
    assert page.intruders is not None
    # the rightful person's form, so that a missing check would show as a change
    rightful = page.open(world)
    data = page.data(world) if page.data else {}
    intruders = page.intruders(world)
    assert intruders
    for visit in intruders:
        assert visit.kwargs != {} and visit.user is not None
        client = client_for(visit)
        path = path_of(name, visit)
        before = snapshot()

        got = client.get(path)
        posted = client.post(path, data)

        who = f"{name} as {visit.user.email} ({path})"
        allowed_get = page.refusal | ({405} if not page.get else set())
        assert got.status_code in allowed_get, (who, "GET", got.status_code)
        # 405: a URL that answers GET only refuses POST before looking anything up
        assert posted.status_code in page.refusal | {405}, (who, "POST", posted.status_code)
        assert not changes(before, snapshot()), who
    # and the rightful person still gets the page
    if page.get:
        assert client_for(rightful).get(path_of(name, rightful)).status_code == 200


# --- signed links instead of ids ----------------------------------------------------------------


def test_a_welcome_link_for_someone_else_sets_no_password(world) -> None:
    """The one-time link an invited person gets: the token of one person with the id of
    another shows no form, and a POST changes no password."""
    victim, other = world.lead_staff, world.partner_staff
    token = default_token_generator.make_token(other)
    path = reverse(
        "agencies:set-password",
        kwargs={"uidb64": urlsafe_base64_encode(force_bytes(victim.pk)), "token": token},
    )
    client = Client()
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert response.context["validlink"] is False
    assert 'name="new_password1"' not in response.content.decode()
    before = snapshot()
    client.post(
        path, {"new_password1": "a-brand-new-passphrase", "new_password2": "a-brand-new-passphrase"}
    )
    assert not changes(before, snapshot())
    victim.refresh_from_db()
    assert victim.check_password(PASSWORD)


def test_a_password_reset_key_for_someone_else_resets_nothing(world) -> None:
    victim, other = world.lead_staff, world.partner_staff
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(victim), "key": allauth_tokens.make_token(other)},
    )
    client = Client()
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert 'name="password1"' not in response.content.decode()
    before = snapshot()
    client.post(
        path, {"password1": "a-brand-new-passphrase", "password2": "a-brand-new-passphrase"}
    )
    assert not changes(before, snapshot())
    victim.refresh_from_db()
    assert victim.check_password(PASSWORD)


@pytest.mark.parametrize(
    "tamper",
    [
        "another update",  # the recipient's signature over a different update id
        "another person",
        "not signed",
    ],
)
def test_a_tampered_acknowledgement_link_acknowledges_nothing(world, tamper) -> None:
    update, red = world.updates[Marking.AMBER], world.updates[Marking.RED]
    good = signing.dumps({"u": update.pk, "p": world.partner_staff.pk}, salt=ACK_SALT)
    signature = good.rpartition(":")[2]
    forged = {
        "another update": signing.dumps({"u": red.pk, "p": world.partner_staff.pk}, salt="x"),
        "another person": signing.dumps({"u": update.pk, "p": world.outsider.pk}, salt="y"),
        "not signed": signing.b64_encode(
            b'{"u":%d,"p":%d}' % (red.pk, world.partner_staff.pk)
        ).decode()
        + ":"
        + signature,
    }[tamper]
    path = reverse("taskforces:acknowledge-link", args=[forged])
    client = Client()
    assert client.get(path).status_code == 400
    before = snapshot()
    assert client.post(path).status_code == 400
    assert not changes(before, snapshot())
    assert not Acknowledgement.objects.exists()


def test_an_acknowledgement_link_cannot_acknowledge_what_its_person_may_not_see(world) -> None:
    """Even a correctly signed link (as if the key had leaked) for an item above the
    person's agreement is refused by the service, not just by the signature."""
    red = world.updates[Marking.RED]
    token = signing.dumps({"u": red.pk, "p": world.partner_staff.pk}, salt=ACK_SALT)
    path = reverse("taskforces:acknowledge-link", args=[token])
    before = snapshot()
    response = Client().post(path)
    assert response.status_code in (403, 404)
    assert not changes(before, snapshot())
    assert red.title not in response.content.decode()


def test_a_calendar_feed_address_with_another_secret_is_not_found(world) -> None:
    lead_staff_feed(world)
    client = Client()
    assert (
        client.get(reverse("taskforces:calendar-feed", args=[world._feed_secret])).status_code
        == 200
    )
    forged = world._feed_secret[:-1] + ("A" if world._feed_secret[-1] != "A" else "B")
    assert client.get(reverse("taskforces:calendar-feed", args=[forged])).status_code == 404
