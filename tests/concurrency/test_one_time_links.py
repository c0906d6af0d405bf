"""Every one-time link is used exactly once, however many browsers submit it at the same
moment (issue 15, item 4), on PostgreSQL with real threads.

Ten browsers each open the link (their own session), then all ten submit at once, released
by a barrier, for several rounds: the invitation's "choose your password" link, allauth's
password reset link and a critical update's acknowledgement link. Exactly one submission
succeeds; the others are told the link was used; the effect (one password, one
acknowledgement, one audit event) happens once. Before ``coordination.accounts.onetime``, the
password links succeeded several times in one round (the token stays valid until the
first password change commits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.forms import default_token_generator as allauth_tokens
from allauth.account.utils import user_pk_to_url_str
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.cache import cache
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from coordination.accounts import onetime
from coordination.models import AuditEvent, User
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Acknowledgement
from taskforces.notifications import ACK_SALT

from .. import conftest
from .harness import RACES_ON_POSTGRESQL, release_together

BROWSERS = 10
ROUNDS = 3

pytestmark = RACES_ON_POSTGRESQL


@pytest.fixture(autouse=True)
def no_rate_limits():
    """Ten submissions from one address in a second are the point here."""
    cache.clear()
    with override_settings(ACCOUNT_RATE_LIMITS=False, AXES_ENABLED=False):
        yield
    cache.clear()


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread (its own database connection), released together."""
    results = release_together(None, *calls)
    assert not any(isinstance(r, Exception) for r in results), results
    return results


def opened(link: str) -> tuple[Client, str]:
    """A browser that opened the link: its own session, and the form's address."""
    browser = Client()
    response = browser.get(link, follow=True)
    assert response.status_code == 200
    return browser, response.redirect_chain[-1][0] if response.redirect_chain else link


def test_the_invitation_link_chooses_a_password_once():
    for round_ in range(ROUNDS):
        invitee = User.objects.create_user(email=f"invitee{round_}@nfa.example.gov")
        invitee.set_unusable_password()
        invitee.save()
        uid = urlsafe_base64_encode(force_bytes(invitee.pk))
        link = reverse(
            "agencies:set-password", args=[uid, default_token_generator.make_token(invitee)]
        )
        browsers = [opened(link) for _ in range(BROWSERS)]
        passwords = [f"a-long-passphrase-{round_}-{n}" for n in range(BROWSERS)]
        answers = all_at_once(
            [
                lambda b=b, p=p: b[0].post(b[1], {"new_password1": p, "new_password2": p})
                for b, p in zip(browsers, passwords, strict=True)
            ]
        )
        chose = [n for n, a in enumerate(answers) if a.status_code == 302]
        assert len(chose) == 1, [a.status_code for a in answers]
        assert answers[chose[0]]["Location"] == reverse("agencies:set-password-done")
        for n, answer in enumerate(answers):
            if n != chose[0]:
                # refused: by the one-time record while the first was committing, or by
                # Django's token check once the new password had committed
                assert answer.status_code == 200
                page = answer.content.decode()
                assert "already been used" in page or "This link no longer works" in page
        invitee.refresh_from_db()
        assert invitee.check_password(passwords[chose[0]])


def test_the_password_reset_link_resets_once():
    for round_ in range(ROUNDS):
        user = User.objects.create_user(
            email=f"forgetful{round_}@nfa.example.gov", password="the-old-passphrase-1"
        )
        link = reverse(
            "account_reset_password_from_key",
            kwargs={"uidb36": user_pk_to_url_str(user), "key": allauth_tokens.make_token(user)},
        )
        browsers = [opened(link) for _ in range(BROWSERS)]
        passwords = [f"a-new-passphrase-{round_}-{n}" for n in range(BROWSERS)]
        answers = all_at_once(
            [
                lambda b=b, p=p: b[0].post(b[1], {"password1": p, "password2": p})
                for b, p in zip(browsers, passwords, strict=True)
            ]
        )
        reset = [n for n, a in enumerate(answers) if a.status_code == 302]
        assert len(reset) == 1, [a.status_code for a in answers]
        for n, answer in enumerate(answers):
            if n != reset[0]:
                assert answer.status_code == 200
                assert "already been used" in answer.content.decode()
        user.refresh_from_db()
        assert user.check_password(passwords[reset[0]])


def test_the_acknowledgement_link_acknowledges_once():
    w = conftest.build_world()
    for round_ in range(ROUNDS):
        update = services.post_update(
            task_force=w.tf,
            title=f"Evacuate zone {round_}",
            body="Now.",
            by=w.lead_liaison,
            marking=Marking.GREEN,
            requires_acknowledgement=True,
        )
        token = signing.dumps({"u": update.pk, "p": w.partner_staff.pk}, salt=ACK_SALT)
        link = reverse("taskforces:acknowledge-link", args=[token])
        browsers = [opened(link) for _ in range(BROWSERS)]
        answers = all_at_once([lambda b=b: b[0].post(b[1]) for b in browsers])
        assert {a.status_code for a in answers} == {200}
        assert Acknowledgement.objects.filter(update=update, person=w.partner_staff).count() == 1
        events = AuditEvent.objects.filter(
            action="update.acknowledged", object_id=str(update.pk), actor=w.partner_staff
        )
        assert events.count() == 1
        assert onetime.was_used(onetime.ACKNOWLEDGEMENT, token)


def test_a_link_whose_use_rolls_back_still_works():
    """The use is recorded in the transaction that does the work: a failure undoes both."""
    with pytest.raises(RuntimeError), transaction.atomic():
        assert onetime.use_once(onetime.INVITATION, "7:abc")
        raise RuntimeError("the work failed")
    assert not onetime.was_used(onetime.INVITATION, "7:abc")
    assert onetime.use_once(onetime.INVITATION, "7:abc")
    assert not onetime.use_once(onetime.INVITATION, "7:abc")
    # other purposes, other tokens are other links
    assert onetime.use_once(onetime.RESET, "7:abc")
    assert onetime.use_once(onetime.INVITATION, "7:abd")
