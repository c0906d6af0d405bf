"""Two requests with one ``Idempotency-Key`` at the same time, on PostgreSQL, in real
threads with their own connections: one object is created, whatever the interleaving.
A retry that arrives while the first is still inside its transaction is a 409 (it does
not wait); one that arrives after the commit gets the first answer again."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from coordination.models import IdempotencyKey
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Update

from ..conftest import build_world

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="Needs PostgreSQL (set DATABASE_URL); SQLite serialises writers.",
    ),
]

WAIT = 30.0  # a safety net for a stuck thread, never a measurement


def post(user: Any, body: dict[str, Any], key: str) -> tuple[int, Any]:
    client = APIClient()
    client.force_authenticate(user)
    response = client.post("/api/v1/updates/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    return response.status_code, response.json()


def in_thread(call: Callable[[], Any], results: list[Any], before: Callable[[], None]) -> Any:
    def run() -> None:
        try:
            connection.ensure_connection()
            before()
            results.append(call())
        except Exception as error:  # the assertion below shows it
            results.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_two_requests_released_together_create_one_update() -> None:
    w = build_world()
    body = {"task_force": w.tf.pk, "title": "Gauge", "body": "4.2 m", "marking": Marking.GREEN}
    before = Update.objects.count()
    for round_ in range(10):
        key = f"together-{round_}"
        barrier = threading.Barrier(2)
        results: list[Any] = []
        threads = [
            in_thread(lambda k=key: post(w.lead_liaison, body, k), results, barrier.wait)
            for _ in range(2)
        ]
        for thread in threads:
            thread.join(WAIT)
        assert len(results) == 2 and all(isinstance(r, tuple) for r in results), results
        statuses = sorted(status for status, _ in results)
        assert statuses in ([201, 201], [201, 409]), results
        created = [answer for status, answer in results if status == 201]
        assert all(answer == created[0] for answer in created)
        if statuses == [201, 409]:
            conflict = next(answer for status, answer in results if status == 409)
            assert conflict["error"]["code"] == "idempotency_key_in_use"
    assert Update.objects.count() == before + 10
    assert IdempotencyKey.objects.count() == 10


def test_a_retry_during_the_first_is_409_and_after_it_the_same_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = build_world()
    body = {"task_force": w.tf.pk, "title": "Gauge", "body": "4.2 m", "marking": Marking.GREEN}
    inside, release = threading.Event(), threading.Event()
    real_post_update = services.post_update

    def post_update_holding(**kwargs: Any) -> Update:
        """The real service, paused once inside the first request's transaction."""
        update = real_post_update(**kwargs)
        if not inside.is_set():
            inside.set()
            assert release.wait(WAIT)
        return update

    monkeypatch.setattr(services, "post_update", post_update_holding)
    before = Update.objects.count()
    first: list[Any] = []
    thread = in_thread(lambda: post(w.lead_liaison, body, "held-1"), first, lambda: None)
    assert inside.wait(WAIT)
    try:
        status, answer = post(w.lead_liaison, body, "held-1")
        assert status == 409, answer
        assert answer["error"]["code"] == "idempotency_key_in_use"
    finally:
        release.set()
        thread.join(WAIT)
    assert first and first[0][0] == 201, first
    assert post(w.lead_liaison, body, "held-1") == first[0]
    assert Update.objects.count() == before + 1


def test_a_create_that_committed_but_answered_500_is_not_repeated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's case: the create commits, then something after the commit fails and
    the client sees a 500 (in the JSON shape). Its retry with the same key gets the
    create's answer; there is still one update."""
    w = build_world()
    body = {"task_force": w.tf.pk, "title": "Gauge", "body": "4.2 m", "marking": Marking.GREEN}
    real_post_update = services.post_update

    def after_commit_fails() -> None:
        raise ConnectionError("the mail server went away")

    def post_update_then_fail(**kwargs: Any) -> Update:
        transaction.on_commit(after_commit_fails)
        return real_post_update(**kwargs)

    monkeypatch.setattr(services, "post_update", post_update_then_fail)
    before = Update.objects.count()
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(w.lead_liaison)
    lost = client.post("/api/v1/updates/", body, format="json", HTTP_IDEMPOTENCY_KEY="lost-1")
    assert lost.status_code == 500
    assert lost.json()["error"]["code"] == "server_error"
    assert Update.objects.count() == before + 1
    monkeypatch.setattr(services, "post_update", real_post_update)
    status, answer = post(w.lead_liaison, body, "lost-1")
    assert status == 201
    assert answer["id"] == Update.objects.latest("pk").pk
    assert Update.objects.count() == before + 1
