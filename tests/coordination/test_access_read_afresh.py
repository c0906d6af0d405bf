"""Access inside task forces is read from the database on every request: nothing is kept
between requests, in any process, so a change shows from the very next check, whoever
made it.

Most changes below are made *around* the services — a bare ``update()``, ``delete()`` or
``create()``, as a data fix in a shell or another program writing to the database would.
Agreements reach access through their coverage rows (``agencies.AgreementCoverage``),
which the database's own triggers keep: those changes show at once too."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from agencies.models import Agency, AgreementCoverage, Membership, SharingAgreement
from coordination.models import Notification, User
from coordination.permissions import can, request_memory
from coordination.permissions.markings import Marking
from taskforces import access, services
from taskforces.models import (
    Objective,
    Participation,
    Role,
    RoleAssignment,
    TaskForce,
    TaskForceGroupObjectPermission,
)

from ..conftest import ACCESS_QUERIES
from ..factories import AgencyFactory, person

pytestmark = pytest.mark.django_db


def sees(user: Any, w: SimpleNamespace) -> set[str]:
    """The markings of the world's objectives the person sees."""
    return {
        Marking(o.marking).name
        for o in Objective.objects.restrict(user, "view").filter(task_force=w.tf)
    }


TAKEN_AWAY: dict[str, Callable[[SimpleNamespace], None]] = {
    "assignment ended": lambda w: RoleAssignment.objects.filter(
        pk=w.partner_staff_assignment.pk
    ).update(ended_at=timezone.now()),
    "assignment expired early": lambda w: RoleAssignment.objects.filter(
        pk=w.partner_staff_assignment.pk
    ).update(ends_at=timezone.now()),
    "assignment deleted": lambda w: RoleAssignment.objects.filter(
        pk=w.partner_staff_assignment.pk
    ).delete(),
    "assignment moved to another person": lambda w: RoleAssignment.objects.filter(
        pk=w.partner_staff_assignment.pk
    ).update(person=w.partner_liaison),
    "membership ended": lambda w: Membership.objects.filter(user=w.partner_staff).update(
        is_active=False
    ),
    "account deactivated": lambda w: User.objects.filter(pk=w.partner_staff.pk).update(
        is_active=False
    ),
    "agency suspended": lambda w: Agency.objects.filter(pk=w.partner.pk).update(
        status=Agency.Status.SUSPENDED
    ),
    "participation withdrawn": lambda w: Participation.objects.filter(pk=w.participation.pk).update(
        status=Participation.Status.WITHDRAWN
    ),
    "view capability revoked": lambda w: TaskForceGroupObjectPermission.objects.filter(
        group=w.member_role.group, permission__codename="view_taskforce"
    ).delete(),
    "role given a group without capabilities": lambda w: Role.objects.filter(
        pk=w.member_role.pk
    ).update(group=Group.objects.create(name="No capabilities")),
}


@pytest.mark.parametrize("change", TAKEN_AWAY, ids=list(TAKEN_AWAY))
def test_access_taken_away_outside_the_services_is_gone_at_once(world, change):
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    TAKEN_AWAY[change](world)
    assert sees(world.partner_staff, world) == set()
    assert not can(world.partner_staff, "view", world.tf)


def test_a_narrower_agreement_lowers_the_ceiling_at_once(world):
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    SharingAgreement.objects.filter(pk=world.agreement.pk).update(max_marking=Marking.GREEN)
    assert sees(world.partner_staff, world) == {"GREEN"}


def test_a_terminated_agreement_lowers_the_ceiling_at_once(world):
    SharingAgreement.objects.filter(pk=world.agreement.pk).update(
        status=SharingAgreement.Status.TERMINATED
    )
    assert sees(world.partner_staff, world) == set()  # without an agreement: TLP:CLEAR only
    assert not AgreementCoverage.objects.filter(agreement=world.agreement).exists()


def test_an_agreement_losing_a_party_lowers_the_ceiling_at_once(world):
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    world.agreement.parties.remove(world.partner)
    assert sees(world.partner_staff, world) == set()


def test_a_deleted_agreement_takes_its_coverage_with_it(world):
    SharingAgreement.objects.filter(pk=world.agreement.pk).delete()
    assert not AgreementCoverage.objects.exists()
    assert sees(world.partner_staff, world) == set()


def test_a_new_agreement_raises_the_ceiling_at_once(world):
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    wider = SharingAgreement.objects.create(
        title="Wider",
        max_marking=Marking.AMBER_STRICT,
        valid_from=timezone.localdate(),
        status=SharingAgreement.Status.ACTIVE,
        created_by=world.lead_admin,
    )
    wider.parties.add(world.lead, world.partner)
    assert set(
        AgreementCoverage.objects.filter(agreement=wider).values_list("agency", "partner")
    ) == {(world.lead.pk, world.partner.pk), (world.partner.pk, world.lead.pk)}
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER", "AMBER_STRICT"}


def test_a_draft_agreement_covers_nothing_until_it_is_in_force(world):
    draft = SharingAgreement.objects.create(
        title="Draft",
        max_marking=Marking.RED,
        valid_from=timezone.localdate(),
        created_by=world.lead_admin,
    )
    draft.parties.add(world.lead, world.partner)
    assert not AgreementCoverage.objects.filter(agreement=draft).exists()
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}


def test_a_new_lead_agency_changes_the_ceiling_at_once(world):
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    TaskForce.objects.filter(pk=world.tf.pk).update(lead_agency=world.partner)
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER", "AMBER_STRICT"}


def test_closing_the_task_force_stops_changes_at_once(world):
    objective = world.objectives[Marking.GREEN]
    assert can(world.lead_liaison, "change", objective)
    TaskForce.objects.filter(pk=world.tf.pk).update(status=TaskForce.Status.CLOSED)
    assert not can(world.lead_liaison, "change", objective)
    assert can(world.lead_liaison, "view", objective)


def test_a_new_assignment_gives_access_at_once(world):
    newcomer = person(world.partner)
    assert sees(newcomer, world) == set()
    RoleAssignment.objects.create(
        role=world.member_role,
        person=newcomer,
        agency=world.partner,
        assigned_by=world.partner_liaison,
        starts_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    assert sees(newcomer, world) == {"GREEN", "AMBER"}


# --- time alone ----------------------------------------------------------------------------


def test_an_assignment_expiring_is_not_seen_after_its_end(world, time_machine):
    now = timezone.now()
    time_machine.move_to(now, tick=False)
    services.set_assignment_end(
        assignment=world.partner_staff_assignment,
        until=now + datetime.timedelta(hours=1),
        by=world.partner_liaison,
    )
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    time_machine.move_to(now + datetime.timedelta(hours=1), tick=False)
    assert sees(world.partner_staff, world) == set()


def test_an_assignment_starting_later_is_seen_from_its_start(world, time_machine):
    now = timezone.now()
    time_machine.move_to(now, tick=False)
    newcomer = person(world.partner)
    services.assign_role(
        role=world.member_role,
        person=newcomer,
        assigned_by=world.partner_liaison,
        starts_at=now + datetime.timedelta(hours=2),
    )
    assert sees(newcomer, world) == set()
    time_machine.move_to(now + datetime.timedelta(hours=2), tick=False)
    assert sees(newcomer, world) == {"GREEN", "AMBER"}


def test_an_agreement_ending_today_is_not_used_tomorrow(world, time_machine):
    # the last minute of the day, after the world's assignments started (travelling to a
    # fixed hour would go back before them when the test runs later in the day than it)
    now = timezone.localtime()
    late = now.replace(hour=23, minute=59, second=0, microsecond=0)
    if late <= now:
        late += datetime.timedelta(days=1)
    today = late.date()
    time_machine.move_to(late, tick=False)
    SharingAgreement.objects.filter(pk=world.agreement.pk).update(valid_until=today)
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    time_machine.move_to(
        timezone.make_aware(
            datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time(0, 0))
        ),
        tick=False,
    )
    assert sees(world.partner_staff, world) == set()  # without an agreement: TLP:CLEAR only


# --- rolled back, other connections, requests ---------------------------------------------


def test_a_rolled_back_change_leaves_access_as_it_was(world):
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    with pytest.raises(RuntimeError), transaction.atomic():
        RoleAssignment.objects.filter(pk=world.partner_staff_assignment.pk).update(
            ended_at=timezone.now()
        )
        assert sees(world.partner_staff, world) == set()
        raise RuntimeError("roll back")
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_by_another_connection_is_seen_at_once():
    """Another process (here: another thread, with its own database connection) ends the
    assignment; this one sees the access gone at its next check."""
    if connection.vendor == "sqlite":
        pytest.skip("an in-memory SQLite database is not shared between connections")
    from ..conftest import build_world

    world = build_world()
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}

    def elsewhere() -> None:
        try:
            services.end_assignment(
                assignment=RoleAssignment.objects.get(pk=world.partner_staff_assignment.pk),
                by=world.partner_liaison,
                reason="Reassigned.",
            )
        finally:
            connection.close()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert sees(world.partner_staff, world) == set()


def test_a_request_remembers_access_until_it_writes_what_access_is_read_from(
    world, django_assert_num_queries
):
    user = world.partner_staff
    with request_memory.request_memory():
        access.access_for(user)
        with django_assert_num_queries(0):
            access.access_for(user)
        # a write elsewhere (a notification, an audit event, an update) changes no access
        Notification.objects.create(recipient=user, kind="x", title="Hello")
        with django_assert_num_queries(0):
            access.access_for(user)
        RoleAssignment.objects.filter(pk=world.lead_staff_assignment.pk).update(
            ends_at=world.lead_staff_assignment.ends_at
        )  # a write to a table access is read from
        with django_assert_num_queries(ACCESS_QUERIES):  # read afresh
            access.access_for(user)
    with django_assert_num_queries(ACCESS_QUERIES):  # outside a request: read every time
        access.access_for(user)


@pytest.mark.parametrize("table", sorted(access.ACCESS_TABLES))
def test_a_write_to_any_table_of_the_access_rule_forgets_the_access(
    world, table, django_assert_num_queries
):
    user = world.partner_staff
    with request_memory.request_memory():
        access.access_for(user)
        with connection.cursor() as cursor:
            cursor.execute(f'UPDATE "{table}" SET id = id WHERE id = -1')  # noqa: S608 - our names
        with django_assert_num_queries(ACCESS_QUERIES):
            access.access_for(user)


def test_the_access_tables_are_those_the_rule_reads():
    """Derived from the rule's SQL (and the agreements its coverage rows come from)."""
    assert {
        "agencies_membership",
        "agencies_agency",
        "coordination_user",
        "taskforces_roleassignment",
        "taskforces_role",
        "taskforces_taskforce",
        "taskforces_participation",
        "taskforces_taskforcegroupobjectpermission",
        "auth_permission",
        "agencies_agreementcoverage",
        "agencies_sharingagreement",
        "agencies_sharingagreement_parties",
    } == access.ACCESS_TABLES


def test_a_page_reads_access_once(client, world):
    """The task force page filters many lists; the person's access is read once for all
    of them (their assignments: one query)."""
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    client.force_login(world.lead_liaison)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("taskforces:detail", args=[world.tf.pk])).status_code == 200
    reads = [q for q in queries.captured_queries if "tf.content_version" in q["sql"]]
    assert len(reads) == 1


def test_an_agency_without_an_agreement_sees_clear_only(world):
    other = AgencyFactory(name="Coastal Transport Authority", acronym="CoTA")
    liaison = person(other, Membership.Role.LIAISON)
    participation = services.invite_agency(task_force=world.tf, agency=other, by=world.lead_liaison)
    services.respond_to_invitation(participation=participation, accept=True, by=liaison)
    staff = person(other)
    services.assign_role(role=world.member_role, person=staff, assigned_by=liaison)
    held = access.access_for(staff)
    assert held.ceilings == {world.tf.pk: Marking.CLEAR}
    assert sees(staff, world) == set()  # the world has no TLP:CLEAR objective
    assert can(staff, "view", world.tf)


def test_a_truncated_agreement_table_takes_the_coverage_with_it(world):
    """PostgreSQL fires no row trigger on TRUNCATE; a statement trigger rebuilds the
    coverage from what is left."""
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    assert sees(world.partner_staff, world) == {"GREEN", "AMBER"}
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's pending key checks
        cursor.execute("TRUNCATE agencies_sharingagreement_parties")
    assert sees(world.partner_staff, world) == set()
