"""Live pages: what is pushed, to whom, and what survives a dropped connection or a Redis
outage. Against a real Redis (``REDIS_URL``); the stream tests against uvicorn serving
the portal on PostgreSQL.

The rule under test: the entries that reach a person's stream for an item are exactly
those for which the permission core, at the moment of sending, says the person may view
the item -- ``{p : can(p, "view", item)}`` -- for every persona and TLP marking.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from django.db import transaction
from django.test import override_settings
from django.urls import reverse

from coordination import live
from coordination.models import LiveChange
from coordination.permissions import can
from coordination.permissions.markings import Marking
from taskforces import services
from taskforces.models import Update
from tests.coordination.test_redis_outage import redis_server_binary
from tests.notifications.workers import RedisServer, wait_until

from .conftest import EventStream, Live, Uvicorn, needs_postgres, session_cookie

pytestmark = pytest.mark.redis

MARKINGS = (Marking.CLEAR, Marking.GREEN, Marking.AMBER, Marking.AMBER_STRICT, Marking.RED)


def label(obj: Any) -> str:
    return f"{obj._meta.label_lower}:{obj.pk}"


def receivers(live_on: Live, personas: dict[str, Any], obj: Any) -> set[str]:
    return {name for name, person in personas.items() if label(obj) in live_on.objects(person)}


def may_view(personas: dict[str, Any], obj: Any) -> set[str]:
    return {name for name, person in personas.items() if can(person, "view", obj)}


@pytest.mark.django_db
def test_an_update_reaches_exactly_those_who_may_see_it_at_every_marking(
    live_on: Live,
    world: SimpleNamespace,
    personas: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    for marking in MARKINGS:
        with django_capture_on_commit_callbacks(execute=True):
            update = services.post_update(
                task_force=world.tf,
                title=f"Live {marking.label}",
                body="Water at the second step.",
                marking=marking,
                by=world.lead_liaison,
            )
        got, expected = receivers(live_on, personas, update), may_view(personas, update)
        assert got == expected, marking.label
        # both sides, spelled out: another agency's people within its ceiling, never an
        # outsider or a portal or agency administrator without a role, TLP:RED only to
        # those with "view restricted" in the lead agency
        assert {"outsider", "portal_admin", "lead_admin"}.isdisjoint(got)
        if marking <= Marking.AMBER:
            assert {"lead_liaison", "lead_staff", "partner_liaison", "partner_staff"} <= got
        else:
            assert "partner_staff" not in got and "partner_liaison" not in got
        if marking == Marking.RED:
            assert got == {"lead_liaison"}


@pytest.mark.django_db
def test_a_log_entry_reaches_the_timeline_of_exactly_those_who_may_see_it(
    live_on: Live,
    world: SimpleNamespace,
    personas: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The timeline page is live too (region "timeline"): a log entry written by hand is
    pushed to whoever may see it at its own marking, and to nobody else."""
    from taskforces.services.timeline import write_log_entry

    for marking in MARKINGS:
        with django_capture_on_commit_callbacks(execute=True):
            entry = write_log_entry(
                task_force=world.tf,
                text=f"Sandbags at the bridge ({marking.label}).",
                marking=marking,
                by=world.lead_liaison,
            )
        got, expected = receivers(live_on, personas, entry), may_view(personas, entry)
        assert got == expected, marking.label
        assert {"outsider", "portal_admin", "lead_admin"}.isdisjoint(got)
        if marking == Marking.RED:
            assert got == {"lead_liaison"}
        else:
            assert "lead_staff" in got


@pytest.mark.django_db
def test_objectives_tasks_and_assignments_reach_the_same_audience_as_the_permission_core(
    live_on: Live,
    world: SimpleNamespace,
    personas: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    for marking in (Marking.AMBER, Marking.AMBER_STRICT, Marking.RED):
        with django_capture_on_commit_callbacks(execute=True):
            objective = services.create_objective(
                task_force=world.tf,
                title=f"Live objective {marking.label}",
                owner_agency=world.lead,
                marking=marking,
                by=world.lead_liaison,
            )
        assert receivers(live_on, personas, objective) == may_view(personas, objective)
        with django_capture_on_commit_callbacks(execute=True):
            task = services.create_task(
                objective=objective, title=f"Live task {marking.label}", by=world.lead_liaison
            )
        assert receivers(live_on, personas, task) == may_view(personas, task)
        entry = next(e for e in live_on.entries(world.lead_liaison) if e["object"] == label(task))
        assert entry["topic"] == f"tf:{world.tf.pk}"
        assert set(entry["regions"]) == {"overview", "objectives", "tasks", "timeline"}
    # an assignment ended: the organisation of those who still see the task force
    with django_capture_on_commit_callbacks(execute=True):
        services.end_assignment(
            assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Rotated"
        )
    got = receivers(live_on, personas, world.partner_staff_assignment)
    assert got == may_view(personas, world.tf)
    assert "partner_staff" not in got and "outsider" not in got
    assert {"lead_liaison", "lead_staff", "partner_liaison"} <= got


@pytest.mark.django_db
def test_a_person_removed_from_the_task_force_stops_hearing_of_it_at_once(
    live_on: Live, world: SimpleNamespace, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        before = services.post_update(
            task_force=world.tf,
            title="Before",
            body="x",
            marking=Marking.AMBER,
            by=world.lead_liaison,
        )
    assert label(before) in live_on.objects(world.partner_staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.end_assignment(
            assignment=world.partner_staff_assignment, by=world.partner_liaison, reason="Rotated"
        )
    # recorded while they still held the role, sent after they lost it: not sent to them
    with transaction.atomic():
        pending = services.post_update(
            task_force=world.tf,
            title="Pending",
            body="x",
            marking=Marking.AMBER,
            by=world.lead_liaison,
        )
    change = LiveChange.objects.get(object_type="taskforces.update", object_id=str(pending.pk))
    assert live.relay(change.pk) > 0
    assert label(pending) not in live_on.objects(world.partner_staff)
    assert label(pending) in live_on.objects(world.lead_staff)


@pytest.mark.django_db
def test_the_notification_count_reaches_the_people_notified(
    live_on: Live, world: SimpleNamespace, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.post_update(
            task_force=world.tf,
            title="Evacuate",
            body="Now.",
            marking=Marking.AMBER,
            requires_acknowledgement=True,
            by=world.lead_liaison,
        )
    told = [e for e in live_on.entries(world.partner_staff) if e["topic"] == "me"]
    assert told and told[-1]["regions"] == ["notifications"]
    assert not [e for e in live_on.entries(world.outsider) if e["topic"] == "me"]


@pytest.mark.django_db
def test_what_is_pushed_names_the_object_but_never_its_content(
    live_on: Live, world: SimpleNamespace, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        update = services.post_update(
            task_force=world.tf,
            title="Informant codename KESTREL",
            body="Meet at the quay.",
            marking=Marking.RED,
            by=world.lead_liaison,
        )
    raw = live_on.client.xrange(f"{live_on.prefix}:u:{world.lead_liaison.pk}")
    text = b" ".join(b" ".join(fields.values()) for _id, fields in raw)
    assert label(update).encode() in text
    assert b"KESTREL" not in text and b"quay" not in text


@pytest.mark.django_db
def test_a_rolled_back_change_pushes_nothing(
    live_on: Live, world: SimpleNamespace, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.post_update(
            task_force=world.tf,
            title="Never",
            body="x",
            marking=Marking.AMBER,
            by=world.lead_liaison,
        )
        raise RuntimeError("rolled back")
    assert live_on.entries(world.lead_staff) == []
    assert not LiveChange.objects.exists()


@pytest.mark.django_db
def test_without_a_live_redis_nothing_is_recorded_and_pages_are_told_to_poll(
    world: SimpleNamespace, client: Any, settings: Any
) -> None:
    settings.CONCORD_LIVE_REDIS_URL = ""
    services.post_update(
        task_force=world.tf, title="Quiet", body="x", marking=Marking.AMBER, by=world.lead_liaison
    )
    assert not LiveChange.objects.exists()
    client.force_login(world.lead_staff)
    # the WSGI server (make run's runserver) never holds a stream open: 204, "do not
    # reconnect", and the page polls instead
    assert client.get("/live/stream/?topic=me").status_code == 204
    page = client.get(reverse("taskforces:updates", args=[world.tf.pk])).content.decode()
    assert f'data-live-topics="me tf:{world.tf.pk}"' in page
    assert 'data-live-region="updates"' in page


# --- polling with conditional GET ---------------------------------------------------------------


@pytest.mark.django_db
def test_polling_answers_304_until_something_the_person_sees_changes(
    world: SimpleNamespace, client: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.partner_staff)
    url = f"/live/versions/?topic=me&topic=tf:{world.tf.pk}"
    first = client.get(url)
    assert first.status_code == 200
    assert set(first.json()) == {"me", f"tf:{world.tf.pk}"}
    etag = first["ETag"]
    with django_assert_max_num_queries(8):
        assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    services.post_update(
        task_force=world.tf, title="New", body="x", marking=Marking.AMBER, by=world.lead_liaison
    )
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


@pytest.mark.django_db
def test_polling_tells_nothing_of_a_task_force_the_person_does_not_see(
    world: SimpleNamespace, client: Any
) -> None:
    client.force_login(world.outsider)
    url = f"/live/versions/?topic=tf:{world.tf.pk}&topic=tf:*"
    first = client.get(url)
    assert first.json() == {"tf:*": ""}
    services.post_update(
        task_force=world.tf, title="New", body="x", marking=Marking.GREEN, by=world.lead_liaison
    )
    assert client.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query,field",
    [
        ("", "topic"),
        ("?topic=tf:abc", "topic"),
        ("?topic=others", "topic"),
        ("?topic=me&colour=red", "colour"),
        ("?" + "&".join(["topic=me"] * 11), "topic"),
    ],
)
def test_bad_topics_are_refused_with_the_field_named(
    world: SimpleNamespace, client: Any, query: str, field: str
) -> None:
    client.force_login(world.lead_staff)
    response = client.get(f"/live/versions/{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.django_db
def test_polling_needs_a_signed_in_person(client: Any) -> None:
    assert client.get("/live/versions/?topic=me").status_code == 403


# --- the event stream under uvicorn -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_stream_delivers_in_order_and_resumes_from_last_event_id_without_loss(
    uvicorn: Uvicorn, world: SimpleNamespace
) -> None:
    cookie = session_cookie(world.partner_staff)
    topic = f"tf:{world.tf.pk}"

    def post(title: str) -> Update:
        return services.post_update(
            task_force=world.tf, title=title, body="x", marking=Marking.AMBER, by=world.lead_liaison
        )

    stream = EventStream(uvicorn, cookie, [topic])
    assert stream.response.status == 200
    assert stream.response.getheader("Content-Type", "").startswith("text/event-stream")
    first = post("First")
    event = stream.next_event()
    assert event["event"] == "change"
    assert event["data"]["object"] == label(first)
    assert event["data"]["topic"] == topic
    assert "updates" in event["data"]["regions"]
    stream.close()  # the connection drops

    missed = [post(f"Missed {n}") for n in range(3)]
    resumed = EventStream(uvicorn, cookie, [topic], last_event_id=event["id"])
    got = [resumed.next_event()["data"]["object"] for _ in missed]
    assert got == [label(u) for u in missed]
    resumed.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_open_streams_hold_no_database_connection(
    live_on: Live, world: SimpleNamespace, tmp_path: Path
) -> None:
    """A thousand open pages must not take a thousand of PostgreSQL's connections (its
    default limit is 100): an open stream holds none, even when the session middleware
    wrote on the way out (a new session is stamped with its sign-in time, then saved)."""
    from django.db import connection

    needs_postgres()

    def others() -> set[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return {int(pid) for (pid,) in cursor.fetchall()}

    # sessions on the test database before the server starts are not the streams': after
    # the browser tests, this worker process holds a second connection of its own (while
    # Playwright's loop runs, Django gives the thread connections apart from its first;
    # the ``browser`` fixture of tests/conftest.py closes them at the end)
    before = others()
    # the stream's own check of the session (which closes its connection after) comes
    # only after a minute here, as in production: it must not be what frees them
    server = Uvicorn(live=live_on, extra_env={"CONCORD_LIVE_RECHECK_SECONDS": "60"})
    server.start(tmp_path)
    people = [world.partner_staff, world.lead_liaison, world.lead_staff]
    streams = [EventStream(server, session_cookie(p), ["me"]) for p in people]
    assert all(s.response.status == 200 for s in streams)
    assert streams[0].response.readline().startswith(b"retry:")  # the body has begun

    try:
        wait_until(lambda: others() <= before, timeout=10, what="the streams' connections to close")
    finally:
        for stream in streams:
            stream.close()
        server.stop()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_stream_filters_to_the_pages_topics_and_refuses_bad_requests(
    uvicorn: Uvicorn, world: SimpleNamespace
) -> None:
    import http.client

    cookie = session_cookie(world.lead_staff)
    # the notification count page hears of its own topic only
    stream = EventStream(uvicorn, cookie, ["me"])
    services.post_update(
        task_force=world.tf,
        title="Ack me",
        body="x",
        marking=Marking.AMBER,
        requires_acknowledgement=True,
        by=world.lead_liaison,
    )
    event = stream.next_event()
    assert event["data"]["topic"] == "me" and event["data"]["regions"] == ["notifications"]
    stream.close()

    for path, headers, status in [
        ("/live/stream/?topic=me", {}, 403),  # no session
        ("/live/stream/?topic=nope", {"Cookie": f"sessionid={cookie}"}, 400),
        ("/live/stream/?topic=me", {"Cookie": f"sessionid={cookie}", "Last-Event-ID": "x"}, 400),
    ]:
        conn = http.client.HTTPConnection("127.0.0.1", uvicorn.port, timeout=10)
        conn.request("GET", path, headers=headers)
        assert conn.getresponse().status == status, path
        conn.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_signing_out_ends_an_open_stream_and_it_cannot_be_opened_again(
    uvicorn: Uvicorn, world: SimpleNamespace
) -> None:
    import http.client
    from importlib import import_module

    from django.conf import settings

    SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
    cookie = session_cookie(world.lead_staff)
    stream = EventStream(uvicorn, cookie, [f"tf:{world.tf.pk}"])
    assert stream.response.status == 200
    SessionStore(cookie).delete()  # what signing out (or the idle timeout) does
    assert stream.ended(timeout=10)
    stream.close()
    conn = http.client.HTTPConnection("127.0.0.1", uvicorn.port, timeout=10)
    conn.request(
        "GET", f"/live/stream/?topic=tf:{world.tf.pk}", headers={"Cookie": f"sessionid={cookie}"}
    )
    assert conn.getresponse().status == 403
    conn.close()


# --- Redis stopped mid-test ---------------------------------------------------------------------------


def updates_in(server: RedisServer, stream: str) -> list[str]:
    client = redis.Redis.from_url(server.url)
    try:
        objects = [live.payload_of(fields)["object"] for _id, fields in client.xrange(stream)]
    finally:
        client.close()
    return [name for name in objects if name.startswith("taskforces.update:")]


@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_writes_commit_and_the_sweeper_delivers_when_it_returns(
    world: SimpleNamespace, tmp_path: Path
) -> None:
    server = RedisServer(redis_server_binary(), tmp_path).start()
    try:
        with override_settings(CONCORD_LIVE_REDIS_URL=server.url, CONCORD_LIVE_KEY_PREFIX="outage"):
            stream = f"outage:u:{world.lead_staff.pk}"
            services.post_update(
                task_force=world.tf,
                title="Up",
                body="x",
                marking=Marking.AMBER,
                by=world.lead_liaison,
            )
            assert updates_in(server, stream) == [label(Update.objects.get(title="Up"))]

            server.stop()
            during = services.post_update(
                task_force=world.tf,
                title="Down",
                body="x",
                marking=Marking.AMBER,
                by=world.lead_liaison,
            )
            assert Update.objects.filter(pk=during.pk).exists()  # the write committed
            waiting = LiveChange.objects.get(
                object_id=str(during.pk), object_type="taskforces.update"
            )
            assert waiting.published_at is None
            later = datetime.timedelta(seconds=60)
            assert live.sweep(now=waiting.created_at + later)["published"] == 0  # still down

            server.start()
            result = live.sweep(now=waiting.created_at + later)
            assert result["published"] > 0
            # the restarted Redis kept nothing (no persistence); what was missed arrives
            assert updates_in(server, stream) == [label(during)]
            waiting.refresh_from_db()
            assert waiting.published_at is not None
    finally:
        server.stop()
