"""Handbacks at shutdown are counted and bounded; `events retry` refuses an unknown outcome without --force;
`events` options are accepted after the action. A real SQLite queue and a real Worker; the step's runtime
is a stand-in that hangs until released, as a step stuck in a call does."""

from __future__ import annotations

import threading
import time

import pytest

from jobs_connector.webhooks.events import Event, new_id
from jobs_connector.webhooks.store.queue import Queue
from jobs_connector.webhooks.worker import Worker
from jobs_connector.webhooks.worker.outcomes import MAX_HANDBACKS
from tests.support.cli import run_cli
from tests.support.webhooks import DESCRIBE, UPDATE, one_step_flows, wait_for


class HangingRuntime:
    """A step that never returns until `release` is set (like a call stuck past the shutdown timeout)."""

    def __init__(self):
        self.release = threading.Event()
        self.calls = 0

    def run(self, key, body, cfg=None, *, warn=None):
        self.calls += 1
        self.release.wait(10)
        yield {"execution": {"jobId": "j", "thingName": "t", "status": "IN_PROGRESS"}}


@pytest.fixture
def queue(tmp_path):
    q = Queue(f"sqlite:///{tmp_path / 'queue.db'}")
    yield q
    q.close()


def worker_for(queue, action, max_attempts=3):
    runtime = HangingRuntime()
    return Worker(one_step_flows(action, retry={"max_attempts": max_attempts}), queue, runtime=runtime), runtime


def stored(queue) -> Event:
    now = time.time()
    event = Event(id=new_id(), flow="hook", body={"thing": "t", "job": "j"}, received_at=now, due_at=now,
                  updated_at=now)
    queue.store.add(event)
    return event


def shut_down_mid_step(worker, runtime, event_id) -> Event:
    """Run the event until its step hangs, then do what `serve` does at the shutdown timeout."""
    worker.stopping.clear()
    runner = threading.Thread(target=worker.process, args=(event_id,))
    runner.start()
    wait_for(lambda: event_id in worker.inflight.steps, what="the step to be running")
    worker.stopping.set()
    worker.release_inflight()
    runtime.release.set()
    runner.join(10)
    runtime.release.clear()
    return worker.store.get(event_id)


def test_a_step_still_running_at_shutdown_counts_as_an_attempt_and_ends_dead_when_they_are_used(queue):
    worker, runtime = worker_for(queue, DESCRIBE, max_attempts=3)
    event = stored(queue)
    for attempt in (1, 2):
        after = shut_down_mid_step(worker, runtime, event.id)
        assert (after.status, after.attempts, after.handbacks) == ("queued", attempt, attempt)
        assert after.history[-1]["error"]["type"] == "WorkerStopped"
    after = shut_down_mid_step(worker, runtime, event.id)
    assert after.status == "dead" and after.attempts == 3
    assert after.error["type"] == "WorkerStopped" and "gave up after 3 attempts" in after.error["message"]
    assert runtime.calls == 3


def test_a_step_not_safe_to_repeat_still_running_at_shutdown_ends_dead_with_an_unknown_outcome(queue):
    worker, runtime = worker_for(queue, UPDATE)
    event = stored(queue)
    after = shut_down_mid_step(worker, runtime, event.id)
    assert after.status == "dead" and runtime.calls == 1
    assert after.error["type"] == "OutcomeUnknown" and after.error["outcome"] == "unknown"
    assert after.error["step"] == 1 and after.error["action"] == UPDATE
    assert "may have been carried out" in after.error["message"]


def test_handbacks_between_steps_are_bounded(queue):
    worker, runtime = worker_for(queue, DESCRIBE)
    event = stored(queue)
    for n in range(1, MAX_HANDBACKS + 2):  # each time: claimed, then handed back before a step ran
        claimed = queue.store.get(event.id)
        claimed.status, claimed.claim, claimed.attempts = "running", "c", claimed.attempts + 1
        assert queue.store.save(claimed)
        result = worker.outcomes.hand_back(claimed)
        if n <= MAX_HANDBACKS:
            assert result == "released" and queue.store.get(event.id).attempts == 0
    final = queue.store.get(event.id)
    assert final.status == "dead" and final.handbacks == MAX_HANDBACKS + 1
    assert f"at most {MAX_HANDBACKS}" in final.error["message"] and runtime.calls == 0


# -- events retry and an unknown outcome ------------------------------------------------------------------


def dead_with(queue, error: dict) -> Event:
    event = stored(queue)
    event.status, event.error, event.attempts = "dead", error, 1
    assert queue.store.save(event)
    return event


UNKNOWN = {"type": "OutcomeUnknown", "outcome": "unknown", "retryable": False, "step": 1,
           "action": "panorama.CreateJobForDevices", "check_with": "panorama.ListDevicesJobs",
           "message": "the request may have been carried out"}


def test_events_retry_refuses_an_unknown_outcome_without_force_and_says_what_it_risks(queue):
    event = dead_with(queue, UNKNOWN)
    url = queue.url
    refused = run_cli("events", "retry", event.id, "--queue", url)
    assert refused.code == 2 and queue.store.get(event.id).status == "dead"
    assert "panorama.ListDevicesJobs" in refused.stderr and "--force" in refused.stderr
    forced = run_cli("events", "retry", event.id, "--force", "--queue", url)
    assert forced.code == 0 and queue.store.get(event.id).status == "queued"
    assert "twice" in forced.stderr and "panorama.ListDevicesJobs" in forced.stderr


def test_events_retry_of_a_known_failure_needs_no_force(queue):
    event = dead_with(queue, {"type": "Conflict", "retryable": False, "message": "version"})
    result = run_cli("events", "--queue", queue.url, "retry", event.id)
    assert result.code == 0 and "twice" not in result.stderr


@pytest.mark.parametrize("order", ["before", "after"])
def test_events_options_are_accepted_before_or_after_the_action(queue, order):
    event = stored(queue)
    args = ["--queue", queue.url, "list", "--json"] if order == "before" else ["list", "--json", "--queue", queue.url]
    result = run_cli("events", *args)
    assert result.code == 0 and [row["id"] for row in result.messages] == [event.id]


# -- a worker that dies in the middle of a step ----------------------------------------------------------


@pytest.mark.parametrize("action", [UPDATE, DESCRIBE])
def test_a_worker_dying_mid_step_is_taken_over_without_repeating_a_step_not_safe_to_repeat(queue, action):
    """The first worker is stuck in its step (as if killed: it never writes again); a second worker's sweeper
    finds its lease expired. A step not safe to repeat ends the event dead (outcome unknown), never re-run;
    a safe one is queued again."""
    dying, stuck = worker_for(queue, action)
    event = stored(queue)
    thread = threading.Thread(target=dying.process, args=(event.id,), daemon=True)
    thread.start()
    wait_for(lambda: stuck.calls == 1, timeout=10)
    flows = dying.flows
    later = Worker(flows, queue, runtime=HangingRuntime(), clock=lambda: time.time() + 3600)
    assert later.sweep()["taken_over"] == 1
    after = queue.store.get(event.id)
    stuck.release.set()
    thread.join(10)
    if action == UPDATE:
        assert after.status == "dead" and after.error["type"] == "OutcomeUnknown"
        assert after.error["check_with"] == "iot-jobs-data.DescribeJobExecution"
        assert "may have been carried out" in after.error["message"]
    else:
        assert after.status == "queued" and after.error["type"] == "WorkerStopped"
    assert later.runtime.calls == 0
    assert queue.store.get(event.id).status == after.status  # the stuck worker's late write was refused
