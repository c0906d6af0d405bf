"""The data set ``seed_scale`` writes: its full size, the distributions it draws from,
the addresses of the benchmark's people, and the rows the seeder keeps in memory."""

import datetime
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agencies.models import Agency
from coordination.models import User
from coordination.permissions.markings import Marking
from taskforces.models import (
    Participation,
    TaskForce,
)

# the full-size data set (factor 1)
FULL = {
    "agencies": 2_000,
    "people": 50_000,
    "task_forces": 10_000,
    "assignments": 500_000,
    "objectives": 200_000,
    "tasks": 500_000,
    "updates": 300_000,
    "notifications": 500_000,
}
DOMAIN = "scale.example"  # every seeded address ends with it: how scale data is recognised
HEAVY_EMAIL = f"three-hundred-roles@hub.{DOMAIN}"
LIGHT_EMAIL = f"three-roles@hub.{DOMAIN}"
ADMIN_EMAIL = f"portal-admin@{DOMAIN}"
HEAVY_ROLES = 300
LIGHT_ROLES = 3
SQLITE_MAX_FACTOR = 0.01
# roles anyone taking part may hold without a limit, and the limited ones (lead's people)
OPEN_ROLES = ("member", "observer", "intelligence-analyst")
LIMITED_ROLES = (
    "deputy-commander",
    "operations-lead",
    "planning-lead",
    "public-information-officer",
)

L, SEC, AS = Agency.Level, Agency.Sector, Agency.Status
P, TF = Participation.Status, TaskForce.Status
M = Marking
LEVELS = (
    (L.NATIONAL, 0.08, 6.0),
    (L.REGIONAL, 0.17, 2.0),
    (L.LOCAL, 0.55, 1.0),
    (L.TRIBAL, 0.05, 0.5),
    (L.INTERNATIONAL, 0.05, 1.5),
    (L.NON_GOVERNMENTAL, 0.10, 0.5),
)  # level, share of agencies, size factor
THEMES = (
    "Flood response",
    "Wildfire coordination",
    "Pandemic preparedness",
    "Counter-trafficking",
    "Port security",
    "Cyber incident",
    "Earthquake recovery",
    "Heatwave resilience",
    "Organised crime",
    "Missing persons",
    "Border surge",
    "Storm recovery",
)
FIRST = ("Alex", "Sam", "Jordan", "Priya", "Chen", "Fatima", "Olu", "Marta", "Ivan", "Aisha")
LAST = ("Okafor", "Novak", "Raman", "Bennett", "Kim", "Reid", "Petrova", "Blake", "Marsh", "Hayes")


def scale_data_exists() -> bool:
    return User.objects.filter(email__endswith=f".{DOMAIN}").exists() or (
        User.objects.filter(email=ADMIN_EMAIL).exists()
    )


def weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    values, weights = zip(*options, strict=True)
    return rng.choices(values, weights)[0]


def allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (largest remainders), whole numbers."""
    whole = sum(weights)
    if not weights or whole <= 0:
        return [0] * len(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


@dataclass
class AgencyRow:
    id: int
    index: int
    level: str
    status: str
    weight: float
    people: list[int] = field(default_factory=list)
    liaisons: list[int] = field(default_factory=list)
    staff: list[int] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)  # task force indexes


@dataclass
class TaskForceRow:
    id: int
    index: int
    lead: int  # agency index
    founder: int  # person id
    status: str
    marking: int
    created_at: datetime.datetime
    partners: dict[int, str] = field(default_factory=dict)  # agency index -> status
    liaison_of: dict[int, int] = field(default_factory=dict)  # agency index -> person id
    roles: dict[str, tuple[int, int, int | None]] = field(
        default_factory=dict
    )  # slug -> role id, group id, max
    lead_holders: list[int] = field(default_factory=list)  # current holders from the lead agency
    weight: float = 1.0

    @property
    def accepted(self) -> list[int]:
        return [a for a, s in self.partners.items() if s == P.ACCEPTED]
