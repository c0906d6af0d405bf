"""Updates and situation reports, and their acknowledgements."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction

from agencies.models import Agency
from agencies.selectors import membership_of
from coordination import notifications
from coordination.models import User
from coordination.permissions import require

from ..models import Acknowledgement, Role, TaskForce, Update
from ._common import _check_agencies, _check_marking, _reread_or_rollback, record
from .locks import lock_task_forces


@transaction.atomic
def post_update(
    *,
    task_force: TaskForce,
    title: str,
    body: str,
    by: User,
    kind: str = Update.Kind.UPDATE,
    marking: int | None = None,
    requires_acknowledgement: bool = False,
    ack_roles: Iterable[Role] = (),
    ack_agencies: Iterable[Agency] = (),
) -> Update:
    """Post an update or situation report; it may ask named roles or agencies (or, with
    none named, everyone who can see it) to acknowledge it."""
    require(by, "post_updates", task_force)
    lock_task_forces([task_force.pk])
    marking = task_force.marking if marking is None else marking
    _check_marking(marking, by, task_force)
    roles, agencies = list(ack_roles), list(ack_agencies)
    if (roles or agencies) and not requires_acknowledgement:
        raise ValidationError(
            {
                "requires_acknowledgement": "Name roles or agencies only for an update that needs acknowledgement."
            }
        )
    if any(role.task_force_id != task_force.pk for role in roles):
        raise ValidationError({"ack_roles": "Only roles of this task force can be asked."})
    _check_agencies(task_force, None, agencies, field="ack_agencies")
    membership = membership_of(by)
    update = Update(
        task_force=task_force,
        author=by,
        author_agency=membership.agency if membership else None,
        kind=kind,
        title=title.strip(),
        body=body.strip(),
        marking=marking,
        requires_acknowledgement=requires_acknowledgement,
    )
    # the task force (locked above), the author and their agency are rows in hand: their
    # existence needs no query of its own (the foreign keys still hold at commit)
    update.full_clean(exclude=["task_force", "author", "author_agency"])
    update.save()
    if roles:  # a new update: nothing to take away, only to add
        update.ack_roles.add(*roles)
    if agencies:
        update.ack_agencies.add(*agencies)
    _reread_or_rollback(update, by)
    record(
        actor=by,
        action="update.posted",
        obj=update,
        after={
            "title": update.title,
            "marking": marking,
            "requires_acknowledgement": requires_acknowledgement,
        },
    )
    # One event per update, so one notification per person: those asked to acknowledge
    # are told it is critical, everyone else who may read it that it was posted
    # ("update.critical" tells the others as "update.posted"). Two events here listed a
    # critical update twice for the people it asked.
    notifications.emit(
        "update.critical" if requires_acknowledgement else "update.posted", update, actor=by
    )
    return update


# the notifications that ask a person to acknowledge an update; read once they have
ASKING_KINDS = ("update.critical", "update.ack_reminder")


@transaction.atomic
def acknowledge_update(*, update: Update, by: User) -> Acknowledgement:
    """Record that a person asked to acknowledge an update has done so (once)."""
    require(by, "acknowledge", update)
    lock_task_forces([update.task_force_id])
    acknowledgement, created = Acknowledgement.objects.get_or_create(update=update, person=by)
    if created:
        record(actor=by, action="update.acknowledged", obj=update)
    # "please acknowledge" is done with: it no longer waits unread in their centre
    notifications.mark_read_about(recipient=by, obj=update, kinds=ASKING_KINDS)
    return acknowledgement
