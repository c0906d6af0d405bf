"""An e-mail domain belongs to one agency's identity provider, even when several agencies'
administrators claim it at the same moment: on PostgreSQL with real threads, released
together by a barrier, for several rounds. Exactly one claim wins; every other one is a
clear refusal (a ValidationError naming the domain), never a database error; one row."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from agencies.identity import services
from agencies.models import IdentityDomain, IdentityProvider, Membership
from tests.factories import AgencyFactory, person

from .harness import RACES_ON_POSTGRESQL, release_together

AGENCIES = 6
ROUNDS = 3

pytestmark = RACES_ON_POSTGRESQL


def _claim_at_once(admins: list[tuple[Any, Any]], round_: int) -> list[Any]:
    """Every agency's administrator saves its provider with the round's contested domain
    (beside one of its own), all released at once; what each call returned or raised."""
    domain = f"contested{round_}.example"

    def claim(agency: Any, admin: Any) -> IdentityProvider:
        return services.save_provider(
            agency=agency,
            by=admin,
            issuer=f"https://login.agency{agency.pk}.example",
            client_id="concord",
            client_secret="secret",
            domains=[domain, f"round{round_}.agency{agency.pk}.example"],
        )

    return release_together(None, *(lambda a=a, b=b: claim(a, b) for a, b in admins))


def test_one_agency_wins_a_domain_claimed_at_once():
    admins = []
    for _ in range(AGENCIES):
        agency = AgencyFactory()
        admins.append((agency, person(agency, Membership.Role.ADMIN)))
    for round_ in range(ROUNDS):
        results = _claim_at_once(admins, round_)
        won = [r for r in results if isinstance(r, IdentityProvider)]
        refused = [r for r in results if isinstance(r, ValidationError)]
        assert len(won) == 1 and len(refused) == AGENCIES - 1, results
        for error in refused:
            assert "domains" in error.message_dict, error
        holder = IdentityDomain.objects.get(domain=f"contested{round_}.example").provider
        assert holder.pk == won[0].pk
        # a refused claim saved nothing of its own either (its own domain included)
        assert IdentityDomain.objects.filter(domain__startswith=f"round{round_}.").count() == 1
