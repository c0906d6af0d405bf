"""The organisation chart (ICS 203) as its page reads it (``selectors.chart_of``): on
PostgreSQL three prepared statements, everywhere the same roles, current holders and
limits as the queryset that defines the chart (``selectors.organisation_chart``)."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from agencies.models import Agency
from taskforces import selectors, services
from taskforces.models import RoleAssignment, TaskForce

from ..conftest import page_read_by, role_named
from ..factories import person

pytestmark = pytest.mark.django_db


def _values(obj: Any) -> dict[str, Any]:
    """The fields an instance holds (deferred ones left out, as they were not read)."""
    deferred = obj.get_deferred_fields()
    return {
        f.attname: getattr(obj, f.attname)
        for f in obj._meta.concrete_fields
        if f.attname not in deferred
    }


def _chart(roles: list[Any]) -> list[Any]:
    return [
        (
            _values(role),
            [dataclasses.astuple(holder) for holder in role.holders],
            [_values(agency) for agency in role.eligible],
        )
        for role in roles
    ]


def test_the_chart_read_for_its_page_is_the_querysets(world) -> None:
    """Holders current now only (not ended, expired or yet to start), newest first, each
    named as everywhere and shown with their agency's acronym (its name when it has
    none); the limits by agency; every role, vacant ones too; for each task force."""
    now = timezone.now()
    Agency.objects.filter(pk=world.partner.pk).update(acronym="")
    member, analyst = world.member_role, role_named(world.tf, "intelligence-analyst")
    analyst.eligible_agencies.set([world.partner, world.lead])
    second = person(world.lead)
    services.assign_role(role=member, person=second, assigned_by=world.lead_liaison)
    services.assign_role(
        role=analyst, person=person(world.partner), assigned_by=world.partner_liaison
    )
    expired = services.assign_role(
        role=member, person=person(world.lead), assigned_by=world.lead_liaison
    )
    RoleAssignment.objects.filter(pk=expired.pk).update(
        starts_at=now - datetime.timedelta(days=3), ends_at=now - datetime.timedelta(days=1)
    )
    ended = services.assign_role(
        role=member, person=person(world.lead), assigned_by=world.lead_liaison
    )
    services.end_assignment(assignment=ended, by=world.lead_liaison, reason="Rotated out.")
    services.assign_role(
        role=member,
        person=person(world.partner),
        assigned_by=world.partner_liaison,
        starts_at=now + datetime.timedelta(days=1),
    )
    limited = services.assign_role(
        role=member, person=person(world.lead), assigned_by=world.lead_liaison
    )
    RoleAssignment.objects.filter(pk=limited.pk).update(ends_at=now + datetime.timedelta(days=5))
    for task_force in TaskForce.objects.all():
        read = selectors.chart_of(task_force)
        defined = list(selectors.organisation_chart(task_force))
        for role in defined:
            role.holders = [selectors.Holder.of(a) for a in role.holders]
            role.eligible = list(role.eligible_agencies.all())
        assert _chart(read) == _chart(defined)
    chart = {role.pk: role for role in selectors.chart_of(world.tf)}
    shown = {a.pk for a in chart[member.pk].holders}
    assert limited.pk in shown and not shown & {expired.pk, ended.pk}
    assert {(a.person, a.agency) for a in chart[member.pk].holders} >= {
        (str(second), world.lead.acronym),
        (str(world.lead_staff), world.lead.acronym),
    }
    assert [a.agency for a in chart[analyst.pk].holders] == [world.partner.name]
    assert [a.pk for a in chart[analyst.pk].eligible] == sorted(
        (world.partner.pk, world.lead.pk),
        key=lambda pk: next(a.name for a in (world.lead, world.partner) if a.pk == pk),
    )
    assert any(not role.holders for role in chart.values())  # vacant roles are on the chart


def test_the_chart_page_reads_its_statements_and_shows_the_holders(client, world):
    if connection.vendor != "postgresql":
        pytest.skip("the chart's statements are PostgreSQL's")
    statements = (
        selectors._VISIBLE_TASK_FORCE,
        selectors._CHART_ROLES,
        selectors._CHART_HOLDERS,
        selectors._CHART_ELIGIBLE,
    )
    url = reverse("taskforces:organisation", args=[world.tf.pk])
    assert str(world.lead_staff) in page_read_by(client, world.lead_staff, url, statements)


def test_a_role_added_between_the_charts_statements_waits_for_the_next_reading(
    world, monkeypatch
) -> None:
    """The chart's statements are three reads, not one snapshot: a role with a holder and
    a limit committed after the roles were read is left out of this chart, not a 500."""
    if connection.vendor != "postgresql":
        pytest.skip("the chart's statements are PostgreSQL's")
    read = selectors.db.fetch_all
    added: list[Any] = []

    def then_add_a_role(sql: str, params: Any, **kwargs: Any) -> list[Any]:
        rows = read(sql, params, **kwargs)
        if sql == selectors._CHART_ROLES and not added:
            role = services.create_role(
                task_force=world.tf,
                name="Late liaison",
                responsibilities="Joins late.",
                capabilities=["view_taskforce"],
                by=world.lead_liaison,
                eligible_agencies=[world.lead],
            )
            services.assign_role(
                role=role, person=person(world.lead), assigned_by=world.lead_liaison
            )
            added.append(role)
        return rows

    monkeypatch.setattr(selectors.db, "fetch_all", then_add_a_role)
    chart = selectors.chart_of(world.tf)
    assert added and added[0].pk not in {role.pk for role in chart}
    monkeypatch.undo()
    assert added[0].pk in {role.pk for role in selectors.chart_of(world.tf)}
