"""The permission core's cost: once a request has read the person's access
(``taskforces.access``), a permission-filtered list is one query and ``can`` is one query,
however many roles the person holds; reading a person's access takes a fixed number of
queries, the same for one role and for sixty; guardian's rows grow with roles, not with
people × objects."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import EmptyResultSet
from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermission, UserObjectPermission

from agencies.models import Agency, Membership, SharingAgreement
from coordination.permissions import can, policy_for, request_memory
from coordination.permissions.markings import Marking
from taskforces import access, services
from taskforces.models import (
    Objective,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    TaskForceGroupObjectPermission,
    TaskForceUserObjectPermission,
    Update,
)

from .. import conftest
from ..conftest import built_once
from ..factories import AgencyFactory, person

EXTRA_TASK_FORCES = 30
MODELS: list[type[models.Model]] = [
    Objective,
    TaskForce,
    Task,
    Update,
    Role,
    RoleAssignment,
    Participation,
    Agency,
    Membership,
    SharingAgreement,
]
# Where restrict() may answer "nothing" without asking the database.
ANSWERED_WITHOUT_A_QUERY = {(Agency, "review")}
# portal_admin: no role; lead_staff: one role; partner_staff: Member in every task force
# (31 roles, all as a partner, so the agreement ceiling is computed for each item);
# lead_liaison: Commander and Liaison officer in every task force (62 roles).
PERSONAS = ("portal_admin", "lead_staff", "partner_staff", "lead_liaison")


def build_big_world() -> SimpleNamespace:
    """The world and 30 more task forces led by the lead liaison, each with the partner
    taking part, partner_staff as Member, objectives and tasks at every marking and
    updates, plus more agencies and people: enough that an N+1 would show."""
    w = conftest.build_world()
    for i in range(EXTRA_TASK_FORCES):
        tf = services.form_task_force(
            name=f"Operation {i:02d}", mandate="Coordinate.", by=w.lead_liaison
        )
        participation = services.invite_agency(task_force=tf, agency=w.partner, by=w.lead_liaison)
        services.respond_to_invitation(
            participation=participation, accept=True, by=w.partner_liaison
        )
        member = conftest.role_named(tf, "member")
        services.assign_role(role=member, person=w.partner_staff, assigned_by=w.partner_liaison)
        for marking in (Marking.GREEN, Marking.AMBER, Marking.AMBER_STRICT, Marking.RED):
            objective = services.create_objective(
                task_force=tf,
                title=f"Objective {i} {marking.label}",
                owner_agency=w.lead,
                contributing_agencies=[w.partner],
                marking=marking,
                by=w.lead_liaison,
            )
            services.create_task(
                objective=objective, title=f"Task {i} {marking.label}", by=w.lead_liaison
            )
        for marking in (Marking.AMBER, Marking.RED):
            services.post_update(
                task_force=tf,
                title=f"Update {i} {marking.label}",
                body="…",
                marking=marking,
                by=w.lead_liaison,
            )
    for _ in range(10):
        agency = AgencyFactory()
        person(agency, Membership.Role.LIAISON)
        person(agency)
    for _ in range(10):
        services.assign_role(role=w.member_role, person=person(w.lead), assigned_by=w.lead_liaison)
    return w


@pytest.fixture(scope="class")
def big(django_db_setup: None, django_db_blocker: Any) -> Iterator[SimpleNamespace]:
    """Built once for the class (its tests only read), inside a transaction rolled back
    when the class ends; each test still runs in its own savepoint through ``db``."""
    yield from built_once(django_db_blocker, build_big_world)


def sample(w: SimpleNamespace, model: type[models.Model]) -> models.Model:
    return {
        Objective: w.objectives[Marking.AMBER],
        TaskForce: w.tf,
        Task: w.tasks[Marking.RED],
        Update: w.updates[Marking.AMBER],
        Role: w.member_role,
        RoleAssignment: w.partner_staff_assignment,
        Participation: w.participation,
        Agency: w.partner,
        Membership: Membership.objects.get(user=w.lead_staff),
        SharingAgreement: w.agreement,
    }[model]


# Where the policy reads the person's access inside task forces (taskforces.access):
# every action of these models but those listed.


def queries_for(model: type[models.Model], user: Any, action: str) -> int:
    """One query, once the request has read the person's access (``in_a_request``);
    except where the answer is known to be "none" without asking the database:
    ``QuerySet.none()`` (e.g. reviewing agencies without being a portal administrator), or
    no task force at all to look in (the condition is an empty ``IN``, which Django
    answers without a query)."""
    restricted = model._default_manager.restrict(user, action)  # type: ignore[attr-defined]
    known_empty = (model, action) in ANSWERED_WITHOUT_A_QUERY and restricted.query.is_empty()
    if known_empty:
        return 0
    try:
        str(restricted.query)
    except EmptyResultSet:
        return 0
    return 1


@pytest.fixture
def in_a_request() -> Iterator[None]:
    """As inside one web request: the person's access, once read, is remembered until the
    request writes (``coordination.permissions.request_memory``)."""
    with request_memory.request_memory():
        yield


class TestQueryCounts:
    def test_the_data_is_big_enough(self, db: None, big: SimpleNamespace):
        tfs = 1 + EXTRA_TASK_FORCES
        assert TaskForce.objects.restrict(big.lead_liaison, "view").count() == tfs
        assert TaskForce.objects.restrict(big.partner_staff, "view").count() == tfs
        assert TaskForce.objects.restrict(big.lead_staff, "view").count() == 1
        assert RoleAssignment.objects.current().filter(person=big.lead_liaison).count() == 2 * tfs
        assert RoleAssignment.objects.current().filter(person=big.partner_staff).count() == tfs
        # Each task force holds 4 objectives; partners see GREEN and AMBER, the Commander all.
        assert Objective.objects.restrict(big.lead_liaison, "view").count() == 4 * tfs
        assert Objective.objects.restrict(big.partner_staff, "view").count() == 2 * tfs
        assert Task.objects.restrict(big.partner_staff, "view").count() == 2 * tfs
        assert Update.objects.restrict(big.lead_liaison, "view").count() == 2 * tfs
        assert Role.objects.restrict(big.partner_staff, "view").count() == 9 * tfs

    @pytest.mark.parametrize("persona", PERSONAS)
    @pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
    def test_restricted_list_is_one_query(
        self,
        db: None,
        big: SimpleNamespace,
        django_assert_num_queries: Any,
        model,
        persona,
        in_a_request: None,
    ):
        user = getattr(big, persona)
        access.access_for(user)  # read once, as at the request's first need
        for action in policy_for(model).actions:
            with django_assert_num_queries(queries_for(model, user, action)):
                rows = list(model._default_manager.restrict(user, action))  # type: ignore[attr-defined]
            assert all(isinstance(row, model) for row in rows)

    @pytest.mark.parametrize("persona", PERSONAS)
    @pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
    def test_can_is_one_query(
        self,
        db: None,
        big: SimpleNamespace,
        django_assert_num_queries: Any,
        model,
        persona,
        in_a_request: None,
    ):
        user = getattr(big, persona)
        obj = sample(big, model)
        access.access_for(user)
        policy = policy_for(model)
        for action in policy.actions:
            # answered from the person's access alone: no query at all
            decided = policy.decides(user, action, obj) is not None
            with django_assert_num_queries(0 if decided else queries_for(model, user, action)):
                can(user, action, obj)

    def test_one_role_and_many_roles_cost_the_same(
        self, db: None, big: SimpleNamespace, django_assert_num_queries: Any, in_a_request: None
    ):
        for user in (big.lead_staff, big.lead_liaison, big.partner_staff):
            access.access_for(user)
            with django_assert_num_queries(1):
                objectives = list(Objective.objects.restrict(user, "view"))
            assert objectives

    def test_computing_access_costs_the_same_for_one_role_and_sixty(
        self, db: None, big: SimpleNamespace, django_assert_num_queries: Any
    ):
        """The person's membership with their holdings, their roles' capabilities and the
        agreements deciding the ceilings in task forces they take part in as a partner: one
        statement, whoever they are."""
        expected = {"lead_staff": 1, "lead_liaison": 1, "partner_staff": 1, "portal_admin": 1}
        for persona, queries in expected.items():
            user = getattr(big, persona)
            with django_assert_num_queries(queries):
                held = access.compute(user)
            assert (
                len(held.capabilities)
                == {
                    "lead_staff": 1,
                    "lead_liaison": 1 + EXTRA_TASK_FORCES,
                    "partner_staff": 1 + EXTRA_TASK_FORCES,
                    "portal_admin": 0,
                }[persona]
            )


# --- guardian's rows -----------------------------------------------------------------------


def capability_count() -> int:
    return sum(len(role.capabilities) for role in Role.objects.all())


def test_one_permission_row_per_role_and_capability(world):
    assert TaskForceGroupObjectPermission.objects.count() == capability_count()
    for role in Role.objects.filter(task_force=world.tf):
        rows = TaskForceGroupObjectPermission.objects.filter(group=role.group)
        assert rows.count() == len(role.capabilities)
        assert set(rows.values_list("permission__codename", flat=True)) == set(role.capabilities)
        assert set(rows.values_list("content_object_id", flat=True)) == {world.tf.pk}


def test_nothing_is_granted_to_people_directly(world):
    assert TaskForceUserObjectPermission.objects.count() == 0
    assert UserObjectPermission.objects.count() == 0
    assert GroupObjectPermission.objects.count() == 0  # the direct table is used instead


def test_rows_do_not_grow_with_people(world):
    rows = TaskForceGroupObjectPermission.objects.count()
    analyst = conftest.role_named(world.tf, "intelligence-analyst")
    for i in range(50):
        role = world.member_role if i % 2 else analyst
        services.assign_role(role=role, person=person(world.lead), assigned_by=world.lead_liaison)
    for _ in range(5):
        services.assign_role(
            role=world.member_role, person=person(world.partner), assigned_by=world.partner_liaison
        )
    assert RoleAssignment.objects.current().count() >= 55
    assert TaskForceGroupObjectPermission.objects.count() == rows
    assert TaskForceUserObjectPermission.objects.count() == 0


def test_rows_grow_with_roles(world):
    rows = TaskForceGroupObjectPermission.objects.count()
    other = services.form_task_force(
        name="Coastal surge planning", mandate="Plan ahead.", by=world.lead_liaison
    )
    added = sum(len(role.capabilities) for role in Role.objects.filter(task_force=other))
    assert added > 0
    assert TaskForceGroupObjectPermission.objects.count() == rows + added

    role = services.create_role(
        task_force=world.tf,
        name="Sandbag coordinator",
        responsibilities="Runs the sandbag points.",
        capabilities=["view_taskforce", "manage_tasks", "post_updates"],
        by=world.lead_liaison,
    )
    assert TaskForceGroupObjectPermission.objects.count() == rows + added + 3
    services.update_role(role=role, capabilities=["view_taskforce"], by=world.lead_liaison)
    assert TaskForceGroupObjectPermission.objects.count() == rows + added + 1
    assert TaskForceGroupObjectPermission.objects.count() == capability_count()


# --- role groups ---------------------------------------------------------------------------


def in_group(user: Any, role: Role) -> bool:
    return user.groups.filter(pk=role.group_id).exists()


def test_holding_an_assignment_puts_the_person_in_the_role_group(world):
    assert in_group(world.lead_staff, world.member_role)
    assert in_group(world.partner_staff, world.member_role)
    commander = conftest.role_named(world.tf, "commander")
    assert in_group(world.lead_liaison, commander)
    assert not in_group(world.lead_staff, commander)
    assert not in_group(world.outsider, world.member_role)


def test_a_new_assignment_adds_the_group(world):
    analyst = conftest.role_named(world.tf, "intelligence-analyst")
    assert not in_group(world.lead_staff, analyst)
    services.assign_role(role=analyst, person=world.lead_staff, assigned_by=world.lead_liaison)
    assert in_group(world.lead_staff, analyst)


def test_ending_an_assignment_removes_the_group(world):
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Rotated out"
    )
    assert not in_group(world.partner_staff, world.member_role)
    assert in_group(world.lead_staff, world.member_role)  # other holders keep it


def test_expiry_removes_the_group(world):
    analyst = conftest.role_named(world.tf, "intelligence-analyst")
    now = timezone.now()
    services.assign_role(
        role=analyst,
        person=world.lead_staff,
        assigned_by=world.lead_liaison,
        until=now + datetime.timedelta(hours=1),
    )
    assert in_group(world.lead_staff, analyst)
    assert services.expire_assignments(now=now + datetime.timedelta(hours=2)) == 1
    assert not in_group(world.lead_staff, analyst)
    assert in_group(world.lead_staff, world.member_role)


def test_withdrawal_removes_the_groups(world):
    services.withdraw_agency(
        participation=world.participation, by=world.partner_liaison, reason="Stood down"
    )
    assert not in_group(world.partner_staff, world.member_role)
    liaison_role = conftest.role_named(world.tf, "liaison-officer")
    assert not in_group(world.partner_liaison, liaison_role)
