"""The lifecycles inside a task force, each written once: which status may follow which,
and what the button that makes the move says. Services refuse any other move; pages offer
exactly these (one button per allowed move, never a list of every status)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import models

from .models import Objective, Task, TaskForce


@dataclass(frozen=True)
class Move:
    """One allowed move: to this status, by a button saying ``label``."""

    to: str
    label: str


class Lifecycle:
    """A status field's allowed moves, in the order pages show them."""

    def __init__(
        self, what: str, statuses: type[models.TextChoices], moves: dict[str, list[Move]]
    ) -> None:
        self.what = what
        self.statuses = statuses
        self.moves = moves
        self.pairs = frozenset((old, move.to) for old, listed in moves.items() for move in listed)

    def moves_from(self, status: str) -> list[Move]:
        return self.moves.get(status, [])

    def check(self, old: str, new: str) -> None:
        """Raise a ValidationError on ``status`` naming the move unless it is allowed."""
        if new not in self.statuses.values:
            raise ValidationError({"status": f"Unknown status {new!r}."})
        if (old, new) not in self.pairs:
            allowed = ", ".join(
                self.statuses(move.to).label.lower() for move in self.moves_from(old)
            )
            raise ValidationError(
                {
                    "status": f"{self.what} that is {self.statuses(old).label.lower()} cannot "
                    f"become {self.statuses(new).label.lower()}"
                    + (f" (it can become: {allowed})." if allowed else ".")
                }
            )


TF = TaskForce.Status
TASK_FORCE = Lifecycle(
    "A task force",
    TF,
    {
        TF.FORMING: [Move(TF.ACTIVE, "Activate"), Move(TF.CLOSED, "Close")],
        TF.ACTIVE: [Move(TF.STANDING_DOWN, "Stand down")],
        TF.STANDING_DOWN: [Move(TF.ACTIVE, "Reactivate"), Move(TF.CLOSED, "Close")],
        TF.CLOSED: [],
    },
)

OS = Objective.Status
_OPEN_OBJECTIVE = (OS.ON_TRACK, OS.AT_RISK, OS.OFF_TRACK)
_OBJECTIVE_LABELS = {
    OS.ON_TRACK: "On track",
    OS.AT_RISK: "At risk",
    OS.OFF_TRACK: "Off track",
    OS.COMPLETED: "Complete",
    OS.CANCELLED: "Cancel",
}


def _objective_moves(current: str) -> list[Move]:
    targets = [s for s in (*_OPEN_OBJECTIVE, OS.COMPLETED, OS.CANCELLED) if s != current]
    return [Move(s, _OBJECTIVE_LABELS[s]) for s in targets]


OBJECTIVE = Lifecycle(
    "An objective",
    OS,
    {
        OS.NOT_STARTED: _objective_moves(OS.NOT_STARTED),
        OS.ON_TRACK: _objective_moves(OS.ON_TRACK),
        OS.AT_RISK: _objective_moves(OS.AT_RISK),
        OS.OFF_TRACK: _objective_moves(OS.OFF_TRACK),
        # finished work is reopened, not silently moved to another state
        OS.COMPLETED: [Move(OS.ON_TRACK, "Reopen")],
        OS.CANCELLED: [Move(OS.NOT_STARTED, "Reopen")],
    },
)

# A task's status is whatever its holder says it is now, including a cancelled task found
# done after all: every other status is one button away.
_TASK_LABELS = {
    Task.Status.TODO: "To do",
    Task.Status.IN_PROGRESS: "In progress",
    Task.Status.BLOCKED: "Blocked",
    Task.Status.DONE: "Done",
    Task.Status.CANCELLED: "Cancel",
}
TASK = Lifecycle(
    "A task",
    Task.Status,
    {
        current: [Move(to, label) for to, label in _TASK_LABELS.items() if to != current]
        for current in Task.Status.values
    },
)
