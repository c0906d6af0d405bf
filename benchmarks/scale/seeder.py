"""The seeder: the rows the services would have written, made in bulk in the lock-free order
of their dependencies (agencies, people, task forces, agreements, roles, assignments,
items, notifications) and handed to the writer."""

import datetime
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group, Permission
from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connection, models
from django.utils import timezone
from tqdm import tqdm

from agencies.models import Agency, Membership, SharingAgreement
from coordination.models import Notification, User
from taskforces.models import (
    Acknowledgement,
    Objective,
    Participation,
    Role,
    RoleAssignment,
    RoleTemplate,
    Task,
    TaskForce,
    TaskForceGroupObjectPermission,
    Update,
)

from .data import (
    ADMIN_EMAIL,
    AS,
    DOMAIN,
    FIRST,
    FULL,
    HEAVY_EMAIL,
    HEAVY_ROLES,
    LAST,
    LEVELS,
    LIGHT_EMAIL,
    LIGHT_ROLES,
    LIMITED_ROLES,
    OPEN_ROLES,
    SEC,
    TF,
    THEMES,
    AgencyRow,
    L,
    M,
    P,
    TaskForceRow,
    allocate,
    weighted,
)
from .writer import Writer


class Seeder:
    def __init__(self, *, factor: float, seed: int, writer: Writer, out: Callable[[str], None]):
        self.f = factor
        self.rng = random.Random(seed)
        self.w = writer
        self.out = out
        self.now = timezone.now()
        self.today = self.now.date()
        self.n = {
            "agencies": max(8, round(FULL["agencies"] * factor)),
            "people": max(60, round(FULL["people"] * factor)),
            "task_forces": max(4, round(FULL["task_forces"] * factor)),
        }
        for key in ("assignments", "objectives", "tasks", "updates", "notifications"):
            self.n[key] = max(10, round(FULL[key] * factor))
        self.next_id: dict[type[models.Model], int] = {}
        self.agencies: list[AgencyRow] = []
        self.person_agency: dict[int, int] = {}  # person id -> agency index
        self.task_forces: list[TaskForceRow] = []
        self.ceiling: dict[tuple[int, int], int] = {}  # (tf index, agency index) -> marking
        self.role_count: dict[int, int] = defaultdict(int)  # person -> current roles
        self.heavy = self.light = 0

    def ids(self, model: type[models.Model], count: int) -> range:
        """Explicit ids for rows other rows point at (so COPY needs no round trips)."""
        if model not in self.next_id:
            top = model._default_manager.aggregate(top=models.Max("pk"))["top"] or 0
            self.next_id[model] = top + 1
        start = self.next_id[model]
        self.next_id[model] = start + count
        return range(start, start + count)

    def ago(self, days_max: float, days_min: float = 0) -> datetime.datetime:
        return self.now - datetime.timedelta(days=self.rng.uniform(days_min, days_max))

    # --- agencies and people --------------------------------------------------------------

    def seed_agencies(self) -> None:
        rng, count = self.rng, self.n["agencies"]
        ids = self.ids(Agency, count)
        sectors: list[str] = list(SEC.values)
        sector: str
        rows = []
        for index, agency_id in enumerate(ids):
            level, size = weighted(rng, [((lv, sz), share) for lv, share, sz in LEVELS])
            if index == 0:  # the hub: a national emergency-management agency in many task forces
                level, size, sector = L.NATIONAL, 6.0, SEC.EMERGENCY_MANAGEMENT
            else:
                sector = rng.choice(sectors)
            status = (
                AS.ACTIVE
                if index < 4
                else weighted(
                    rng,
                    [
                        (AS.ACTIVE, 0.95),
                        (AS.SUSPENDED, 0.025),
                        (AS.APPLIED, 0.015),
                        (AS.UNDER_REVIEW, 0.01),
                    ],
                )
            )
            weight = size * min(rng.paretovariate(1.16), 60.0)
            self.agencies.append(AgencyRow(agency_id, index, level, status, weight))
            label = SEC(sector).label
            rows.append(
                (
                    agency_id,
                    f"{'Hub ' if index == 0 else ''}{L(level).label} {label} Agency {index:05d}",
                    f"A{index}",
                    level,
                    sector,
                    f"Jurisdiction {index % 97}",
                    f"contact@a{index}.{DOMAIN}",
                    status,
                    self.ago(900, 400),
                    self.ago(400) if status != AS.APPLIED else None,
                )
            )
        hub = self.agencies[0]
        hub.weight = max(a.weight for a in self.agencies) * 2
        self.w.write(
            Agency,
            (
                "id",
                "name",
                "acronym",
                "level",
                "sector",
                "jurisdiction",
                "contact_email",
                "status",
                "applied_at",
                "status_changed_at",
            ),
            rows,
            total=count,
        )

    def seed_people(self) -> None:
        rng = self.rng
        members = [a for a in self.agencies if a.status in (AS.ACTIVE, AS.SUSPENDED)]
        base = 3
        spare = max(0, self.n["people"] - base * len(members))
        sizes = [base + extra for extra in allocate(spare, [a.weight for a in members])]
        total = sum(sizes) + 1
        ids = iter(self.ids(User, total))
        self.admin_id = next(ids)
        users = [
            (
                self.admin_id,
                ADMIN_EMAIL,
                "Portal",
                "Administrator",
                True,
                self.ago(900, 800),
                "Portal administrator",
            )
        ]
        memberships = []
        for agency, size in zip(members, sizes, strict=True):
            liaisons = min(12, max(1, size // 120))
            for n in range(size):
                person = next(ids)
                role = (
                    Membership.Role.ADMIN
                    if n == 0
                    else Membership.Role.LIAISON
                    if n <= liaisons
                    else Membership.Role.STAFF
                )
                agency.people.append(person)
                (agency.liaisons if role == Membership.Role.LIAISON else agency.staff).append(
                    person
                )
                if role == Membership.Role.STAFF and agency.index == 0 and not self.heavy:
                    self.heavy, email = person, HEAVY_EMAIL
                elif role == Membership.Role.STAFF and agency.index == 0 and not self.light:
                    self.light, email = person, LIGHT_EMAIL
                else:
                    email = f"p{person}@a{agency.index}.{DOMAIN}"
                self.person_agency[person] = agency.index
                joined = self.ago(700, 30)
                users.append(
                    (
                        person,
                        email,
                        rng.choice(FIRST),
                        f"{rng.choice(LAST)} {person}",
                        False,
                        joined,
                        "Liaison officer" if role == Membership.Role.LIAISON else "Officer",
                    )
                )
                memberships.append((person, agency.id, role, True, joined))
        self.w.write(
            User,
            (
                "id",
                "password",
                "email",
                "first_name",
                "last_name",
                "is_portal_admin",
                "date_joined",
                "job_title",
            ),
            ((u[0], UNUSABLE_PASSWORD_PREFIX, *u[1:]) for u in users),
            total=len(users),
        )
        self.w.write(
            Membership,
            ("user_id", "agency_id", "role", "is_active", "joined_at"),
            memberships,
            total=len(memberships),
        )

    # --- task forces, participation, agreements, roles ------------------------------------

    def seed_task_forces(self) -> None:
        rng, count = self.rng, self.n["task_forces"]
        active = [a for a in self.agencies if a.status == AS.ACTIVE and a.liaisons]
        takers = [a for a in self.agencies if a.status in (AS.ACTIVE, AS.SUSPENDED) and a.liaisons]
        hub = self.agencies[0]
        hub_share = set(rng.sample(range(count), min(count, max(120, count // 10))))
        ids = self.ids(TaskForce, count)
        rows, participations = [], []
        for index, tf_id in enumerate(ids):
            lead = rng.choices(active, [a.weight for a in active])[0]
            founder = rng.choice(lead.liaisons)
            status = weighted(
                rng,
                [(TF.ACTIVE, 0.7), (TF.FORMING, 0.15), (TF.STANDING_DOWN, 0.1), (TF.CLOSED, 0.05)],
            )
            marking = weighted(
                rng,
                [
                    (M.CLEAR, 0.03),
                    (M.GREEN, 0.12),
                    (M.AMBER, 0.6),
                    (M.AMBER_STRICT, 0.2),
                    (M.RED, 0.05),
                ],
            )
            created = self.ago(720, 20)
            tf = TaskForceRow(tf_id, index, lead.index, founder, status, marking, created)
            tf.partners[lead.index] = P.ACCEPTED
            tf.liaison_of[lead.index] = founder
            size = 2 + int(38 * rng.random() ** 4)  # 2 to 40 agencies, most of them few
            wanted = {hub.index} if index in hub_share and lead.index != hub.index else set()
            while len(wanted) < size - 1 and len(wanted) < len(takers) - 1:
                pick = rng.choices(takers, [a.weight for a in takers])[0]
                if pick.index != lead.index:
                    wanted.add(pick.index)
            for agency_index in sorted(wanted):
                agency = self.agencies[agency_index]
                state = (
                    P.ACCEPTED
                    if agency_index == hub.index
                    else weighted(
                        rng,
                        [
                            (P.ACCEPTED, 0.85),
                            (P.INVITED, 0.07),
                            (P.DECLINED, 0.04),
                            (P.WITHDRAWN, 0.04),
                        ],
                    )
                )
                tf.partners[agency_index] = state
                liaison = rng.choice(agency.liaisons)
                if state != P.INVITED:
                    tf.liaison_of[agency_index] = liaison
            tf.weight = len(tf.partners) * rng.lognormvariate(0, 0.6)
            self.task_forces.append(tf)
            for agency_index in tf.accepted:
                self.agencies[agency_index].accepted.append(index)
            rows.append(
                (
                    tf_id,
                    f"{rng.choice(THEMES)} {index:05d}",
                    "Coordinate the joint response across agencies.",
                    lead.id,
                    status,
                    marking,
                    founder,
                    created,
                    created if status == TF.FORMING else created + datetime.timedelta(days=1),
                )
            )
            for agency_index, state in tf.partners.items():
                responder = tf.liaison_of.get(agency_index)
                lead_row = agency_index == lead.index
                participations.append(
                    (
                        tf_id,
                        self.agencies[agency_index].id,
                        state,
                        founder,
                        created,
                        "" if lead_row else "Please join.",
                        responder if state != P.INVITED else None,
                        created + datetime.timedelta(hours=0 if lead_row else 6)
                        if state != P.INVITED
                        else None,
                        "Stood down by our agency." if state == P.WITHDRAWN else "",
                    )
                )
        self.w.write(
            TaskForce,
            (
                "id",
                "name",
                "mandate",
                "lead_agency_id",
                "status",
                "marking",
                "created_by_id",
                "created_at",
                "status_changed_at",
            ),
            rows,
            total=count,
        )
        self.w.write(
            Participation,
            (
                "task_force_id",
                "agency_id",
                "status",
                "invited_by_id",
                "invited_at",
                "message",
                "responded_by_id",
                "responded_at",
                "reason",
            ),
            participations,
            total=len(participations),
        )

    def seed_agreements(self) -> None:
        """Agreements between each lead agency and its partners (most pairs have one for all
        matters; some a task-force-specific one on top), and the ceilings they give."""
        rng = self.rng
        general: dict[tuple[int, int], tuple[int, bool]] = {}  # pair -> marking, in force
        specific: list[tuple[int, int, int, int, bool]] = []  # tf, lead, partner, marking, in force
        for tf in self.task_forces:
            for partner in tf.accepted:
                if partner == tf.lead:
                    continue
                pair = (min(tf.lead, partner), max(tf.lead, partner))
                if pair not in general and rng.random() < 0.75:
                    marking = weighted(
                        rng, [(M.GREEN, 0.3), (M.AMBER, 0.45), (M.AMBER_STRICT, 0.2), (M.RED, 0.05)]
                    )
                    general[pair] = (marking, rng.random() < 0.93)
                elif pair not in general:
                    general[pair] = (-1, False)  # decided: none
                if rng.random() < 0.08:
                    marking = weighted(rng, [(M.AMBER, 0.5), (M.AMBER_STRICT, 0.4), (M.RED, 0.1)])
                    specific.append((tf.index, tf.lead, partner, marking, True))
        real = [(pair, m, live) for pair, (m, live) in general.items() if m >= 0]
        ids = self.ids(SharingAgreement, len(real) + len(specific))
        rows: list[tuple[Any, ...]] = []
        parties: list[tuple[int, int]] = []
        for agreement_id, ((a, b), marking, live) in zip(ids, real, strict=False):
            status = (
                SharingAgreement.Status.ACTIVE
                if live
                else weighted(
                    rng,
                    [
                        (SharingAgreement.Status.PROPOSED, 0.5),
                        (SharingAgreement.Status.TERMINATED, 0.5),
                    ],
                )
            )
            start = self.today - datetime.timedelta(days=rng.randint(30, 900))
            rows.append(
                (
                    agreement_id,
                    f"Information sharing {a}–{b}",
                    None,
                    marking,
                    start,
                    None,
                    status,
                    self.admin_id,
                    self.ago(900, 30),
                    self.agencies[a].id,
                    "",
                )
            )
            parties += [(agreement_id, self.agencies[a].id), (agreement_id, self.agencies[b].id)]
        specific_ids = list(ids)[len(real) :]
        for agreement_id, (tf_index, lead, partner, marking, _) in zip(
            specific_ids, specific, strict=True
        ):
            tf = self.task_forces[tf_index]
            start = self.today - datetime.timedelta(days=rng.randint(1, 300))
            rows.append(
                (
                    agreement_id,
                    f"Task force {tf.index} sharing with A{partner}",
                    tf.id,
                    marking,
                    start,
                    None,
                    SharingAgreement.Status.ACTIVE,
                    self.admin_id,
                    self.ago(300, 1),
                    self.agencies[lead].id,
                    "",
                )
            )
            parties += [
                (agreement_id, self.agencies[lead].id),
                (agreement_id, self.agencies[partner].id),
            ]
        # the ceiling each accepted partner has in each task force (the lead sees all)
        extra: dict[tuple[int, int], int] = {}
        for tf_index, _, partner, marking, _ in specific:
            extra[(tf_index, partner)] = max(marking, extra.get((tf_index, partner), -1))
        for tf in self.task_forces:
            for partner in tf.accepted:
                if partner == tf.lead:
                    self.ceiling[(tf.index, partner)] = M.RED
                    continue
                pair = (min(tf.lead, partner), max(tf.lead, partner))
                marking, live = general.get(pair, (-1, False))
                best = max(marking if live else -1, extra.get((tf.index, partner), -1))
                self.ceiling[(tf.index, partner)] = best if best >= 0 else M.CLEAR
        columns = (
            "id",
            "title",
            "task_force_id",
            "max_marking",
            "valid_from",
            "valid_until",
            "status",
            "created_by_id",
            "created_at",
            "proposed_by_agency_id",
            "termination_reason",
        )
        self.w.write(SharingAgreement, columns, rows, total=len(rows))
        self.w.write(
            SharingAgreement.parties.through,
            ("sharingagreement_id", "agency_id"),
            parties,
            total=len(parties),
        )

    def seed_roles(self) -> None:
        templates = list(RoleTemplate.objects.filter(is_active=True).order_by("order", "name"))
        if not templates:
            raise CommandError("The role catalogue is empty: run the migrations first.")
        permissions = {
            p.codename: p.pk
            for p in Permission.objects.filter(
                content_type__app_label="taskforces", content_type__model="taskforce"
            )
        }
        count = len(templates) * len(self.task_forces)
        group_ids = iter(self.ids(Group, count))
        role_ids = iter(self.ids(Role, count))
        groups, roles, grants = [], [], []
        for tf in self.task_forces:
            for template in templates:
                group_id, role_id = next(group_ids), next(role_ids)
                capabilities = list(dict.fromkeys(str(c) for c in template.capabilities))
                groups.append((group_id, f"taskforce-{tf.id}-role-{template.name}"[:150]))
                roles.append(
                    (
                        role_id,
                        tf.id,
                        template.pk,
                        template.name,
                        template.responsibilities,
                        capabilities,
                        template.default_max_holders,
                        group_id,
                        template.order,
                        tf.created_at,
                    )
                )
                grants += [
                    (permissions[c], group_id, tf.id) for c in capabilities if c in permissions
                ]
                tf.roles[template.slug] = (role_id, group_id, template.default_max_holders)
        self.w.write(Group, ("id", "name"), groups, total=len(groups))
        self.w.write(
            Role,
            (
                "id",
                "task_force_id",
                "template_id",
                "name",
                "responsibilities",
                "capabilities",
                "max_holders",
                "group_id",
                "order",
                "created_at",
            ),
            roles,
            total=len(roles),
        )
        self.w.write(
            TaskForceGroupObjectPermission,
            ("permission_id", "group_id", "content_object_id"),
            grants,
            total=len(grants),
        )

    # --- role assignments -------------------------------------------------------------------

    def seed_assignments(self) -> None:
        rng = self.rng
        rows: list[tuple[Any, ...]] = []
        open_pairs: set[tuple[int, int]] = set()  # (role, person) with an open assignment
        holders: dict[int, int] = defaultdict(int)  # role -> open holders
        groups: list[tuple[int, int]] = []

        def add(tf: TaskForceRow, slug: str, person: int, *, state: str = "current") -> bool:
            if slug not in tf.roles:
                return False
            role_id, group_id, limit = tf.roles[slug]
            if (role_id, person) in open_pairs:
                return False
            if limit is not None and holders[role_id] >= limit:
                return False
            agency = self.person_agency[person]
            by = tf.liaison_of[agency]
            starts = tf.created_at + datetime.timedelta(hours=rng.uniform(1, 24 * 10))
            starts = min(starts, self.now - datetime.timedelta(hours=1))
            ends = ended = None
            reason = ""
            if state == "expiring":
                ends = self.now + datetime.timedelta(days=rng.uniform(1, 180))
            elif state == "ended":
                ended = starts + (self.now - starts) * rng.uniform(0.1, 0.9)
                reason = "Rotated to other duties."
            elif state == "lapsed":  # expired; the beat job has not closed it yet
                ends = self.now - datetime.timedelta(minutes=rng.uniform(1, 50))
                starts = min(starts, ends - datetime.timedelta(days=1))
            elif state == "scheduled":
                starts = self.now + datetime.timedelta(days=rng.uniform(1, 30))
            rows.append(
                (
                    role_id,
                    person,
                    self.agencies[agency].id,
                    by,
                    starts,
                    ends,
                    ended,
                    by if ended else None,
                    reason,
                    min(starts, self.now),
                )
            )
            if ended is None:
                open_pairs.add((role_id, person))
                groups.append((person, group_id))
                if state != "lapsed":
                    holders[role_id] += 1
            if state in ("current", "expiring"):
                self.role_count[person] += 1
                if agency == tf.lead:
                    tf.lead_holders.append(person)
            return True

        # what the services write when a task force is formed and invitations are answered
        for tf in self.task_forces:
            add(tf, "commander", tf.founder)
            add(tf, "liaison-officer", tf.founder)
            for agency, state in tf.partners.items():
                if agency == tf.lead or state not in (P.ACCEPTED, P.WITHDRAWN):
                    continue
                add(
                    tf,
                    "liaison-officer",
                    tf.liaison_of[agency],
                    state="current" if state == P.ACCEPTED else "ended",
                )

        # everyone else's roles: most hold 1-5, some 6-40, a few hundreds
        people = [(p, a) for a in self.agencies for p in a.staff + a.liaisons if a.accepted]
        budget = max(0, self.n["assignments"] - len(rows) - HEAVY_ROLES - LIGHT_ROLES)
        wanted: dict[int, int] = {}
        for person, member_of in people:
            if person in (self.heavy, self.light):
                continue
            kind = rng.random()
            k = (
                0
                if kind < 0.08
                else rng.randint(1, 5)
                if kind < 0.80
                else rng.randint(6, 40)
                if kind < 0.97
                else int(math.exp(rng.uniform(math.log(41), math.log(500))))
            )
            wanted[person] = min(k, 3 * len(member_of.accepted))
        scale = budget / max(1, sum(wanted.values()))
        if scale < 1:  # small factors: fewer roles for everyone rather than a broken tail
            wanted = {p: max(1, round(k * scale)) if k else 0 for p, k in wanted.items()}
        deficit = budget - sum(wanted.values())
        roomy = [p for p, a in people if p in wanted and 3 * len(a.accepted) > wanted[p] + 5]
        while deficit > 0 and roomy:
            person = rng.choice(roomy)
            room = 3 * len(self.agencies[self.person_agency[person]].accepted) - wanted[person]
            more = min(deficit, room, rng.randint(1, 25))
            if more <= 0:
                roomy.remove(person)
                continue
            wanted[person] += more
            deficit -= more
        hub = self.agencies[0]
        wanted[self.heavy] = min(HEAVY_ROLES, 3 * len(hub.accepted))
        wanted[self.light] = min(LIGHT_ROLES, len(hub.accepted))
        exact = {self.heavy, self.light}

        bar = tqdm(
            total=sum(wanted.values()),
            desc="choosing roles",
            unit=" roles",
            unit_scale=True,
            disable=not self.w.progress,
        )
        with bar:
            for person, k in wanted.items():
                home = self.agencies[self.person_agency[person]]
                choices = home.accepted
                tfs = rng.sample(choices, min(k, len(choices)))
                per_tf = [1] * len(tfs)
                for i in range(k - len(tfs)):
                    per_tf[i % len(tfs)] += 1
                for tf_index, n in zip(tfs, per_tf, strict=True):
                    tf = self.task_forces[tf_index]
                    slugs = list(OPEN_ROLES)
                    rng.shuffle(slugs)
                    if home.index == tf.lead and rng.random() < 0.15 and person not in exact:
                        slugs.insert(0, rng.choice(LIMITED_ROLES))
                    placed = 0
                    for slug in slugs:
                        if placed == n:
                            break
                        state = (
                            "current"
                            if person in exact
                            else weighted(
                                rng,
                                [
                                    ("current", 0.86),
                                    ("expiring", 0.07),
                                    ("ended", 0.04),
                                    ("scheduled", 0.02),
                                    ("lapsed", 0.01),
                                ],
                            )
                        )
                        placed += add(tf, slug, person, state=state)
                    bar.update(n)
        self.w.write(
            RoleAssignment,
            (
                "role_id",
                "person_id",
                "agency_id",
                "assigned_by_id",
                "starts_at",
                "ends_at",
                "ended_at",
                "ended_by_id",
                "end_reason",
                "created_at",
            ),
            rows,
            total=len(rows),
        )
        self.w.write(User.groups.through, ("user_id", "group_id"), groups, total=len(groups))

    # --- objectives, tasks, updates ---------------------------------------------------------

    def seed_items(self) -> None:
        rng = self.rng
        tfs = self.task_forces
        per_tf = allocate(self.n["objectives"], [t.weight for t in tfs])
        ids = iter(self.ids(Objective, self.n["objectives"]))
        objectives: list[tuple[Any, ...]] = []
        contributors: list[tuple[int, int]] = []
        # (objective id, tf index, marking) for the tasks
        made: list[tuple[int, int, int]] = []
        statuses = list(Objective.Status.values)
        for tf, count in zip(tfs, per_tf, strict=True):
            accepted = tf.accepted
            for _ in range(count):
                objective_id = next(ids)
                marking = weighted(
                    rng,
                    [
                        (M.CLEAR, 0.05),
                        (M.GREEN, 0.22),
                        (M.AMBER, 0.45),
                        (M.AMBER_STRICT, 0.18),
                        (M.RED, 0.10),
                    ],
                )
                owner = tf.lead if rng.random() < 0.6 else rng.choice(accepted)
                created = tf.created_at + (self.now - tf.created_at) * rng.random()
                objectives.append(
                    (
                        objective_id,
                        tf.id,
                        f"Objective {objective_id}: restore service in zone {objective_id % 40}",
                        "Agreed at the coordination meeting.",
                        self.agencies[owner].id,
                        rng.choice(statuses),
                        weighted(rng, [(1, 0.2), (2, 0.4), (3, 0.3), (4, 0.1)]),
                        self.today + datetime.timedelta(days=rng.randint(-120, 120))
                        if rng.random() < 0.85
                        else None,
                        marking,
                        tf.founder,
                        created,
                        created,
                    )
                )
                others = [a for a in accepted if a != owner]
                for agency in rng.sample(others, min(len(others), rng.randint(0, 3))):
                    contributors.append((objective_id, self.agencies[agency].id))
                made.append((objective_id, tf.index, marking))
        self.w.write(
            Objective,
            (
                "id",
                "task_force_id",
                "title",
                "description",
                "owner_agency_id",
                "status",
                "priority",
                "target_date",
                "marking",
                "created_by_id",
                "created_at",
                "updated_at",
            ),
            objectives,
            total=len(objectives),
        )
        self.w.write(
            Objective.contributing_agencies.through,
            ("objective_id", "agency_id"),
            contributors,
            total=len(contributors),
        )
        del objectives, contributors

        task_counts = allocate(self.n["tasks"], [rng.uniform(0.2, 2.0) for _ in made])
        task_statuses = [
            (Task.Status.TODO, 0.3),
            (Task.Status.IN_PROGRESS, 0.3),
            (Task.Status.BLOCKED, 0.05),
            (Task.Status.DONE, 0.3),
            (Task.Status.CANCELLED, 0.05),
        ]

        def tasks() -> Iterator[tuple[Any, ...]]:
            for (objective_id, tf_index, marking), count in zip(made, task_counts, strict=True):
                tf = self.task_forces[tf_index]
                for n in range(count):
                    kind = rng.random()
                    assignee = role = None
                    if kind < 0.45:
                        slug = (
                            "intelligence-analyst"
                            if marking == M.RED
                            else rng.choice(
                                (
                                    "member",
                                    "operations-lead",
                                    "intelligence-analyst",
                                    "planning-lead",
                                )
                            )
                        )
                        role = tf.roles[slug][0]
                    elif kind < 0.75:
                        # someone of the lead agency holding a current role sees every
                        # marking below RED; for RED the commander (view_restricted)
                        assignee = (
                            tf.founder
                            if marking == M.RED or not tf.lead_holders
                            else rng.choice(tf.lead_holders)
                        )
                    created = self.now - datetime.timedelta(days=rng.uniform(0, 90))
                    yield (
                        objective_id,
                        tf.id,
                        f"Task {n + 1} of objective {objective_id}",
                        "",
                        assignee,
                        role,
                        self.today + datetime.timedelta(days=rng.randint(-30, 60))
                        if rng.random() < 0.9
                        else None,
                        weighted(rng, task_statuses),
                        marking,
                        tf.founder,
                        created,
                        created,
                    )

        self.w.write(
            Task,
            (
                "objective_id",
                "task_force_id",
                "title",
                "description",
                "assignee_id",
                "assigned_role_id",
                "due_date",
                "status",
                "marking",
                "created_by_id",
                "created_at",
                "updated_at",
            ),
            tasks(),
            total=self.n["tasks"],
        )

        update_counts = allocate(self.n["updates"], [t.weight for t in tfs])
        ids = iter(self.ids(Update, self.n["updates"]))
        updates, ack_roles, ack_agencies, acks = [], [], [], []
        for tf, count in zip(tfs, update_counts, strict=True):
            partners = [a for a in tf.accepted if a != tf.lead and a in tf.liaison_of]
            for _ in range(count):
                update_id = next(ids)
                marking = weighted(
                    rng,
                    [
                        (M.CLEAR, 0.05),
                        (M.GREEN, 0.25),
                        (M.AMBER, 0.5),
                        (M.AMBER_STRICT, 0.12),
                        (M.RED, 0.08),
                    ],
                )
                if partners and rng.random() < 0.3:
                    agency = rng.choice(partners)
                    author = tf.liaison_of[agency]
                    # a partner shares up to its ceiling, and never RED (no view_restricted)
                    marking = min(marking, self.ceiling[(tf.index, agency)], M.AMBER_STRICT)
                else:
                    agency, author = tf.lead, tf.founder
                critical = rng.random() < 0.08
                created = tf.created_at + (self.now - tf.created_at) * rng.random()
                updates.append(
                    (
                        update_id,
                        tf.id,
                        author,
                        self.agencies[agency].id,
                        Update.Kind.SITREP if rng.random() < 0.2 else Update.Kind.UPDATE,
                        f"Situation at {created:%H:%M}, update {update_id}",
                        "Levels steady; next report in four hours.",
                        marking,
                        critical,
                        created,
                    )
                )
                if critical:
                    target = rng.random()
                    if target < 0.4:
                        ack_roles.append((update_id, tf.roles["member"][0]))
                    elif target < 0.6 and partners:
                        ack_agencies.append((update_id, self.agencies[rng.choice(partners)].id))
                    elif marking < M.RED:
                        # it asks everyone who sees it: a few of the lead's people (who see
                        # everything below RED) have acknowledged it
                        ackers = set(rng.sample(tf.lead_holders, min(2, len(tf.lead_holders))))
                        for person in ackers - {author}:
                            acks.append(
                                (
                                    update_id,
                                    person,
                                    created + datetime.timedelta(minutes=rng.randint(5, 600)),
                                )
                            )
        self.w.write(
            Update,
            (
                "id",
                "task_force_id",
                "author_id",
                "author_agency_id",
                "kind",
                "title",
                "body",
                "marking",
                "requires_acknowledgement",
                "created_at",
            ),
            updates,
            total=len(updates),
        )
        self.w.write(
            Update.ack_roles.through, ("update_id", "role_id"), ack_roles, total=len(ack_roles)
        )
        self.w.write(
            Update.ack_agencies.through,
            ("update_id", "agency_id"),
            ack_agencies,
            total=len(ack_agencies),
        )
        self.w.write(
            Acknowledgement, ("update_id", "person_id", "acknowledged_at"), acks, total=len(acks)
        )

    def seed_notifications(self) -> None:
        """People's notification centres: more for people with more roles."""
        rng = self.rng
        people = [p for p, n in self.role_count.items() if n]
        weights = [self.role_count[p] for p in people]
        counts = allocate(self.n["notifications"], weights)

        def rows() -> Iterator[tuple[Any, ...]]:
            for person, count in zip(people, counts, strict=True):
                for n in range(count):
                    created = self.now - datetime.timedelta(hours=rng.uniform(0, 24 * 60))
                    yield (
                        person,
                        "update.posted",
                        f"New update ({n + 1})",
                        "An update was posted in a task force you work in.",
                        "",
                        f"tf-{n % 7}",
                        False,
                        Notification.Delivery.IMMEDIATE,
                        Notification.EmailStatus.SENT,
                        created,
                        created,
                        created if rng.random() < 0.7 else None,
                    )

        self.w.write(
            Notification,
            (
                "recipient_id",
                "kind",
                "title",
                "body",
                "link",
                "group_key",
                "critical",
                "delivery",
                "email_status",
                "emailed_at",
                "created_at",
                "read_at",
            ),
            rows(),
            total=self.n["notifications"],
        )

    def reset_sequences(self) -> None:
        sql = connection.ops.sequence_reset_sql(no_style(), list(self.next_id))
        with connection.cursor() as cursor:
            for statement in sql:
                cursor.execute(statement)

    def run(self) -> None:
        self.seed_agencies()
        self.seed_people()
        self.seed_task_forces()
        self.seed_agreements()
        self.seed_roles()
        self.seed_assignments()
        self.seed_items()
        self.seed_notifications()
        self.reset_sequences()
