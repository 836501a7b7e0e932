"""An event: one accepted webhook delivery and everything that happened to it.

Status moves  queued -> running -> succeeded
                           |  -> retrying -> running ...   (a retryable failure, attempts left)
                           |  -> dead                      (not retryable, or attempts used up)
A dead event goes back to queued with `jobs-connector events retry ID`. Each completed step's output
is recorded, so a retried event resumes at the step that failed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, fields

from jobs_connector.webhooks.sealing import opened, sealed_doc

QUEUED, RUNNING, SUCCEEDED, RETRYING, DEAD = "queued", "running", "succeeded", "retrying", "dead"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, RETRYING, DEAD)
WAITING = (QUEUED, RETRYING)  # may be claimed once due
FINISHED = (SUCCEEDED, DEAD)

# Request headers never stored with an event (they carry credentials or the signature itself).
_UNSTORED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-jobs-signature",
                               "webhook-signature", "x-hub-signature", "x-hub-signature-256"})


def new_id() -> str:
    return uuid.uuid4().hex


def stored_headers(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _UNSTORED_HEADERS}


@dataclass
class Event:
    id: str
    flow: str
    body: dict
    received_at: float
    headers: dict = field(default_factory=dict)
    delivery_id: str | None = None
    fingerprint: str | None = None  # the signature digest, kept only when no delivery id was sent
    replay_until: float | None = None  # a captured copy of the request is refused until then, even after a purge
    status: str = QUEUED
    attempts: int = 0
    due_at: float = 0.0  # when a waiting event may run
    lease_until: float | None = None  # while running: another worker takes it over after this
    claim: str | None = None  # the running worker's token; its writes are refused once it is replaced
    steps: list = field(default_factory=list)  # [{"action", "output", "finished_at"}] of completed steps
    error: dict | None = None
    history: list = field(default_factory=list)  # one line per failed or interrupted attempt
    warnings: list = field(default_factory=list)  # [{"step", "action", "warning"}]: answers that drifted
    handbacks: int = 0  # times a stopping worker handed it back (bounded: see worker.MAX_HANDBACKS)
    secret_fields: list = field(default_factory=list)  # body paths the flow marks secret: sealed at rest
    sending: int | None = None  # index of a step not safe to repeat whose request may be on the wire
    updated_at: float = 0.0
    version: int = 0  # compare-and-set counter kept by the store

    @property
    def next_at(self) -> float | None:
        """When the sweeper should look at this event again (None once finished)."""
        if self.status == RUNNING:
            return self.lease_until
        if self.status in WAITING:
            return self.due_at
        return None

    def to_doc(self) -> str:
        # Field by field, not dataclasses.asdict: its deep copy is the costliest step of accepting an event.
        doc = {name: getattr(self, name) for name in _DOC_FIELDS}
        if self.steps or self.secret_fields:  # secrets in step outputs or the body: sealed before any store
            doc = sealed_doc(doc)
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)

    def opened_body(self) -> dict:
        """The webhook body with the fields the flow marks secret opened again (what the steps may map)."""
        if not self.secret_fields:
            return self.body
        return opened(self.body, self.id)

    def step_outputs(self) -> list:
        """The completed steps' outputs with their sealed secrets opened (what the next step may use)."""
        return [opened(done["output"], self.id) for done in self.steps]

    @classmethod
    def from_doc(cls, doc: str | bytes, version: int) -> Event:
        data = json.loads(doc)
        return cls(**data, version=int(version))


_DOC_FIELDS = tuple(f.name for f in fields(Event) if f.name != "version")
