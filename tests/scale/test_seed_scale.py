"""``seed_scale`` writes in bulk exactly what the services would have written: checked on a
tiny factor for the invariants the services keep, for the permission core (``restrict``
must agree with ``explain``'s independent, step-by-step answer for every object), and for
the services working on seeded data afterwards."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models

from agencies.models import Agency, Membership, SharingAgreement
from benchmarks.scale import data as seed_scale
from coordination.models import User
from coordination.permissions import can, explain, request_memory
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import (
    Acknowledgement,
    Objective,
    Participation,
    Role,
    RoleAssignment,
    RoleTemplate,
    Task,
    TaskForce,
    TaskForceGroupObjectPermission,
    Update,
)
from taskforces.services import assignments

from ..conftest import built_once

FACTOR = "0.0005"


def seed(*extra: str) -> str:
    out = io.StringIO()
    call_command(
        "seed_scale", "--factor", FACTOR, "--allow-sqlite", "--no-progress", *extra, stdout=out
    )
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[str]:
    """Seeded once for the module (its tests only read, or write inside their own
    savepoint), in a transaction rolled back at the end."""
    yield from built_once(django_db_blocker, seed)


pytestmark = pytest.mark.usefixtures("seeded")


def person(email: str) -> User:
    return User.objects.get(email=email)


# --- what was made ---------------------------------------------------------------------------


def test_sizes_follow_the_factor_with_floors(db, seeded):
    assert Agency.objects.count() == 8
    assert TaskForce.objects.count() == 5
    templates = list(RoleTemplate.objects.filter(is_active=True))
    assert Role.objects.count() == 5 * len(templates)
    assert Group.objects.filter(role__isnull=False).count() == Role.objects.count()
    assert User.objects.filter(email__endswith=".scale.example").count() >= 60
    # at this size the few task forces cap how many roles people can hold
    assert 50 <= RoleAssignment.objects.count() <= 250
    assert Objective.objects.count() == 100
    assert Task.objects.count() == 250
    assert Update.objects.count() == 150
    assert "Person with 3 roles: three-roles@hub.scale.example" in seeded
    assert "roles: three-hundred-roles@hub.scale.example" in seeded


def test_the_benchmark_people_hold_exactly_their_roles(db):
    light = person(seed_scale.LIGHT_EMAIL)
    heavy = person(seed_scale.HEAVY_EMAIL)
    hub_task_forces = Participation.objects.filter(
        agency=Agency.objects.order_by("pk").first(), status=Participation.Status.ACCEPTED
    ).count()
    assert RoleAssignment.objects.current().filter(person=light).count() == 3
    assert RoleAssignment.objects.filter(person=light).count() == 3
    # 300 at factors with 100 task forces or more; here as many as the task forces allow
    assert RoleAssignment.objects.current().filter(person=heavy).count() == min(
        300, 3 * hub_task_forces
    )


def test_every_role_has_its_guardian_rows_and_no_more(db):
    rows = Counter(
        TaskForceGroupObjectPermission.objects.values_list(
            "group_id", "content_object_id", "permission__codename"
        )
    )
    assert max(rows.values()) == 1
    wanted = {
        (role.group_id, role.task_force_id, capability)
        for role in Role.objects.all()
        for capability in role.capabilities
    }
    assert set(rows) == wanted


def test_one_open_assignment_per_person_and_role(db):
    open_pairs = Counter(
        RoleAssignment.objects.filter(ended_at__isnull=True).values_list("role_id", "person_id")
    )
    assert open_pairs and max(open_pairs.values()) == 1


def test_role_groups_hold_exactly_the_open_assignments(db):
    members = set(User.groups.through.objects.values_list("user_id", "group_id"))
    wanted = set(
        RoleAssignment.objects.filter(ended_at__isnull=True).values_list(
            "person_id", "role__group_id"
        )
    )
    assert members == wanted


def test_holder_limits_are_respected(db):
    limited = Role.objects.filter(max_holders__isnull=False)
    assert limited.exists()
    for role in limited:
        assert RoleAssignment.objects.open().filter(role=role).count() <= role.max_holders


def test_assignments_follow_the_liaison_rules(db):
    """Own agency's people, by a liaison officer of that agency, in a task force the agency
    accepted (every open assignment), as ``assign_role`` demands."""
    membership = {m.user_id: m for m in Membership.objects.filter(is_active=True)}
    accepted = set(
        Participation.objects.filter(status=Participation.Status.ACCEPTED).values_list(
            "task_force_id", "agency_id"
        )
    )
    for assignment in RoleAssignment.objects.filter(ended_at__isnull=True).select_related("role"):
        assert membership[assignment.person_id].agency_id == assignment.agency_id
        assigner = membership[assignment.assigned_by_id]
        assert assigner.agency_id == assignment.agency_id
        assert assigner.role == Membership.Role.LIAISON
        assert (assignment.role.task_force_id, assignment.agency_id) in accepted
    assert RoleAssignment.objects.filter(ended_at__isnull=False).exists()
    assert RoleAssignment.objects.filter(ends_at__gt=models.F("starts_at")).exists()


def test_markings_are_valid_and_red_is_there(db):
    for model in (Objective, Update, TaskForce):
        markings = set(model.objects.values_list("marking", flat=True))
        assert markings <= set(Marking.values)
        assert Marking.RED in markings or model is TaskForce
    assert SharingAgreement.objects.filter(status=SharingAgreement.Status.ACTIVE).exists()


def test_items_are_visible_to_those_who_made_or_hold_them(db):
    """What the services check when writing: an update's author sees it, a task's assignee
    sees its objective, an acknowledgement comes from someone asked."""
    for update in Update.objects.select_related("author"):
        assert can(update.author, "view", update)
    for task in Task.objects.filter(assignee__isnull=False).select_related("assignee", "objective"):
        assert can(task.assignee, "view", task.objective)
    for ack in Acknowledgement.objects.select_related("person", "update"):
        assert can(ack.person, "acknowledge", ack.update)


# --- the permission core agrees with itself on seeded data -----------------------------------


def sample_people() -> list[User]:
    """The two benchmark people, the liaison officer with the most roles, and someone of
    a partner agency that does not lead every task force it is in."""
    chosen = [person(seed_scale.LIGHT_EMAIL), person(seed_scale.HEAVY_EMAIL)]
    busiest = (
        RoleAssignment.objects.current()
        .values("person_id")
        .annotate(n=models.Count("pk"))
        .order_by("-n", "person_id")
    )
    for row in busiest:
        user = User.objects.get(pk=row["person_id"])
        if user not in chosen:
            chosen.append(user)
        if len(chosen) == 4:
            break
    return chosen


CHECKED: list[tuple[type[models.Model], str]] = [
    (TaskForce, "view"),
    (TaskForce, "assign_roles"),
    (Objective, "view"),
    (Objective, "change"),
    (Task, "view"),
    (Task, "change"),
    (Update, "view"),
    (Update, "acknowledge"),
    (Role, "view"),
    (RoleAssignment, "view"),
    (Participation, "view"),
]


@pytest.mark.parametrize(
    ("model", "action"), CHECKED, ids=[f"{m.__name__}-{a}" for m, a in CHECKED]
)
def test_restrict_agrees_with_explain_for_every_object(db, model, action):
    seen_any = False
    for user in sample_people():
        # one reading of the person's access for all of their answers, as a page that
        # explains many objects has (nothing is written in between)
        with request_memory.request_memory():
            restricted = set(
                model._default_manager.restrict(user, action).values_list("pk", flat=True)  # type: ignore[attr-defined]
            )
            explained = {
                obj.pk for obj in model._default_manager.all() if explain(user, action, obj).allowed
            }
        assert restricted == explained, (user.email, model.__name__, action)
        seen_any = seen_any or bool(restricted)
    assert seen_any, "the sample must see something"


def test_a_suspended_agency_sees_nothing_on_seeded_data(db):
    from agencies import services as agency_services

    hub = Agency.objects.order_by("pk").first()
    light = person(seed_scale.LIGHT_EMAIL)
    assert TaskForce.objects.restrict(light, "view").count() == 3
    admin = person(seed_scale.ADMIN_EMAIL)
    agency_services.suspend_agency(agency=hub, by=admin, reason="Audit")
    assert not TaskForce.objects.restrict(light, "view").exists()
    assert not Objective.objects.restrict(light, "view").exists()


def test_the_services_work_on_seeded_data(db):
    """A liaison officer assigns a person with no role through the service; the holder
    limit counts the seeded holders; access follows at once."""
    hub = Agency.objects.order_by("pk").first()
    tf = (
        TaskForce.objects.filter(
            participations__agency=hub, participations__status=Participation.Status.ACCEPTED
        )
        .exclude(status=TaskForce.Status.CLOSED)
        .exclude(lead_agency=hub)
        .first()
    )
    liaison = (
        RoleAssignment.objects.current()
        .filter(role__task_force=tf, role__template__slug="liaison-officer", agency=hub)
        .get()
        .person
    )
    newcomer = (
        User.objects.filter(memberships__agency=hub, memberships__role=Membership.Role.STAFF)
        .exclude(role_assignments__role__task_force=tf)
        .first()
    )
    assert not TaskForce.objects.restrict(newcomer, "view").filter(pk=tf.pk).exists()
    member = Role.objects.get(task_force=tf, template__slug="member")
    services.assign_role(role=member, person=newcomer, assigned_by=liaison)
    assert TaskForce.objects.restrict(newcomer, "view").filter(pk=tf.pk).exists()
    assert newcomer.groups.filter(pk=member.group_id).exists()
    commander = Role.objects.get(task_force=tf, template__slug="commander")
    with pytest.raises(ValidationError, match="limit"):
        assignments._create_assignment(
            role=commander, person=newcomer, agency=hub, assigned_by=liaison
        )


# --- the command's own rules -----------------------------------------------------------------


@pytest.mark.parametrize("factor", ["0", "-0.1", "1.5", "abc", "nan", ""])
def test_the_factor_must_be_above_zero_and_at_most_one(db, factor):
    with pytest.raises(CommandError, match="factor"):
        call_command("seed_scale", "--factor", factor, "--allow-sqlite", "--no-progress")


def test_the_factor_is_checked_when_given_as_a_keyword(db):
    with pytest.raises(CommandError, match="factor"):
        call_command("seed_scale", factor=0, allow_sqlite=True, no_progress=True)


def test_it_refuses_a_database_that_already_has_scale_data(db):
    with pytest.raises(CommandError, match="already"):
        seed()


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite rule")
def test_sqlite_needs_allow_sqlite_and_a_small_factor(db):
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("seed_scale", "--factor", FACTOR, "--no-progress")
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("seed_scale", "--factor", "0.1", "--allow-sqlite", "--no-progress")
