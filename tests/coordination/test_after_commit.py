"""The Celery tasks commits leave: at each commit alone, or, within a web request, all in
one message when it ends (``coordination.after_commit``).

Tasks run in-process here (eager mode): every message this process sends is recorded
(``sent``) and then run as it would be. tests/notifications/test_real_worker.py sends a
request's message to a real broker and has a real worker do it."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from celery.app.task import Task
from django.db import transaction
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from coordination import after_commit
from coordination.celery import app as celery_app
from coordination.models import AuditEvent, Event, Notification
from coordination.permissions.markings import Marking
from taskforces.models import Update

pytestmark = pytest.mark.django_db(transaction=True)

RUN = "coordination.after_commit.run"
NOTED: list[int] = []


@celery_app.task(name="tests.after_commit.note")
def note(value: int) -> None:
    NOTED.append(value)


@celery_app.task(name="tests.after_commit.fail")
def fail(value: int) -> None:
    raise RuntimeError(f"task {value} failed")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Every message this process sends from now on: its task's name and arguments (each
    is then run in-process, as eager mode does)."""
    NOTED.clear()
    messages: list[tuple[str, tuple[Any, ...]]] = []
    original = Task.apply_async

    def recording(self: Task, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        messages.append((self.name, tuple(args or ())))
        return original(self, args, kwargs, **options)

    monkeypatch.setattr(Task, "apply_async", recording)
    return messages


def signed_in(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


POST = {"title": "Levels rising at Bewdley", "body": "Peak expected tonight."}


# --- within a web request ----------------------------------------------------------------------


def test_a_request_sends_what_its_commits_left_in_one_message(
    world: SimpleNamespace, sent: list[tuple[str, tuple[Any, ...]]]
) -> None:
    response = signed_in(world.lead_liaison).post(
        "/api/v1/updates/", {**POST, "task_force": world.tf.pk, "marking": Marking.AMBER}
    )
    assert response.status_code == 201, response.content
    update = Update.objects.get(pk=response.json()["id"])
    event = Event.objects.get(kind="update.posted", object_id=str(update.pk))
    # one message, sent when the request ended: the seal and the event's dispatch in it,
    # in the order the service left them (what the work then sends comes after)
    assert sent[0] == (
        RUN,
        (
            [
                ["coordination.audit.request_seal", []],
                ["coordination.tasks.dispatch_event", [event.pk]],
            ],
        ),
    )
    assert RUN not in [name for name, _ in sent[1:]]
    # and each part was done
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert Notification.objects.filter(event=event, recipient=world.partner_staff).exists()
    posted = AuditEvent.objects.get(action="update.posted", object_id=str(update.pk))
    assert posted.seq is not None


def test_a_request_that_leaves_only_a_seal_sends_no_message(
    world: SimpleNamespace, sent: list[tuple[str, tuple[Any, ...]]]
) -> None:
    """A refused read appends an audit event and nothing else: its seal is asked for in
    the request (a cache key; in-process, sealed at once), not by a message."""
    hidden = world.objectives[Marking.GREEN]
    response = signed_in(world.outsider).get(f"/api/v1/objectives/{hidden.pk}/")
    assert response.status_code == 404
    refusal = AuditEvent.objects.filter(actor=world.outsider).latest("id")
    assert refusal.outcome == AuditEvent.Outcome.DENIED
    assert refusal.seq is not None
    assert sent == []


def test_a_request_whose_message_cannot_be_sent_still_succeeds(
    world: SimpleNamespace,
    sent: list[tuple[str, tuple[Any, ...]]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The broker down when the request ends: the change is saved, its maker gets no
    error, and the event waits for the sweeper, as when its message went alone."""
    recording = Task.apply_async

    def broker_down(self: Task, *args: Any, **kwargs: Any) -> Any:
        if self.name == RUN:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return recording(self, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", broker_down)
    with caplog.at_level(logging.WARNING, logger="coordination.after_commit"):
        response = signed_in(world.lead_liaison).post(
            "/api/v1/updates/", {**POST, "task_force": world.tf.pk, "marking": Marking.AMBER}
        )
    assert response.status_code == 201, response.content
    event = Event.objects.get(kind="update.posted", object_id=str(response.json()["id"]))
    assert event.dispatched_at is None
    assert "the sweepers will" in caplog.text
    assert sent == []


# --- the rules, with tasks of this module ----------------------------------------------------


def test_outside_a_request_each_task_goes_alone_at_its_commit(
    sent: list[tuple[str, tuple[Any, ...]]],
) -> None:
    with transaction.atomic():
        after_commit.later(note, 1)
        after_commit.later(note, 2)
        assert sent == []  # nothing before the commit
    assert sent == [("tests.after_commit.note", (1,)), ("tests.after_commit.note", (2,))]
    assert NOTED == [1, 2]


def test_one_message_carries_only_what_committed(sent: list[tuple[str, tuple[Any, ...]]]) -> None:
    with after_commit.one_message():
        with transaction.atomic():
            after_commit.later(note, 1)
            with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint rolled back
                after_commit.later(note, 2)
                raise RuntimeError
            after_commit.later(note, 3)
        with pytest.raises(RuntimeError), transaction.atomic():  # a transaction rolled back
            after_commit.later(note, 4)
            raise RuntimeError
        after_commit.later(note, 5)  # outside a transaction: at once, into the message
        assert sent == []  # nothing before the block ends
    assert sent == [
        (
            RUN,
            (
                [
                    ["tests.after_commit.note", [1]],
                    ["tests.after_commit.note", [3]],
                    ["tests.after_commit.note", [5]],
                ],
            ),
        )
    ]
    assert NOTED == [1, 3, 5]


def test_the_same_task_for_the_same_rows_goes_once(sent: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Several commits of one request ask for the same (each audit event asks for a seal):
    the message carries it once."""
    with after_commit.one_message():
        for _ in range(3):
            with transaction.atomic():
                after_commit.later(note, 1)
                after_commit.later(note, 2)
    assert sent == [(RUN, ([["tests.after_commit.note", [1]], ["tests.after_commit.note", [2]]],))]
    assert NOTED == [1, 2]


def test_one_task_left_goes_as_itself(sent: list[tuple[str, tuple[Any, ...]]]) -> None:
    with after_commit.one_message(), transaction.atomic():
        after_commit.later(note, 7)
    assert sent == [("tests.after_commit.note", (7,))]
    assert NOTED == [7]


def test_what_runs_alone_runs_here_unless_a_message_goes(
    sent: list[tuple[str, tuple[Any, ...]]],
) -> None:
    here: list[str] = []
    with after_commit.one_message(), transaction.atomic():
        after_commit.later(note, 1, alone=lambda: here.append("first"))
        after_commit.later(note, 2, alone=lambda: here.append("second"))
    assert (here, sent, NOTED) == (["first", "second"], [], [])

    with after_commit.one_message(), transaction.atomic():
        after_commit.later(note, 1, alone=lambda: here.append("third"))
        after_commit.later(note, 2)
    assert here == ["first", "second"]  # a message went: the task went in it
    assert sent == [(RUN, ([["tests.after_commit.note", [1]], ["tests.after_commit.note", [2]]],))]
    assert NOTED == [1, 2]


def test_a_task_that_fails_in_a_message_is_sent_alone_and_the_rest_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    NOTED.clear()
    resent: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(fail, "apply_async", lambda args, **options: resent.append((args, options)))
    batch = [["tests.after_commit.fail", [1]], ["tests.after_commit.note", [2]]]

    assert after_commit.run(batch, eager=False) == 1
    assert NOTED == [2]
    assert resent == [([1], {"countdown": 1})]  # with its own retries, on a worker

    # run in-process (no worker to take it): left for the sweepers instead
    assert after_commit.run(batch, eager=True) == 1
    assert resent == [([1], {"countdown": 1})]


def test_a_task_that_cannot_be_sent_again_does_not_stop_the_rest(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    NOTED.clear()

    def broker_down(args: Any, **options: Any) -> None:
        raise OperationalError("Connection refused.")

    monkeypatch.setattr(fail, "apply_async", broker_down)
    batch = [["tests.after_commit.fail", [1]], ["tests.after_commit.note", [2]]]
    with caplog.at_level(logging.WARNING, logger="coordination.after_commit"):
        assert after_commit.run(batch, eager=False) == 1
    assert NOTED == [2]
    assert "not queued again; the sweepers will" in caplog.text


def test_a_long_message_is_split_for_the_workers_to_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service that ended many assignments leaves many tasks: on a worker they go on
    alone, one message each, rather than one after the other in one worker."""
    NOTED.clear()
    queued: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(note, "apply_async", lambda args, **options: queued.append((args, options)))
    many = [["tests.after_commit.note", [n]] for n in range(after_commit.RUN_IN_ONE + 1)]

    assert after_commit.run(many, eager=False) == 0
    assert queued == [([n], {"countdown": 0}) for n in range(after_commit.RUN_IN_ONE + 1)]
    assert NOTED == []

    queued.clear()  # as many as run in one: run here, in order
    assert after_commit.run(many[:-1], eager=False) == after_commit.RUN_IN_ONE
    assert (queued, NOTED) == ([], list(range(after_commit.RUN_IN_ONE)))
