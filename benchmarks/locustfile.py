"""The mixed load of ``manage.py benchmark_load`` (section "mixed"), run by locust headless in
a subprocess: ``locust -f benchmarks/locustfile.py --headless ...`` with
``CONCORD_LOAD_PLAN`` naming a JSON file the command wrote. Not Django code: locust
patches the standard library (gevent) on import, so nothing in the app imports this.

The plan says what each simulated person does and where the timings go:

* ``mode`` ``"mixed"``: each locust user is one person of the scale set (user *i* plays
  person *i*), who, with no pause between requests, reads (9 in 10) one of their API
  lists (personal API token) or one of their pages (their session's cookie), or writes
  (1 in 10): posts an update into a task force where they may;
* ``mode`` ``"bare"``: each user asks for the bare one-query view, with no pause either.

Every request's end time, kind, duration and outcome go to ``results`` (JSON lines, one
file per process) when locust quits, and the time the last user started; the command
computes the rates and percentiles itself. A request is a failure unless it answers the
status expected (200 for reads, 201 for writes; redirects are not followed, so a session
that stopped working shows as failures).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from typing import Any

from locust import FastHttpUser, events, task
from locust.env import Environment

PLAN: dict[str, Any] = json.loads(open(os.environ["CONCORD_LOAD_PLAN"]).read())  # noqa: SIM115
RECORDS: list[tuple[float, str, str, float, bool]] = []
MARKS: dict[str, float] = {}
_players = itertools.count()


@events.spawning_complete.add_listener
def _spawned(user_count: int, **kwargs: Any) -> None:
    MARKS.setdefault("spawned", time.time())


@events.test_stop.add_listener
def _stopped(environment: Environment, **kwargs: Any) -> None:
    MARKS.setdefault("stopped", time.time())


@events.quitting.add_listener
def _write_results(environment: Environment, **kwargs: Any) -> None:
    with open(PLAN["results"], "w") as out:
        json.dump({"marks": MARKS, "records": RECORDS}, out)


class Person(FastHttpUser):
    """One person of the plan (or, in ``bare`` mode, anyone asking for the bare view)."""

    def wait_time(self) -> float:  # no think time: the load is as heavy as it gets
        return 0

    def on_start(self) -> None:
        people, player = PLAN["people"], next(_players)
        self.person = people[player % len(people)] if people else {}
        # each player its own reproducible mix
        self.random = random.Random(player)  # noqa: S311 - a load mix, not a secret

    def send(self, kind: str, name: str, method: str, path: str, expect: int, **kw: Any) -> None:
        # the server's Set-Cookie answers are dropped: each request carries exactly the
        # credentials it names (a token for the API, the session cookie for pages)
        self.client.cookiejar.clear()
        started = time.time()
        with self.client.request(
            method, path, name=name, catch_response=True, allow_redirects=False, **kw
        ) as response:
            ok = response.status_code == expect
            if ok:
                response.success()
            else:
                response.failure(f"{response.status_code}, expected {expect}")
        RECORDS.append((time.time(), kind, name, 1000 * (time.time() - started), ok))

    @task
    def act(self) -> None:
        if PLAN["mode"] == "bare":
            self.send("bare", "bare view", "GET", PLAN["bare"], 200)
            return
        p, roll = self.person, self.random.random()
        if roll < PLAN["write_share"]:
            self.send(
                "write",
                "POST update",
                "POST",
                p["post"]["path"],
                201,
                data=p["post"]["body"],
                headers={"Authorization": p["token"], "Content-Type": "application/json"},
            )
        elif self.random.random() < 0.5:
            label, path = self.random.choice(p["lists"])
            self.send("list", label, "GET", path, 200, headers={"Authorization": p["token"]})
        else:
            label, path = self.random.choice(p["pages"])
            self.send("page", label, "GET", path, 200, headers={"Cookie": p["cookie"]})
