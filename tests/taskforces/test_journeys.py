"""Task force pages, each rule from both sides: the person who may and the one who may not."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from agencies.models import Membership
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import (
    Acknowledgement,
    Objective,
    Participation,
    RoleAssignment,
    Task,
    TaskForce,
    Update,
)

from ..conftest import role_named
from ..factories import person

pytestmark = pytest.mark.usefixtures("module_world")


@pytest.fixture
def as_user(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def test_liaison_forms_a_task_force_and_staff_cannot(as_user, world):
    client = as_user(world.partner_liaison)
    response = client.post(
        reverse("taskforces:create"),
        {"name": "Measles outbreak", "mandate": "Contain it.", "marking": Marking.AMBER},
    )
    task_force = TaskForce.objects.get(name="Measles outbreak")
    assert response.status_code == 302 and response["Location"] == reverse(
        "taskforces:detail", args=[task_force.pk]
    )
    assert task_force.lead_agency == world.partner

    client = as_user(world.partner_staff)
    response = client.post(
        reverse("taskforces:create"), {"name": "Rogue", "mandate": "x", "marking": Marking.AMBER}
    )
    assert response.status_code == 403
    assert "liaison officer" in response.content.decode()
    assert not TaskForce.objects.filter(name="Rogue").exists()


@pytest.mark.parametrize(
    "data, field",
    [
        ({"name": "", "mandate": "x", "marking": 1}, "name"),
        ({"name": "A", "mandate": "", "marking": 1}, "mandate"),
        ({"name": "A", "mandate": "x", "marking": 9}, "marking"),
        ({"name": "A" * 201, "mandate": "x", "marking": 1}, "name"),
    ],
)
def test_forming_with_bad_input_shows_errors_and_creates_nothing(as_user, world, data, field):
    before = TaskForce.objects.count()
    response = as_user(world.lead_liaison).post(reverse("taskforces:create"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert TaskForce.objects.count() == before


def test_commander_invites_and_the_invited_liaison_accepts(as_user, world):
    outsider_liaison = person(world.outsider_agency, Membership.Role.LIAISON)
    response = as_user(world.lead_liaison).post(
        reverse("taskforces:invite", args=[world.tf.pk]), {"agency": world.outsider_agency.pk}
    )
    assert response.status_code == 302
    participation = Participation.objects.get(task_force=world.tf, agency=world.outsider_agency)

    # the dashboard shows the invitation to that agency's liaison, not to its staff
    page = as_user(outsider_liaison).get(reverse("dashboard")).content.decode()
    assert "Invitations for your agency" in page and world.tf.name in page
    assert (
        "Invitations for your agency"
        not in as_user(world.outsider).get(reverse("dashboard")).content.decode()
    )
    assert (
        as_user(world.outsider)
        .get(reverse("taskforces:respond", args=[participation.pk]))
        .status_code
        == 404
    )

    response = as_user(outsider_liaison).post(
        reverse("taskforces:respond", args=[participation.pk]), {"decision": "accept"}
    )
    assert response.status_code == 302
    participation.refresh_from_db()
    assert participation.status == Participation.Status.ACCEPTED
    assert (
        as_user(outsider_liaison).get(reverse("taskforces:detail", args=[world.tf.pk])).status_code
        == 200
    )


def test_declining_needs_a_reason(as_user, world):
    outsider_liaison = person(world.outsider_agency, Membership.Role.LIAISON)
    participation = services.invite_agency(
        task_force=world.tf, agency=world.outsider_agency, by=world.lead_liaison
    )
    response = as_user(outsider_liaison).post(
        reverse("taskforces:respond", args=[participation.pk]),
        {"decision": "decline", "reason": ""},
    )
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    participation.refresh_from_db()
    assert participation.status == Participation.Status.INVITED


def test_partner_liaison_cannot_invite(as_user, world):
    response = as_user(world.partner_liaison).post(
        reverse("taskforces:invite", args=[world.tf.pk]), {"agency": world.outsider_agency.pk}
    )
    assert response.status_code == 403
    assert not Participation.objects.filter(agency=world.outsider_agency).exists()
    assert (
        as_user(world.outsider).get(reverse("taskforces:invite", args=[world.tf.pk])).status_code
        == 404
    )


def test_person_picker_offers_only_own_agency(as_user, world):
    analyst = role_named(world.tf, "intelligence-analyst")
    client = as_user(world.partner_liaison)
    page = client.get(reverse("taskforces:assign", args=[analyst.pk]))
    choices = {str(user) for user in page.context["form"].fields["person"].queryset}
    assert str(world.partner_staff) in choices
    assert str(world.lead_staff) not in choices

    response = client.post(
        reverse("taskforces:assign", args=[analyst.pk]), {"person": world.lead_staff.pk}
    )
    assert response.status_code == 200 and "person" in response.context["form"].errors
    assert not RoleAssignment.objects.filter(role=analyst).exists()

    response = client.post(
        reverse("taskforces:assign", args=[analyst.pk]), {"person": world.partner_staff.pk}
    )
    assert response.status_code == 302
    assert (
        RoleAssignment.objects.current().filter(role=analyst, person=world.partner_staff).exists()
    )


def test_staff_cannot_open_the_assign_page(as_user, world):
    analyst = role_named(world.tf, "intelligence-analyst")
    assert (
        as_user(world.partner_staff)
        .get(reverse("taskforces:assign", args=[analyst.pk]))
        .status_code
        == 403
    )
    assert (
        as_user(world.outsider).get(reverse("taskforces:assign", args=[analyst.pk])).status_code
        == 404
    )


def test_holder_limit_shows_as_a_form_error(as_user, world):
    commander = role_named(world.tf, "commander")
    response = as_user(world.lead_liaison).post(
        reverse("taskforces:assign", args=[commander.pk]), {"person": world.lead_staff.pk}
    )
    assert response.status_code == 200
    assert "limit of 1 holder" in response.content.decode()


def test_ending_an_assignment_needs_a_reason_and_the_holders_liaison(as_user, world):
    url = reverse("taskforces:assignment-end", args=[world.partner_staff_assignment.pk])
    assert as_user(world.lead_liaison).post(url, {"reason": "Not yours"}).status_code == 403
    response = as_user(world.partner_liaison).post(url, {"reason": ""})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    response = as_user(world.partner_liaison).post(url, {"reason": "Shift over"})
    assert response.status_code == 302
    world.partner_staff_assignment.refresh_from_db()
    assert world.partner_staff_assignment.end_reason == "Shift over"
    assert (
        as_user(world.partner_staff)
        .get(reverse("taskforces:detail", args=[world.tf.pk]))
        .status_code
        == 404
    )


def test_setting_an_end_date(as_user, world):
    url = reverse("taskforces:assignment-until", args=[world.partner_staff_assignment.pk])
    response = as_user(world.partner_liaison).post(url, {"until": "2001-01-01T10:00"})
    assert response.status_code == 200 and "until" in response.context["form"].errors
    next_year = timezone.localdate().year + 1
    response = as_user(world.partner_liaison).post(url, {"until": f"{next_year}-01-01T10:00"})
    assert response.status_code == 302
    world.partner_staff_assignment.refresh_from_db()
    assert world.partner_staff_assignment.ends_at.year == next_year
    # more than ten years ahead is a typo, not a plan (coordination/validators.py)
    response = as_user(world.partner_liaison).post(url, {"until": "2099-01-01T10:00"})
    assert response.status_code == 200 and "until" in response.context["form"].errors


def test_objectives_board_filters_and_refuses_bad_filters(as_user, world):
    client = as_user(world.lead_liaison)
    url = reverse("taskforces:objectives", args=[world.tf.pk])
    services.update_objective(
        objective=world.objectives[Marking.GREEN],
        by=world.lead_liaison,
        status=Objective.Status.AT_RISK,
    )
    unfiltered = client.get(url)
    assert all(not field.value() for field in unfiltered.context["filter"].form)  # nothing preset
    for name in ("status", "priority", "owner_agency"):  # each select offers "any" first
        assert '<option value="" selected>' in str(unfiltered.context["filter"].form[name])
    page = client.get(url, {"status": "at_risk"}).content.decode()
    assert "Objective TLP:GREEN" in page and "Objective TLP:AMBER<" not in page
    for bad in (
        {"status": "nonsense"},
        {"priority": "99"},
        {"owner_agency": "abc"},
        {"page": "x"},
        {"page": "0"},
        {"page": "999"},
    ):
        assert client.get(url, bad).status_code == 400, bad


def test_partner_never_sees_objectives_above_its_agreement(as_user, world):
    client = as_user(world.partner_staff)
    page = client.get(reverse("taskforces:objectives", args=[world.tf.pk])).content.decode()
    assert "Objective TLP:AMBER" in page
    assert "AMBER+STRICT" not in page and "Objective TLP:RED" not in page
    hidden = world.objectives[Marking.AMBER_STRICT]
    assert client.get(reverse("taskforces:objective", args=[hidden.pk])).status_code == 404
    assert (
        client.get(
            reverse("taskforces:task", args=[world.tasks[Marking.AMBER_STRICT].pk])
        ).status_code
        == 404
    )
    assert (
        client.get(reverse("taskforces:update", args=[world.updates[Marking.RED].pk])).status_code
        == 404
    )


def test_objective_form_validates_and_refuses_members(as_user, world):
    url = reverse("taskforces:objective-create", args=[world.tf.pk])
    assert as_user(world.partner_staff).get(url).status_code == 403
    before = Objective.objects.count()
    response = as_user(world.lead_liaison).post(
        url,
        {
            "title": "",
            "owner_agency": world.lead.pk,
            "status": "on_track",
            "priority": 2,
            "marking": 2,
        },
    )
    assert response.status_code == 200 and "title" in response.context["form"].errors
    response = as_user(world.lead_liaison).post(
        url,
        {
            "title": "Outsider owns",
            "owner_agency": world.outsider_agency.pk,
            "status": "on_track",
            "priority": 2,
            "marking": 2,
        },
    )
    assert response.status_code == 200 and "owner_agency" in response.context["form"].errors
    assert Objective.objects.count() == before
    response = as_user(world.lead_liaison).post(
        url,
        {
            "title": "Evacuate",
            "owner_agency": world.lead.pk,
            "contributing_agencies": [world.partner.pk],
            "status": "on_track",
            "priority": 3,
            "marking": 1,
            "target_date": "2030-05-01",
        },
    )
    assert response.status_code == 302
    assert Objective.objects.get(title="Evacuate").status == "on_track"


def test_assignee_updates_task_status_with_htmx_and_others_cannot(as_user, world):
    task = services.create_task(
        objective=world.objectives[Marking.GREEN],
        title="Sandbags",
        assignee=world.partner_staff,
        by=world.lead_liaison,
    )
    url = reverse("taskforces:task-status", args=[task.pk])
    assert as_user(world.lead_staff).post(url, {"status": "done"}).status_code == 403
    response = as_user(world.partner_staff).post(
        url, {"status": "in_progress"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert (
        'id="task-status"' in response.content.decode() and "<html" not in response.content.decode()
    )
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS
    response = as_user(world.partner_staff).post(url, {"status": "bogus"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    task.refresh_from_db()
    assert task.status == Task.Status.IN_PROGRESS


def test_critical_update_is_acknowledged_once(as_user, world):
    update = services.post_update(
        task_force=world.tf,
        title="Evacuate zone 3",
        body="Now.",
        marking=Marking.GREEN,
        requires_acknowledgement=True,
        ack_agencies=[world.partner],
        by=world.lead_liaison,
    )
    page = as_user(world.partner_staff).get(reverse("dashboard")).content.decode()
    assert "Evacuate zone 3" in page
    url = reverse("taskforces:acknowledge", args=[update.pk])
    assert (
        as_user(world.lead_staff).post(url).status_code == 403
    )  # asked of the partner agency only
    response = as_user(world.partner_staff).post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Acknowledged" in response.content.decode()
    as_user(world.partner_staff).post(url)
    assert Acknowledgement.objects.filter(update=update).count() == 1
    assert (
        "Evacuate zone 3"
        not in as_user(world.partner_staff).get(reverse("dashboard")).content.decode()
    )


def test_posting_an_update_validates_the_marking(as_user, world):
    url = reverse("taskforces:update-create", args=[world.tf.pk])
    before = Update.objects.count()
    response = as_user(world.partner_staff).post(
        url, {"kind": "update", "title": "Leak", "body": "x", "marking": Marking.AMBER_STRICT}
    )
    assert response.status_code == 200 and "marking" in response.context["form"].errors
    assert Update.objects.count() == before
    response = as_user(world.partner_staff).post(
        url, {"kind": "update", "title": "Status", "body": "All fine", "marking": Marking.GREEN}
    )
    assert response.status_code == 302


def test_lifecycle_buttons_only_for_the_commander(as_user, world):
    url = reverse("taskforces:status", args=[world.tf.pk])
    assert as_user(world.partner_staff).post(url, {"status": "active"}).status_code == 403
    as_user(world.lead_liaison).post(url, {"status": "active"})
    world.tf.refresh_from_db()
    assert world.tf.status == TaskForce.Status.ACTIVE
    response = as_user(world.lead_liaison).post(url, {"status": "forming"}, follow=True)
    assert "cannot become forming" in response.content.decode()
    world.tf.refresh_from_db()
    assert world.tf.status == TaskForce.Status.ACTIVE


def test_why_can_i_see_this_on_every_object(as_user, world):
    client = as_user(world.partner_staff)
    for url in (
        reverse("taskforces:detail", args=[world.tf.pk]),
        reverse("taskforces:objective", args=[world.objectives[Marking.AMBER].pk]),
        reverse("taskforces:task", args=[world.tasks[Marking.AMBER].pk]),
        reverse("taskforces:update", args=[world.updates[Marking.AMBER].pk]),
    ):
        page = client.get(url).content.decode()
        assert "Why can I see this?" in page and "You hold the role Member" in page, url


def grow(world, n: int = 12) -> None:
    analyst = role_named(world.tf, "intelligence-analyst")
    for i in range(n):
        objective = services.create_objective(
            task_force=world.tf,
            title=f"More {i}",
            owner_agency=world.partner,
            contributing_agencies=[world.lead, world.partner],
            marking=Marking.GREEN,
            by=world.lead_liaison,
        )
        services.create_task(
            objective=objective,
            title=f"Task {i}",
            assignee=world.partner_staff,
            by=world.lead_liaison,
        )
        services.create_task(
            objective=objective,
            title=f"Role task {i}",
            assigned_role=world.member_role,
            by=world.lead_liaison,
        )
        services.post_update(
            task_force=world.tf,
            title=f"Update {i}",
            body="…",
            marking=Marking.GREEN,
            requires_acknowledgement=bool(i % 2),
            by=world.lead_liaison,
        )
        services.assign_role(
            role=analyst, person=person(world.partner), assigned_by=world.partner_liaison
        )
        other = services.form_task_force(name=f"Other {i}", mandate="…", by=world.lead_liaison)
        services.assign_role(
            role=role_named(other, "member"),
            person=world.lead_staff,
            assigned_by=world.lead_liaison,
        )


PAGES = [
    ("dashboard", None),
    ("taskforces:list", None),
    ("taskforces:detail", "tf"),
    ("taskforces:organisation", "tf"),
    ("taskforces:objectives", "tf"),
    ("taskforces:updates", "tf"),
    ("taskforces:objective", "objective"),
    ("taskforces:task", "task"),
    ("taskforces:update", "update"),
    ("notifications:centre", None),
]


@pytest.mark.parametrize("persona", ["lead_liaison", "partner_staff", "lead_staff"])
def test_every_page_keeps_its_query_count_as_data_grows(
    as_user, world, persona, django_assert_max_num_queries
):
    targets = {
        "tf": world.tf,
        "objective": world.objectives[Marking.GREEN],
        "task": world.tasks[Marking.GREEN],
        "update": world.updates[Marking.AMBER],
    }
    client = as_user(getattr(world, persona))
    urls = [reverse(name, args=[targets[key].pk]) if key else reverse(name) for name, key in PAGES]
    counts = {}
    for url in urls:
        with django_assert_max_num_queries(25) as captured:
            assert client.get(url).status_code == 200, url
        counts[url] = len(captured.captured_queries)
    grow(world)
    for url in urls:
        with django_assert_max_num_queries(counts[url]):
            assert client.get(url).status_code == 200, url
