"""Two first sign-ins of the same new address through the agency's identity provider at
the same moment (two tabs, a double click), where the agency gives new people an account
at once: on PostgreSQL with real threads released together, for several rounds. One makes
the account, its membership and its link to the provider; the other is a clear "sign in
again" page (409), never a database error; one account, one membership, one link."""

from __future__ import annotations

from typing import Any

from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialAccount

from agencies.identity.adapter import SocialAccountAdapter
from agencies.models import IdentityProvider, Membership
from coordination.models import User
from tests.factories import AgencyFactory, person
from tests.identity.test_identity_providers import _signing_in, enable_untested, register

from .harness import RACES_ON_POSTGRESQL, release_together

ROUNDS = 5

pytestmark = RACES_ON_POSTGRESQL


def _first_sign_ins_at_once(provider: IdentityProvider, email: str) -> list[Any]:
    """Both sign-ins pass allauth's checks (no account yet), then save at the same moment;
    what each save returned or raised."""

    def save(request: Any, login: Any) -> Any:
        with context.request_context(request):
            return SocialAccountAdapter().save_user(request, login)

    logins = [_signing_in(provider, email) for _ in range(2)]
    return release_together(None, *(lambda r=r, s=s: save(r, s) for r, s in logins))


def test_one_of_two_first_sign_ins_at_once_makes_the_account_the_other_is_told_to_sign_in_again():
    river = AgencyFactory(name="River Authority")
    admin = person(river, Membership.Role.ADMIN, email="admin@river.example")
    provider = enable_untested(
        register(river, admin, domains=["river.example"], new_people="account")
    )
    for round_ in range(ROUNDS):
        email = f"new{round_}@river.example"
        results = _first_sign_ins_at_once(provider, email)
        made = [r for r in results if isinstance(r, User)]
        refused = [r for r in results if isinstance(r, ImmediateHttpResponse)]
        assert len(made) == 1 and len(refused) == 1, results
        assert refused[0].response.status_code == 409
        assert b"Sign in again" in refused[0].response.content
        assert User.objects.filter(email=email).count() == 1
        assert Membership.objects.filter(user=made[0], agency=river, is_active=True).count() == 1
        assert SocialAccount.objects.filter(user=made[0]).count() == 1
