"""Latency hiding at the worker layer: a worker process runs up to --concurrency events at once, against a
loopback service that takes 50 ms (or longer than the lease) per call and counts the calls it is answering at
the same moment. Counts and overlap are asserted, never wall-clock time; the promises hold with steps in flight
together: each non-idempotent step sent once, every running event's lease renewed, a graceful stop."""

from __future__ import annotations

import threading
import time

import pytest

from jobs_connector.webhooks.events import Event, new_id
from tests.support.loopback import LoopbackServer, Reply
from tests.support.webhooks import UPDATE_STEP, InProcess, flow, redis_server, redis_url, wait_for  # noqa: F401

FLOWS = {"flows": [flow("device-status", [UPDATE_STEP])]}  # UpdateJobExecution: not safe to repeat


class SlowService:
    """Answers every call `delay` seconds late; counts the calls and the most it answered at once."""

    def __init__(self, delay: float):
        self.delay, self.calls, self.now, self.most = delay, 0, 0, 0
        self.lock = threading.Lock()
        self.server = LoopbackServer(default=self.answer)

    def answer(self, request) -> Reply:
        with self.lock:
            self.calls += 1
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(self.delay)
        finally:
            with self.lock:
                self.now -= 1
        return Reply(200, {"executionState": {"status": "SUCCEEDED", "versionNumber": 2}})


@pytest.fixture
def slow(aws_env, monkeypatch):
    service = SlowService(0.05)
    service.server.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", service.server.url)
    try:
        yield service
    finally:
        service.server.stop()


def accept(queue, count: int) -> list[str]:
    now = time.time()
    ids = []
    for n in range(count):
        event = Event(id=new_id(), flow="device-status", body={"thing": "sensor-1", "job": f"job-{n}"},
                      received_at=now, due_at=now, updated_at=now)
        ids.append(queue.accept(event)[0])
    return ids


def statuses(worker, ids) -> list[str]:
    return [worker.store.get(event_id).status for event_id in ids]


def all_finished(worker, ids) -> bool:
    return all(status in ("succeeded", "dead") for status in statuses(worker, ids))


@pytest.mark.parametrize("engine", ["sqlite", "redis"])
def test_many_events_run_at_once_within_the_bound_each_step_sent_once(tmp_path, slow, engine, request):
    url = request.getfixturevalue("redis_url") if engine == "redis" else None
    with InProcess(tmp_path, FLOWS, url, web=False, workers=2, concurrency=8) as worker:
        ids = accept(worker.queue, 40)
        wait_for(lambda: all_finished(worker, ids), timeout=30, what="40 events to finish")
        assert statuses(worker, ids) == ["succeeded"] * 40
    assert slow.calls == 40  # one call per event: none repeated
    assert 1 < slow.most <= 8, slow.most  # overlapping calls, never more than --concurrency


def test_the_bound_holds_below_the_threads_taking_tasks(tmp_path, slow):
    with InProcess(tmp_path, FLOWS, web=False, workers=4, concurrency=1) as worker:
        ids = accept(worker.queue, 6)
        wait_for(lambda: all_finished(worker, ids), timeout=30, what="6 events to finish")
        assert statuses(worker, ids) == ["succeeded"] * 6
    assert slow.calls == 6 and slow.most == 1


def test_every_running_event_keeps_its_lease_while_its_step_outlasts_it(tmp_path, slow):
    slow.delay = 1.2  # twice the lease: only the heartbeat keeps the sweeper from taking the events over
    with InProcess(tmp_path, FLOWS, web=False, workers=2, concurrency=4, lease=0.6, sweep_interval=0.1) as worker:
        ids = accept(worker.queue, 4)
        wait_for(lambda: all_finished(worker, ids), timeout=30, what="4 events to finish")
        events = [worker.store.get(event_id) for event_id in ids]
    assert [e.status for e in events] == ["succeeded"] * 4
    assert all(e.history == [] and e.attempts == 1 for e in events)  # no take-over, no OutcomeUnknown
    assert slow.calls == 4 and slow.most == 4


def test_a_graceful_stop_lets_the_steps_in_flight_finish_and_records_them(tmp_path, slow):
    slow.delay = 0.5
    worker = InProcess(tmp_path, FLOWS, web=False, workers=2, concurrency=4)
    with worker:
        ids = accept(worker.queue, 8)
        wait_for(lambda: slow.now == 4, timeout=10, what="4 steps in flight at once")
    # Stopped with 4 steps in flight: they finished and were recorded; the other 4 wait in the queue.
    found = sorted(statuses(worker, ids))
    assert found == ["queued"] * 4 + ["succeeded"] * 4, found
    assert slow.calls == 4
