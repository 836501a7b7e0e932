"""The event store contract, with SQLite and with a real redis-server: durable add with delivery-id and
fingerprint deduplication, queueing exactly once, compare-and-set, leases, listing and purging."""

import concurrent.futures
import time

import pytest

from jobs_connector.webhooks.events import Event, new_id
from jobs_connector.webhooks.store.queue import JsonSerializer, Queue
from tests.support.webhooks import redis_server, redis_url  # noqa: F401 - fixtures


@pytest.fixture(params=["sqlite", "redis"])
def queue(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'queue.db'}"
    else:
        url = request.getfixturevalue("redis_url")
    q = Queue(url)
    try:
        yield q
    finally:
        q.close()


def make_event(flow="device-status", delivery_id=None, fingerprint=None, **fields) -> Event:
    now = time.time()
    return Event(id=new_id(), flow=flow, body={"n": 1}, received_at=now, due_at=now, updated_at=now,
                 delivery_id=delivery_id, fingerprint=fingerprint, **fields)


def test_accept_stores_and_queues_once_and_huey_dequeues_it(queue):
    event = make_event(delivery_id="d-1")
    assert queue.accept(event) == (event.id, True)
    assert queue.accept(make_event(delivery_id="d-1")) == (event.id, False)
    assert queue.waiting_ids() == {event.id}
    task = queue.huey.dequeue()  # what a huey worker does: the inserted task is huey's own format
    assert task.args == (event.id,) and task.name == "process_event"
    assert queue.huey.dequeue() is None
    stored = queue.store.get(event.id)
    assert (stored.status, stored.version, stored.body) == ("queued", 1, {"n": 1})


def test_duplicates_by_delivery_id_or_fingerprint_per_flow(queue):
    first = make_event(delivery_id="d-1", fingerprint="a" * 64)
    queue.store.add(first)
    assert queue.store.add(make_event(delivery_id="d-1"))[0] == first.id
    assert queue.store.add(make_event(fingerprint="a" * 64))[0] == first.id
    assert queue.store.add(make_event(delivery_id="d-2", fingerprint="a" * 64)) == (first.id, False)
    other_flow = make_event(flow="other", delivery_id="d-1")
    assert queue.store.add(other_flow) == (other_flow.id, True)
    no_ids = [make_event() for _ in range(2)]
    assert [queue.store.add(e)[1] for e in no_ids] == [True, True]


def test_concurrent_accepts_are_all_stored_and_queued(queue):
    events = [make_event(delivery_id=f"d-{i % 40}") for i in range(120)]  # every delivery id three times
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        results = list(pool.map(queue.accept, events))
    created = [event_id for event_id, new in results if new]
    assert len(created) == 40 and len(set(created)) == 40
    by_delivery = {}
    for event, (event_id, _) in zip(events, results, strict=True):
        by_delivery.setdefault(event.delivery_id, set()).add(event_id)
    assert all(len(ids) == 1 for ids in by_delivery.values())
    assert queue.waiting_ids() == set(created)
    assert len(queue.store.list(limit=500)) == 40


def test_save_is_compare_and_set(queue):
    event = make_event()
    queue.store.add(event)
    copy = queue.store.get(event.id)
    event.status = "running"
    assert queue.store.save(event) and event.version == 2
    copy.status = "dead"
    assert not queue.store.save(copy)  # read before the other write: refused
    assert queue.store.get(event.id).status == "running"


def test_lease_renewal_and_take_over_condition(queue):
    event = make_event()
    queue.store.add(event)
    event.status, event.claim, event.lease_until = "running", "claim-1", time.time() + 0.5
    assert queue.store.save(event)
    assert queue.store.renew(event.id, "claim-1", time.time() + 60)
    assert not queue.store.renew(event.id, "someone-else", time.time() + 60)
    assert queue.store.get(event.id).version == 2  # renewing does not bump the version
    # The lease was renewed: a sweeper's take-over must not win, though the version is unchanged.
    taken = queue.store.get(event.id)
    taken.status, taken.claim = "queued", None
    assert not queue.store.save(taken, lease_expired_before=time.time())
    assert queue.store.save(taken, lease_expired_before=time.time() + 120)


def test_a_stale_holder_is_fenced_out_by_the_version_after_a_take_over(queue):
    """A worker cut off past its lease comes back with its late result: the sweeper took the event over and
    another worker claimed it meanwhile, so the old holder's write (its version) and its renewal (its claim)
    are refused, atomically in the store, and the new holder's writes go through."""
    event = make_event()
    queue.store.add(event)
    event.status, event.claim, event.lease_until = "running", "claim-old", time.time() - 1  # its lease has ended
    assert queue.store.save(event)
    stale = queue.store.get(event.id)  # what the old holder has in hand
    taken = queue.store.get(event.id)
    taken.status, taken.claim, taken.lease_until = "queued", None, None
    assert queue.store.save(taken, lease_expired_before=time.time())  # the sweeper's take-over
    claimed = queue.store.get(event.id)
    claimed.status, claimed.claim, claimed.lease_until = "running", "claim-new", time.time() + 30
    claimed.attempts += 1
    assert queue.store.save(claimed)
    stale.status, stale.claim, stale.lease_until = "succeeded", None, None
    stale.steps.append({"action": "a", "output": {"late": True}, "finished_at": time.time()})
    assert not queue.store.save(stale)  # the late result
    assert not queue.store.save(stale, flush=False)
    assert not queue.store.renew(event.id, "claim-old", time.time() + 60)
    now = queue.store.get(event.id)
    assert (now.status, now.claim, now.steps, now.version) == ("running", "claim-new", [], claimed.version)
    claimed.status, claimed.claim, claimed.lease_until = "succeeded", None, None
    assert queue.store.save(claimed)


def test_due_lists_waiting_and_expired_running_events_only(queue):
    now = time.time()
    waiting = make_event()
    running = make_event()
    fresh = make_event()
    done = make_event()
    for e in (waiting, running, fresh, done):
        queue.store.add(e)
    running.status, running.claim, running.lease_until = "running", "c", now - 1
    fresh.status, fresh.claim, fresh.lease_until = "running", "c", now + 60
    done.status = "succeeded"
    for e in (running, fresh, done):
        assert queue.store.save(e)
    due = {d.id: d.status for d in queue.store.due(now + 0.5)}
    assert due == {waiting.id: "queued", running.id: "running"}


def test_list_counts_and_purge(queue):
    events = [make_event(delivery_id=f"d-{i}") for i in range(4)]
    for e in events:
        queue.store.add(e)
        time.sleep(0.002)
    events[0].status = "succeeded"
    events[1].status = "dead"
    for e in events[:2]:
        assert queue.store.save(e)
    assert [e.id for e in queue.store.list()] == [e.id for e in reversed(events)]
    assert [e.id for e in queue.store.list("dead")] == [events[1].id]
    assert queue.store.counts() == {"queued": 2, "succeeded": 1, "dead": 1}
    assert queue.store.purge(("dead",)) == 1
    assert queue.store.purge(("succeeded", "dead")) == 1
    assert queue.store.counts() == {"queued": 2}
    # A purged event's delivery id is kept while a captured request could still be replayed ...
    assert queue.store.add(make_event(delivery_id="d-1")) == (events[1].id, False)
    assert queue.store.get(events[1].id) is None


def test_purge_forgets_delivery_ids_and_fingerprints_once_their_replay_window_has_passed(queue):
    now = time.time()
    old = make_event(delivery_id="d-old", replay_until=now - 1)
    recent = make_event(fingerprint="f" * 64, replay_until=now + 60)
    for e in (old, recent):
        queue.store.add(e)
        e.status = "succeeded"
        assert queue.store.save(e)
    assert queue.store.purge(("succeeded",)) == 2
    assert queue.store.counts() == {}
    again = make_event(delivery_id="d-old")
    assert queue.store.add(again) == (again.id, True)  # its window has passed: a new delivery
    replayed = make_event(fingerprint="f" * 64)
    assert queue.store.add(replayed) == (recent.id, False)  # still inside its window: the purged event
    assert queue.waiting_ids() == set() or recent.id not in queue.waiting_ids()


def test_purge_keeps_recently_updated_events(queue):
    event = make_event()
    queue.store.add(event)
    event.status = "dead"
    queue.store.save(event)
    assert queue.store.purge(("dead",), time.time() - 3600) == 0
    assert queue.store.get(event.id) is not None


def test_scheduled_dispatch_carries_its_time(queue):
    queue.dispatch("e" * 32, eta=time.time() + 30)
    # huey queues it with its eta; a worker moves it to the schedule when it dequeues it early.
    [task] = queue.huey.pending() + queue.huey.scheduled()
    assert task.args == ("e" * 32,) and task.eta is not None
    assert queue.waiting_ids() == {"e" * 32}


def test_tasks_are_json_not_pickle(queue):
    data = queue.huey.serialize_task(queue.task.s("f" * 32))
    assert data.startswith(b"{") and b'"args":["' + b"f" * 32 + b'"]' in data
    assert queue.huey.deserialize_task(data).args == ("f" * 32,)
    with pytest.raises(ValueError):
        JsonSerializer().deserialize(b"\x80\x04pickled")


def test_sqlite_queue_runs_in_wal_mode_and_leaves_flushes_to_the_storage(tmp_path):
    """NORMAL: SQLite syncs at checkpoints; a flushed write syncs the WAL itself, after the write lock
    (tests/integration/test_webhooks_flushes.py)."""
    queue = Queue(f"sqlite:///{tmp_path / 'q.db'}")
    with queue.huey.storage.db() as cur:
        assert cur.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert cur.execute("pragma synchronous").fetchone()[0] == 1
    queue.close()


def test_sqlite_queue_file_is_private(tmp_path):
    import os
    import stat

    Queue(f"sqlite:///{tmp_path / 'q.db'}").close()
    assert stat.S_IMODE(os.stat(tmp_path / "q.db").st_mode) & 0o077 == 0


def test_bad_queue_urls_are_refused(tmp_path):
    from jobs_connector.base.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="sqlite:/// or redis://"):
        Queue("amqp://guest:not-a-real-password@localhost/")
    with pytest.raises(ConfigurationError) as info:
        Queue("mysql://user:not-a-real-password@localhost/db")
    assert "not-a-real-password" not in str(info.value)
    with pytest.raises(ConfigurationError, match="does not exist"):
        Queue(f"sqlite:///{tmp_path / 'missing' / 'q.db'}")
