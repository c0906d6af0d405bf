"""One access rule (``taskforces.access``): a person's access, an item's audience (who is
notified about it) and the explanation of "why can I see this?" are derived from the same
definition, and agree for every persona and every kind of object.

The world here is wider than the usual one, so that every condition of the rule decides
someone's answer: a partner without an agreement, an agreement for one task force only,
TLP:RED with and without the view-restricted capability, an expired, an ended and a
scheduled assignment, a suspended agency, a withdrawn participation, an ended membership
and a deactivated account."""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Membership
from coordination import db
from coordination.models import User
from coordination.permissions import can, explain
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import (
    HandoverBrief,
    Objective,
    OperationalPeriod,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    TimelineEntry,
    Update,
)
from taskforces.permissions import audience

from ..conftest import build_world, role_named
from ..factories import AgencyFactory, agreement_in_force, person

pytestmark = pytest.mark.django_db


def wide_world() -> SimpleNamespace:
    w = build_world()
    now = timezone.now()
    # a third agency, taking part with no agreement with the lead (TLP:CLEAR only)
    w.third = AgencyFactory(name="Coastal Transport Authority", acronym="CoTA")
    w.third_liaison = person(w.third, Membership.Role.LIAISON)
    invitation = services.invite_agency(task_force=w.tf, agency=w.third, by=w.lead_liaison)
    services.respond_to_invitation(participation=invitation, accept=True, by=w.third_liaison)
    w.third_staff = person(w.third)
    services.assign_role(role=w.member_role, person=w.third_staff, assigned_by=w.third_liaison)
    # an agreement for this task force only, raising the partner to AMBER+STRICT here
    agreement_in_force(
        title="Severn only",
        parties=[w.lead, w.partner],
        max_marking=Marking.AMBER_STRICT,
        task_force=w.tf,
    )
    # TLP:RED: the analyst role has view_restricted; a partner analyst still lacks the ceiling
    analyst = role_named(w.tf, "intelligence-analyst")
    w.lead_analyst = person(w.lead)
    services.assign_role(role=analyst, person=w.lead_analyst, assigned_by=w.lead_liaison)
    w.partner_analyst = person(w.partner)
    services.assign_role(role=analyst, person=w.partner_analyst, assigned_by=w.partner_liaison)
    # assignments that confer nothing (now)
    w.expired = person(w.lead)
    done = services.assign_role(role=w.member_role, person=w.expired, assigned_by=w.lead_liaison)
    RoleAssignment.objects.filter(pk=done.pk).update(  # as time passing would
        starts_at=now - datetime.timedelta(days=3), ends_at=now - datetime.timedelta(days=1)
    )
    w.ended = person(w.lead)
    ended = services.assign_role(role=w.member_role, person=w.ended, assigned_by=w.lead_liaison)
    services.end_assignment(assignment=ended, by=w.lead_liaison, reason="Rotated out.")
    w.scheduled = person(w.partner)
    services.assign_role(
        role=w.member_role,
        person=w.scheduled,
        assigned_by=w.partner_liaison,
        starts_at=now + datetime.timedelta(days=1),
    )
    # a member whose membership ended, and a deactivated account, both still assigned
    w.left = person(w.lead)
    services.assign_role(role=w.member_role, person=w.left, assigned_by=w.lead_liaison)
    Membership.objects.filter(user=w.left).update(is_active=False)
    w.deactivated = person(w.lead)
    services.assign_role(role=w.member_role, person=w.deactivated, assigned_by=w.lead_liaison)
    User.objects.filter(pk=w.deactivated.pk).update(is_active=False)
    # a second task force: the partner takes part, then withdraws; a suspended agency
    w.other = services.form_task_force(
        name="Coastal surge", mandate="Prepare the coast.", by=w.lead_liaison
    )
    w.other_participation = services.invite_agency(
        task_force=w.other, agency=w.partner, by=w.lead_liaison
    )
    services.respond_to_invitation(
        participation=w.other_participation, accept=True, by=w.partner_liaison
    )
    services.assign_role(
        role=role_named(w.other, "member"), person=w.partner_staff, assigned_by=w.partner_liaison
    )
    services.withdraw_agency(
        participation=w.other_participation, by=w.partner_liaison, reason="Stood down."
    )
    w.suspended_agency = AgencyFactory(name="Mountain Rescue", acronym="MR")
    w.suspended_liaison = person(w.suspended_agency, Membership.Role.LIAISON)
    invitation = services.invite_agency(
        task_force=w.other, agency=w.suspended_agency, by=w.lead_liaison
    )
    services.respond_to_invitation(participation=invitation, accept=True, by=w.suspended_liaison)
    agency_services.suspend_agency(agency=w.suspended_agency, by=w.portal_admin, reason="Audit.")
    for marking in (Marking.CLEAR, Marking.GREEN, Marking.RED):
        objective = services.create_objective(
            task_force=w.other,
            title=f"Coast {marking.label}",
            owner_agency=w.lead,
            marking=marking,
            by=w.lead_liaison,
        )
        services.create_task(
            objective=objective, title=f"Coast task {marking.label}", by=w.lead_liaison
        )
    services.create_objective(
        task_force=w.tf,
        title="Public",
        owner_agency=w.lead,
        marking=Marking.CLEAR,
        by=w.lead_liaison,
    )
    for marking in (Marking.CLEAR, Marking.GREEN, Marking.AMBER_STRICT):
        services.post_update(
            task_force=w.tf,
            title=f"Update {marking.label}",
            body="…",
            marking=marking,
            by=w.lead_liaison,
        )
    period = services.create_period(
        task_force=w.tf,
        starts_at=now,
        ends_at=now + datetime.timedelta(hours=12),
        by=w.lead_liaison,
    )
    # the timeline (every change above wrote its entries) with log entries of their own
    # markings, and handover briefs at the end of the period
    services.create_period(
        task_force=w.tf,
        starts_at=now + datetime.timedelta(hours=12),
        ends_at=now + datetime.timedelta(hours=24),
        by=w.lead_liaison,
    )
    for marking in (Marking.CLEAR, Marking.AMBER_STRICT, Marking.RED):
        services.write_log_entry(
            task_force=w.tf, text=f"Log {marking.label}", marking=marking, by=w.lead_analyst
        )
    for analyst, marking in ((w.lead_analyst, Marking.RED), (w.partner_analyst, Marking.GREEN)):
        services.write_handover_brief(
            assignment=RoleAssignment.objects.get(role=analyst_role(w), person=analyst),
            period=period,
            marking=marking,
            by=analyst,
        )
    return w


def analyst_role(w: SimpleNamespace) -> Role:
    return role_named(w.tf, "intelligence-analyst")


def every_object() -> list[Any]:
    objects: list[Any] = []
    for model in (
        TaskForce,
        Objective,
        Task,
        Update,
        Role,
        OperationalPeriod,
        TimelineEntry,
        HandoverBrief,
    ):
        objects += list(model.objects.all())
    return objects


def test_an_items_audience_is_everyone_who_may_see_it() -> None:
    wide_world()
    people = list(User.objects.all())
    objects = every_object()
    checked = 0
    for obj in objects:
        told = set(audience(obj).values_list("pk", flat=True))
        may = {p.pk for p in people if can(p, "view", obj)}
        assert told == may, (type(obj).__name__, obj.pk, str(obj), told ^ may)
        checked += 1
    assert checked == len(objects) > 30
    # the world decides answers both ways
    assert any(audience(o).exists() for o in objects)
    assert any(len(set(audience(o).values_list("pk", flat=True))) < len(people) for o in objects)


def test_the_explanation_gives_the_same_answer_as_the_rule() -> None:
    wide_world()
    people = list(User.objects.all())
    for obj in every_object():
        for someone in people:
            allowed = can(someone, "view", obj)
            explanation = explain(someone, "view", obj)
            assert explanation.allowed == allowed, (someone.email, type(obj).__name__, obj.pk)
            assert explanation.steps, "an explanation always says why"


def test_the_explanation_tells_each_persons_story() -> None:
    """The explanation names what decided: the roles held and who assigned them, or the
    role that ended (with its reason), expired or has yet to start, or the agency that
    does not take part (withdrew, or was never invited)."""
    w = wide_world()

    def told(someone: Any, task_force: Any, action: str = "view") -> str:
        return " ".join(step.text for step in explain(someone, action, task_force).steps)

    assert f"You hold the role Member, assigned by {w.lead_liaison}." in told(w.lead_staff, w.tf)
    assert "until" not in told(w.lead_staff, w.tf)
    analyst = told(w.lead_analyst, w.tf, "view_restricted")
    assert "You hold the role Intelligence analyst" in analyst
    assert "includes the capability" in analyst and "You hold the role Member" not in analyst
    assert "None of your roles" in told(w.lead_staff, w.tf, "view_restricted")
    assert "Your role Member ended on" in told(w.ended, w.tf)
    assert "(Rotated out.)" in told(w.ended, w.tf)
    assert "Your role Member expired on" in told(w.expired, w.tf)
    assert "Your role Member starts on" in told(w.scheduled, w.tf)
    assert f"{w.partner} does not take part in {w.other} (withdrawn)" in told(
        w.partner_staff, w.other
    )
    assert f"{w.third} does not take part in {w.other} (not invited)" in told(
        w.third_staff, w.other
    )
    assert f"You hold no role in {w.tf}." in told(person(w.third), w.tf)


def test_the_conditions_each_decide_someone() -> None:
    """Each special person of the wide world is refused by one condition of the rule."""
    w = wide_world()
    red = Objective.objects.get(task_force=w.tf, marking=Marking.RED)
    strict = Objective.objects.get(task_force=w.tf, marking=Marking.AMBER_STRICT)
    green = Objective.objects.get(task_force=w.tf, marking=Marking.GREEN)
    public = Objective.objects.get(task_force=w.tf, marking=Marking.CLEAR)
    assert can(w.lead_analyst, "view", red)  # leads, and view_restricted
    assert not can(w.partner_analyst, "view", red)  # view_restricted, but no RED agreement
    assert can(w.partner_staff, "view", strict)  # the task-force-only agreement
    assert not can(w.third_staff, "view", green) and can(w.third_staff, "view", public)
    for refused in (w.expired, w.ended, w.scheduled, w.left, w.deactivated):
        assert not can(refused, "view", w.tf)
    coast = Objective.objects.get(task_force=w.other, marking=Marking.CLEAR)
    assert not can(w.partner_staff, "view", coast)  # withdrew: the assignment ended
    assert not can(w.suspended_liaison, "view", coast)


def test_answers_given_without_a_query_are_the_databases_answers() -> None:
    """``can`` answers some questions from the person's access alone (``Policy.decides``);
    those answers are exactly what ``restrict`` finds in the database."""
    from coordination.permissions import policy_for, restrict

    wide_world()
    decided = 0
    for obj in every_object():
        model = type(obj)
        policy = policy_for(model)
        for someone in User.objects.all():
            for action in policy.actions:
                answer = policy.decides(someone, action, obj)
                if answer is None:
                    continue
                in_database = restrict(model.objects.filter(pk=obj.pk), someone, action).exists()
                assert answer == in_database, (someone.email, model.__name__, obj.pk, action)
                decided += 1
    assert decided > 500


def test_restricting_within_one_task_force_is_the_rule_narrowed_to_it() -> None:
    """A page about one task force asks for its items ``within`` it
    (``Policy.restrict_within``: one task force's conditions instead of every one the
    person sees); what it gets is exactly the general rule's answer for that task force,
    for every persona, task force, kind of item and action."""
    from coordination.permissions import policy_for, restrict
    from mutualaid.models import Commitment, Offer, ResourceRequest

    with_mutual_aid(wide_world())  # requests addressed to some agencies, offers, commitments
    compared = 0
    seen = 0
    for model in (
        Objective,
        Task,
        Update,
        TimelineEntry,
        HandoverBrief,
        ResourceRequest,
        Offer,
        Commitment,
    ):
        policy = policy_for(model)
        path = f"{policy.task_force_path}id"
        for task_force in TaskForce.objects.all():
            for someone in User.objects.all():
                for action in policy.actions:
                    narrow = restrict(model.objects.all(), someone, action, within=task_force)
                    general = restrict(model.objects.all(), someone, action).filter(
                        **{path: task_force.pk}
                    )
                    got = set(narrow.values_list("pk", flat=True))
                    assert got == set(general.values_list("pk", flat=True)), (
                        someone.email,
                        model.__name__,
                        task_force.pk,
                        action,
                    )
                    compared += 1
                    seen += bool(got)
    assert compared > 500 and 50 < seen < compared  # the rule decided answers both ways


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the lean statements are PostgreSQL's"
)
def test_the_lean_lists_show_exactly_what_the_rule_lets_each_person_see() -> None:
    """The API's lean lists (``taskforces.api.lean``) filter by the person's access turned
    into arrays, or by the policy's compiled condition: for every person and every kind
    they list, the rows are exactly the objects ``can`` lets that person see."""
    from taskforces.access import compute
    from taskforces.api import lean

    wide_world()
    kinds = {
        "objectives": Objective,
        "tasks": Task,
        "updates": Update,
        "task-forces": TaskForce,
        "role-assignments": RoleAssignment,
    }
    compared = 0
    texts: dict[str, set[str]] = {kind: set() for kind in kinds}
    for someone in User.objects.all():
        access = compute(someone)
        for kind, model in kinds.items():
            statement = lean.statement_for(kind, someone, access, 10_000, 0)
            texts[kind].add(statement.sql)
            assert lean.statement_for(kind, someone, access, 7, 14).sql == statement.sql
            rows = db.fetch_all(statement.sql, statement.params)
            listed = [statement.build(row)["id"] for row in rows]
            may = {obj.pk for obj in model.objects.all() if can(someone, "view", obj)}
            assert len(listed) == len(set(listed)) and set(listed) == may, (
                someone.email,
                kind,
                set(listed) ^ may,
            )
            assert all(row[-1] == len(listed) for row in rows)  # the count
            compared += 1
    assert compared == 5 * User.objects.count()
    # each list's statement is one text whichever page and whoever asks (only its
    # parameters differ): a connection prepares it once
    assert {kind: len(found) for kind, found in texts.items()} == dict.fromkeys(kinds, 1)


# --- acknowledgement: whom an update asks, and what waits for each person ---------------------


def with_acknowledgements(w: SimpleNamespace) -> list[Update]:
    """Updates asking for acknowledgement in the wide world's task forces: of everyone, of
    a role, of the partner agency, of both, at markings the partner does and does not
    see, one already acknowledged by someone asked, and one in the task force the partner
    withdrew from."""
    member = w.member_role
    asked = [
        services.post_update(
            task_force=w.tf,
            title=title,
            body="…",
            marking=marking,
            by=w.lead_liaison,
            requires_acknowledgement=True,
            ack_roles=roles,
            ack_agencies=agencies,
        )
        for title, marking, roles, agencies in (
            ("Everyone, GREEN", Marking.GREEN, [], []),
            ("Everyone, AMBER+STRICT", Marking.AMBER_STRICT, [], []),
            ("Everyone, RED", Marking.RED, [], []),
            ("Members", Marking.CLEAR, [member], []),
            ("Analysts", Marking.GREEN, [analyst_role(w)], []),
            ("The partner", Marking.GREEN, [], [w.partner]),
            ("Members or the third agency", Marking.CLEAR, [member], [w.third]),
        )
    ]
    asked.append(
        services.post_update(
            task_force=w.other,
            title="Coast, everyone",
            body="…",
            marking=Marking.CLEAR,
            by=w.lead_liaison,
            requires_acknowledgement=True,
        )
    )
    services.acknowledge_update(update=asked[0], by=w.partner_staff)
    return asked


def test_whom_an_update_asks_is_everyone_who_may_acknowledge_it() -> None:
    """``acknowledgement_audience`` (who is told to acknowledge an update) is exactly the
    people ``can`` lets acknowledge it, for every update and every persona."""
    from taskforces.permissions import acknowledgement_audience

    w = wide_world()
    with_acknowledgements(w)
    people = list(User.objects.all())
    for update in Update.objects.all():
        told = set(acknowledgement_audience(update).values_list("pk", flat=True))
        may = {p.pk for p in people if can(p, "acknowledge", update)}
        assert told == may, (update.title, told ^ may)
    assert any(can(p, "acknowledge", u) for p in people for u in Update.objects.all())


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the statement of the newest is PostgreSQL's"
)
def test_the_updates_awaiting_acknowledgement_are_what_the_rule_asks_of_each_person() -> None:
    """What waits for each person's acknowledgement (every page's banner, the dashboard):
    on PostgreSQL one statement walks each task force's newest updates asking for it;
    its answer is, for every person and every length asked, the newest of the updates
    ``can`` lets them acknowledge and they have not, in order."""
    from taskforces import selectors
    from taskforces.models import Acknowledgement

    w = wide_world()
    with_acknowledgements(w)
    newest_first = list(Update.objects.order_by("-created_at", "-id"))
    waiting_for_someone = 0
    for someone in User.objects.all():
        done = set(
            Acknowledgement.objects.filter(person=someone).values_list("update_id", flat=True)
        )
        waiting = [
            u.pk for u in newest_first if can(someone, "acknowledge", u) and u.pk not in done
        ]
        for first in (1, 3, 10_000):
            found = selectors._newest_awaiting(someone, first)
            assert [u.pk for u in found] == waiting[:first], (someone.email, first)
            general = selectors.updates_awaiting_my_acknowledgement(someone)[:first]
            assert [u.pk for u in general] == waiting[:first], (someone.email, first)
        for update in selectors._newest_awaiting(someone, 10_000):  # as select_related does
            assert update.task_force == Update.objects.get(pk=update.pk).task_force
            assert (
                update.author_agency_id is None
                or update.author_agency.pk == update.author_agency_id
            )
        waiting_for_someone += bool(waiting)
    assert 3 < waiting_for_someone < User.objects.count()  # the rule decides both ways


def with_tasks(w: SimpleNamespace) -> None:
    """Tasks for people and for roles across the wide world: at every marking, due on
    different days or undated, some done or cancelled, some in the task force the partner
    withdrew from."""
    today = timezone.localdate()
    analyst = role_named(w.tf, "intelligence-analyst")
    for n, (marking, objective) in enumerate(sorted(w.objectives.items())):
        for m, (assignee, role) in enumerate(
            ((w.lead_staff, None), (w.partner_staff, None), (None, w.member_role), (None, analyst))
        ):
            for status, due in (("todo", 3 - n), ("in_progress", None), ("done", 1)):
                task = services.create_task(
                    objective=objective,
                    title=f"Task {marking.label} {m} {status}",
                    assigned_role=role,
                    due_date=None if due is None else today + datetime.timedelta(days=due + m),
                    status=status,
                    by=w.lead_liaison,
                )
                # given to the person directly: as if given before their sight of it changed
                # (the service refuses a task to someone who cannot see its objective)
                Task.objects.filter(pk=task.pk).update(assignee=assignee)
    coast = Objective.objects.filter(task_force=w.other).first()
    coast_task = services.create_task(objective=coast, title="Coast", by=w.lead_liaison)
    Task.objects.filter(pk=coast_task.pk).update(assignee=w.partner_staff)
    cancelled = services.create_task(
        objective=w.objectives[Marking.GREEN],
        title="Called off",
        assignee=w.lead_staff,
        by=w.lead_liaison,
    )
    Task.objects.filter(pk=cancelled.pk).update(status=Task.Status.CANCELLED)


def _values(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _most_urgent_seen(objectives: list[Objective], someone: User, tf: TaskForce) -> list[Objective]:
    """The task force's objectives ``can`` lets the person see, in the order the task
    force's page and its board list them: highest priority first, then soonest due
    (undated last), then by id."""
    far = datetime.date.max
    return sorted(
        (o for o in objectives if o.task_force_id == tf.pk and can(someone, "view", o)),
        key=lambda o: (-o.priority, o.target_date is None, o.target_date or far, o.pk),
    )


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the dashboard's statements are PostgreSQL's"
)
def test_the_dashboards_lists_are_what_the_rule_lets_each_person_see() -> None:
    """The dashboard's three lists (``first_current_assignments``, ``first_task_forces``,
    ``first_next_tasks``) are one prepared statement each on PostgreSQL. For every person
    and every length asked they answer the rows the querysets answer, in the same order,
    with the same related rows; and those are what ``can`` lets the person see: their
    current roles, the task forces they see by name, their open tasks (theirs or their
    roles') soonest due first, undated last."""
    from taskforces import selectors
    from taskforces.access import access_for

    w = wide_world()
    with_tasks(w)
    # a role held now that the person also held before: the ended assignment is not current
    services.end_assignment(assignment=w.lead_staff_assignment, by=w.lead_liaison, reason="Gap.")
    services.assign_role(role=w.member_role, person=w.lead_staff, assigned_by=w.lead_liaison)
    task_forces = list(TaskForce.objects.select_related("lead_agency"))
    tasks = list(Task.objects.select_related("task_force"))
    assignments = list(RoleAssignment.objects.select_related("role__task_force"))
    far = datetime.date.max
    with_tasks_or_roles = 0
    for someone in User.objects.all():
        held = access_for(someone)
        seen = sorted(
            (tf for tf in task_forces if can(someone, "view", tf)), key=lambda t: (t.name, t.pk)
        )
        open_tasks = sorted(
            (
                t
                for t in tasks
                if can(someone, "view", t)
                and t.status not in (Task.Status.DONE, Task.Status.CANCELLED)
                and (t.assignee_id == someone.pk or t.assigned_role_id in held.role_ids)
            ),
            key=lambda t: (t.due_date is None, t.due_date or far, t.pk),
        )
        current = sorted(
            (
                a
                for a in assignments
                if a.person_id == someone.pk and a.is_current() and a.role_id in held.role_ids
            ),
            key=lambda a: (a.role.task_force.name, a.role.order, a.pk),
        )
        for first in (1, 2, 50):
            found = selectors.first_current_assignments(someone, first)
            assert [a.pk for a in found] == [a.pk for a in current[:first]], someone.email
            general = selectors.my_current_assignments(someone)[:first]
            assert [_values(a) for a in found] == [_values(a) for a in general]
            assert [_values(a.role) for a in found] == [_values(a.role) for a in general]
            assert [_values(a.role.task_force) for a in found] == [
                _values(a.role.task_force) for a in general
            ]
            found_tf = selectors.first_task_forces(someone, first)
            assert [t.pk for t in found_tf] == [t.pk for t in seen[:first]], someone.email
            assert [(_values(t), _values(t.lead_agency)) for t in found_tf] == [
                (_values(t), _values(t.lead_agency)) for t in seen[:first]
            ]
            found_tasks = selectors.first_next_tasks(someone, first)
            assert [t.pk for t in found_tasks] == [t.pk for t in open_tasks[:first]], someone.email
            general_tasks = selectors.my_next_tasks(someone, first)
            assert [(_values(t), _values(t.task_force)) for t in found_tasks] == [
                (_values(t), _values(t.task_force)) for t in general_tasks
            ]
        with_tasks_or_roles += bool(open_tasks) + bool(current)
    assert 3 < with_tasks_or_roles < 2 * User.objects.count()  # the rule decides both ways


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the task force page's statements are PostgreSQL's"
)
def test_the_task_force_pages_lists_are_what_the_rule_lets_each_person_see() -> None:
    """A task force's page reads its first objectives (``first_objectives``), its latest
    updates (``first_updates``) and its agencies (``participations_list``) with one
    prepared statement each. For every person, task force and length they answer the rows
    the querysets answer, in the same order, with the same progress and related rows; and
    those are what ``can`` lets the person see, most urgent first and newest first."""
    from taskforces import selectors

    w = wide_world()
    with_tasks(w)
    # an update whose author's agency is unknown (an account since removed from it)
    Update.objects.filter(pk=Update.objects.order_by("pk").first().pk).update(author_agency=None)
    # ties the orders must break the same way: two updates posted in the same instant,
    # objectives of one priority with and without a target date
    first_two = list(Update.objects.filter(task_force=w.tf).order_by("pk")[:2])
    Update.objects.filter(pk=first_two[1].pk).update(created_at=first_two[0].created_at)
    in_tf = list(Objective.objects.filter(task_force=w.tf).order_by("pk"))
    Objective.objects.filter(pk__in=[o.pk for o in in_tf]).update(priority=2)
    Objective.objects.filter(pk__in=[o.pk for o in in_tf[::2]]).update(
        target_date=timezone.localdate() + datetime.timedelta(days=3)
    )
    objectives = list(Objective.objects.all())
    updates = list(Update.objects.all())
    shown = 0
    for tf in TaskForce.objects.all():
        participations = selectors.participations_list(tf)
        defined = list(selectors.participations_of(tf))
        assert [(_values(p), _values(p.agency)) for p in participations] == [
            (_values(p), _values(p.agency)) for p in defined
        ]
        for someone in User.objects.all():
            if not can(someone, "view", tf):
                continue
            seen = _most_urgent_seen(objectives, someone, tf)
            newest = sorted(
                (u for u in updates if u.task_force_id == tf.pk and can(someone, "view", u)),
                key=lambda u: (u.created_at, u.pk),
                reverse=True,
            )
            for first in (1, 3, 50):
                found = selectors.first_objectives(someone, tf, first)
                assert [o.pk for o in found] == [o.pk for o in seen[:first]], someone.email
                general = list(selectors.visible_objectives(someone, tf)[:first])
                assert [(_values(o), o.progress) for o in found] == [
                    (_values(o), o.progress) for o in general
                ]
                found_updates = selectors.first_updates(someone, tf, first)
                assert [u.pk for u in found_updates] == [u.pk for u in newest[:first]]
                general_updates = list(selectors.visible_updates(someone, tf)[:first])
                assert [
                    (_values(u), u.author_agency and _values(u.author_agency))
                    for u in found_updates
                ] == [
                    (_values(u), u.author_agency and _values(u.author_agency))
                    for u in general_updates
                ]
            shown += len(seen) + len(newest)
    assert shown
    # progress is counted: some objective has done tasks among its live ones
    assert any(o.progress > 0 for o in selectors.first_objectives(w.lead_liaison, w.tf, 50))


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the objectives board's statements are PostgreSQL's"
)
def test_the_boards_cards_are_what_the_rule_lets_each_person_see() -> None:
    """The objectives board reads its cards with prepared statements (``BoardObjectives``:
    a count, a page with owners, contributors and progress, the page's tasks). For every
    person, task force, filter and page they answer the cards the board's queryset makes,
    in the same order; unfiltered, those are the objectives ``can`` lets the person see,
    most urgent first, and each card offers its moves exactly when ``can`` lets the person
    change it. The owner filter offers what its queryset holds."""
    from taskforces import board
    from taskforces.filtersets import ObjectiveFilter

    w = wide_world()
    with_tasks(w)
    # ties the order must break the same way; an owner without an acronym; contributors
    # in name order; titles with LIKE's wildcards, which a search must take literally
    in_tf = list(Objective.objects.filter(task_force=w.tf).order_by("pk"))
    Objective.objects.filter(pk__in=[o.pk for o in in_tf]).update(priority=2)
    Objective.objects.filter(pk__in=[o.pk for o in in_tf[::2]]).update(
        target_date=timezone.localdate() + datetime.timedelta(days=3)
    )
    w.third.acronym = ""
    w.third.save(update_fields=["acronym"])
    Objective.objects.filter(pk=in_tf[1].pk).update(owner_agency=w.third, title="50% done_now")
    in_tf[2].contributing_agencies.add(w.third)
    Objective.objects.filter(pk=in_tf[3].pk).update(title="50 percent done now")
    filters = [
        {},
        {"status": "not_started"},
        {"priority": "2"},
        {"owner_agency": str(w.third.pk)},
        {"q": "50%"},
        {"q": "done_"},
        {"q": "objective", "priority": "2", "status": "not_started"},
    ]
    objectives = list(Objective.objects.all())
    shown = moves = 0
    for tf in TaskForce.objects.all():
        owners = board.owner_agencies(tf)
        assert board.owner_choices(tf) == [(a.pk, a.name) for a in owners]
        for someone in User.objects.all():
            if not can(someone, "view", tf):
                continue
            seen = _most_urgent_seen(objectives, someone, tf)
            may_change = board.may_change_objectives(someone, tf)
            assert all(can(someone, "change", o) == may_change for o in seen), someone.email
            moves += may_change and len(seen)
            for params in filters:
                chosen = ObjectiveFilter(params or None, queryset=Objective.objects.all())
                chosen.filters["owner_agency"].queryset = owners
                if params and not chosen.is_valid():  # the page's 400: not an agency here
                    assert tf != w.tf and "owner_agency" in chosen.errors
                    continue
                cleaned = chosen.form.cleaned_data if params else {}
                narrow = chosen.filter_queryset if params else None
                found = board.BoardObjectives(someone, tf, board.BoardFilters.of(cleaned), narrow)
                assert found.statements
                defined = board.board_queryset(someone, tf)
                defined = narrow(defined) if narrow else defined
                cards = [board.Card.of(o) for o in defined]
                assert found.count() == len(cards), (someone.email, params)
                for start, stop in ((0, 1), (1, 3), (0, 50), (50, 60)):
                    assert found[start:stop] == cards[start:stop], (someone.email, params)
                if not params:
                    assert [card.pk for card in cards] == [o.pk for o in seen]
                shown += len(cards)
    assert shown and moves
    # what the cards show: the statements' owners, contributors, progress and tasks agree
    # with the queryset's above; here, that there are some of each to agree on
    lead_cards = list(board.BoardObjectives(w.lead_liaison, w.tf, board.BoardFilters()))
    assert any(card.contributors for card in lead_cards)
    assert any(card.task_done and card.task_total for card in lead_cards)
    holders = {line.holder for card in lead_cards for line in card.tasks}
    assert {str(w.lead_staff), w.member_role.name, ""} <= holders
    assert "Coastal Transport Authority" in {card.owner for card in lead_cards}
    searched = board.BoardObjectives(w.lead_liaison, w.tf, board.BoardFilters(q="50%"))
    assert [card.title for card in searched] == ["50% done_now"]


def test_a_task_force_page_finds_its_task_force_as_the_rule_does() -> None:
    """Every task force's page reads its task force with ``visible_task_force`` (on
    PostgreSQL one prepared statement filtered by the ids ``restrict`` filters by). For
    every person, task force and action it finds what ``restrict`` finds, with the same
    lead agency, and that is what ``can`` allows; an id that names nothing, or that no
    bigint could hold, finds nothing."""
    from coordination.permissions import policy_for
    from taskforces import selectors

    w = wide_world()
    # a closed task force: seen by its people, changed by no one
    TaskForce.objects.filter(pk=w.other.pk).update(status=TaskForce.Status.CLOSED)
    task_forces = list(TaskForce.objects.all())
    missing = max(tf.pk for tf in task_forces) + 1
    found_any = refused_any = 0
    for someone in User.objects.all():
        for action in policy_for(TaskForce).actions:
            restricted = TaskForce.objects.restrict(someone, action).select_related("lead_agency")
            for tf in task_forces:
                found = selectors.visible_task_force(someone, tf.pk, action)
                defined = restricted.filter(pk=tf.pk).first()
                assert (found is None) == (defined is None) == (not can(someone, action, tf)), (
                    someone.email,
                    action,
                    tf.pk,
                )
                if found is None or defined is None:
                    refused_any += 1
                    continue
                assert _values(found) == _values(defined)
                assert _values(found.lead_agency) == _values(defined.lead_agency)
                found_any += 1
            for nothing in (missing, 0, -1, 2**63, 10**30):
                assert selectors.visible_task_force(someone, nothing, action) is None
    assert found_any and refused_any  # the rule decides both ways


# --- mutual aid (issue 20): requests, offers and commitments under the same rule -----------


def with_mutual_aid(w: SimpleNamespace) -> list[Any]:
    """Requests in the wide world's task force at every marking, addressed to everyone,
    to the partner only and to the third agency only; the partner's and the third
    agency's offers where they may, one accepted and mobilised."""
    from mutualaid import services as aid

    aid.ensure_resource_kinds()
    needed = timezone.now() + datetime.timedelta(days=1)
    found: list[Any] = []
    for marking in (Marking.CLEAR, Marking.GREEN, Marking.AMBER_STRICT, Marking.RED):
        for addressed in ([], [w.partner], [w.third]):
            request = aid.raise_request(
                task_force=w.tf,
                by=w.lead_liaison,
                description=f"{marking.label} to {len(addressed)}",
                quantity=4,
                location="Upton",
                needed_by=needed,
                justification="Flood.",
                marking=marking,
                addressed_agencies=addressed,
            )
            found.append(request)
            for liaison in (w.partner_liaison, w.third_liaison):
                if can(liaison, "offer", request):
                    found.append(
                        aid.make_offer(
                            request=request,
                            by=liaison,
                            description="Boats",
                            quantity=1,
                            available_from=needed,
                        )
                    )
    offer = next(o for o in found if type(o).__name__ == "Offer")
    commitment = aid.accept_offer(offer=offer, by=w.lead_liaison)
    aid.move_commitment(commitment=commitment, to_status="mobilised", by=w.lead_liaison)
    return [*found, commitment]


def test_mutual_aid_audience_explanation_and_access_agree() -> None:
    """Who is told about a request, an offer or a commitment (``mutualaid.permissions
    .audience``), who may see it (``restrict``/``can``) and the explanation agree for every
    person of the wide world."""
    from mutualaid.permissions import audience as aid_audience

    w = wide_world()
    objects = with_mutual_aid(w)
    people = list(User.objects.all())
    for obj in objects:
        told = set(aid_audience(obj).values_list("pk", flat=True))
        may = {p.pk for p in people if can(p, "view", obj)}
        assert told == may, (type(obj).__name__, obj.pk, str(obj), told ^ may)
        for someone in people:
            assert explain(someone, "view", obj).allowed == (someone.pk in may)
    # the world decides answers both ways: the third agency sees only what is addressed
    # to it (and CLEAR, its ceiling), the partner's analyst no RED
    requests = [o for o in objects if type(o).__name__ == "ResourceRequest"]
    assert any(can(w.third_staff, "view", r) for r in requests)
    assert any(not can(w.third_staff, "view", r) and r.marking == Marking.CLEAR for r in requests)
    assert not any(can(w.partner_analyst, "view", r) for r in requests if r.marking == Marking.RED)
