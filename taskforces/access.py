"""A person's access inside task forces, computed once and kept until it changes.

Everything ``restrict`` needs to know about a person — which task forces they hold which
capabilities in, the highest marking their agency may see in each, which of those task
forces are closed, which roles they hold — is computed here in a few small queries and
kept in this process under the ``access`` epoch (``coordination.epochs``). The database
moves that epoch, in the same transaction, whenever any row access is computed from
changes (role assignments, roles and their capabilities, memberships, agencies' status,
participations, task forces' lead agency and status, sharing agreements and their
parties, a person's account being active; see migration ``taskforces/0006``). So a
permission-filtered list costs one indexed read of the epoch plus the list's own query,
whatever the person holds, and:

* ending an assignment, withdrawing or suspending an agency, or anything else that takes
  access away, makes every process's kept copy unreachable at the moment it commits;
* what changes with time alone — an assignment starting or expiring, a sharing agreement
  starting or ending (by the day) — is bounded by ``valid_until``: an entry is not used at
  or after the first moment at which time alone could change it.

Each process keeps at most ``CONCORD_ACCESS_CACHE_SIZE`` people (least recently used go
first); 0 turns keeping off, and every check computes afresh.

Within one web request the person's access is also remembered after its first use
(``epochs.remembered``), so a page that filters ten lists reads the epoch once, not ten
times — until the request itself writes anything to the database.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from agencies.models import Agency, Membership, SharingAgreement
from agencies.selectors import agreements_in_force
from coordination import epochs
from coordination.markings import Marking
from coordination.permissions import InList

from .models import (
    Capability,
    Participation,
    RoleAssignment,
    TaskForce,
    TaskForceGroupObjectPermission,
)

EPOCH = "access"


@dataclass(frozen=True)
class Access:
    """What one person may reach inside task forces at one moment."""

    # the agency of the person's active membership, whatever its status
    member_of: int | None = None
    # the same, only while the agency is active (what any capability needs)
    agency_id: int | None = None
    # task force id → the capabilities the person holds there now
    capabilities: Mapping[int, frozenset[str]] = field(default_factory=dict)
    # task force id → the highest marking the person's agency may see there
    ceilings: Mapping[int, int] = field(default_factory=dict)
    closed: frozenset[int] = frozenset()
    # the roles the person holds now (tasks assigned to a role, acknowledgements asked of one)
    role_ids: frozenset[int] = frozenset()
    # the first moment at which time alone may change any of the above
    valid_until: datetime.datetime | None = None

    def task_forces(self, capability: str, *, writable: bool = False) -> list[int]:
        """Ids of the task forces where the person has ``capability`` (and which are not
        closed, when ``writable``)."""
        return self._with[(capability, writable)]

    @cached_property
    def _with(self) -> dict[tuple[str, bool], list[int]]:
        found: dict[tuple[str, bool], list[int]] = defaultdict(list)
        for task_force_id in sorted(self.capabilities):
            for capability in self.capabilities[task_force_id]:
                found[(capability, False)].append(task_force_id)
                if task_force_id not in self.closed:
                    found[(capability, True)].append(task_force_id)
        return found

    @cached_property
    def visible_by_ceiling(self) -> dict[int, list[int]]:
        """Task forces the person sees, grouped by the highest marking they see there: the
        agency's ceiling, but below TLP:RED without the view-restricted capability."""
        groups: dict[int, list[int]] = defaultdict(list)
        for task_force_id in self.task_forces(Capability.VIEW):
            ceiling = self.ceilings.get(task_force_id, Marking.CLEAR)
            if ceiling >= Marking.RED and (
                Capability.VIEW_RESTRICTED not in self.capabilities[task_force_id]
            ):
                ceiling = Marking.AMBER_STRICT
            groups[ceiling].append(task_force_id)
        return dict(sorted(groups.items()))

    def usable_at(self, moment: datetime.datetime) -> bool:
        return self.valid_until is None or moment < self.valid_until


NO_ACCESS = Access()


def compute(user: Any, now: datetime.datetime | None = None) -> Access:
    """The person's access at ``now`` (default: this moment), straight from the database:
    their agency (one query), their open assignments there (one), the capabilities their
    current roles' groups hold (one) and, when they take part in task forces led by other
    agencies, the sharing agreements with those (one). The one place that says which
    assignments confer their role (``permissions.current_assignments`` lists them): the
    account, the membership and the agency active, the agency's participation accepted,
    the assignment started and neither ended nor expired."""
    now = now or timezone.now()
    membership = (
        Membership.objects.filter(user_id=user.pk, is_active=True, user__is_active=True)
        .order_by()
        .values_list("agency_id", "agency__status")
        .first()
    )
    if membership is None:
        return NO_ACCESS
    agency_id, agency_status = membership
    if agency_status != Agency.Status.ACTIVE:  # its people hold nothing, but belong to it
        return Access(member_of=agency_id)
    accepted = Participation.objects.filter(
        agency_id=agency_id, status=Participation.Status.ACCEPTED
    ).values("task_force_id")
    open_assignments = (
        RoleAssignment.objects.open(now)
        .filter(person_id=user.pk, agency_id=agency_id, role__task_force_id__in=accepted)
        .order_by()
        .values_list("role_id", "role__group_id", "starts_at", "ends_at")
    )
    role_ids, group_ids, changes_at = set(), set(), []
    for role_id, group_id, starts_at, ends_at in open_assignments:
        if starts_at > now:  # starts later: not yet, but it will change access then
            changes_at.append(starts_at)
            continue
        role_ids.add(role_id)
        group_ids.add(group_id)
        if ends_at is not None:
            changes_at.append(ends_at)
    capabilities: dict[int, set[str]] = defaultdict(set)
    leads: dict[int, int] = {}
    closed = set()
    if group_ids:
        grants = TaskForceGroupObjectPermission.objects.filter(
            group_id__in=sorted(group_ids)
        ).values_list(
            "content_object_id",
            "permission__codename",
            "content_object__lead_agency_id",
            "content_object__status",
        )
        for task_force_id, codename, lead_id, status in grants:
            capabilities[task_force_id].add(codename)
            leads[task_force_id] = lead_id
            if status == TaskForce.Status.CLOSED:
                closed.add(task_force_id)
    today = timezone.localdate(now)
    seen = [tf for tf, held in capabilities.items() if Capability.VIEW in held]
    ceilings = _ceilings(agency_id, {tf: leads[tf] for tf in seen}, today)
    # agreements are in force by the day: the next midnight may change a ceiling
    changes_at.append(_next_midnight(now))
    return Access(
        member_of=agency_id,
        agency_id=agency_id,
        capabilities={tf: frozenset(held) for tf, held in capabilities.items()},
        ceilings=ceilings,
        closed=frozenset(closed),
        role_ids=frozenset(role_ids),
        valid_until=min(changes_at),
    )


def _ceilings(agency_id: int, leads: Mapping[int, int], today: datetime.date) -> dict[int, int]:
    """For each task force (id → lead agency id), the highest marking ``agency_id`` sees
    there: TLP:RED when it leads; else the most generous agreement in force between it and
    the lead agency, for all matters or for that task force; else TLP:CLEAR."""
    ceilings = {tf: int(Marking.RED) for tf, lead in leads.items() if lead == agency_id}
    others = {tf: lead for tf, lead in leads.items() if lead != agency_id}
    if not others:
        return ceilings
    # (other party, the agreement's own task force or None, its marking) for every
    # agreement in force between the agency and one of these lead agencies
    covering = SharingAgreement.parties.through.objects.filter(
        agency_id__in=sorted(set(others.values())),
        sharingagreement__in=agreements_in_force(on=today).filter(parties=agency_id),
    ).values_list("agency_id", "sharingagreement__task_force_id", "sharingagreement__max_marking")
    for_all: dict[int, int] = {}
    for_one: dict[int, int] = {}
    for lead, task_force_id, marking in covering:
        if task_force_id is None:
            for_all[lead] = max(for_all.get(lead, Marking.CLEAR), int(marking))
        elif others.get(task_force_id) == lead:
            for_one[task_force_id] = max(for_one.get(task_force_id, Marking.CLEAR), int(marking))
    for tf, lead in others.items():
        ceilings[tf] = max(Marking.CLEAR, for_all.get(lead, Marking.CLEAR), for_one.get(tf, 0))
    return ceilings


def _next_midnight(now: datetime.datetime) -> datetime.datetime:
    local = timezone.localtime(now)
    tomorrow = local.date() + datetime.timedelta(days=1)
    return timezone.make_aware(datetime.datetime.combine(tomorrow, datetime.time.min))


# --- keeping -----------------------------------------------------------------------------------


kept: epochs.Kept[tuple[int, int], Access] = epochs.Kept()


def access_for(user: Any, now: datetime.datetime | None = None) -> Access:
    """The person's access now: remembered by this request, kept by this process (checked
    against the epoch, one query) or computed. With an explicit ``now`` it is always
    computed for that moment."""
    if now is not None:
        return compute(user, now)
    size = settings.CONCORD_ACCESS_CACHE_SIZE
    moment = timezone.now()
    if size == 0:
        return compute(user, moment)
    remembered = epochs.remembered(EPOCH)
    entry = remembered.get(int(user.pk)) if remembered is not None else None
    if entry is not None and entry.usable_at(moment):
        return entry
    return access_at_epoch(user, epochs.current(EPOCH), moment)


def access_at_epoch(
    user: Any, epoch: int | None, moment: datetime.datetime | None = None
) -> Access:
    """``access_for`` with the access epoch already read in this request (by a caller
    that reads several epochs in one query); remembered for the rest of the request."""
    size = settings.CONCORD_ACCESS_CACHE_SIZE
    moment = moment or timezone.now()
    if size == 0:
        return compute(user, moment)
    remembered = epochs.remembered(EPOCH)
    key = (int(user.pk), epoch or 0)
    entry = kept.get(key) if epoch is not None else None
    if entry is None or not entry.usable_at(moment):
        entry = compute(user, moment)
        if epoch is not None:
            kept.put(key, entry, size)
    if remembered is not None:
        remembered[int(user.pk)] = entry
    return entry


def visible_items(access: Access, task_force_field: str, marking_field: str) -> Q:
    """The condition an objective, task or update meets when the person may see it: in a
    task force they see, marked no higher than what they see there."""
    condition = Q(pk__in=[])  # nothing, when they see no task force
    for ceiling, ids in access.visible_by_ceiling.items():
        condition |= Q(InList(task_force_field, ids)) & Q(**{f"{marking_field}__lte": ceiling})
    return condition
