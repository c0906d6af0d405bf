"""The permission matrix: every persona × every kind of object × every action its policy
declares, with the answer the rules demand written out below.

The expectations come from the rules (docs/design.md, the policies' docstrings, the persona
descriptions in ``tests/conftest.py``), never from calling ``can``. Each cell checks that
the permission core's three answers agree with the table and with one another:
``can``, ``Model.objects.restrict`` and ``explain``.

The rules the table encodes:

* Agencies: everyone signed in sees active agencies (and their own); portal administrators
  see, review and manage every agency; agency administrators edit and manage their own.
* Memberships: people see their own agency's people and every active agency's liaison
  officers; agency administrators (and portal administrators) change them.
* Sharing agreements: seen by the parties' people (and portal administrators); accepted,
  each for its own party, and terminated by the parties' administrators and liaison
  officers only.
* Inside a task force, access comes only through current role assignments: portal
  administrators and agency administrators without a role get nothing (need-to-know).
  Commander holds every capability; Liaison officer view, assign_roles, post_updates;
  Member view, post_updates.
* Participations are seen by the task force's members and the participating agency's
  people; ``respond`` belongs to that agency's liaison officers.
* Role assignments are seen by whoever sees the task force (and the holder, and the
  agency administrators of the holder's agency, who review them); changed by a liaison
  officer of the holder's agency who may assign roles there; ended by that liaison or
  those agency administrators; recertified only by those agency administrators (never
  portal administrators, never their own assignment).
* Objectives, tasks (which carry their objective's marking) and updates: above the
  ceiling of the Lead↔Partner agreement (TLP:AMBER) they are invisible to Partner people;
  the Lead agency's ceiling is TLP:RED; TLP:RED also needs ``view_restricted``, which only
  the Commander (lead_liaison) holds. Changing needs manage_objectives / manage_tasks /
  change on the task force; a task may also be changed by its assignee or by a current
  holder of its assigned role (who must still be able to see it). An update is
  acknowledged only when it asks for acknowledgement (none in the world do).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from itertools import product
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from django.db import models
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Agency, Membership, SharingAgreement
from coordination.permissions import can, explain, policy_for
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import (
    Objective,
    Participation,
    Role,
    RoleAssignment,
    Task,
    TaskForce,
    Update,
)

from .. import conftest
from ..conftest import PERSONAS, built_once
from ..factories import person

# Every object in the matrix and its model: the cross product below is taken over these.
OBJECT_MODELS: dict[str, type[models.Model]] = {
    "agency_lead": Agency,
    "agency_partner": Agency,
    "agency_outsider": Agency,
    "agency_applied": Agency,
    "membership_lead_staff": Membership,
    "membership_partner_liaison": Membership,
    "membership_partner_staff": Membership,
    "agreement": SharingAgreement,
    "agreement_proposed": SharingAgreement,
    "task_force": TaskForce,
    "participation_lead": Participation,
    "participation_partner": Participation,
    "role_member": Role,
    "role_commander": Role,
    "assignment_lead_liaison_commander": RoleAssignment,
    "assignment_lead_staff": RoleAssignment,
    "assignment_partner_staff": RoleAssignment,
    "objective_green": Objective,
    "objective_amber": Objective,
    "objective_amber_strict": Objective,
    "objective_red": Objective,
    "task_green": Task,
    "task_amber": Task,
    "task_amber_strict": Task,
    "task_red": Task,
    "task_amber_for_partner_staff": Task,
    "task_amber_for_member_role": Task,
    "task_amber_strict_for_member_role": Task,
    "update_amber": Update,
    "update_red": Update,
}

Y, N = True, False

# The expected answers. Columns are the personas, in the order of PERSONAS:
# padm = portal_admin, ladm = lead_admin, llia = lead_liaison, lsta = lead_staff,
# plia = partner_liaison, psta = partner_staff, outs = outsider.
# fmt: off
GRID: list[tuple[str, str, bool, bool, bool, bool, bool, bool, bool]] = [
    # object                              action                  padm ladm llia lsta plia psta outs
    # --- agencies: the directory of active agencies is open to everyone signed in
    ("agency_lead",                       "view",                 Y,   Y,   Y,   Y,   Y,   Y,   Y),
    ("agency_lead",                       "change",               Y,   Y,   N,   N,   N,   N,   N),
    ("agency_lead",                       "review",               Y,   N,   N,   N,   N,   N,   N),
    ("agency_lead",                       "manage_members",       Y,   Y,   N,   N,   N,   N,   N),
    ("agency_partner",                    "view",                 Y,   Y,   Y,   Y,   Y,   Y,   Y),
    ("agency_partner",                    "change",               Y,   N,   N,   N,   N,   N,   N),
    ("agency_partner",                    "review",               Y,   N,   N,   N,   N,   N,   N),
    ("agency_partner",                    "manage_members",       Y,   N,   N,   N,   N,   N,   N),
    ("agency_outsider",                   "view",                 Y,   Y,   Y,   Y,   Y,   Y,   Y),
    ("agency_outsider",                   "change",               Y,   N,   N,   N,   N,   N,   N),
    ("agency_outsider",                   "review",               Y,   N,   N,   N,   N,   N,   N),
    ("agency_outsider",                   "manage_members",       Y,   N,   N,   N,   N,   N,   N),
    # an applied agency is not in the directory: only portal administrators see it
    ("agency_applied",                    "view",                 Y,   N,   N,   N,   N,   N,   N),
    ("agency_applied",                    "change",               Y,   N,   N,   N,   N,   N,   N),
    ("agency_applied",                    "review",               Y,   N,   N,   N,   N,   N,   N),
    ("agency_applied",                    "manage_members",       Y,   N,   N,   N,   N,   N,   N),
    # --- memberships: own agency's people, plus every active agency's liaison officers
    ("membership_lead_staff",             "view",                 Y,   Y,   Y,   Y,   N,   N,   N),
    ("membership_lead_staff",             "change",               Y,   Y,   N,   N,   N,   N,   N),
    ("membership_partner_liaison",        "view",                 Y,   Y,   Y,   Y,   Y,   Y,   Y),
    ("membership_partner_liaison",        "change",               Y,   N,   N,   N,   N,   N,   N),
    ("membership_partner_staff",          "view",                 Y,   N,   N,   N,   Y,   Y,   N),
    ("membership_partner_staff",          "change",               Y,   N,   N,   N,   N,   N,   N),
    # --- the Lead↔Partner sharing agreement (in force): its parties' people see it, their
    #     administrators and liaison officers terminate it; portal administrators only see it
    ("agreement",                         "view",                 Y,   Y,   Y,   Y,   Y,   Y,   N),
    ("agreement",                         "accept",               N,   N,   N,   N,   N,   N,   N),
    ("agreement",                         "terminate",            N,   Y,   Y,   N,   Y,   N,   N),
    # --- a second one the lead's liaison proposed: only the partner still accepts it
    ("agreement_proposed",                "view",                 Y,   Y,   Y,   Y,   Y,   Y,   N),
    ("agreement_proposed",                "accept",               N,   N,   N,   N,   Y,   N,   N),
    ("agreement_proposed",                "terminate",            N,   Y,   Y,   N,   Y,   N,   N),
    # --- the task force: only through current role assignments
    #     lead_liaison: Commander + Liaison officer; lead_staff, partner_staff: Member;
    #     partner_liaison: Liaison officer
    ("task_force",                        "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("task_force",                        "change",               N,   N,   Y,   N,   N,   N,   N),
    ("task_force",                        "manage_participation", N,   N,   Y,   N,   N,   N,   N),
    ("task_force",                        "assign_roles",         N,   N,   Y,   N,   Y,   N,   N),
    ("task_force",                        "manage_objectives",    N,   N,   Y,   N,   N,   N,   N),
    ("task_force",                        "manage_tasks",         N,   N,   Y,   N,   N,   N,   N),
    ("task_force",                        "post_updates",         N,   N,   Y,   Y,   Y,   Y,   N),
    ("task_force",                        "view_restricted",      N,   N,   Y,   N,   N,   N,   N),
    # --- participations: the task force's members and the agency's own people
    ("participation_lead",                "view",                 N,   Y,   Y,   Y,   Y,   Y,   N),
    ("participation_lead",                "respond",              N,   N,   Y,   N,   N,   N,   N),
    ("participation_partner",             "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("participation_partner",             "respond",              N,   N,   N,   N,   Y,   N,   N),
    # --- roles: whoever sees the task force
    ("role_member",                       "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("role_commander",                    "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    # --- assignments: seen with the task force (and by the holder's agency's administrators,
    #     who review them); changed by the holder's agency's liaison; ended by that liaison
    #     or those administrators; recertified by those administrators only
    ("assignment_lead_liaison_commander", "view",                 N,   Y,   Y,   Y,   Y,   Y,   N),
    ("assignment_lead_liaison_commander", "change",               N,   N,   Y,   N,   N,   N,   N),
    ("assignment_lead_liaison_commander", "end",                  N,   Y,   Y,   N,   N,   N,   N),
    ("assignment_lead_liaison_commander", "recertify",            N,   Y,   N,   N,   N,   N,   N),
    ("assignment_lead_staff",             "view",                 N,   Y,   Y,   Y,   Y,   Y,   N),
    ("assignment_lead_staff",             "change",               N,   N,   Y,   N,   N,   N,   N),
    ("assignment_lead_staff",             "end",                  N,   Y,   Y,   N,   N,   N,   N),
    ("assignment_lead_staff",             "recertify",            N,   Y,   N,   N,   N,   N,   N),
    ("assignment_partner_staff",          "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("assignment_partner_staff",          "change",               N,   N,   N,   N,   Y,   N,   N),
    ("assignment_partner_staff",          "end",                  N,   N,   N,   N,   Y,   N,   N),
    ("assignment_partner_staff",          "recertify",            N,   N,   N,   N,   N,   N,   N),
    # --- objectives: partner ceiling AMBER; RED needs view_restricted (Commander only)
    ("objective_green",                   "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("objective_green",                   "change",               N,   N,   Y,   N,   N,   N,   N),
    ("objective_amber",                   "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("objective_amber",                   "change",               N,   N,   Y,   N,   N,   N,   N),
    ("objective_amber_strict",            "view",                 N,   N,   Y,   Y,   N,   N,   N),
    ("objective_amber_strict",            "change",               N,   N,   Y,   N,   N,   N,   N),
    ("objective_red",                     "view",                 N,   N,   Y,   N,   N,   N,   N),
    ("objective_red",                     "change",               N,   N,   Y,   N,   N,   N,   N),
    # --- tasks carry their objective's marking; the world's tasks have no assignee
    ("task_green",                        "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("task_green",                        "change",               N,   N,   Y,   N,   N,   N,   N),
    ("task_amber",                        "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("task_amber",                        "change",               N,   N,   Y,   N,   N,   N,   N),
    ("task_amber_strict",                 "view",                 N,   N,   Y,   Y,   N,   N,   N),
    ("task_amber_strict",                 "change",               N,   N,   Y,   N,   N,   N,   N),
    ("task_red",                          "view",                 N,   N,   Y,   N,   N,   N,   N),
    ("task_red",                          "change",               N,   N,   Y,   N,   N,   N,   N),
    # assigned to partner_staff: the assignee may change it
    ("task_amber_for_partner_staff",      "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("task_amber_for_partner_staff",      "change",               N,   N,   Y,   N,   N,   Y,   N),
    # assigned to the Member role: its current holders (lead_staff, partner_staff) may
    ("task_amber_for_member_role",        "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("task_amber_for_member_role",        "change",               N,   N,   Y,   Y,   N,   Y,   N),
    # ... but not a holder who cannot see it (partner_staff, above the partner ceiling)
    ("task_amber_strict_for_member_role", "view",                 N,   N,   Y,   Y,   N,   N,   N),
    ("task_amber_strict_for_member_role", "change",               N,   N,   Y,   Y,   N,   N,   N),
    # --- updates: corrected by those who may edit the task force; none asks for acks
    ("update_amber",                      "view",                 N,   N,   Y,   Y,   Y,   Y,   N),
    ("update_amber",                      "change",               N,   N,   Y,   N,   N,   N,   N),
    ("update_amber",                      "acknowledge",          N,   N,   N,   N,   N,   N,   N),
    ("update_red",                        "view",                 N,   N,   Y,   N,   N,   N,   N),
    ("update_red",                        "change",               N,   N,   Y,   N,   N,   N,   N),
    ("update_red",                        "acknowledge",          N,   N,   N,   N,   N,   N,   N),
]
# fmt: on

EXPECTED: dict[tuple[str, str, str], bool] = {
    (persona, name, action): answer
    for name, action, *answers in GRID
    for persona, answer in zip(PERSONAS, answers, strict=True)
}


def build_matrix_world() -> SimpleNamespace:
    """The ``world`` fixture's data plus the few objects the matrix needs besides."""
    w = conftest.build_world()
    w.applied = agency_services.apply_for_agency(
        name="Coastal Volunteer Rescue",
        level=Agency.Level.NON_GOVERNMENTAL,
        sector=Agency.Sector.EMERGENCY_MANAGEMENT,
        contact_email="hello@cvr.example.org",
    )
    amber = w.objectives[Marking.AMBER]
    strict = w.objectives[Marking.AMBER_STRICT]
    w.task_for_partner_staff = services.create_task(
        objective=amber, title="Check the pumps", assignee=w.partner_staff, by=w.lead_liaison
    )
    w.task_for_member_role = services.create_task(
        objective=amber, title="Fill sandbags", assigned_role=w.member_role, by=w.lead_liaison
    )
    w.strict_task_for_member_role = services.create_task(
        objective=strict, title="Guard the levee", assigned_role=w.member_role, by=w.lead_liaison
    )
    commander = conftest.role_named(w.tf, "commander")
    w.objects = {
        "agency_lead": w.lead,
        "agency_partner": w.partner,
        "agency_outsider": w.outsider_agency,
        "agency_applied": w.applied,
        "membership_lead_staff": Membership.objects.get(user=w.lead_staff),
        "membership_partner_liaison": Membership.objects.get(user=w.partner_liaison),
        "membership_partner_staff": Membership.objects.get(user=w.partner_staff),
        "agreement": w.agreement,
        "agreement_proposed": agency_services.propose_agreement(
            title="NFA–RHS radio logs",
            parties=[w.lead, w.partner],
            max_marking=Marking.RED,
            valid_from=datetime.date(2026, 1, 1),
            by=w.lead_liaison,
        ),
        "task_force": w.tf,
        "participation_lead": Participation.objects.get(task_force=w.tf, agency=w.lead),
        "participation_partner": w.participation,
        "role_member": w.member_role,
        "role_commander": commander,
        "assignment_lead_liaison_commander": RoleAssignment.objects.get(
            role=commander, person=w.lead_liaison
        ),
        "assignment_lead_staff": w.lead_staff_assignment,
        "assignment_partner_staff": w.partner_staff_assignment,
        "objective_green": w.objectives[Marking.GREEN],
        "objective_amber": amber,
        "objective_amber_strict": strict,
        "objective_red": w.objectives[Marking.RED],
        "task_green": w.tasks[Marking.GREEN],
        "task_amber": w.tasks[Marking.AMBER],
        "task_amber_strict": w.tasks[Marking.AMBER_STRICT],
        "task_red": w.tasks[Marking.RED],
        "task_amber_for_partner_staff": w.task_for_partner_staff,
        "task_amber_for_member_role": w.task_for_member_role,
        "task_amber_strict_for_member_role": w.strict_task_for_member_role,
        "update_amber": w.updates[Marking.AMBER],
        "update_red": w.updates[Marking.RED],
    }
    return w


def check_cell(
    user: Any, action: str, obj: models.Model, expected: bool, where: object = ""
) -> None:
    """The three answers of the permission core agree with ``expected``."""
    model = type(obj)
    assert can(user, action, obj) is expected, ("can()", where)
    restricted = model._default_manager.restrict(user, action)  # type: ignore[attr-defined]
    assert restricted.filter(pk=obj.pk).exists() is expected, ("restrict()", where)
    explanation = explain(user, action, obj)
    assert bool(explanation) is expected, ("explain()", where, str(explanation))
    assert explanation.steps, ("an explanation has at least one step", where)


@pytest.fixture(scope="class")
def mw(django_db_setup: None, django_db_blocker: Any) -> Iterator[SimpleNamespace]:
    """The world and the matrix's extra objects, built once for the whole table (≈480
    cells that only read) inside a transaction rolled back when the class ends, instead of
    once per cell; each test still runs in its own savepoint through ``db``."""
    yield from built_once(django_db_blocker, build_matrix_world)


class TestMatrix:
    """Every cell of the table, each its own test."""

    @pytest.mark.parametrize(
        ("persona", "name", "action"),
        sorted(EXPECTED, key=lambda k: (list(OBJECT_MODELS).index(k[1]), k[2], k[0])),
        ids=lambda value: value,
    )
    def test_cell(self, db: None, mw: SimpleNamespace, persona: str, name: str, action: str):
        user = getattr(mw, persona)
        obj = mw.objects[name]
        assert isinstance(obj, OBJECT_MODELS[name])
        check_cell(user, action, obj, EXPECTED[(persona, name, action)])

    def test_objects_are_the_declared_kinds(self, db: None, mw: SimpleNamespace):
        assert set(mw.objects) == set(OBJECT_MODELS)
        for name, model in OBJECT_MODELS.items():
            assert type(mw.objects[name]) is model, name


def test_table_covers_the_full_cross_product():
    """Persona × object × every action the object's policy declares: no cell missing, no
    cell for an action that does not exist, no (object, action) row written twice."""
    full = {
        (persona, name, action)
        for persona, (name, model) in product(PERSONAS, OBJECT_MODELS.items())
        for action in policy_for(model).actions
    }
    assert set(EXPECTED) == full, {
        "missing": sorted(full - set(EXPECTED)),
        "unknown": sorted(set(EXPECTED) - full),
    }
    rows = [(name, action) for name, action, *_ in GRID]
    assert len(rows) == len(set(rows)), "an (object, action) row is written twice"


def test_table_covers_every_kind_of_object():
    kinds = {
        Agency,
        Membership,
        SharingAgreement,
        TaskForce,
        Participation,
        Role,
        RoleAssignment,
        Objective,
        Task,
        Update,
    }
    assert set(OBJECT_MODELS.values()) == kinds


def test_anonymous_visitor_gets_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    for obj in (world.lead, world.tf, world.objectives[Marking.GREEN], world.agreement):
        model = type(obj)
        for action in policy_for(model).actions:
            assert can(anonymous, action, obj) is False
            assert not model._default_manager.restrict(anonymous, action).exists()
            explanation = explain(anonymous, action, obj)
            assert not explanation
            assert "not signed in" in str(explanation)


# --- the same table after the world changes ----------------------------------------------

INSIDE_A_TASK_FORCE = {TaskForce, Participation, Role, RoleAssignment, Objective, Task, Update}
READ_ACTIONS = {"view", "view_restricted"}
PARTNER_PEOPLE = ("partner_liaison", "partner_staff")


def cut_off(persona: str, name: str, action: str, *, agency_active: bool = True) -> bool:
    """Partner people once their access is taken away: nothing inside the task force,
    except what is theirs (their agency's participation, their own assignment; and the
    liaison still answers for the agency while it is active)."""
    if persona not in PARTNER_PEOPLE:
        return EXPECTED[(persona, name, action)]
    if name == "participation_partner" and action == "view":
        return True
    if name == "participation_partner" and action == "respond":
        return persona == "partner_liaison" and agency_active
    if name == "assignment_partner_staff" and action == "view":
        return persona == "partner_staff"
    return False


def inactive_cut_off(persona: str, name: str, action: str) -> bool:
    return cut_off(persona, name, action, agency_active=False)


def staff_cut_off(persona: str, name: str, action: str) -> bool:
    """partner_staff after their only assignment ended: as ``cut_off`` for them alone."""
    if persona == "partner_staff":
        return cut_off(persona, name, action)
    return EXPECTED[(persona, name, action)]


def closed(persona: str, name: str, action: str) -> bool:
    """A closed task force: everything in it can still be seen as before, nothing changed."""
    return EXPECTED[(persona, name, action)] if action in READ_ACTIONS else False


def suspend_partner(w: SimpleNamespace) -> None:
    agency_services.suspend_agency(agency=w.partner, by=w.portal_admin, reason="Audit")


def withdraw_partner(w: SimpleNamespace) -> None:
    services.withdraw_agency(participation=w.participation, by=w.partner_liaison, reason="Done")


def end_partner_staff(w: SimpleNamespace) -> None:
    services.end_assignment(
        assignment=w.partner_staff_assignment, by=w.partner_liaison, reason="Rotated out"
    )


def close_task_force(w: SimpleNamespace) -> None:
    services.transition_task_force(task_force=w.tf, to_status="closed", by=w.lead_liaison)


CHANGES = {
    "suspend_partner": (suspend_partner, inactive_cut_off, PARTNER_PEOPLE),
    "withdraw_partner": (withdraw_partner, cut_off, PARTNER_PEOPLE),
    "end_partner_staff_assignment": (
        end_partner_staff,
        staff_cut_off,
        ("partner_liaison", "partner_staff"),
    ),
    # Those without a role in it have nothing to lose.
    "close_task_force": (close_task_force, closed, ("lead_liaison", "lead_staff", *PARTNER_PEOPLE)),
}


@pytest.mark.parametrize("change", CHANGES)
def test_the_table_after_a_change(db, change):
    """Inside the task force, access goes at once, and can / restrict / explain still
    agree on every cell."""
    do, rule, personas = CHANGES[change]
    w = build_matrix_world()
    do(w)
    for persona in personas:
        user = type(getattr(w, persona)).objects.get(pk=getattr(w, persona).pk)
        for name, obj in w.objects.items():
            model = type(obj)
            if model not in INSIDE_A_TASK_FORCE:
                continue
            obj = model._default_manager.get(pk=obj.pk)  # as the change left it
            for action in policy_for(model).actions:
                expected = rule(persona, name, action)
                where = (change, persona, name, action)
                check_cell(user, action, obj, expected, where)


# --- acknowledgement: an update that asks for it ------------------------------------------


def post_ack_update(world: SimpleNamespace, marking: int = Marking.AMBER, **ask: Any) -> Update:
    return services.post_update(
        task_force=world.tf,
        title="Evacuation order for Zone B",
        body="Confirm you have read this.",
        marking=marking,
        requires_acknowledgement=True,
        by=world.lead_liaison,
        **ask,
    )


def check_acknowledge(world: SimpleNamespace, update: Update, who: set[str]) -> None:
    for persona in PERSONAS:
        check_cell(getattr(world, persona), "acknowledge", update, persona in who)


def test_acknowledge_asked_of_a_named_role(world):
    """Asked of the Member role: its holders (lead_staff, partner_staff) and nobody else,
    not even the Commander who posted it."""
    update = post_ack_update(world, ack_roles=[world.member_role])
    check_acknowledge(world, update, {"lead_staff", "partner_staff"})


def test_acknowledge_asked_of_a_named_agency(world):
    update = post_ack_update(world, ack_agencies=[world.partner])
    check_acknowledge(world, update, {"partner_liaison", "partner_staff"})


def test_acknowledge_asked_of_everyone(world):
    update = post_ack_update(world)
    check_acknowledge(
        world, update, {"lead_liaison", "lead_staff", "partner_liaison", "partner_staff"}
    )


def test_acknowledge_needs_sight_of_the_update(world):
    """Everyone is asked, but only those who may see a TLP:RED update can acknowledge it."""
    update = post_ack_update(world, marking=Marking.RED)
    check_acknowledge(world, update, {"lead_liaison"})


def test_acknowledge_stops_when_the_role_ends(world):
    update = post_ack_update(world, ack_roles=[world.member_role])
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Rotated out"
    )
    check_cell(world.partner_staff, "acknowledge", update, False)
    check_cell(world.lead_staff, "acknowledge", update, True)


def test_acknowledge_explanations_name_who_is_asked(world):
    update = post_ack_update(world, ack_roles=[world.member_role])
    assert "asks your role or your agency" in str(explain(world.lead_staff, "acknowledge", update))
    assert "asks other roles or agencies" in str(
        explain(world.partner_liaison, "acknowledge", update)
    )
    plain = world.updates[Marking.AMBER]
    assert "does not ask for acknowledgement" in str(
        explain(world.lead_staff, "acknowledge", plain)
    )


# --- what the explanations say -------------------------------------------------------------


def test_outsider_is_told_their_agency_does_not_take_part(world):
    explanation = explain(world.outsider, "view", world.tf)
    assert not explanation
    assert "City Transport Authority does not take part in River Severn flood response" in (
        explanation.reason
    )


def test_partner_staff_is_told_the_agreement_and_its_ceiling(world):
    objective = world.objectives[Marking.AMBER_STRICT]
    explanation = explain(world.partner_staff, "view", objective)
    assert not explanation
    reason = explanation.reason
    assert "TLP:AMBER+STRICT" in reason
    assert "NFA–RHS information sharing" in reason
    assert "only up to TLP:AMBER" in reason


def test_partner_staff_is_told_why_they_see_an_amber_objective(world):
    explanation = explain(world.partner_staff, "view", world.objectives[Marking.AMBER])
    assert explanation
    text = str(explanation)
    assert "You hold the role Member, assigned by" in text
    assert "NFA–RHS information sharing" in text
    assert "covers up to TLP:AMBER" in text


def test_lead_staff_is_told_red_needs_view_restricted(world):
    explanation = explain(world.lead_staff, "view", world.objectives[Marking.RED])
    assert not explanation
    assert "TLP:RED" in explanation.reason
    assert "View restricted (TLP:RED) items" in explanation.reason


def test_ended_assignment_is_explained_as_ended(world):
    services.end_assignment(
        assignment=world.lead_staff_assignment,
        by=world.lead_liaison,
        reason="Redeployed to the coastal task force",
    )
    explanation = explain(world.lead_staff, "view", world.tf)
    assert not explanation
    assert "Your role Member ended on" in explanation.reason
    assert "Redeployed to the coastal task force" in explanation.reason
    assert can(world.lead_staff, "view", world.tf) is False
    # The holder still sees their own (ended) assignment, and is told why.
    own = explain(world.lead_staff, "view", world.lead_staff_assignment)
    assert own
    assert "your own assignment" in own.reason


def test_expired_assignment_is_explained_as_expired(world):
    analyst = conftest.role_named(world.tf, "intelligence-analyst")
    staff = person(world.lead)
    now = timezone.now()
    services.assign_role(
        role=analyst,
        person=staff,
        assigned_by=world.lead_liaison,
        until=now + datetime.timedelta(hours=1),
    )
    assert can(staff, "view", world.tf) is True
    # The clock passes the end date before anything has run expire_assignments.
    with time_machine.travel(now + datetime.timedelta(days=1), tick=False):
        explanation = explain(staff, "view", world.tf)
        assert not explanation
        assert "Your role Intelligence analyst expired on" in explanation.reason
        assert can(staff, "view", world.tf) is False


def test_portal_admin_is_told_they_hold_no_role(world):
    explanation = explain(world.portal_admin, "view", world.tf)
    assert not explanation
    assert "you hold no role anywhere" in explanation.reason


def test_lead_admin_is_told_they_hold_no_role_in_the_task_force(world):
    explanation = explain(world.lead_admin, "view", world.tf)
    assert not explanation
    assert "takes part in River Severn flood response as lead agency" in str(explanation)
    assert explanation.reason == "You hold no role in River Severn flood response."


def test_granted_explanation_names_role_and_capability(world):
    explanation = explain(world.partner_liaison, "assign_roles", world.tf)
    assert explanation
    text = str(explanation)
    assert "Regional Health Service takes part in River Severn flood response" in text
    assert "The role Liaison officer includes the capability" in text
    assert "Assign own agency's people to roles" in text
    refused = explain(world.partner_staff, "assign_roles", world.tf)
    assert "None of your roles in River Severn flood response includes the capability" in (
        refused.reason
    )


def test_task_assignee_is_told_the_task_is_theirs(world):
    task = services.create_task(
        objective=world.objectives[Marking.GREEN],
        title="Check the pumps",
        assignee=world.partner_staff,
        by=world.lead_liaison,
    )
    explanation = explain(world.partner_staff, "change", task)
    assert explanation
    assert "The task is assigned to you." in str(explanation)
