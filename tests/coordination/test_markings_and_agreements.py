"""Sharing agreements decide how far up the TLP scale a partner agency's people see, and
markings are checked when something is written.

The rule: inside a task force, an item marked above what the viewer's agency's agreement
in force with the lead agency covers (for all matters, or for this task force) is
invisible; with no agreement in force a partner sees only TLP:CLEAR; the lead agency sees
everything up to TLP:RED; TLP:RED needs the view-restricted capability besides.
"""

from __future__ import annotations

import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Agency, Membership, SharingAgreement
from coordination.permissions import can, explain
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Objective, Task, TaskForce, Update

from ..conftest import role_named
from ..factories import AgencyFactory, acting_for, person

pytestmark = pytest.mark.usefixtures("module_world")


ALL = set(Marking)
UP_TO_AMBER = {Marking.CLEAR, Marking.GREEN, Marking.AMBER}
UP_TO_STRICT = UP_TO_AMBER | {Marking.AMBER_STRICT}
CLEAR_ONLY = {Marking.CLEAR}


@pytest.fixture
def w(world: SimpleNamespace) -> SimpleNamespace:
    """The world with a TLP:CLEAR objective (with a task and an update) besides the rest,
    so every marking is represented."""
    world.objectives[Marking.CLEAR] = services.create_objective(
        task_force=world.tf,
        title="Public sandbag points",
        owner_agency=world.lead,
        marking=Marking.CLEAR,
        by=world.lead_liaison,
    )
    world.tasks[Marking.CLEAR] = services.create_task(
        objective=world.objectives[Marking.CLEAR], title="List the points", by=world.lead_liaison
    )
    for marking in (Marking.CLEAR, Marking.GREEN, Marking.AMBER_STRICT):
        world.updates[marking] = services.post_update(
            task_force=world.tf,
            title=f"Update {marking.label}",
            body="…",
            marking=marking,
            by=world.lead_liaison,
        )
    return world


def seen(user: Any, task_force: TaskForce) -> set[Marking]:
    """The markings of the objectives the person sees in the task force, checked to be the
    same for its tasks and updates and for ``can`` on each objective."""
    objectives = Objective.objects.restrict(user, "view").filter(task_force=task_force)
    markings = {Marking(m) for m in objectives.values_list("marking", flat=True)}
    tasks = Task.objects.restrict(user, "view").filter(task_force=task_force)
    assert {Marking(m) for m in tasks.values_list("objective__marking", flat=True)} == markings
    updates = Update.objects.restrict(user, "view").filter(task_force=task_force)
    assert {Marking(m) for m in updates.values_list("marking", flat=True)} == markings
    for objective in Objective.objects.filter(task_force=task_force):
        assert can(user, "view", objective) is (objective.marking in markings)
        assert bool(explain(user, "view", objective)) is (objective.marking in markings)
    return markings


def agreement(
    w: SimpleNamespace,
    max_marking: int,
    *,
    parties: list[Agency] | None = None,
    valid_from: datetime.date = datetime.date(2020, 1, 1),
    valid_until: datetime.date | None = None,
    task_force: TaskForce | None = None,
    activate: bool = True,
    title: str = "Further agreement",
) -> SharingAgreement:
    """An agreement proposed by an administrator of the first party and, with
    ``activate``, accepted by one of every other party (so in force)."""
    parties = parties or [w.lead, w.partner]
    proposal = agency_services.propose_agreement(
        title=title,
        parties=parties,
        max_marking=max_marking,
        valid_from=valid_from,
        valid_until=valid_until,
        task_force=task_force,
        by=acting_for(parties[0]),
    )
    if not activate:
        return proposal
    for other in parties[1:]:
        proposal = agency_services.accept_agreement(agreement=proposal, by=acting_for(other))
    return proposal


def terminate(w: SimpleNamespace, which: SharingAgreement) -> None:
    agency_services.terminate_agreement(agreement=which, by=w.lead_admin, reason="Superseded.")


def analyst(w: SimpleNamespace, user: Any, by: Any) -> None:
    services.assign_role(role=role_named(w.tf, "intelligence-analyst"), person=user, assigned_by=by)


# --- the ceiling an agreement gives ---------------------------------------------------------


def test_the_world_agreement_covers_up_to_amber(w):
    assert seen(w.partner_staff, w.tf) == UP_TO_AMBER
    assert seen(w.partner_liaison, w.tf) == UP_TO_AMBER


def test_without_an_agreement_a_partner_sees_only_clear(w):
    """A second partner agency that never agreed anything with the lead."""
    other = AgencyFactory(name="County Fire Service")
    liaison = person(other, Membership.Role.LIAISON)
    staff = person(other)
    participation = services.invite_agency(task_force=w.tf, agency=other, by=w.lead_liaison)
    services.respond_to_invitation(participation=participation, accept=True, by=liaison)
    services.assign_role(role=w.member_role, person=staff, assigned_by=liaison)
    assert seen(staff, w.tf) == CLEAR_ONLY
    assert seen(liaison, w.tf) == CLEAR_ONLY
    reason = explain(staff, "view", w.objectives[Marking.GREEN]).reason
    assert "no sharing agreement in force" in reason
    # The world's agreement is between Lead and Partner: it does not lift this agency.
    assert seen(w.partner_staff, w.tf) == UP_TO_AMBER


def test_an_agreement_with_someone_else_than_the_lead_does_not_count(w):
    terminate(w, w.agreement)
    agreement(w, Marking.RED, parties=[w.partner, w.outsider_agency])
    assert seen(w.partner_staff, w.tf) == CLEAR_ONLY


def test_a_terminated_agreement_stops_access_at_once(w):
    objective = w.objectives[Marking.AMBER]
    assert can(w.partner_staff, "view", objective)
    terminate(w, w.agreement)
    assert not can(w.partner_staff, "view", objective)
    assert seen(w.partner_staff, w.tf) == CLEAR_ONLY
    assert seen(w.partner_liaison, w.tf) == CLEAR_ONLY
    # The lead agency's own ceiling does not depend on agreements.
    assert seen(w.lead_staff, w.tf) == UP_TO_STRICT
    assert seen(w.lead_liaison, w.tf) == ALL


def test_a_draft_agreement_gives_nothing(w):
    terminate(w, w.agreement)
    draft = agreement(w, Marking.RED, activate=False, title="Proposed: share everything")
    assert draft.status == SharingAgreement.Status.PROPOSED
    assert seen(w.partner_staff, w.tf) == CLEAR_ONLY
    agency_services.accept_agreement(agreement=draft, by=w.partner_liaison)
    assert seen(w.partner_staff, w.tf) == UP_TO_STRICT  # RED still needs view_restricted


def test_an_agreement_not_yet_valid_gives_nothing(w):
    terminate(w, w.agreement)
    today = timezone.localdate()
    agreement(w, Marking.AMBER_STRICT, valid_from=today + datetime.timedelta(days=1))
    assert seen(w.partner_staff, w.tf) == CLEAR_ONLY


def test_an_agreement_valid_from_today_applies(w):
    terminate(w, w.agreement)
    agreement(w, Marking.AMBER_STRICT, valid_from=timezone.localdate())
    assert seen(w.partner_staff, w.tf) == UP_TO_STRICT


def test_an_expired_agreement_gives_nothing(w):
    terminate(w, w.agreement)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    agreement(w, Marking.AMBER_STRICT, valid_until=yesterday)
    assert seen(w.partner_staff, w.tf) == CLEAR_ONLY


def test_an_agreement_valid_until_today_still_applies(w):
    terminate(w, w.agreement)
    agreement(w, Marking.AMBER_STRICT, valid_until=timezone.localdate())
    assert seen(w.partner_staff, w.tf) == UP_TO_STRICT


def test_an_agreement_expires_with_the_calendar(w, time_machine):
    """Nothing has to run: the day after valid_until the agreement no longer counts."""
    terminate(w, w.agreement)
    today = timezone.localdate()
    agreement(w, Marking.AMBER_STRICT, valid_until=today + datetime.timedelta(days=1))
    assert seen(w.partner_staff, w.tf) == UP_TO_STRICT
    time_machine.move_to(timezone.now() + datetime.timedelta(days=3))
    assert seen(w.partner_staff, w.tf) == CLEAR_ONLY


def test_an_agreement_scoped_to_another_task_force_does_not_apply(w):
    terminate(w, w.agreement)
    other = services.form_task_force(
        name="Coastal surge planning", mandate="Plan ahead.", by=w.lead_liaison
    )
    agreement(w, Marking.AMBER_STRICT, task_force=other, title="Coastal only")
    assert seen(w.partner_staff, w.tf) == CLEAR_ONLY


def test_an_agreement_scoped_to_this_task_force_applies(w):
    terminate(w, w.agreement)
    agreement(w, Marking.AMBER_STRICT, task_force=w.tf, title="Severn only")
    assert seen(w.partner_staff, w.tf) == UP_TO_STRICT
    reason = str(explain(w.partner_staff, "view", w.objectives[Marking.AMBER_STRICT]))
    assert "Severn only" in reason


def test_the_highest_of_several_agreements_applies(w):
    # In force: the world's AMBER (all matters), GREEN for this task force, AMBER+STRICT
    # for all matters. Not in force: a RED draft, a RED one for another task force.
    agreement(w, Marking.GREEN, task_force=w.tf, title="Severn, green")
    agreement(w, Marking.AMBER_STRICT, title="All matters, strict")
    agreement(w, Marking.RED, activate=False, title="Draft, red")
    other = services.form_task_force(
        name="Coastal surge planning", mandate="Plan ahead.", by=w.lead_liaison
    )
    agreement(w, Marking.RED, task_force=other, title="Coastal, red")
    analyst(w, w.partner_staff, by=w.partner_liaison)
    assert seen(w.partner_staff, w.tf) == UP_TO_STRICT
    explanation = explain(w.partner_staff, "view", w.objectives[Marking.AMBER_STRICT])
    assert "All matters, strict" in str(explanation)


# --- TLP:RED needs view_restricted ---------------------------------------------------------


def test_red_needs_view_restricted_even_for_the_lead_agency(w):
    assert seen(w.lead_staff, w.tf) == UP_TO_STRICT
    assert seen(w.lead_liaison, w.tf) == ALL  # the Commander holds view_restricted
    analyst(w, w.lead_staff, by=w.lead_liaison)
    assert seen(w.lead_staff, w.tf) == ALL


def test_partner_analyst_sees_red_only_when_the_agreement_covers_red(w):
    analyst(w, w.partner_staff, by=w.partner_liaison)
    assert can(w.partner_staff, "view_restricted", w.tf)
    # The AMBER agreement caps them, view_restricted or not.
    assert seen(w.partner_staff, w.tf) == UP_TO_AMBER
    red = w.objectives[Marking.RED]
    assert "covers only up to TLP:AMBER" in explain(w.partner_staff, "view", red).reason

    agreement(w, Marking.RED, title="Full sharing")
    assert seen(w.partner_staff, w.tf) == ALL
    # A partner without view_restricted, under the same RED agreement: everything but RED.
    assert seen(w.partner_liaison, w.tf) == UP_TO_STRICT


def test_red_disappears_when_the_analyst_role_ends(w):
    agreement(w, Marking.RED, title="Full sharing")
    analyst(w, w.partner_staff, by=w.partner_liaison)
    assert seen(w.partner_staff, w.tf) == ALL
    assignment = w.partner_staff.role_assignments.get(
        role__template__slug="intelligence-analyst", ended_at__isnull=True
    )
    services.end_assignment(assignment=assignment, by=w.partner_liaison, reason="Rotation")
    assert seen(w.partner_staff, w.tf) == UP_TO_STRICT


# --- markings when writing -----------------------------------------------------------------


def post(w: SimpleNamespace, by: Any, marking: int | None) -> Update:
    return services.post_update(
        task_force=w.tf, title="Water level at Bewdley", body="4.2 m.", marking=marking, by=by
    )


def assert_marking_refused(call: Any) -> None:
    before = (Update.objects.count(), Objective.objects.count())
    with pytest.raises(ValidationError) as refused:
        call()
    assert "marking" in refused.value.message_dict
    assert (Update.objects.count(), Objective.objects.count()) == before


@pytest.mark.parametrize("marking", [Marking.CLEAR, Marking.GREEN, Marking.AMBER])
def test_partner_member_posts_up_to_the_ceiling(w, marking):
    update = post(w, w.partner_staff, marking)
    assert update.marking == marking
    assert can(w.partner_staff, "view", update)


@pytest.mark.parametrize("marking", [Marking.AMBER_STRICT, Marking.RED])
def test_partner_member_cannot_post_above_the_ceiling(w, marking):
    assert_marking_refused(lambda: post(w, w.partner_staff, marking))


def test_partner_ceiling_message_names_the_ceiling(w):
    with pytest.raises(ValidationError) as refused:
        post(w, w.partner_staff, Marking.AMBER_STRICT)
    assert "TLP:AMBER" in refused.value.message_dict["marking"][0]


def test_without_an_agreement_a_partner_posts_only_clear(w):
    terminate(w, w.agreement)
    assert_marking_refused(lambda: post(w, w.partner_staff, Marking.GREEN))
    # The task force's default marking (TLP:AMBER) is above their ceiling too.
    assert_marking_refused(lambda: post(w, w.partner_staff, None))
    assert post(w, w.partner_staff, Marking.CLEAR).marking == Marking.CLEAR


def test_partner_analyst_cannot_mark_red_without_an_agreement_covering_red(w):
    analyst(w, w.partner_staff, by=w.partner_liaison)
    assert_marking_refused(lambda: post(w, w.partner_staff, Marking.RED))
    agreement(w, Marking.RED, title="Full sharing")
    assert post(w, w.partner_staff, Marking.RED).marking == Marking.RED


def test_lead_member_without_view_restricted_cannot_mark_red(w):
    assert_marking_refused(lambda: post(w, w.lead_staff, Marking.RED))
    assert post(w, w.lead_staff, Marking.AMBER_STRICT).marking == Marking.AMBER_STRICT


def test_lead_analyst_may_mark_red(w):
    analyst(w, w.lead_staff, by=w.lead_liaison)
    assert post(w, w.lead_staff, Marking.RED).marking == Marking.RED


def test_objective_manager_without_view_restricted_cannot_mark_red(w):
    services.assign_role(
        role=role_named(w.tf, "operations-lead"), person=w.lead_staff, assigned_by=w.lead_liaison
    )

    def create(marking: int) -> Objective:
        return services.create_objective(
            task_force=w.tf,
            title="Close the A449",
            owner_agency=w.lead,
            marking=marking,
            by=w.lead_staff,
        )

    assert_marking_refused(lambda: create(Marking.RED))
    objective = create(Marking.AMBER_STRICT)
    assert_marking_refused(
        lambda: services.update_objective(objective=objective, marking=Marking.RED, by=w.lead_staff)
    )
    objective.refresh_from_db()
    assert objective.marking == Marking.AMBER_STRICT
    # The Commander, who holds view_restricted, may.
    services.update_objective(objective=objective, marking=Marking.RED, by=w.lead_liaison)
    objective.refresh_from_db()
    assert objective.marking == Marking.RED
