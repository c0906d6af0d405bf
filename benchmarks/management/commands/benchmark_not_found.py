"""Does the time taken tell a hidden object from a missing id? (issue 15, item 5)

    DATABASE_URL=postgres://…/concord_scale_100 \\
    DJANGO_SETTINGS_MODULE=coordination.settings.benchmark \\
        python manage.py benchmark_not_found [--requests 400] [--email someone@…]

A person (by default the scale set's person with 3 roles) asks, alternately, for an object
that exists but that they may not see and for an id that names nothing — through the
whole stack in this process (middleware, authentication, the permission core, the audit
trail), for an objective and a task force by the API and the objective's page. Both
answer 404 with the same body. For each pair of series it prints the medians, their
ratio, and how well the best single threshold on the time classifies one request as
"hidden" or "missing": 50 % is a coin toss (indistinguishable), 100 % tells every one.
Outside testers measured 1.5–1.8× and 73–81 % before the refusal was recorded the same
way for both.

Every request appends an ``access.refused`` event to the audit trail (that is the point:
both do), so run it on a benchmark database.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse

from coordination.models import User
from taskforces.models import Objective, TaskForce


def best_threshold_accuracy(hidden: list[float], missing: list[float]) -> float:
    """The share of requests the best single time threshold puts on the right side (on
    either side: slower-is-hidden or slower-is-missing, whichever scores better)."""
    labelled = sorted([(t, 1) for t in hidden] + [(t, 0) for t in missing])
    total = len(labelled)
    hidden_left, missing_left = 0, 0
    best = 0.0
    n_hidden = len(hidden)
    for _, label in labelled:
        hidden_left += label
        missing_left += 1 - label
        # below the threshold = missing, above = hidden (and the mirror)
        right = missing_left + (n_hidden - hidden_left)
        best = max(best, right / total, (total - right) / total)
    return best


class Command(BaseCommand):
    help = "Times hidden objects against missing ids (404 both), alternately."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=400, help="per series (each kind)")
        parser.add_argument("--email", default="three-roles@hub.scale.example")

    def handle(self, *args: Any, **options: Any) -> None:
        person = User.objects.filter(email=options["email"]).first()
        if person is None:
            raise CommandError(f"No person {options['email']}; seed the scale set first.")
        seen = Objective.objects.restrict(person, "view").values("pk")
        hidden = Objective.objects.exclude(pk__in=seen).order_by("pk").first()
        seen_tf = TaskForce.objects.restrict(person, "view").values("pk")
        hidden_tf = TaskForce.objects.exclude(pk__in=seen_tf).order_by("pk").first()
        if hidden is None or hidden_tf is None:
            raise CommandError("This person sees every objective or task force: no hidden one.")
        missing = (Objective.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        missing_tf = (
            TaskForce.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        ) + 1
        logging.getLogger("django.request").setLevel(logging.ERROR)  # 404s are the point
        client = Client()
        client.force_login(person)
        n = options["requests"]
        self.stdout.write(
            f"{person.email}: hidden objective {hidden.pk}, missing {missing}; hidden task "
            f"force {hidden_tf.pk}, missing {missing_tf}; {n} requests of each, alternating; "
            f"database {settings.DATABASES['default']['NAME']}"
        )
        self.stdout.write(
            f"  {'what':<28} {'hidden p50 ms':>13} {'missing p50 ms':>14} {'ratio':>6} "
            f"{'classified':>10}"
        )
        series: list[tuple[str, Callable[[int], str], int, int]] = [
            ("API objective", lambda pk: f"/api/v1/objectives/{pk}/", hidden.pk, missing),
            ("API task force", lambda pk: f"/api/v1/task-forces/{pk}/", hidden_tf.pk, missing_tf),
            (
                "objective page",
                lambda pk: reverse("taskforces:objective", args=[pk]),
                hidden.pk,
                missing,
            ),
        ]
        with override_settings(ALLOWED_HOSTS=["*"]):
            for label, path, hidden_pk, missing_pk in series:
                for pk in (hidden_pk, missing_pk):  # one of each first: both 404
                    status = client.get(path(pk)).status_code
                    if status != 404:
                        raise CommandError(f"{label} {pk} answered {status}, not 404")
                times: dict[int, list[float]] = {hidden_pk: [], missing_pk: []}
                for i in range(2 * n):
                    pk = hidden_pk if i % 2 == 0 else missing_pk
                    started = time.perf_counter()
                    client.get(path(pk))
                    times[pk].append((time.perf_counter() - started) * 1000)
                h, m = times[hidden_pk], times[missing_pk]
                self.stdout.write(
                    f"  {label:<28} {statistics.median(h):>13.2f} {statistics.median(m):>14.2f} "
                    f"{statistics.median(h) / statistics.median(m):>6.2f} "
                    f"{best_threshold_accuracy(h, m):>9.0%}"
                )
        self.stdout.write(
            "  (classified: the share of single requests the best time threshold labels "
            "correctly; 50 % is a coin toss, and the best of several hundred thresholds "
            "fitted to the same samples scores a few points above it by chance)"
        )
