"""Passwords: at least 12 characters, not on the common-password list, not all digits,
not like the person's own details; hashed with Argon2 (tests/security/
test_production_settings.py checks production's hasher). Every place a password is chosen
obeys the same rules: the invited person's welcome link, the password change, and the
reset link."""

from __future__ import annotations

import pytest
from allauth.account.forms import default_token_generator as allauth_tokens
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.factories import PASSWORD, person

from .conftest import client_for
from .pages import Visit

pytestmark = pytest.mark.usefixtures("module_world")

GOOD = "river-levee-sandbag-42"
REFUSED = {
    "eleven-char": "The password is too short (11 characters).",
    "qwerty123456": "12 characters, but on the common-password list.",
    "123456789123": "12 characters, common and all digits.",
    "480915726305": "12 digits, not on the list: all digits.",
}


def messages_for(password: str, user=None) -> list[str]:
    try:
        validate_password(password, user)
    except ValidationError as error:
        return error.messages
    return []


def test_the_rules_are_configured() -> None:
    names = [v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS]
    assert names == [
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    ]
    length = settings.AUTH_PASSWORD_VALIDATORS[1]["OPTIONS"]["min_length"]
    assert length == 12
    assert settings.PASSWORD_HASHERS  # the test settings use a fast hasher; base does not
    from coordination.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.mark.parametrize("password", list(REFUSED))
def test_weak_passwords_are_refused(password) -> None:
    assert messages_for(password), REFUSED[password]


def test_twelve_characters_is_enough_and_eleven_is_not() -> None:
    assert "This password is too short. It must contain at least 12 characters." in messages_for(
        "x7#kq2!vbn4"
    )
    assert messages_for("x7#kq2!vbn4p") == []
    assert messages_for(GOOD) == []


def test_a_password_like_the_persons_own_address_is_refused(world) -> None:
    user = person(world.lead, email="marguerite.delacroix@nfa.example.gov")
    assert messages_for("marguerite.delacroix", user)


def test_argon2_is_what_new_passwords_get() -> None:
    from coordination.settings import base

    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        encoded = make_password(GOOD)
    assert encoded.startswith("argon2$argon2id$")


# --- the same rules wherever a password is chosen ------------------------------------------------


@pytest.mark.parametrize("weak", ["eleven-char", "qwerty123456"])
def test_the_welcome_link_refuses_a_weak_password(world, weak) -> None:
    newcomer = person(world.lead, email="new@nfa.example.gov")
    newcomer.set_unusable_password()
    newcomer.save(update_fields=["password"])
    link = reverse(
        "agencies:set-password",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(newcomer.pk)),
            "token": default_token_generator.make_token(newcomer),
        },
    )
    client = Client()
    form_page = client.get(link, follow=True)
    form_url = form_page.redirect_chain[-1][0]

    response = client.post(form_url, {"new_password1": weak, "new_password2": weak})

    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    newcomer.refresh_from_db()
    assert not newcomer.has_usable_password()
    ok = client.post(form_url, {"new_password1": GOOD, "new_password2": GOOD})
    assert ok.status_code == 302
    newcomer.refresh_from_db()
    assert newcomer.check_password(GOOD)


@pytest.mark.parametrize("weak", ["eleven-char", "qwerty123456", "480915726305"])
def test_changing_the_password_refuses_a_weak_one(world, weak) -> None:
    client = client_for(Visit(world.lead_staff, sign_in="form"))
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": weak, "password2": weak},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    world.lead_staff.refresh_from_db()
    assert world.lead_staff.check_password(PASSWORD)


@pytest.mark.parametrize("weak", ["eleven-char", "qwerty123456"])
def test_a_reset_link_refuses_a_weak_password(world, weak) -> None:
    user = world.lead_staff
    client = Client()
    start = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(user), "key": allauth_tokens.make_token(user)},
    )
    form_url = client.get(start, follow=True).redirect_chain[-1][0]

    response = client.post(form_url, {"password1": weak, "password2": weak})

    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
