"""Which SQLite commits wait for the disk (lib/webhooks/store/huey_sqlite.py): an accepted event, the mark before a
step that is not safe to repeat and the output of a step not declared idempotent are flushed; huey's
dequeue, the worker's claim and a declared-idempotent step's output are not (losing them in a power cut
only runs the event, or that step, again); clearing a revoke flag that is not there writes nothing.
Traced statement by statement on the queue's own connection, with the storage's flushes (an fdatasync of
the WAL once the write lock is given back) in the same trace, through a real Worker and huey's own task
execution. What a flush syncs, and when, is proved below with the real system call watched."""

from __future__ import annotations

import errno
import json
import os
import threading
import time

import pytest
from huey.constants import EmptyData

from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from jobs_connector.webhooks import flows as flows_module
from jobs_connector.webhooks.events import Event, new_id
from jobs_connector.webhooks.store.event_store import NotDurable
from jobs_connector.webhooks.store.huey_sqlite import WebhookSqliteStorage
from jobs_connector.webhooks.store.queue import Queue
from jobs_connector.webhooks.store.write_gate import WriteGate
from jobs_connector.webhooks.worker import Worker
from tests.support.loopback import Reply
from tests.support.webhooks import DESCRIBE, HOOK_SECRET, SECRET_ENV, STEP_INPUTS, UPDATE, UPDATE_STEP, InProcess, flow

FLUSHED, UNFLUSHED = "flushed", "unflushed"
_FLUSH = "--flush"  # in the trace: the storage's flush() returned


class Trace:
    """Every statement on the queue's write connection and every flush of the storage; commits labelled
    flushed when a flush follows them before anything else is written or marked."""

    def __init__(self, queue: Queue):
        self.statements: list[str] = []
        storage = queue.huey.storage
        storage.conn.set_trace_callback(self.statements.append)
        real_flush = storage.flush

        def flush(**kwargs):
            real_flush(**kwargs)
            self.statements.append(_FLUSH)

        storage.flush = flush

    def mark(self, label: str) -> None:
        self.statements.append(f"-- {label}")

    def commits(self) -> list[str]:
        found: list[str] = []
        for statement in self.statements:
            text = statement.strip().lower()
            if text == _FLUSH:
                assert found and found[-1] == UNFLUSHED, f"a flush without a commit before it: {self.statements}"
                found[-1] = FLUSHED
            elif text == "commit":
                found.append(UNFLUSHED)
            elif text.startswith("-- "):
                found.append(text[3:])
        return found

    def synchronous_changes(self) -> int:
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
    (DESCRIBE, [FLUSHED, UNFLUSHED, "request leaves", UNFLUSHED]),
    # ... a step that is not safe to repeat: the mark, flushed before the request leaves, and its output
    (UPDATE, [FLUSHED, UNFLUSHED, FLUSHED, "request leaves", FLUSHED]),
    # ... one whose token makes it safe to repeat: the token may have expired by the time a power cut is
    # over, so its output waits for the disk
    (START_COMMAND, [FLUSHED, UNFLUSHED, "request leaves", FLUSHED]),
    # two steps: the first output, not flushed, reaches the disk with the second step's mark (the WAL
    # keeps commits in order), before the second request leaves
    (f"{DESCRIBE} then {UPDATE}",
     [FLUSHED, UNFLUSHED, "request leaves", UNFLUSHED, FLUSHED, "request leaves", FLUSHED]),
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
    assert trace.commits() == [FLUSHED, FLUSHED, FLUSHED]  # the failed one committed nothing; the flushes still flush


def test_flushed_and_unflushed_writes_in_a_row_never_change_the_connection(queue):
    """A worker's writes, nearly all unflushed, and an event accepted in the same process (one serve with its
    workers) after them: the connection's synchronous setting never changes, and the accept is flushed."""
    trace = Trace(queue)
    worker_for(queue, DESCRIBE, trace)
    for _ in range(3):
        queue.accept(new_event())
    trace.statements.clear()
    for _ in range(3):
        run_one_task(queue)  # the dequeue with its claim, then the output: two unflushed commits each
    assert trace.commits() == [UNFLUSHED, "request leaves", UNFLUSHED] * 3
    queue.accept(new_event())
    assert trace.commits()[-1] == FLUSHED
    assert trace.synchronous_changes() == 0


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

    assert dequeue() == (True, ["select", "begin", "select", "delete", "commit"])  # looked first
    assert dequeue() == (True, ["begin", "select", "delete", "commit"])  # the last one found a task
    assert dequeue() == (False, ["begin", "select", "commit"])  # once, when it runs dry
    assert dequeue() == (False, ["select"])  # from then on a read, without the write lock
    queue.accept(new_event())
    assert dequeue()[0] is True


class WatchedSync:
    """os.fdatasync watched: the file each call syncs, and whether this process's write lock and the queue
    file's write gate were free while the disk was waited for."""

    def __init__(self, monkeypatch, storage, fail_first: int = 0):
        self.calls: list[dict] = []
        real = os.fdatasync

        def fdatasync(fd):
            other = WriteGate(storage.path)  # another open file: its flock conflicts with the storage's
            gate_free = other.acquire(0)
            if gate_free:
                other.release()
            other.close()
            self.calls.append({"inode": os.fstat(fd).st_ino, "lock_free": not storage.lock.locked(),
                               "gate_free": gate_free})
            if len(self.calls) <= fail_first:
                raise OSError(errno.EIO, "Input/output error")
            real(fd)

        monkeypatch.setattr(os, "fdatasync", fdatasync)


def inode(path) -> int:
    return os.stat(path).st_ino


@pytest.mark.parametrize("write", ["an accepted event", "a flushed write (huey's, the worker's mark)"])
def test_a_flushed_write_syncs_the_wal_once_the_gate_and_the_lock_are_given_back(queue, monkeypatch, write):
    """Other writers of every process go ahead while this one waits for the disk; the caller returns
    only after the WAL file, which holds the commit, is synced."""
    storage = queue.huey.storage
    queue.accept(new_event())  # the WAL exists from here on
    watched = WatchedSync(monkeypatch, storage)
    if write == "an accepted event":
        queue.accept(new_event())
    else:
        with storage.db(commit=True) as cur:
            cur.execute("delete from task")
    assert watched.calls == [{"inode": inode(storage.path + "-wal"), "lock_free": True, "gate_free": True}]


def test_unflushed_writes_leave_the_disk_alone(queue, monkeypatch):
    worker_for(queue, DESCRIBE, Trace(queue))
    queue.accept(new_event())
    watched = WatchedSync(monkeypatch, queue.huey.storage)
    run_one_task(queue)  # the dequeue with its claim, then a declared-idempotent step's output
    assert watched.calls == []


def test_a_flush_after_the_last_connection_closed_syncs_the_database_file(queue, monkeypatch):
    """Closing the last connection checkpoints the WAL into the database file and removes it: the flush
    then syncs the database file."""
    storage = queue.huey.storage
    queue.accept(new_event())
    watched = WatchedSync(monkeypatch, storage)
    with storage.db(commit=True, close=True) as cur:  # huey's schema set-up writes this way
        cur.execute("delete from task")
    assert not os.path.exists(storage.path + "-wal")
    assert watched.calls == [{"inode": inode(storage.path), "lock_free": True, "gate_free": True}]


def test_a_queue_file_reached_through_a_symbolic_link_syncs_the_wal_beside_its_target(tmp_path, monkeypatch):
    """SQLite follows the link and keeps the WAL next to the real file; a sync of `<link>-wal` would find
    nothing there."""
    (tmp_path / "real").mkdir()
    (tmp_path / "queue.db").symlink_to(tmp_path / "real" / "queue.db")
    queue = Queue(f"sqlite:///{tmp_path / 'queue.db'}")
    try:
        queue.accept(new_event())
        watched = WatchedSync(monkeypatch, queue.huey.storage)
        queue.accept(new_event())
        assert not (tmp_path / "queue.db-wal").exists()
        assert watched.calls == [{"inode": inode(tmp_path / "real" / "queue.db-wal"), "lock_free": True,
                                  "gate_free": True}]
    finally:
        queue.close()


def test_a_wal_missing_while_the_connection_is_open_fails_the_write_instead_of_syncing_a_guess(queue, tmp_path):
    storage = queue.huey.storage
    queue.accept(new_event())
    storage._database_path = str(tmp_path / "elsewhere")  # a wrong idea of where SQLite keeps the WAL
    with pytest.raises(NotDurable, match="waiting for the disk failed"):
        queue.accept(new_event())
    with pytest.raises(FileNotFoundError), storage.db(commit=True) as cur:
        cur.execute("delete from task")


def test_a_file_sqlite_keeps_out_of_wal_mode_waits_for_the_disk_in_every_commit(tmp_path, monkeypatch, caplog):
    storage = WebhookSqliteStorage("q", filename=str(tmp_path / "q.db"), fsync=True, journal_mode="delete")
    try:
        watched = WatchedSync(monkeypatch, storage)
        with storage.db(commit=True) as cur:
            cur.execute("delete from task")
            assert cur.execute("pragma journal_mode").fetchone()[0] == "delete"
            assert cur.execute("pragma synchronous").fetchone()[0] == 2  # FULL: SQLite syncs inside COMMIT
        with storage.relaxed() as cur:
            assert cur.execute("pragma synchronous").fetchone()[0] == 2
        assert watched.calls == []
        assert any("not in WAL mode" in record.getMessage() for record in caplog.records)
    finally:
        storage.close()


@pytest.fixture
def api(aws_env, loopback, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", loopback.url)
    loopback.default = Reply(200, {"executionState": {"status": "SUCCEEDED", "versionNumber": 2}})
    return loopback


def test_an_event_whose_flush_fails_is_answered_unknown_and_its_repeat_runs_once(tmp_path, api, monkeypatch):
    """Over HTTP: the commit is in, the disk did not confirm it. 503 says so; the sender's repeat of the
    same signed request is recognised, and the step (not safe to repeat) is sent once."""
    runtime = Runtime(Transport(policy=RetryPolicy(max_attempts=1)))
    with InProcess(tmp_path, {"flows": [flow("hook", [UPDATE_STEP])]}, runtime=runtime) as server:
        WatchedSync(monkeypatch, server.queue.huey.storage, fail_first=1)
        body, now = {"thing": "t", "job": "j"}, int(time.time())
        status, answer = server.post("hook", body, timestamp=now)
        assert status == 503
        assert "could not be flushed to disk" in answer["error"] and "unknown" in answer["error"]
        status, answer = server.post("hook", body, timestamp=now)
        assert status == 200 and answer["duplicate"] is True
        assert server.wait_status(answer["id"], "succeeded")["attempts"] == 1
    assert len(api.requests) == 1
