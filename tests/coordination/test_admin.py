"""The Django admin: every model is there, every rule-bound change goes through its
service, need-to-know holds, and the lists keep a constant number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import models
from django.test import Client
from django.urls import reverse

from agencies import services as agency_services
from agencies.models import Agency, Membership, SharingAgreement
from coordination.models import AuditEvent, Notification, User
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import (
    Acknowledgement,
    Capability,
    Objective,
    Participation,
    Role,
    RoleAssignment,
    RoleTemplate,
    Task,
    TaskForce,
    TaskForceGroupObjectPermission,
    TaskForceUserObjectPermission,
    Update,
)
from tests.factories import person

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("module_world")]

# Models whose records live inside a task force (a role's group too): the admin shows
# them on a need-to-know basis, like every other page.
INSIDE_TASK_FORCES = {
    Group,
    TaskForce,
    Participation,
    Role,
    RoleAssignment,
    Objective,
    Task,
    Update,
    Acknowledgement,
    TaskForceGroupObjectPermission,
    TaskForceUserObjectPermission,
}


def admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture(autouse=True)
def portal_admin_uses_the_admin(world: SimpleNamespace) -> None:
    """The persona's portal administrator, with Django admin access as the demo's has."""
    User.objects.filter(pk=world.portal_admin.pk).update(is_staff=True, is_superuser=True)
    world.portal_admin.refresh_from_db()


@pytest.fixture
def commander(world: SimpleNamespace) -> User:
    """The lead liaison (Commander of the task force), given Django admin access too."""
    User.objects.filter(pk=world.lead_liaison.pk).update(is_staff=True, is_superuser=True)
    world.lead_liaison.refresh_from_db()
    return world.lead_liaison


@pytest.fixture
def samples(world: SimpleNamespace) -> dict[type[models.Model], models.Model]:
    """One record of every registered model (guardian's per-person table stays empty)."""
    update = services.post_update(
        task_force=world.tf,
        title="Sandbag depot moved",
        body="Now at the fire station.",
        by=world.lead_liaison,
        requires_acknowledgement=True,
    )
    acknowledgement = services.acknowledge_update(update=update, by=world.partner_staff)
    # Notifications are written by the notification workers; a plain row stands in.
    notification = Notification.objects.create(
        recipient=world.portal_admin, kind="agency.applied", title="New application"
    )
    return {
        User: world.lead_staff,
        Group: world.member_role.group,
        AuditEvent: AuditEvent.objects.filter(action="agency.updated").first()
        or AuditEvent.objects.first(),
        Agency: world.lead,
        Membership: Membership.objects.get(user=world.lead_staff),
        SharingAgreement: world.agreement,
        TaskForce: world.tf,
        Participation: world.participation,
        RoleTemplate: RoleTemplate.objects.get(slug="commander"),
        Role: world.member_role,
        RoleAssignment: world.lead_staff_assignment,
        Objective: world.objectives[Marking.RED],
        Task: world.tasks[Marking.RED],
        Update: world.updates[Marking.RED],
        Acknowledgement: acknowledgement,
        TaskForceGroupObjectPermission: TaskForceGroupObjectPermission.objects.filter(
            content_object=world.tf
        ).first(),
        Notification: notification,
    }


def test_every_model_of_concord_is_registered() -> None:
    for label in ("coordination", "agencies", "taskforces"):
        for model in apps.get_app_config(label).get_models():
            assert admin.site.is_registered(model), model.__name__
    assert admin.site.is_registered(Group)


def test_portal_admin_opens_every_list(world: SimpleNamespace) -> None:
    client = client_for(world.portal_admin)
    for model in admin.site._registry:
        assert client.get(admin_url(model, "changelist")).status_code == 200, model


def test_portal_admin_opens_every_page_outside_task_forces(
    world: SimpleNamespace, samples: dict[type[models.Model], models.Model]
) -> None:
    client = client_for(world.portal_admin)
    for model, obj in samples.items():
        if model in INSIDE_TASK_FORCES:
            continue
        response = client.get(admin_url(model, "change", obj.pk))
        assert response.status_code == 200, model


def test_portal_admin_sees_nothing_inside_task_forces(
    world: SimpleNamespace, samples: dict[type[models.Model], models.Model]
) -> None:
    """Being a portal administrator (even a Django superuser) gives no access inside task
    forces: their records are neither listed nor opened."""
    client = client_for(world.portal_admin)
    listing = client.get(admin_url(Objective, "changelist"))
    assert world.objectives[Marking.RED].title not in listing.content.decode()
    for model, obj in samples.items():
        if model in INSIDE_TASK_FORCES:
            response = client.get(admin_url(model, "change", obj.pk))
            assert response.status_code == 302, model  # "does not exist" → admin index
            assert response["Location"] == reverse("admin:index")


def test_a_superuser_with_roles_opens_every_page(
    commander: User, samples: dict[type[models.Model], models.Model]
) -> None:
    client = client_for(commander)
    for model, obj in samples.items():
        if model is Notification:
            continue  # the portal administrator's own; see the test below
        if model is AuditEvent:
            continue  # the audit trail is for portal and agency administrators (its policy)
        response = client.get(admin_url(model, "change", obj.pk))
        assert response.status_code == 200, model
    listing = client.get(admin_url(Objective, "changelist")).content.decode()
    red = samples[Objective]
    assert isinstance(red, Objective) and red.title in listing  # TLP:RED: the commander may


def test_notifications_are_seen_by_their_recipient_only(
    world: SimpleNamespace, commander: User, samples: dict[type[models.Model], models.Model]
) -> None:
    url = admin_url(Notification, "change", samples[Notification].pk)
    assert client_for(world.portal_admin).get(url).status_code == 200
    assert client_for(commander).get(url).status_code == 302


# --- agencies: the lifecycle through the services --------------------------------------


def under_review(world: SimpleNamespace) -> Agency:
    agency = agency_services.apply_for_agency(
        name="Severn Valley Water Authority",
        level=Agency.Level.REGIONAL,
        sector=Agency.Sector.ENVIRONMENT,
        contact_email="contact@svwa.example.gov",
    )
    return agency_services.begin_review(agency=agency, by=world.portal_admin)


def run_action(client: Client, model: type[models.Model], action: str, objs: list, **data: Any):
    return client.post(
        admin_url(model, "changelist"),
        {"action": action, "_selected_action": [o.pk for o in objs], **data},
        follow=True,
    )


def test_approve_makes_an_agency_active_through_the_service(world: SimpleNamespace) -> None:
    agency = under_review(world)
    response = run_action(client_for(world.portal_admin), Agency, "approve", [agency])
    agency.refresh_from_db()
    assert agency.status == Agency.Status.ACTIVE
    assert AuditEvent.objects.filter(
        action="agency.active", object_id=str(agency.pk), actor=world.portal_admin
    ).exists()
    assert any("Approved" in m for m in messages_of(response))


def test_approve_on_an_active_agency_is_refused_with_a_message(world: SimpleNamespace) -> None:
    events = AuditEvent.objects.exclude(action__startswith="auth.").count()
    response = run_action(client_for(world.portal_admin), Agency, "approve", [world.lead])
    assert response.status_code == 200
    world.lead.refresh_from_db()
    assert world.lead.status == Agency.Status.ACTIVE
    assert AuditEvent.objects.exclude(action__startswith="auth.").count() == events
    assert any(
        "Only an agency that is under review can be approved" in m for m in messages_of(response)
    )


def test_suspend_asks_for_a_reason_first(world: SimpleNamespace) -> None:
    client = client_for(world.portal_admin)
    ask = run_action(client, Agency, "suspend", [world.partner])
    assert ask.status_code == 200
    assert 'name="reason"' in ask.content.decode()
    empty = run_action(client, Agency, "suspend", [world.partner], apply="Suspend", reason=" ")
    assert 'name="reason"' in empty.content.decode()  # asked again, nothing done
    world.partner.refresh_from_db()
    assert world.partner.status == Agency.Status.ACTIVE

    run_action(
        client, Agency, "suspend", [world.partner], apply="Suspend", reason="Data breach inquiry"
    )
    world.partner.refresh_from_db()
    assert world.partner.status == Agency.Status.SUSPENDED
    assert world.partner.status_reason == "Data breach inquiry"
    # Access goes at once: the partner's staff no longer see the task force.
    assert not TaskForce.objects.restrict(world.partner_staff).exists()


def test_agency_status_cannot_be_edited_on_the_form(world: SimpleNamespace) -> None:
    client = client_for(world.portal_admin)
    url = admin_url(Agency, "change", world.lead.pk)
    data = {
        "name": "National Flood Agency",
        "acronym": "NFA",
        "level": world.lead.level,
        "sector": world.lead.sector,
        "jurisdiction": "England",
        "contact_email": world.lead.contact_email,
        "website": "",
        "time_zone": world.lead.time_zone,
        "status": Agency.Status.OFFBOARDED,
    }
    response = client.post(url, data)
    assert response.status_code == 302
    world.lead.refresh_from_db()
    assert world.lead.status == Agency.Status.ACTIVE
    assert world.lead.jurisdiction == "England"
    event = AuditEvent.objects.get(action="agency.updated", object_id=str(world.lead.pk))
    assert event.after == {**(event.before or {}), "jurisdiction": "England"}


def test_an_agencys_time_zone_is_changed_in_the_admin_and_checked(world: SimpleNamespace) -> None:
    client = client_for(world.portal_admin)
    url = admin_url(Agency, "change", world.lead.pk)
    data = {
        "name": world.lead.name,
        "acronym": world.lead.acronym,
        "level": world.lead.level,
        "sector": world.lead.sector,
        "jurisdiction": world.lead.jurisdiction,
        "contact_email": world.lead.contact_email,
        "website": world.lead.website,
        "time_zone": "Mars/Olympus_Mons",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "is not a time zone Concord knows" in response.content.decode()
    world.lead.refresh_from_db()
    assert world.lead.time_zone == "UTC"
    assert client.post(url, {**data, "time_zone": "Europe/Lisbon"}).status_code == 302
    world.lead.refresh_from_db()
    assert world.lead.time_zone == "Europe/Lisbon"
    event = AuditEvent.objects.get(action="agency.updated", object_id=str(world.lead.pk))
    assert event.after["time_zone"] == "Europe/Lisbon"


def test_a_new_agency_is_recorded_as_an_application(world: SimpleNamespace) -> None:
    client = client_for(world.portal_admin)
    data = {
        "name": "Riverton Ambulance Service",
        "acronym": "RAS",
        "level": Agency.Level.LOCAL,
        "sector": Agency.Sector.HEALTH,
        "jurisdiction": "",
        "contact_email": "ops@ras.example.gov",
        "website": "",
        "time_zone": "Europe/Dublin",
    }
    assert client.post(admin_url(Agency, "add"), data).status_code == 302
    agency = Agency.objects.get(name="Riverton Ambulance Service")
    assert agency.status == Agency.Status.APPLIED
    assert agency.time_zone == "Europe/Dublin"
    assert AuditEvent.objects.filter(action="agency.applied", object_id=str(agency.pk)).exists()


def test_a_member_is_added_through_add_member(world: SimpleNamespace) -> None:
    client = client_for(world.portal_admin)
    data = {
        "agency": world.outsider_agency.pk,
        "role": Membership.Role.LIAISON,
        "email": "New.Liaison@CTA.example.gov",
        "first_name": "Noor",
        "last_name": "Aziz",
        "job_title": "Resilience Officer",
    }
    assert client.post(admin_url(Membership, "add"), data).status_code == 302
    membership = Membership.objects.get(user__email="new.liaison@cta.example.gov")
    assert membership.role == Membership.Role.LIAISON
    assert AuditEvent.objects.filter(
        action="membership.created", object_id=str(membership.pk), actor=world.portal_admin
    ).exists()

    # Someone who already belongs to an agency: the service's refusal shows on the form.
    data["email"] = world.lead_staff.email
    response = client.post(admin_url(Membership, "add"), data)
    assert response.status_code == 200
    assert "already belongs to an agency" in response.content.decode()


# --- roles and assignments -------------------------------------------------------------


def role_form(role: Role, capabilities: Sequence[str]) -> dict[str, Any]:
    return {
        "responsibilities": role.responsibilities,
        "capabilities": capabilities,
        "max_holders": role.max_holders or "",
        "eligible_agencies": [],
    }


def test_role_capabilities_are_changed_through_update_role(
    world: SimpleNamespace, commander: User
) -> None:
    role = world.member_role
    wanted = [Capability.VIEW, Capability.POST_UPDATES, Capability.MANAGE_TASKS]
    response = client_for(commander).post(
        admin_url(Role, "change", role.pk), role_form(role, wanted)
    )
    assert response.status_code == 302
    granted = set(
        TaskForceGroupObjectPermission.objects.filter(
            group=role.group, content_object=world.tf
        ).values_list("permission__codename", flat=True)
    )
    assert granted == set(wanted)
    assert AuditEvent.objects.filter(action="role.updated", object_id=str(role.pk)).exists()

    # The service's own rules show on the form: a role that does something must view.
    response = client_for(commander).post(
        admin_url(Role, "change", role.pk), role_form(role, [Capability.POST_UPDATES])
    )
    assert response.status_code == 200
    assert "must also view the task force" in response.content.decode()


def test_a_superuser_without_the_edit_capability_gets_a_read_only_role(
    world: SimpleNamespace,
) -> None:
    User.objects.filter(pk=world.lead_staff.pk).update(is_staff=True, is_superuser=True)
    client = client_for(User.objects.get(pk=world.lead_staff.pk))
    url = admin_url(Role, "change", world.member_role.pk)
    assert client.get(url).status_code == 200  # sees the role (holds Member)
    assert client.post(url, role_form(world.member_role, list(Capability))).status_code == 403
    assert world.member_role.capabilities == Role.objects.get(pk=world.member_role.pk).capabilities


def test_assignments_cannot_be_added_or_changed_in_the_admin(
    world: SimpleNamespace, commander: User
) -> None:
    for user in (world.portal_admin, commander):
        client = client_for(user)
        assert client.get(admin_url(RoleAssignment, "add")).status_code == 403
    url = admin_url(RoleAssignment, "change", world.lead_staff_assignment.pk)
    assert client_for(commander).post(url, {"ends_at": ""}).status_code == 403


def test_audit_events_are_read_only(world: SimpleNamespace) -> None:
    client = client_for(world.portal_admin)
    event = AuditEvent.objects.earliest("created_at")
    assert client.get(admin_url(AuditEvent, "add")).status_code == 403
    assert client.post(admin_url(AuditEvent, "change", event.pk), {}).status_code == 403
    assert (
        client.post(admin_url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    )


# --- query counts ----------------------------------------------------------------------

MAX_QUERIES = 10


def grow(world: SimpleNamespace, model: type[models.Model], n: int = 4) -> None:
    """Add ``n`` more rows of ``model`` (and what they hang on) through the services."""
    for i in range(n):
        if model is Role:
            services.create_role(
                task_force=world.tf,
                name=f"Sandbag team {i}",
                responsibilities="Fill and place sandbags.",
                capabilities=[Capability.VIEW],
                by=world.lead_liaison,
            )
        elif model is RoleAssignment:
            services.assign_role(
                role=world.member_role,
                person=person(world.lead, email=f"extra{i}@nfa.example.gov"),
                assigned_by=world.lead_liaison,
            )
        elif model is Objective:
            services.create_objective(
                task_force=world.tf,
                title=f"Extra objective {i}",
                owner_agency=world.partner,
                contributing_agencies=[world.lead],
                by=world.lead_liaison,
            )
        elif model is Task:
            services.create_task(
                objective=world.objectives[Marking.AMBER],
                title=f"Extra task {i}",
                assignee=world.partner_staff,
                assigned_role=None,
                by=world.lead_liaison,
            )
        elif model is Membership:
            person(world.partner, email=f"extra{i}@rhs.example.gov")


@pytest.mark.parametrize("model", [Role, RoleAssignment, Objective, Task, Membership])
def test_lists_keep_a_constant_number_of_queries(
    model: type[models.Model],
    world: SimpleNamespace,
    commander: User,
    django_assert_max_num_queries: Any,
) -> None:
    client = client_for(commander)
    url = admin_url(model, "changelist")
    client.get(url)  # warm caches (content types, sessions) so both runs compare alike
    with django_assert_max_num_queries(MAX_QUERIES) as first:
        assert client.get(url).status_code == 200
    rows = model._default_manager.count()
    grow(world, model)
    assert model._default_manager.count() > rows
    with django_assert_max_num_queries(MAX_QUERIES) as second:
        response = client.get(url)
    assert response.status_code == 200
    assert len(second) == len(first)
    assert response.context["cl"].result_count >= 4
