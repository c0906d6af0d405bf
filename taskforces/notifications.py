"""The kinds of notification task forces cause: who hears about each, and what it says.

Recipients always come from the permission core's audiences, so a person is only told
about what they may see; a TLP:RED item's notification carries its title only."""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet
from django.urls import reverse

from agencies.models import Membership
from coordination.models import Event, User
from coordination.notifications import Kind, Message, register
from coordination.permissions.markings import Marking
from coordination.timefmt import format_date, format_moment

from .models import (
    Capability,
    HandoverBrief,
    Objective,
    OperationalPeriod,
    Participation,
    RoleAssignment,
    Task,
    Update,
)
from .permissions import acknowledgement_audience, audience, holders

# kinds only liaison officers receive (the preferences page offers them to liaisons only)
LIAISON = (Membership.Role.LIAISON,)


def _liaisons(agency_id: int) -> QuerySet[User]:
    return User.objects.filter(
        is_active=True,
        memberships__agency_id=agency_id,
        memberships__is_active=True,
        memberships__role=Membership.Role.LIAISON,
    )


def _body(text: str, marking: int) -> str:
    """No content of TLP:RED items leaves Concord by e-mail; long text is cut."""
    if marking >= Marking.RED:
        return "This item is marked TLP:RED. Open Concord to read it."
    return text if len(text) <= 1500 else text[:1500] + "…"


# --- participation ---------------------------------------------------------------------------


def _invited_liaisons(event: Event, participation: Participation) -> QuerySet[User]:
    return _liaisons(participation.agency_id)


def _lead_liaisons(event: Event, participation: Participation) -> QuerySet[User]:
    task_force = participation.task_force
    return _liaisons(task_force.lead_agency_id).filter(pk__in=holders(task_force).values("pk"))


def _participation_message(verb: str) -> Any:
    def message(event: Event, participation: Participation) -> Message:
        task_force = participation.task_force
        reason = event.data.get("reason", "")
        return Message(
            title=f"{participation.agency} {verb} {task_force.name}",
            body=f"Reason given: {reason}" if reason else "",
            link=reverse("taskforces:detail", args=[task_force.pk]),
            group_key=f"tf:{task_force.pk}",
        )

    return message


register(
    Kind(
        name="participation.invited",
        label="Your agency is invited to a task force",
        recipients=_invited_liaisons,
        group="Task force membership",
        agency_roles=LIAISON,
        message=lambda event, p: Message(
            title=f"Invitation: {p.agency} is invited to {p.task_force.name}",
            body=f"Led by {p.task_force.lead_agency}. {p.message}".strip(),
            link=reverse("taskforces:respond", args=[p.pk]),
        ),
        visible_action="respond",
    )
)
for verb, kind_name, label in (
    ("accepted the invitation to", "participation.accepted", "An agency accepted your invitation"),
    ("declined the invitation to", "participation.declined", "An agency declined your invitation"),
    ("withdrew from", "participation.withdrawn", "An agency withdrew from your task force"),
):
    register(
        Kind(
            name=kind_name,
            label=label,
            recipients=_lead_liaisons,
            group="Task force membership",
            agency_roles=LIAISON,
            message=_participation_message(verb),
            visible_action=None,
        )
    )


# --- role assignments ------------------------------------------------------------------------


def _holder_and_liaisons(event: Event, assignment: RoleAssignment) -> QuerySet[User]:
    task_force = assignment.role.task_force
    liaisons = _liaisons(assignment.agency_id).filter(pk__in=holders(task_force).values("pk"))
    holder = User.objects.filter(pk=assignment.person_id, pk__in=holders(task_force).values("pk"))
    return User.objects.filter(is_active=True).filter(
        Q(pk__in=holder.values("pk")) | Q(pk__in=liaisons.values("pk"))
    )


def _assignment_message(template: str) -> Any:
    def message(event: Event, assignment: RoleAssignment) -> Message:
        task_force = assignment.role.task_force
        reason = assignment.end_reason or event.data.get("reason", "")
        text = template.format(
            person=assignment.person,
            role=assignment.role.name,
            task_force=task_force.name,
            until=format_moment(assignment.ends_at) if assignment.ends_at else "",
        )
        return Message(
            title=text,
            body=f"Reason: {reason}" if reason and "ended" in template else "",
            link=reverse("taskforces:organisation", args=[task_force.pk]),
        )

    return message


def _holder_and_liaisons_any(event: Event, assignment: RoleAssignment) -> QuerySet[User]:
    # the holder is told even though the ended assignment no longer gives them access
    task_force = assignment.role.task_force
    liaisons = _liaisons(assignment.agency_id).filter(pk__in=holders(task_force).values("pk"))
    return User.objects.filter(is_active=True).filter(
        Q(pk=assignment.person_id) | Q(pk__in=liaisons.values("pk"))
    )


register(
    Kind(
        name="assignment.created",
        group="Roles",
        label="A role is assigned to you or your agency's people",
        recipients=_holder_and_liaisons,
        message=_assignment_message("{person} now holds the role {role} in {task_force}"),
    )
)
register(
    Kind(
        name="assignment.ended",
        group="Roles",
        label="A role assignment ended",
        recipients=_holder_and_liaisons_any,
        message=_assignment_message("{person}'s role {role} in {task_force} has ended"),
        visible_action=None,
        critical=True,
    )
)
register(
    Kind(
        name="assignment.expiring",
        group="Roles",
        label="A role assignment is about to expire",
        recipients=_holder_and_liaisons,
        message=_assignment_message("{person}'s role {role} in {task_force} expires on {until}"),
    )
)


def _liaisons_while_due(event: Event, assignment: RoleAssignment) -> QuerySet[User]:
    """The holder's agency's liaison officers who see the task force (so the message may
    name the person, role and task force), while the assignment is still due: one
    recertified or ended before the fan-out tells nobody. Agency administrators are not
    told one by one: their dashboard counts what is due and links to the access review."""
    if not assignment.is_due_for_recertification():
        return User.objects.none()
    task_force = assignment.role.task_force
    return _liaisons(assignment.agency_id).filter(pk__in=holders(task_force).values("pk"))


def _recertification_message(event: Event, assignment: RoleAssignment) -> Message:
    task_force = assignment.role.task_force
    if assignment.recertified_at:
        since = f"It was last recertified on {format_date(assignment.recertified_at)}."
    else:
        since = (
            f"It has not been recertified since it began on {format_date(assignment.starts_at)}."
        )
    return Message(
        title=f"{assignment.person}'s role {assignment.role.name} in {task_force.name} is due for recertification",
        body=f"{since} An agency administrator of {assignment.agency} recertifies it, or it "
        "is ended if it is no longer needed.",
        link=reverse("taskforces:organisation", args=[task_force.pk]),
    )


register(
    Kind(
        name="assignment.recertification_due",
        label="A role assignment of your agency's people is due for recertification",
        recipients=_liaisons_while_due,
        group="Roles",
        agency_roles=LIAISON,
        message=_recertification_message,
    )
)


# --- tasks and objectives ---------------------------------------------------------------------


def _task_people(event: Event, task: Task) -> QuerySet[User]:
    if task.assignee_id:
        wanted = User.objects.filter(pk=task.assignee_id)
    elif task.assigned_role_id:
        wanted = User.objects.filter(
            pk__in=RoleAssignment.objects.current()
            .filter(role_id=task.assigned_role_id)
            .values("person_id")
        )
    else:
        return User.objects.none()
    return wanted.filter(pk__in=audience(task).values("pk"))


def _task_message(template: str) -> Any:
    def message(event: Event, task: Task) -> Message:
        due = f" (due {format_date(task.due_date)})" if task.due_date else ""
        return Message(
            title=template.format(title=task.title, task_force=task.task_force.name) + due,
            body=_body(task.description, task.marking),
            link=reverse("taskforces:task", args=[task.pk]),
        )

    return message


register(
    Kind(
        name="task.assigned",
        group="Tasks",
        audience=audience,
        label="A task is assigned to you or your role",
        recipients=_task_people,
        message=_task_message("Task for you in {task_force}: {title}"),
    )
)
register(
    Kind(
        name="task.due_soon",
        group="Tasks",
        audience=audience,
        label="A task of yours is due soon",
        recipients=_task_people,
        message=_task_message("Task due soon in {task_force}: {title}"),
    )
)


def _objective_people(event: Event, objective: Objective) -> QuerySet[User]:
    agencies = [
        objective.owner_agency_id,
        *objective.contributing_agencies.values_list("pk", flat=True),
    ]
    return audience(objective).filter(
        memberships__agency_id__in=agencies, memberships__is_active=True
    )


def _objective_message(event: Event, objective: Objective) -> Message:
    old, new = event.data.get("old_status", ""), objective.get_status_display()
    was = f" (was {Objective.Status(old).label.lower()})" if old in Objective.Status.values else ""
    return Message(
        title=f"Objective {new.lower()}{was} in {objective.task_force.name}: {objective.title}",
        body=_body(objective.description, objective.marking),
        link=reverse("taskforces:objective", args=[objective.pk]),
        group_key=f"tf:{objective.task_force_id}",
    )


register(
    Kind(
        name="objective.status_changed",
        group="Objectives",
        audience=audience,
        label="An objective your agency owns or contributes to changed status",
        recipients=_objective_people,
        message=_objective_message,
    )
)
register(
    Kind(
        name="objective.at_risk",
        group="Objectives",
        audience=audience,
        label="An objective your agency owns or contributes to is at risk",
        recipients=_objective_people,
        message=_objective_message,
        critical=True,
    )
)


# --- updates ------------------------------------------------------------------------------------

ACK_SALT = "concord.acknowledge"
ACK_MAX_AGE = 7 * 24 * 3600


def acknowledge_url(notification: Any) -> str:
    """A link that acknowledges the update for this recipient alone (signed, 7 days)."""
    token = signing.dumps(
        {"u": int(notification.event.object_id), "p": notification.recipient_id}, salt=ACK_SALT
    )
    return reverse("taskforces:acknowledge-link", args=[token])


def _update_readers(event: Event, update: Update) -> QuerySet[User]:
    return audience(update).exclude(pk=update.author_id)


def _update_message(prefix: str) -> Any:
    def message(event: Event, update: Update) -> Message:
        return Message(
            title=f"{prefix} in {update.task_force.name}: {update.title}",
            body=_body(update.body, update.marking),
            link=reverse("taskforces:update", args=[update.pk]),
            group_key=f"tf:{update.task_force_id}",
        )

    return message


register(
    Kind(
        name="update.posted",
        group="Updates",
        audience=audience,
        label="An update is posted in your task force",
        recipients=_update_readers,
        message=_update_message("Update"),
        throttle=True,
    )
)
register(
    Kind(
        name="update.critical",
        group="Updates",
        audience=audience,
        label="A critical update asks for your acknowledgement",
        recipients=lambda event, update: acknowledgement_audience(update).exclude(
            pk=update.author_id
        ),
        message=_update_message("Critical — please acknowledge"),
        critical=True,
        # everyone else who may read it is told it was posted, under the same event
        others_told_as="update.posted",
        already_done=lambda event, update: User.objects.filter(acknowledgements__update=update),
        extra={"acknowledge_url": acknowledge_url},
    )
)


def _one_person(event: Event, update: Update) -> QuerySet[User]:
    return acknowledgement_audience(update).filter(pk=event.data.get("person"))


def _their_liaisons(event: Event, update: Update) -> QuerySet[User]:
    person = User.objects.filter(pk=event.data.get("person")).first()
    membership = person.memberships.filter(is_active=True).first() if person else None
    if membership is None:
        return User.objects.none()
    return _liaisons(membership.agency_id).filter(pk__in=audience(update).values("pk"))


register(
    Kind(
        name="update.ack_reminder",
        group="Updates",
        audience=audience,
        label="Reminder: a critical update still needs your acknowledgement",
        recipients=_one_person,
        message=_update_message("Reminder — please acknowledge"),
        critical=True,
        extra={"acknowledge_url": acknowledge_url},
    )
)
register(
    Kind(
        name="update.ack_escalated",
        audience=audience,
        label="One of your agency's people has not acknowledged a critical update",
        recipients=_their_liaisons,
        group="Updates",
        agency_roles=LIAISON,
        message=lambda event, update: Message(
            title=f"Not acknowledged: {event.data.get('person_name', 'a colleague')} has not acknowledged “{update.title}” in {update.task_force.name}",
            link=reverse("taskforces:update", args=[update.pk]),
        ),
        critical=True,
    )
)


# --- handover between operational periods -----------------------------------------------------


def _incoming_holders(event: Event, brief: HandoverBrief) -> QuerySet[User]:
    from .services.handover import incoming_assignments

    people = incoming_assignments(brief).values("person_id")
    return audience(brief).filter(pk__in=people)


register(
    Kind(
        name="handover.submitted",
        audience=audience,
        label="A handover brief for your role awaits your acknowledgement",
        recipients=_incoming_holders,
        message=lambda event, brief: Message(
            title=f"Handover brief for {brief.role.name} in {brief.task_force.name} awaits your acknowledgement",
            body=_body(
                f"From {brief.written_by}, for operational period {brief.next_period.number}.",
                brief.marking,
            ),
            link=reverse("taskforces:handover-brief", args=[brief.pk]),
        ),
        critical=True,
    )
)


def _commanders(event: Event, period: OperationalPeriod) -> QuerySet[User]:
    return holders(period.task_force, Capability.CHANGE)


register(
    Kind(
        name="handover.complete",
        label="Every role of your task force has handed over",
        recipients=_commanders,
        message=lambda event, period: Message(
            title=f"Handover complete in {period.task_force.name}: every role of operational period {period.number} handed over and was acknowledged",
            link=reverse("taskforces:handover", args=[period.task_force_id])
            + f"?period={period.number}",
        ),
    )
)
