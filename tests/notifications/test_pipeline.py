"""The notification pipeline in-process (tasks run eagerly): who is told, once, by which
channel, and what a rolled-back or no-longer-visible change sends (nothing)."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Membership
from coordination import notifications
from coordination.models import Event, Notification, User
from coordination.permissions import can
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.permissions import audience

from ..conftest import role_named
from ..factories import person

pytestmark = pytest.mark.usefixtures("module_world")


N = Notification.EmailStatus


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a block as if its transaction committed: after-commit work (dispatch, e-mail)
    runs, as a worker would run it."""

    def run(fn):
        with django_capture_on_commit_callbacks(execute=True):
            result = fn()
        return result

    return run


def recipients_of(kind: str) -> set[str]:
    return set(Notification.objects.filter(kind=kind).values_list("recipient__email", flat=True))


def mails_to(address: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if address in m.to]


def test_an_update_reaches_exactly_those_who_may_see_it_once_each(world, committed):
    mail.outbox.clear()
    update = committed(
        lambda: services.post_update(
            task_force=world.tf,
            title="Levee breach",
            body="North bank.",
            marking=Marking.AMBER,
            by=world.lead_liaison,
        )
    )
    told = recipients_of("update.posted")
    assert told == {world.lead_staff.email, world.partner_staff.email, world.partner_liaison.email}
    assert world.outsider.email not in told and world.portal_admin.email not in told
    for address in told:
        assert len(mails_to(address)) == 1
    event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
    assert event.dispatched_at is not None
    # dispatching again (a redelivered task) adds nothing
    assert notifications.dispatch(event.pk) == 0
    event.dispatched_at = None
    event.save()
    assert notifications.dispatch(event.pk) == 0
    assert Notification.objects.filter(event=event).count() == 3


def test_above_the_agreement_nobody_of_the_partner_is_told(world, committed):
    committed(
        lambda: services.post_update(
            task_force=world.tf,
            title="Source report",
            body="Sensitive.",
            marking=Marking.AMBER_STRICT,
            by=world.lead_liaison,
        )
    )
    assert recipients_of("update.posted") == {world.lead_staff.email}


def test_red_items_reach_only_view_restricted_holders_and_carry_no_body(world, committed):
    analyst = person(world.lead)
    services.assign_role(
        role=role_named(world.tf, "intelligence-analyst"),
        person=analyst,
        assigned_by=world.lead_liaison,
    )
    mail.outbox.clear()
    committed(
        lambda: services.post_update(
            task_force=world.tf,
            title="Covert source",
            body="Name of the source",
            marking=Marking.RED,
            by=world.lead_liaison,
        )
    )
    assert recipients_of("update.posted") == {analyst.email}
    (message,) = mails_to(analyst.email)
    assert "Name of the source" not in message.body
    assert "TLP:RED" in message.body


def test_a_rolled_back_change_records_and_sends_nothing(world, committed):
    mail.outbox.clear()
    events = Event.objects.count()

    def failing():
        with transaction.atomic():
            services.post_update(
                task_force=world.tf,
                title="Never",
                body="x",
                marking=Marking.GREEN,
                by=world.lead_liaison,
            )
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        committed(failing)
    assert Event.objects.count() == events
    assert not Notification.objects.filter(title__contains="Never").exists()
    assert mail.outbox == []


def test_losing_access_before_delivery_gets_nothing(world):
    mail.outbox.clear()
    # committed, but no worker has picked the event up yet (after-commit work not run)
    update = services.post_update(
        task_force=world.tf, title="Later", body="x", marking=Marking.GREEN, by=world.lead_liaison
    )
    services.end_assignment(
        assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Rotated"
    )
    event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
    notifications.dispatch(event.pk)
    for pk in Notification.objects.filter(event=event).values_list("pk", flat=True):
        notifications.deliver(pk)
    assert world.partner_staff.email not in recipients_of("update.posted")
    assert mails_to(world.partner_staff.email) == []
    assert len(mails_to(world.lead_staff.email)) == 1


def test_access_lost_between_fan_out_and_e_mail_withdraws_the_notification(world, committed):
    mail.outbox.clear()
    update = services.post_update(
        task_force=world.tf, title="Soon", body="x", marking=Marking.GREEN, by=world.lead_liaison
    )
    event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
    notifications.dispatch(event.pk)  # notifications exist, e-mails not yet sent
    agency_services.suspend_agency(agency=world.partner, by=world.portal_admin, reason="Breach")
    mine = Notification.objects.get(event=event, recipient=world.partner_staff)
    assert notifications.deliver(mine.pk) == "withdrawn"
    assert mails_to(world.partner_staff.email) == []
    assert not notifications.visible_notifications(world.partner_staff).filter(pk=mine.pk).exists()


def test_a_claimed_e_mail_is_sent_by_one_worker_only(world):
    mail.outbox.clear()
    update = services.post_update(
        task_force=world.tf, title="Once", body="x", marking=Marking.GREEN, by=world.lead_liaison
    )
    notifications.dispatch(Event.objects.get(kind="update.posted", object_id=str(update.pk)).pk)
    target = Notification.objects.get(kind="update.posted", recipient=world.lead_staff)
    assert notifications.deliver(target.pk) == "sent"
    assert notifications.deliver(target.pk) == "not-mine"
    assert len(mails_to(world.lead_staff.email)) == 1
    # a stale claim (a worker died after claiming) is taken back by the sweeper
    Notification.objects.filter(pk=target.pk).update(
        email_status=N.SENDING, email_claimed_at=timezone.now() - datetime.timedelta(hours=1)
    )
    swept = notifications.sweep(now=timezone.now() + datetime.timedelta(hours=1))
    assert swept["reclaimed"] == 1


def test_message_ids_are_stable(world, committed):
    mail.outbox.clear()
    committed(
        lambda: services.post_update(
            task_force=world.tf, title="Id", body="x", marking=Marking.GREEN, by=world.lead_liaison
        )
    )
    target = Notification.objects.get(kind="update.posted", recipient=world.lead_staff)
    (message,) = mails_to(world.lead_staff.email)
    assert message.extra_headers["Message-ID"].startswith(f"<notification-{target.pk}@")


def test_the_sweeper_recovers_an_event_whose_task_was_lost(world):
    Event.objects.update(dispatched_at=timezone.now())  # the world's own events: handled
    # no after-commit callbacks run: as if the broker lost the dispatch task
    update = services.post_update(
        task_force=world.tf, title="Lost", body="x", marking=Marking.GREEN, by=world.lead_liaison
    )
    event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
    mail.outbox.clear()
    later = timezone.now() + datetime.timedelta(minutes=5)
    notifications.sweep(now=later)  # queues dispatch (eager here), which queues nothing further
    notifications.sweep(now=later)  # and the pending e-mails
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert len(mails_to(world.lead_staff.email)) == 1


def test_audience_agrees_with_can_for_every_persona(world, personas):
    analyst = person(world.partner)
    services.assign_role(
        role=role_named(world.tf, "intelligence-analyst"),
        person=analyst,
        assigned_by=world.partner_liaison,
    )
    people = [*personas.values(), analyst]
    objects = [world.tf, *world.objectives.values(), *world.tasks.values(), *world.updates.values()]
    for obj in objects:
        told = set(audience(obj).values_list("pk", flat=True))
        for user in people:
            assert (user.pk in told) == can(user, "view", obj), (user.email, obj)


def test_preferences_digest_and_in_app(world, committed):
    notifications.set_preferences(user=world.lead_staff, choices={"update.posted": "digest"})
    notifications.set_preferences(user=world.partner_staff, choices={"update.posted": "in_app"})
    mail.outbox.clear()
    for title in ("Morning report", "Noon report"):
        committed(
            lambda title=title: services.post_update(
                task_force=world.tf,
                title=title,
                body="x",
                marking=Marking.GREEN,
                by=world.lead_liaison,
            )
        )
    assert mails_to(world.lead_staff.email) == []
    assert mails_to(world.partner_staff.email) == []
    assert (
        notifications.visible_notifications(world.partner_staff)
        .filter(kind="update.posted")
        .count()
        == 2
    )
    assert notifications.send_digests() >= 1
    (digest,) = mails_to(world.lead_staff.email)
    assert "Morning report" in digest.body and "Noon report" in digest.body
    assert notifications.send_digests() == 0  # sent once
    assert mails_to(world.partner_staff.email) == []


def test_critical_kinds_cannot_be_turned_down(world):
    with pytest.raises(ValidationError) as error:
        notifications.set_preferences(user=world.lead_staff, choices={"update.critical": "in_app"})
    assert "update.critical" in error.value.message_dict
    with pytest.raises(ValidationError):
        notifications.set_preferences(user=world.lead_staff, choices={"no.such.kind": "digest"})
    with pytest.raises(ValidationError):
        notifications.set_preferences(user=world.lead_staff, choices={"update.posted": "weekly"})


def test_a_burst_of_updates_becomes_one_more_message(world, committed):
    mail.outbox.clear()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for i in range(4):
            committed(
                lambda i=i: services.post_update(
                    task_force=world.tf,
                    title=f"Burst {i}",
                    body="x",
                    marking=Marking.GREEN,
                    by=world.lead_liaison,
                )
            )
    assert len(mails_to(world.lead_staff.email)) == 1  # the first; three are held
    assert Notification.objects.filter(recipient=world.lead_staff, email_status=N.HELD).count() == 3
    with time_machine.travel(start + datetime.timedelta(minutes=5), tick=False):
        assert notifications.flush_held() == 0  # the window has not passed
    with time_machine.travel(start + datetime.timedelta(minutes=11), tick=False):
        assert notifications.flush_held() >= 1
    bundle = mails_to(world.lead_staff.email)[-1]
    assert len(mails_to(world.lead_staff.email)) == 2
    assert all(f"Burst {i}" in bundle.body for i in (1, 2, 3))


def test_critical_update_reminds_then_escalates_once(world, committed, settings):
    settings.CONCORD_ACK_REMIND_HOURS = 4
    settings.CONCORD_ACK_ESCALATE_HOURS = 8
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        update = committed(
            lambda: services.post_update(
                task_force=world.tf,
                title="Evacuate",
                body="Zone 3.",
                marking=Marking.GREEN,
                requires_acknowledgement=True,
                ack_agencies=[world.partner],
                by=world.lead_liaison,
            )
        )
    assert recipients_of("update.critical") == {
        world.partner_staff.email,
        world.partner_liaison.email,
    }
    services.acknowledge_update(update=update, by=world.partner_liaison)
    with time_machine.travel(start + datetime.timedelta(hours=3), tick=False):
        assert committed(services.escalate_unacknowledged) == 0
    with time_machine.travel(start + datetime.timedelta(hours=5), tick=False):
        assert committed(services.escalate_unacknowledged) == 1
        assert committed(services.escalate_unacknowledged) == 0
    assert recipients_of("update.ack_reminder") == {world.partner_staff.email}
    with time_machine.travel(start + datetime.timedelta(hours=9), tick=False):
        assert committed(services.escalate_unacknowledged) == 1
    assert recipients_of("update.ack_escalated") == {world.partner_liaison.email}


def test_the_signed_link_acknowledges_for_its_person_only(world, committed, client):
    mail.outbox.clear()
    update = committed(
        lambda: services.post_update(
            task_force=world.tf,
            title="Boil water",
            body="Notice.",
            marking=Marking.GREEN,
            requires_acknowledgement=True,
            ack_agencies=[world.partner],
            by=world.lead_liaison,
        )
    )
    critical = [
        m for m in mails_to(world.partner_staff.email) if "acknowledge" in m.subject.lower()
    ]
    (message,) = critical
    link = re.search(r"(/acknowledge/[^\s]+/)", message.body).group(1)
    page = client.get(link)
    assert page.status_code == 200 and "Acknowledge" in page.content.decode()
    assert not update.acknowledgements.exists()  # GET changes nothing
    assert client.post(link).status_code == 200
    assert list(update.acknowledgements.values_list("person__email", flat=True)) == [
        world.partner_staff.email
    ]
    assert client.get(link[:-5] + "xxxx/").status_code == 400
    with time_machine.travel(timezone.now() + datetime.timedelta(days=8)):
        assert client.get(link).status_code == 400


def test_reminders_for_expiring_roles_and_due_tasks_are_sent_once(world, committed):
    services.set_assignment_end(
        assignment=world.partner_staff_assignment,
        until=timezone.now() + datetime.timedelta(hours=20),
        by=world.partner_liaison,
    )
    services.update_task(
        task=world.tasks[Marking.GREEN],
        by=world.lead_liaison,
        assignee=world.lead_staff,
        due_date=timezone.localdate() + datetime.timedelta(days=1),
    )
    first = committed(services.send_reminders)
    assert first >= 2
    assert committed(services.send_reminders) == 0
    assert world.partner_staff.email in recipients_of("assignment.expiring")
    assert world.partner_liaison.email in recipients_of("assignment.expiring")
    assert recipients_of("task.due_soon") == {world.lead_staff.email}


def test_invitations_and_answers(world, committed):
    outsider_liaison = person(world.outsider_agency, Membership.Role.LIAISON)
    participation = committed(
        lambda: services.invite_agency(
            task_force=world.tf, agency=world.outsider_agency, by=world.lead_liaison
        )
    )
    assert recipients_of("participation.invited") == {outsider_liaison.email}
    committed(
        lambda: services.respond_to_invitation(
            participation=participation, accept=False, by=outsider_liaison, reason="No capacity"
        )
    )
    assert recipients_of("participation.declined") == {world.lead_liaison.email}
    assert "No capacity" in Notification.objects.get(kind="participation.declined").body


def test_role_assigned_and_ended_tell_the_person_and_their_liaison(world, committed):
    newcomer = person(world.partner)
    assignment = committed(
        lambda: services.assign_role(
            role=role_named(world.tf, "observer"),
            person=newcomer,
            assigned_by=world.partner_liaison,
        )
    )
    assert recipients_of("assignment.created") >= {newcomer.email}
    committed(
        lambda: services.end_assignment(
            assignment=assignment, by=world.partner_liaison, reason="Done"
        )
    )
    assert {newcomer.email, world.partner_liaison.email} <= recipients_of("assignment.ended")
    assert world.lead_staff.email not in recipients_of("assignment.ended")


def test_applications_reach_portal_admins_and_decisions_the_applicant(world, committed):
    mail.outbox.clear()
    agency = committed(
        lambda: agency_services.apply_for_agency(
            name="Harbour Authority",
            level="local",
            sector="transport",
            contact_email="apply@harbour.example",
        )
    )
    assert recipients_of("agency.applied") == {world.portal_admin.email}
    committed(lambda: agency_services.begin_review(agency=agency, by=world.portal_admin))
    committed(
        lambda: agency_services.reject_agency(
            agency=agency, by=world.portal_admin, reason="Not a public body"
        )
    )
    to_applicant = mails_to("apply@harbour.example")
    assert len(to_applicant) == 1 and "Not a public body" in to_applicant[0].body
    event = Event.objects.get(kind="agency.decided")
    assert notifications.deliver_external(event.pk) is False  # once only


def test_notification_centre_counts_and_marks(world, committed, client):
    committed(
        lambda: services.post_update(
            task_force=world.tf, title="One", body="x", marking=Marking.GREEN, by=world.lead_liaison
        )
    )
    committed(
        lambda: services.post_update(
            task_force=world.tf, title="Two", body="x", marking=Marking.GREEN, by=world.lead_liaison
        )
    )
    client.force_login(world.lead_staff)
    page = client.get(reverse("notifications:centre"))
    assert page.context["unread_count"] == 2
    mine = Notification.objects.filter(recipient=world.lead_staff).first()
    theirs = Notification.objects.filter(recipient=world.partner_staff).first()
    client.post(reverse("notifications:mark-read", args=[theirs.pk]))
    theirs.refresh_from_db()
    assert theirs.read_at is None
    client.post(reverse("notifications:mark-read", args=[mine.pk]))
    assert client.get(reverse("notifications:centre")).context["unread_count"] == 1
    client.post(reverse("notifications:mark-all-read"))
    assert client.get(reverse("notifications:centre")).context["unread_count"] == 0
    assert (
        Notification.objects.filter(recipient=world.partner_staff, read_at__isnull=True).count()
        == 2
    )


def test_preferences_page(world, client):
    client.force_login(world.lead_staff)
    page = client.get(reverse("notifications:preferences"))
    assert page.status_code == 200
    form = page.context["form"]
    assert form.fields["update.critical"].disabled
    data = dict.fromkeys(form.fields, "immediate")
    data["update.posted"] = "digest"
    assert client.post(reverse("notifications:preferences"), data).status_code == 302
    assert notifications.preferences_for(world.lead_staff)["update.posted"] == "digest"
    data["update.posted"] = "hourly"
    response = client.post(reverse("notifications:preferences"), data)
    assert response.status_code == 200 and "update.posted" in response.context["form"].errors
    assert notifications.preferences_for(world.lead_staff)["update.posted"] == "digest"
    data["update.posted"] = "immediate"
    data["update.critical"] = "in_app"  # a disabled field: the posted value is ignored
    client.post(reverse("notifications:preferences"), data)
    assert notifications.preferences_for(world.lead_staff)["update.critical"] == "immediate"


def test_unknown_kinds_are_refused(world):
    with pytest.raises(LookupError):
        notifications.emit("no.such.kind", world.tf)
    assert User.objects.exists()


def test_a_chunk_checks_access_once_per_event_and_still_withholds(
    world, django_assert_max_num_queries
):
    mail.outbox.clear()
    update = services.post_update(
        task_force=world.tf, title="Chunk", body="x", marking=Marking.GREEN, by=world.lead_liaison
    )
    event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
    notifications.dispatch(event.pk)
    agency_services.suspend_agency(agency=world.partner, by=world.portal_admin, reason="Breach")
    ids = list(Notification.objects.filter(event=event).values_list("pk", flat=True))
    outcome = notifications.deliver_many(ids)
    assert outcome == {"sent": 1, "withdrawn": 2}
    assert [m.to for m in mail.outbox] == [[world.lead_staff.email]]


def test_the_sweeper_resends_an_applicant_e_mail_that_was_never_sent(world):
    mail.outbox.clear()
    agency = agency_services.apply_for_agency(
        name="Port Health", level="local", sector="health", contact_email="ph@example.org"
    )
    agency_services.begin_review(agency=agency, by=world.portal_admin)
    agency_services.approve_agency(agency=agency, by=world.portal_admin)
    event = Event.objects.get(kind="agency.decided")
    notifications.dispatch(event.pk)  # its after-commit e-mail task was lost
    assert mails_to("ph@example.org") == []
    notifications.sweep(now=timezone.now() + datetime.timedelta(minutes=5))
    assert len(mails_to("ph@example.org")) == 1
    notifications.sweep(now=timezone.now() + datetime.timedelta(minutes=10))
    assert len(mails_to("ph@example.org")) == 1
