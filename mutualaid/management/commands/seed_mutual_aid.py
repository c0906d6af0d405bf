"""``manage.py seed_mutual_aid``: the demo's mutual aid, made through the services, in the
River Severn flood response that ``seed_demo`` loads (which runs this at its end).
Idempotent: nothing happens when that task force already has resource requests."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from agencies.models import Agency
from coordination.models import User
from coordination.permissions.markings import Marking
from taskforces.models import TaskForce

from ... import services
from ...models import Commitment, ResourceKind, ResourceRequest

FLOOD = "River Severn flood response"

# agency acronym → (kind code, typically available, notes)
CAPABILITIES: dict[str, list[tuple[str, int | None, str]]] = {
    "NFA": [("pump-high-volume", 6, "Stored at Riverton depot"), ("sandbags", 400, "")],
    "RHS": [
        ("ambulance-als", 8, "From the regional fleet; 2 hours' notice"),
        ("medical-team", 2, ""),
        ("epidemiology-team", 1, "Office hours"),
    ],
    "RPD": [("law-enforcement-patrol", 6, "Teams of 4 with vehicles")],
    "RCR": [
        ("shelter-facility", 3, "School halls pre-agreed with the council"),
        ("shelter-kits", 500, ""),
        ("drinking-water", 40, ""),
    ],
}


class Command(BaseCommand):
    help = "Load the demo's mutual aid (requests, offers, commitments, capabilities)."

    def person(self, email: str) -> User:
        return User.objects.get(email=email)

    def handle(self, *args: Any, **options: Any) -> None:
        task_force = TaskForce.objects.filter(name=FLOOD).first()
        if task_force is None:
            raise CommandError("Load the demo first (manage.py seed_demo).")
        if ResourceRequest.objects.filter(task_force=task_force).exists():
            self.stdout.write("Mutual aid demo data is already loaded; nothing changed.")
            return
        with transaction.atomic():
            self.seed(task_force)
        self.stdout.write(self.style.SUCCESS("Mutual aid demo data loaded."))

    def seed(self, tf: TaskForce) -> None:
        now = timezone.now()
        hours = datetime.timedelta(hours=1)
        services.ensure_resource_kinds()
        kinds = {k.code: k for k in ResourceKind.objects.all()}
        for acronym, lines in CAPABILITIES.items():
            agency = Agency.objects.filter(acronym=acronym).first()
            if agency is None:
                continue
            keeper = (
                User.objects.filter(
                    memberships__agency=agency,
                    memberships__is_active=True,
                    memberships__role__in=("liaison", "admin"),
                )
                .order_by("pk")
                .first()
            )
            if keeper is None:
                continue
            for code, typical, notes in lines:
                services.set_capability(
                    agency=agency,
                    kind=kinds[code],
                    by=keeper,
                    typical_quantity=typical,
                    notes=notes,
                )
        ops, planning = self.person("ops@nfa.example"), self.person("planning@nfa.example")
        rhs = Agency.objects.get(acronym="RHS")
        rpd = Agency.objects.get(acronym="RPD")

        # RR-1: ambulances from the health service, 3 of 4 committed and on scene
        ambulances = services.raise_request(
            task_force=tf,
            by=ops,
            kind=kinds["ambulance-als"],
            quantity=4,
            location="Riverton Community Hospital, Quay Street entrance",
            needed_by=now + 6 * hours,
            priority=ResourceRequest.Priority.URGENT,
            justification="Evacuating the care homes in Zone A before the peak: 38 residents "
            "who cannot walk.",
            marking=Marking.AMBER,
            addressed_agencies=[rhs],
        )
        offer = services.make_offer(
            request=ambulances,
            by=self.person("liaison@rhs.example"),
            description="3 ALS ambulances with paramedic crews",
            quantity=3,
            available_from=now + 2 * hours,
            conditions="Released back to the regional fleet after 12 hours.",
        )
        commitment = services.accept_offer(offer=offer, by=planning)
        for step in (Commitment.Status.MOBILISED, Commitment.Status.ON_SCENE):
            services.move_commitment(
                commitment=commitment, to_status=step, by=self.person("liaison@rhs.example")
            )

        # RR-2: rest centres from anyone taking part; the Red Cross's offer awaits a decision
        shelters = services.raise_request(
            task_force=tf,
            by=ops,
            kind=kinds["shelter-facility"],
            quantity=2,
            location="Riverton (north bank, above the flood line)",
            needed_by=now + 20 * hours,
            priority=ResourceRequest.Priority.ROUTINE,
            justification="Up to 400 people displaced from Zones A and B overnight.",
            marking=Marking.GREEN,
        )
        services.make_offer(
            request=shelters,
            by=self.person("liaison@redcross.example"),
            description="2 staffed rest centres (school halls)",
            quantity=2,
            available_from=now + 8 * hours,
            conditions="Needs the council to open the buildings.",
        )

        # RR-3: a police patrol team, done and demobilised
        patrols = services.raise_request(
            task_force=tf,
            by=ops,
            kind=kinds["law-enforcement-patrol"],
            quantity=2,
            location="Lower Riverton cordon",
            needed_by=now + 1 * hours,
            priority=ResourceRequest.Priority.URGENT,
            justification="Cordon and door-to-door checks during the evacuation.",
            marking=Marking.AMBER,
            addressed_agencies=[rpd],
        )
        offer = services.make_offer(
            request=patrols,
            by=self.person("liaison@rpd.example"),
            description="2 patrol teams of 4 with vehicles",
            quantity=2,
            available_from=now,
        )
        commitment = services.accept_offer(offer=offer, by=self.person("liaison@nfa.example"))
        for step in (
            Commitment.Status.MOBILISED,
            Commitment.Status.ON_SCENE,
            Commitment.Status.DEMOBILISED,
        ):
            services.move_commitment(
                commitment=commitment, to_status=step, by=self.person("liaison@rpd.example")
            )
