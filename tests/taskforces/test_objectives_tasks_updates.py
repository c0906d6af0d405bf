"""Shared objectives, their tasks and progress, and updates with acknowledgements.

Objectives and tasks are managed by holders of the managing capabilities; a task's
assignee (or a holder of its role) may move its status and nothing else; an update asks
named roles or agencies (or everyone who sees it) to acknowledge it, once each.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from agencies.models import Membership
from coordination.models import AuditEvent
from coordination.permissions import PermissionDenied, can
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Acknowledgement, Objective, Task, Update
from taskforces.selectors import with_progress
from taskforces.services import objectives as objective_services
from taskforces.services import updates as update_services

from ..conftest import role_named
from ..factories import person

GREEN, AMBER, AMBER_STRICT, RED = (
    Marking.GREEN,
    Marking.AMBER,
    Marking.AMBER_STRICT,
    Marking.RED,
)
NON_MANAGERS = ["lead_staff", "partner_staff", "partner_liaison", "lead_admin", "outsider"]


# Build the world once for this module (see conftest.module_world).
pytestmark = pytest.mark.usefixtures("module_world")


@pytest.fixture
def operations_lead(world):
    """The partner's staff member as Operations section lead: a manager from an agency
    whose agreement with the lead covers only up to TLP:AMBER."""
    services.assign_role(
        role=role_named(world.tf, "operations-lead"),
        person=world.partner_staff,
        assigned_by=world.partner_liaison,
    )
    return world.partner_staff


def state() -> tuple[int, ...]:
    return (
        Objective.objects.count(),
        Task.objects.count(),
        Update.objects.count(),
        Acknowledgement.objects.count(),
        AuditEvent.objects.count(),
    )


# --- objectives -----------------------------------------------------------------------------


def test_the_commander_creates_an_objective(world):
    objective = services.create_objective(
        task_force=world.tf,
        title="  Evacuate the low town ",
        owner_agency=world.lead,
        contributing_agencies=[world.partner],
        by=world.lead_liaison,
    )
    assert objective.title == "Evacuate the low town"
    assert objective.marking == world.tf.marking
    assert list(objective.contributing_agencies.all()) == [world.partner]
    event = AuditEvent.objects.get(action="objective.created", object_id=str(objective.pk))
    assert event.actor == world.lead_liaison
    assert event.after["owner_agency"] == world.lead.pk


def test_an_operations_lead_from_a_partner_agency_manages_objectives(world, operations_lead):
    objective = services.create_objective(
        task_force=world.tf,
        title="Open a field hospital",
        owner_agency=world.partner,
        marking=AMBER,
        by=operations_lead,
    )
    services.update_objective(objective=objective, status="on_track", by=operations_lead)
    objective.refresh_from_db()
    assert objective.status == "on_track"


@pytest.mark.parametrize("actor", NON_MANAGERS)
def test_members_may_not_create_or_edit_objectives(world, actor):
    by = getattr(world, actor)
    objective = world.objectives[GREEN]
    before = state()
    with pytest.raises(PermissionDenied):
        services.create_objective(
            task_force=world.tf, title="Mine now", owner_agency=world.lead, by=by
        )
    with pytest.raises(PermissionDenied):
        services.update_objective(objective=objective, title="Renamed", by=by)
    assert state() == before
    objective.refresh_from_db()
    assert objective.title == "Objective TLP:GREEN"


def test_the_commander_edits_an_objective_and_it_is_audited(world):
    objective = world.objectives[AMBER]
    services.update_objective(
        objective=objective,
        title=" Hold the levee ",
        priority=Objective.Priority.CRITICAL,
        contributing_agencies=[],
        by=world.lead_liaison,
    )
    objective.refresh_from_db()
    assert objective.title == "Hold the levee"
    assert objective.priority == Objective.Priority.CRITICAL
    assert not objective.contributing_agencies.exists()
    event = AuditEvent.objects.get(action="objective.updated", object_id=str(objective.pk))
    assert event.before["title"] == "Objective TLP:AMBER"
    assert event.after["title"] == "Hold the levee"


@pytest.fixture(params=["never-invited", "invited", "declined", "withdrawn"])
def non_participant(request, world):
    """An agency that has not (or no longer) accepted a part in the task force."""
    if request.param == "withdrawn":
        services.withdraw_agency(
            participation=world.participation, by=world.lead_liaison, reason="Stood down."
        )
        return world.partner
    agency = world.outsider_agency
    if request.param != "never-invited":
        invitation = services.invite_agency(
            task_force=world.tf, agency=agency, by=world.lead_liaison
        )
        if request.param == "declined":
            liaison = person(agency, Membership.Role.LIAISON, email="liaison@cta.example.gov")
            services.respond_to_invitation(participation=invitation, accept=False, by=liaison)
    return agency


def test_an_objectives_owner_must_take_part(world, non_participant):
    before = state()
    with pytest.raises(ValidationError) as error:
        services.create_objective(
            task_force=world.tf, title="Theirs", owner_agency=non_participant, by=world.lead_liaison
        )
    assert "owner_agency" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.update_objective(
            objective=world.objectives[GREEN], owner_agency=non_participant, by=world.lead_liaison
        )
    assert "owner_agency" in error.value.message_dict
    assert state() == before
    assert world.objectives[GREEN].owner_agency_id == world.lead.pk


def test_an_objectives_contributors_must_take_part(world, non_participant):
    before = state()
    with pytest.raises(ValidationError) as error:
        services.create_objective(
            task_force=world.tf,
            title="Shared",
            owner_agency=world.lead,
            contributing_agencies=[non_participant],
            by=world.lead_liaison,
        )
    assert "contributing_agencies" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.update_objective(
            objective=world.objectives[GREEN],
            contributing_agencies=[non_participant],
            by=world.lead_liaison,
        )
    assert "contributing_agencies" in error.value.message_dict
    assert state() == before


# --- progress -------------------------------------------------------------------------------


def progress_of(objective: Objective) -> Objective:
    return with_progress(Objective.objects.filter(pk=objective.pk)).get()


def test_progress_is_done_over_non_cancelled_tasks(world):
    objective = world.objectives[GREEN]  # it has one task, to do
    by = world.lead_liaison
    for title, status in [
        ("Fill sandbags", "done"),
        ("Close the road", "done"),
        ("Warn residents", "in_progress"),
        ("Call the army", "cancelled"),
    ]:
        task = services.create_task(objective=objective, title=title, by=by)
        services.update_task(task=task, status=status, by=by)

    annotated = progress_of(objective)

    assert (annotated.task_total, annotated.task_done) == (4, 2)
    assert annotated.progress == 50


def test_progress_of_an_objective_without_live_tasks_is_zero(world):
    empty = services.create_objective(
        task_force=world.tf, title="Nothing yet", owner_agency=world.lead, by=world.lead_liaison
    )
    assert progress_of(empty).progress == 0
    task = services.create_task(objective=empty, title="Dropped", by=world.lead_liaison)
    services.update_task(task=task, status="cancelled", by=world.lead_liaison)
    assert progress_of(empty).progress == 0
    services.update_task(task=task, status="done", by=world.lead_liaison)
    assert progress_of(empty).progress == 100


def test_progress_is_annotated_for_a_list_in_one_query(world, django_assert_num_queries):
    objectives = Objective.objects.filter(task_force=world.tf)
    with django_assert_num_queries(1):
        rows = list(with_progress(objectives))
    assert {o.progress for o in rows} == {0}
    assert len(rows) == 4


# --- tasks ----------------------------------------------------------------------------------


def test_a_tasks_assignee_changes_its_status_but_not_its_title(world):
    task = services.update_task(
        task=world.tasks[GREEN], assignee=world.partner_staff, by=world.lead_liaison
    )

    services.update_task(task=task, status="in_progress", by=world.partner_staff)

    task.refresh_from_db()
    assert task.status == "in_progress"
    event = AuditEvent.objects.filter(action="task.updated", object_id=str(task.pk)).first()
    assert event.actor == world.partner_staff
    before = state()
    for changes in ({"title": "Mine"}, {"status": "done", "title": "Mine"}, {"assignee": None}):
        with pytest.raises(PermissionDenied):
            services.update_task(task=task, by=world.partner_staff, **changes)
    assert state() == before
    task.refresh_from_db()
    assert (task.title, task.status, task.assignee) == (
        "Task TLP:GREEN",
        "in_progress",
        world.partner_staff,
    )


def test_someone_else_who_sees_the_task_may_not_change_it(world):
    task = services.update_task(
        task=world.tasks[GREEN], assignee=world.partner_staff, by=world.lead_liaison
    )
    assert can(world.lead_staff, "view", task)
    with pytest.raises(PermissionDenied):
        services.update_task(task=task, status="done", by=world.lead_staff)
    task.refresh_from_db()
    assert task.status == "todo"


def test_a_holder_of_the_tasks_role_changes_its_status(world):
    observer = role_named(world.tf, "observer")
    task = services.create_task(
        objective=world.objectives[GREEN],
        title="Watch the gauge",
        assigned_role=observer,
        by=world.lead_liaison,
    )
    holding = services.assign_role(
        role=observer, person=world.partner_staff, assigned_by=world.partner_liaison
    )

    services.update_task(task=task, status="done", by=world.partner_staff)
    task.refresh_from_db()
    assert task.status == "done"
    with pytest.raises(PermissionDenied):
        services.update_task(task=task, title="Renamed", by=world.partner_staff)
    # Not a holder of the role:
    with pytest.raises(PermissionDenied):
        services.update_task(task=task, status="todo", by=world.lead_staff)
    # A holder no longer, once the assignment ends:
    services.end_assignment(assignment=holding, by=world.partner_liaison, reason="Rotated.")
    with pytest.raises(PermissionDenied):
        services.update_task(task=task, status="todo", by=world.partner_staff)
    task.refresh_from_db()
    assert task.status == "done"


@pytest.mark.parametrize(
    ("marking", "assignee"),
    [
        (RED, "partner_staff"),  # TLP:RED needs view_restricted
        (AMBER_STRICT, "partner_staff"),  # above what the agreement covers
        (GREEN, "outsider"),  # no role in the task force
        (GREEN, "lead_admin"),  # in the lead agency, but no role
    ],
    ids=lambda value: value.label if isinstance(value, Marking) else value,
)
def test_a_person_who_cannot_see_the_objective_cannot_be_given_its_task(world, marking, assignee):
    person = getattr(world, assignee)
    objective = world.objectives[marking]
    assert not can(person, "view", objective)
    before = state()
    with pytest.raises(ValidationError) as error:
        services.create_task(
            objective=objective, title="Secret work", assignee=person, by=world.lead_liaison
        )
    assert "assignee" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.update_task(task=world.tasks[marking], assignee=person, by=world.lead_liaison)
    assert "assignee" in error.value.message_dict
    assert state() == before


def test_a_person_who_sees_the_objective_can_be_given_its_task(world):
    task = services.create_task(
        objective=world.objectives[AMBER],
        title="Sample the water",
        assignee=world.partner_staff,
        by=world.lead_liaison,
    )
    assert task.assignee == world.partner_staff
    assert can(world.partner_staff, "change", task)


@pytest.mark.parametrize("actor", NON_MANAGERS)
def test_only_task_managers_create_tasks(world, actor):
    before = state()
    with pytest.raises(PermissionDenied):
        services.create_task(
            objective=world.objectives[GREEN], title="Self-service", by=getattr(world, actor)
        )
    assert state() == before


# --- updates and acknowledgements -----------------------------------------------------------


def test_a_member_posts_an_update(world):
    update = services.post_update(
        task_force=world.tf, title=" Gauge at 4 m ", body="Rising.", by=world.partner_staff
    )
    assert update.title == "Gauge at 4 m"
    assert update.author_agency == world.partner
    assert update.marking == world.tf.marking
    event = AuditEvent.objects.get(action="update.posted", object_id=str(update.pk))
    assert event.actor == world.partner_staff


@pytest.mark.parametrize("actor", ["lead_admin", "outsider", "portal_admin", "observer"])
def test_people_without_post_updates_cannot_post(world, actor):
    if actor == "observer":
        by = person(world.lead, email="observer@nfa.example.gov")
        services.assign_role(
            role=role_named(world.tf, "observer"), person=by, assigned_by=world.lead_liaison
        )
        assert can(by, "view", world.tf)
    else:
        by = getattr(world, actor)
    before = state()
    with pytest.raises(PermissionDenied):
        services.post_update(task_force=world.tf, title="Hi", body="Hello.", by=by)
    assert state() == before


@pytest.fixture
def ask_partner(world) -> Update:
    return services.post_update(
        task_force=world.tf,
        title="Confirm bed capacity",
        body="Reply by 18:00.",
        marking=GREEN,
        requires_acknowledgement=True,
        ack_agencies=[world.partner],
        by=world.lead_liaison,
    )


def test_a_targeted_person_acknowledges_once(world, ask_partner):
    first = services.acknowledge_update(update=ask_partner, by=world.partner_staff)
    second = services.acknowledge_update(update=ask_partner, by=world.partner_staff)

    assert first.pk == second.pk
    assert Acknowledgement.objects.filter(update=ask_partner).count() == 1
    events = AuditEvent.objects.filter(action="update.acknowledged", object_id=str(ask_partner.pk))
    assert events.count() == 1
    assert events.get().actor == world.partner_staff
    # Another targeted person has their own acknowledgement.
    services.acknowledge_update(update=ask_partner, by=world.partner_liaison)
    assert Acknowledgement.objects.filter(update=ask_partner).count() == 2


@pytest.mark.parametrize("actor", ["lead_staff", "lead_liaison", "outsider", "lead_admin"])
def test_a_person_not_targeted_cannot_acknowledge(world, ask_partner, actor):
    before = state()
    with pytest.raises(PermissionDenied):
        services.acknowledge_update(update=ask_partner, by=getattr(world, actor))
    assert state() == before


def test_an_update_asking_a_role_is_acknowledged_by_its_holders_only(world):
    update = services.post_update(
        task_force=world.tf,
        title="Members: muster at 06:00",
        body="Bring boots.",
        requires_acknowledgement=True,
        ack_roles=[world.member_role],
        by=world.lead_liaison,
    )
    services.acknowledge_update(update=update, by=world.lead_staff)
    services.acknowledge_update(update=update, by=world.partner_staff)
    with pytest.raises(PermissionDenied):
        services.acknowledge_update(update=update, by=world.partner_liaison)
    assert Acknowledgement.objects.filter(update=update).count() == 2


def test_an_update_asking_everyone_is_acknowledged_by_those_who_see_it(world):
    update = services.post_update(
        task_force=world.tf,
        title="All hands",
        body="Shift change.",
        marking=AMBER,
        requires_acknowledgement=True,
        by=world.lead_liaison,
    )
    services.acknowledge_update(update=update, by=world.partner_liaison)
    with pytest.raises(PermissionDenied):
        services.acknowledge_update(update=update, by=world.outsider)
    red = services.post_update(
        task_force=world.tf,
        title="All hands, restricted",
        body="Source details.",
        marking=RED,
        requires_acknowledgement=True,
        by=world.lead_liaison,
    )
    with pytest.raises(PermissionDenied):
        services.acknowledge_update(update=red, by=world.partner_staff)


def test_an_update_that_asks_nothing_cannot_be_acknowledged(world):
    with pytest.raises(PermissionDenied):
        services.acknowledge_update(update=world.updates[AMBER], by=world.partner_staff)
    assert not Acknowledgement.objects.exists()


# --- a write the writer could not see is rolled back ----------------------------------------


def test_marking_above_what_the_writer_may_see_is_refused(world, operations_lead):
    before = state()
    with pytest.raises(ValidationError) as error:
        services.create_objective(
            task_force=world.tf,
            title="Too secret for us",
            owner_agency=world.partner,
            marking=AMBER_STRICT,
            by=operations_lead,
        )
    assert "marking" in error.value.message_dict
    assert state() == before


@pytest.fixture
def marking_check_bypassed(monkeypatch):
    """The marking check normally refuses such writes before anything is saved; with it
    bypassed, the re-read after the write is the last guard, and it must undo everything."""
    for module in (objective_services, update_services):
        monkeypatch.setattr(module, "_check_marking", lambda *args, **kwargs: None)


def test_an_objective_the_writer_could_not_see_is_rolled_back(
    world, operations_lead, marking_check_bypassed
):
    before = state()
    with pytest.raises(PermissionDenied):
        services.create_objective(
            task_force=world.tf,
            title="Too secret for us",
            owner_agency=world.partner,
            contributing_agencies=[world.lead],
            marking=AMBER_STRICT,
            by=operations_lead,
        )
    assert state() == before
    assert not Objective.objects.filter(title="Too secret for us").exists()
    assert not Objective.contributing_agencies.through.objects.filter(
        objective__title="Too secret for us"
    ).exists()


def test_an_update_the_writer_could_not_see_is_rolled_back(world, marking_check_bypassed):
    before = state()
    with pytest.raises(PermissionDenied):
        services.post_update(
            task_force=world.tf,
            title="Restricted",
            body="Source names.",
            marking=RED,
            requires_acknowledgement=True,
            ack_roles=[world.member_role],
            by=world.partner_liaison,
        )
    assert state() == before
    assert not Update.ack_roles.through.objects.filter(update__title="Restricted").exists()


def test_an_objective_edit_the_writer_could_not_see_is_rolled_back(
    world, operations_lead, marking_check_bypassed
):
    objective = services.create_objective(
        task_force=world.tf,
        title="Ours",
        owner_agency=world.partner,
        marking=GREEN,
        by=operations_lead,
    )
    before = state()
    with pytest.raises(PermissionDenied):
        services.update_objective(
            objective=objective, title="Now secret", marking=RED, by=operations_lead
        )
    assert state() == before
    objective.refresh_from_db()
    assert (objective.title, objective.marking) == ("Ours", GREEN)
