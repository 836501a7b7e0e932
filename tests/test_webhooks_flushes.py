"""Which SQLite commits wait for the disk (lib/webhooks/huey_sqlite.py): an accepted event, the mark before a
step that is not safe to repeat and the output of a step not declared idempotent are flushed; huey's
dequeue, the worker's claim and a declared-idempotent step's output are not (losing them in a power cut
only runs the event, or that step, again); clearing a revoke flag that is not there writes nothing.
Traced statement by statement on the queue's own connection, through a real Worker and huey's own task
execution."""

from __future__ import annotations

import json
import threading
import time

import pytest
from huey.constants import EmptyData

from lib.webhooks import flows as flows_module
from lib.webhooks.events import Event, new_id
from lib.webhooks.queue import Queue
from lib.webhooks.worker import Worker
from tests.support.webhooks import DESCRIBE, HOOK_SECRET, SECRET_ENV, STEP_INPUTS, UPDATE, flow

FULL, NORMAL = "full", "normal"


class Trace:
    """Every statement on the queue's write connection; commits labelled with the synchronous level then."""

    def __init__(self, queue: Queue):
        self.statements: list[str] = []
        queue.huey.storage.conn.set_trace_callback(self.statements.append)

    def mark(self, label: str) -> None:
        self.statements.append(f"-- {label}")

    def commits(self) -> list[str]:
        level, found = FULL, []  # the connection is opened with synchronous=FULL
        for statement in self.statements:
            text = statement.strip().lower()
            if text.startswith("pragma synchronous"):
                level = NORMAL if "normal" in text else FULL
            elif text == "commit":
                found.append(level)
            elif text.startswith("-- "):
                found.append(text[3:])
        return found

    def level_changes(self) -> int:
        return sum(s.strip().lower().startswith("pragma synchronous") for s in self.statements)


@pytest.fixture
def queue(tmp_path):
    q = Queue(f"sqlite:///{tmp_path / 'queue.db'}")
    yield q
    q.close()


def new_event(flow="hook") -> Event:
    now = time.time()
    return Event(id=new_id(), flow=flow, body={"thing": "t", "job": "j"}, received_at=now, due_at=now,
                 updated_at=now)


class RecordingRuntime:
    """The step's call: notes where the trace stands when the request would leave."""

    def __init__(self, trace: Trace):
        self.trace = trace

    def run(self, key, body, cfg=None, *, warn=None):
        self.trace.mark("request leaves")
        yield {"execution": {"jobId": "j", "thingName": "t", "status": "IN_PROGRESS"}}


START_COMMAND = "iot-jobs-data.StartCommandExecution"  # safe to repeat only through its idempotency token
INPUTS = {**STEP_INPUTS, START_COMMAND: {"targetArn": "'arn:aws:iot:eu-west-1:123456789012:thing/t'",
                                         "commandArn": "'arn:aws:iot:eu-west-1:123456789012:command/reboot'"}}


def worker_for(queue, actions, trace):
    steps = [{"action": action, "input": INPUTS[action]} for action in actions.split(" then ")]
    flows = flows_module.build({"flows": [flow("hook", steps)]}, environ={SECRET_ENV: HOOK_SECRET})
    return Worker(flows, queue, runtime=RecordingRuntime(trace))


def run_one_task(queue) -> None:
    """What a huey consumer thread does with one task: dequeue it, then execute it."""
    task = queue.huey.dequeue()
    assert task is not None
    queue.huey.execute(task)


@pytest.mark.parametrize("action, expected", [
    # accept, dequeue with the claim, the step's output: a declared-idempotent step is sent again if lost
    (DESCRIBE, [FULL, NORMAL, "request leaves", NORMAL]),
    # ... a step that is not safe to repeat: the mark, flushed before the request leaves, and its output
    (UPDATE, [FULL, NORMAL, FULL, "request leaves", FULL]),
    # ... one whose token makes it safe to repeat: the token may have expired by the time a power cut is
    # over, so its output waits for the disk
    (START_COMMAND, [FULL, NORMAL, "request leaves", FULL]),
    # two steps: the first output, not flushed, reaches the disk with the second step's mark (the WAL
    # keeps commits in order), before the second request leaves
    (f"{DESCRIBE} then {UPDATE}", [FULL, NORMAL, "request leaves", NORMAL, FULL, "request leaves", FULL]),
])
def test_only_the_accept_the_mark_and_outputs_not_safe_to_lose_wait_for_the_disk(queue, action, expected):
    trace = Trace(queue)
    worker = worker_for(queue, action, trace)
    event = new_event()
    queue.accept(event)
    run_one_task(queue)
    assert trace.commits() == expected
    assert queue.store.get(event.id).status == "succeeded"
    assert worker  # the handler stays installed while the task runs


def test_clearing_a_revoke_flag_that_is_not_there_writes_nothing(queue):
    storage = queue.huey.storage
    trace = Trace(queue)
    assert storage.pop_data("no-such-flag") is EmptyData
    assert not any(s.lower().startswith("begin") for s in trace.statements)
    storage.put_data("a-flag", b"set")
    assert bytes(storage.pop_data("a-flag")) == b"set"  # one that is there is still taken, once
    assert storage.pop_data("a-flag") is EmptyData


def test_a_relaxed_transaction_that_fails_is_rolled_back_and_flushes_come_back(queue):
    storage = queue.huey.storage
    trace = Trace(queue)
    queue.accept(new_event())
    with pytest.raises(RuntimeError), storage.relaxed() as cur:
        cur.execute("delete from task")
        raise RuntimeError("a failure inside the transaction")
    assert len(queue.huey.pending()) == 1  # the delete was undone
    queue.accept(new_event())
    storage.put_data("a-flag", b"set")
    assert trace.commits() == [FULL, FULL, FULL]  # the failed one committed nothing; the flushes still flush
    with storage.db() as cur:
        assert cur.execute("pragma synchronous").fetchone()[0] == 2


def test_the_setting_changes_only_when_a_commit_needs_the_other_one(queue):
    """A worker's writes in a row, nearly all unflushed, set the connection once; an event accepted in the
    same process (one serve with its workers) after them is flushed all the same."""
    trace = Trace(queue)
    worker_for(queue, DESCRIBE, trace)
    for _ in range(3):
        queue.accept(new_event())
    trace.statements.clear()
    for _ in range(3):
        run_one_task(queue)  # the dequeue with its claim, then the output: two unflushed commits each
    assert trace.commits() == [NORMAL, "request leaves", NORMAL] * 3
    assert trace.level_changes() == 1
    queue.accept(new_event())
    assert trace.commits()[-1] == FULL and trace.level_changes() == 2
    with queue.huey.storage.db() as cur:
        assert cur.execute("pragma synchronous").fetchone()[0] == 2


def take_task_off_the_queue(queue) -> None:
    """The queue as a durable dequeue leaves it, without running anything."""
    with queue.huey.storage.db(commit=True) as cur:
        cur.execute("delete from task")


def test_the_claim_is_written_in_the_transaction_that_takes_the_task(queue):
    """So a power cut keeps both or loses both: the task comes back with its event unclaimed."""
    trace = Trace(queue)
    worker_for(queue, DESCRIBE, trace)
    event = new_event()
    queue.accept(event)
    trace.statements.clear()
    assert queue.huey.dequeue() is not None
    statements = [text.strip().split()[0].lower() for text in trace.statements if text.strip()]
    begin, commit = statements.index("begin"), statements.index("commit")
    assert statements[begin:commit + 1] == ["begin", "select", "delete", "select", "update", "commit"]
    claimed = queue.store.get(event.id)
    assert claimed.status == "running" and claimed.attempts == 1 and claimed.claim


def test_a_claim_lost_in_a_power_cut_leaves_the_event_to_the_sweeper(queue):
    """A task taken without its claim reaching the disk (one the worker claims itself: a retry's scheduled
    task) leaves the event queued, its task gone; the sweeper dispatches it again and it runs once."""
    trace = Trace(queue)
    worker = worker_for(queue, DESCRIBE, trace)
    event = new_event()
    queue.accept(event)
    take_task_off_the_queue(queue)
    assert queue.store.get(event.id).status == "queued"
    worker.clock = lambda: time.time() + 60  # past the sweeper's grace
    assert worker.sweep()["redispatched"] == 1
    run_one_task(queue)
    assert trace.commits().count("request leaves") == 1
    assert queue.store.get(event.id).status == "succeeded"


@pytest.mark.parametrize("why", ["not due yet", "the worker is stopping", "a scheduled task"])
def test_an_event_that_cannot_be_run_now_is_not_claimed_as_its_task_is_taken(queue, why):
    trace = Trace(queue)
    worker = worker_for(queue, DESCRIBE, trace)
    event = new_event()
    if why == "not due yet":
        event.due_at = time.time() + 600
    queue.accept(event)
    if why == "the worker is stopping":
        worker.stopping.set()
    if why == "a scheduled task":  # its message carries an eta: process() decides, as before
        with queue.huey.storage.db() as cur:
            data = json.loads(cur.execute("select data from task").fetchone()[0])
        data["eta"] = {"$datetime": "2026-01-01T00:00:00"}
        with queue.huey.storage.relaxed() as cur:
            worker._claim_on_dequeue(cur, json.dumps(data).encode())
        assert worker._claimed.event is None and queue.store.get(event.id).status == "queued"
        return
    outcome = worker.process(queue.huey.dequeue().args[0])
    assert outcome == ("early" if why == "not due yet" else "stopping")
    stored = queue.store.get(event.id)
    assert stored.status == "queued" and stored.attempts == 0 and not stored.claim
    assert len(queue.huey.pending()) + len(queue.huey.scheduled()) == 1  # its task is back
    assert "request leaves" not in trace.commits()


def test_a_claim_is_used_only_by_the_thread_that_took_the_task(queue):
    """Each huey worker thread takes a task and runs it; another thread running the same event id finds it
    claimed by someone else and leaves it."""
    trace = Trace(queue)
    worker = worker_for(queue, DESCRIBE, trace)
    event = new_event()
    queue.accept(event)
    assert queue.huey.dequeue() is not None  # claimed by this thread
    other = []
    thread = threading.Thread(target=lambda: other.append(worker.process(event.id)))
    thread.start()
    thread.join(10)
    assert other == ["not-waiting"]
    assert worker.process(event.id) == "succeeded"
    assert trace.commits().count("request leaves") == 1


def test_an_idempotent_output_lost_in_a_power_cut_runs_that_step_again(queue):
    """What a lost unflushed output looks like afterwards: the event is running under the claim of a worker
    that is gone, without the step. Once the lease has run out the sweeper takes it over, and the step is
    asked again: one more request, and the event succeeds."""
    trace = Trace(queue)
    worker = worker_for(queue, DESCRIBE, trace)
    event = new_event()
    queue.accept(event)
    take_task_off_the_queue(queue)
    stored = queue.store.get(event.id)
    stored.status, stored.claim, stored.attempts = "running", "a-worker-that-is-gone", 1
    stored.lease_until = stored.updated_at = time.time()
    assert queue.store.save(stored, flush=False)  # the claim reached the disk, the output did not
    worker.clock = lambda: time.time() + 60  # past the lease
    assert worker.sweep()["taken_over"] == 1
    run_one_task(queue)
    assert trace.commits().count("request leaves") == 1
    done = queue.store.get(event.id)
    assert done.status == "succeeded" and done.attempts == 2 and len(done.steps) == 1


def test_a_claim_that_fails_as_the_task_is_taken_leaves_the_task_to_run_and_claim_on_its_own(queue, monkeypatch,
                                                                                              caplog):
    trace = Trace(queue)
    worker = worker_for(queue, DESCRIBE, trace)
    event = new_event()
    queue.accept(event)

    def broken(*args, **kwargs):
        raise RuntimeError("a store that cannot claim here")

    monkeypatch.setattr(worker.store, "claim_in", broken)
    run_one_task(queue)  # the queue is not stuck on this task: it is taken, and run
    assert queue.store.get(event.id).status == "succeeded"
    assert trace.commits().count("request leaves") == 1
    assert any("could not claim" in record.getMessage() for record in caplog.records)


def test_a_task_runs_without_looking_up_revoke_flags(queue):
    """The webhook queue never revokes a task, so huey's lookups of revoke flags before and after every
    task (two queries each) are left out; revoking is refused rather than silently ignored."""
    trace = Trace(queue)
    worker_for(queue, DESCRIBE, trace)
    event = new_event()
    queue.accept(event)
    trace.statements.clear()
    run_one_task(queue)
    assert queue.store.get(event.id).status == "succeeded"
    assert not [s for s in trace.statements if " kv " in f" {s.lower()} "], trace.statements
    with pytest.raises(NotImplementedError):
        queue.huey.revoke_by_id("any")


def test_a_busy_queue_is_not_first_checked_for_tasks_and_an_idle_one_takes_no_write_lock(queue):
    storage = queue.huey.storage
    for _ in range(2):
        queue.accept(new_event())
    trace = Trace(queue)

    def dequeue() -> tuple[bool, list[str]]:
        trace.statements.clear()
        found = storage.dequeue() is not None
        return found, [text.strip().split()[0].lower() for text in trace.statements if text.strip()]

    assert dequeue() == (True, ["select", "pragma", "begin", "select", "delete", "commit"])  # looked first
    assert dequeue() == (True, ["begin", "select", "delete", "commit"])  # the last one found a task
    assert dequeue() == (False, ["begin", "select", "commit"])  # once, when it runs dry
    assert dequeue() == (False, ["select"])  # from then on a read, without the write lock
    queue.accept(new_event())
    assert dequeue()[0] is True
