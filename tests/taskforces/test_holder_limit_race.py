"""A role's holder limit holds under concurrent requests (PostgreSQL only).

Two liaison officers assign two different people to a role that takes one holder at the
same moment, each in its own thread with its own database connection. ``assign_role``
locks the role row (``select_for_update``) before counting holders, so the second
transaction waits for the first to commit, then counts one holder and refuses.

Why the lock matters: the partial unique index (one open assignment per person and role)
does not help here, because the two people differ. With the lock taken out (tried by
monkeypatching ``Role.objects.select_for_update`` to return a plain queryset; not part of
this suite), both threads counted zero holders and both assignments were saved in 6 to 9
of the ten rounds of each of four runs; with the lock, in none. SQLite has no row locks (and serialises writers on the whole file), so the
race can only be shown on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from agencies.models import Membership
from taskforces import services
from taskforces.models import Capability, Role, RoleAssignment

from ..conftest import role_named
from ..factories import person

ROUNDS = 10

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Needs PostgreSQL row locks (set DATABASE_URL); SQLite serialises all writers.",
    ),
]


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each returns its result or exception."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            connection.ensure_connection()  # connect first, so the calls really overlap
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except Exception as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    return outcomes


def single_holder_role(world, number: int) -> Role:
    return services.create_role(
        task_force=world.tf,
        name=f"Incident commander {number}",
        responsibilities="Commands one incident.",
        capabilities=[Capability.VIEW, Capability.CHANGE],
        max_holders=1,
        by=world.lead_liaison,
    )


def assert_one_won(outcomes: list[Any], role: Role, field: str) -> None:
    won = [o for o in outcomes if isinstance(o, RoleAssignment)]
    lost = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(won) == 1, outcomes
    assert len(lost) == 1, outcomes
    assert field in lost[0].message_dict
    assert RoleAssignment.objects.open().filter(role=role).count() == 1
    assert RoleAssignment.objects.filter(role=role).count() == 1
    winner = won[0]
    assert list(Role.objects.get(pk=role.pk).group.user_set.all()) == [winner.person]


def test_two_agencies_liaisons_race_for_a_single_holder_role(world):
    for number in range(ROUNDS):
        role = single_holder_role(world, number)
        outcomes = race(
            lambda role=role: services.assign_role(
                role=role, person=world.lead_staff, assigned_by=world.lead_liaison
            ),
            lambda role=role: services.assign_role(
                role=role, person=world.partner_staff, assigned_by=world.partner_liaison
            ),
        )
        assert_one_won(outcomes, role, "role")


def test_one_agencys_two_liaisons_race_for_a_single_holder_role(world):
    second_liaison = person(world.lead, Membership.Role.LIAISON, email="liaison2@nfa.example.gov")
    services.assign_role(
        role=role_named(world.tf, "liaison-officer"),
        person=second_liaison,
        assigned_by=world.lead_liaison,
    )
    second_staff = person(world.lead, email="staff2@nfa.example.gov")
    for number in range(ROUNDS):
        role = single_holder_role(world, number)
        outcomes = race(
            lambda role=role: services.assign_role(
                role=role, person=world.lead_staff, assigned_by=world.lead_liaison
            ),
            lambda role=role: services.assign_role(
                role=role, person=second_staff, assigned_by=second_liaison
            ),
        )
        assert_one_won(outcomes, role, "role")


def test_two_liaisons_race_to_give_one_person_the_same_role(world):
    second_liaison = person(world.lead, Membership.Role.LIAISON, email="liaison2@nfa.example.gov")
    services.assign_role(
        role=role_named(world.tf, "liaison-officer"),
        person=second_liaison,
        assigned_by=world.lead_liaison,
    )
    for number in range(ROUNDS):
        role = services.create_role(
            task_force=world.tf,
            name=f"Sector warden {number}",
            responsibilities="Watches one sector.",
            capabilities=[Capability.VIEW],
            by=world.lead_liaison,
        )
        outcomes = race(
            *(
                lambda role=role, by=by: services.assign_role(
                    role=role, person=world.lead_staff, assigned_by=by
                )
                for by in (world.lead_liaison, second_liaison)
            )
        )
        assert_one_won(outcomes, role, "person")
