"""One poll of a trigger: list what is there (the trigger module, through the actions), emit what the
snapshot has not seen, record it. The places that run triggers differ only in where the items go and
where the snapshot is kept; this is the part they share.

Order, as elastic.io polling triggers: each item is recorded in the snapshot as it is handed out, and the
caller keeps the snapshot only after it has emitted (or stored) the item, so a crash between the two
emits that item again rather than losing it; the platform's snapshot event comes after all the data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from jobs_connector.base.errors import ConnectorError
from jobs_connector.runtime import Runtime, default_runtime
from jobs_connector.triggers.snapshot import Item, Snapshot, epoch_of
from jobs_connector.triggers.trigger import Trigger, get_trigger


class Context:
    """What a trigger module may use: its config, the actions, and what the snapshot already holds."""

    def __init__(self, cfg: dict, runtime: Runtime, snapshot: Snapshot, stop=None):
        self.cfg, self.runtime, self.snapshot = cfg, runtime, snapshot
        self.stop = stop  # a threading.Event the runner sets to end a run early (a push trigger listens on)

    def call(self, action_key: str, body: dict) -> dict:
        """One action's answer (a non-list action, or one page)."""
        return next(iter(self.runtime.run(action_key, body, self._action_cfg("fetchPage"))))

    def each(self, action_key: str, body: dict) -> Iterator[dict]:
        """Every item of a list action, across every page (up to maxPages)."""
        return self.runtime.run(action_key, body, self._action_cfg("emitIndividually"))

    def seen_version(self, item_id: str) -> str | None:
        return self.snapshot.version_of(item_id)

    def _action_cfg(self, behaviour: str) -> dict:
        cfg = {k: v for k, v in self.cfg.items() if k not in ("emitBehaviour",)}
        return {**cfg, "emitBehaviour": behaviour}


class Poll:
    """One run of a trigger. Iterate `items()` for the bodies to emit; `snapshot()` is the snapshot that
    includes every body handed out so far (and, once the iteration ended, the finished run)."""

    def __init__(self, key: str, cfg: Mapping | None, snapshot, *, runtime: Runtime | None = None,
                 clock: Callable[[], float] = time.time, stop=None):
        self.trigger: Trigger = get_trigger(key)
        self.cfg = self.trigger.check_config(cfg)
        start = epoch_of(self.cfg.get("startTime"), "startTime")
        raw = {} if self.cfg.get("skipSnapshot") else snapshot
        self.state = Snapshot(raw, limit=self.cfg["snapshotLimit"], start=start)
        self.runtime = runtime or default_runtime()
        self.clock, self.stop = clock, stop
        self.emitted = 0
        self.finished = False

    @property
    def key(self) -> str:
        return self.trigger.key

    def items(self) -> Iterator[dict]:
        return (item.body for item in self.entries())

    def entries(self) -> Iterator[Item]:
        """As items(), with each item's identity and version (the flows file's delivery ids need them)."""
        quiet = self.state.first_run and self.cfg.get("firstRun") == "startFromNow"
        context = Context(self.cfg, self.runtime, self.state, self.stop)
        for item in self.trigger.module.items(context):
            if not isinstance(item, Item) or not self.state.is_new(item):
                continue
            self.state.record(item)
            if not (quiet or item.silent):
                self.emitted += 1
                yield item
        self.state.finish_run(self.clock())
        self.finished = True

    def snapshot(self) -> dict:
        return self.state.to_dict()


def process(key: str, msg: Mapping, cfg: Mapping, snapshot, emit: Callable[[str, object], None],
            runtime: Runtime | None = None) -> None:
    """The platform's way (elasticio-sailor-nodejs): emit('data', {'body': item}) for each item, then
    emit('snapshot', snapshot) and 'end'. On a failure the snapshot of what was emitted comes first,
    then 'rebound' or 'error', so the next run does not emit those items again."""
    poll = None
    try:
        poll = Poll(key, cfg, snapshot, runtime=runtime)
        for body in poll.items():
            emit("data", {"body": body})
        if not poll.cfg.get("skipSnapshot"):
            emit("snapshot", poll.snapshot())
    except ConnectorError as exc:
        if poll is not None and poll.emitted and not poll.cfg.get("skipSnapshot"):
            emit("snapshot", poll.snapshot())
        emit("rebound" if exc.retryable else "error", exc.to_dict())
    emit("end", {})
