"""What each console page shows, apart from HTML: the filters of the event list (checked and bounded), its rows,
one event (its view is `events show`'s, jobs_connector.webhooks.view, secrets redacted; the body never), and
the flows. Everything shown passes through view.public, so a secret masked there is masked here too."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from jobs_connector.base.errors import BadInput
from jobs_connector.base.redact import Redactor, cut
from jobs_connector.component.services import SERVICES, TokenService
from jobs_connector.webhooks import retry, view
from jobs_connector.webhooks.events import DEAD, STATUSES, Event
from jobs_connector.webhooks.flows import Flows

SINCE = {"15m": 15 * 60, "1h": 3600, "24h": 86400, "7d": 7 * 86400, "all": None}
SINCE_TITLES = {"15m": "last 15 minutes", "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days",
                "all": "any time"}
LIMITS = (25, 50, 100, 200)
SCAN = 2000  # the newest events (of the chosen status) a list looks through for its flow and time filters
OUTPUT_CHARS = 20_000  # a step's output shown, at most
EVENT_ID = re.compile(r"^[0-9a-f]{32}\Z")
_AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def environment_secrets(environ=os.environ) -> list[str]:
    """The credentials this process's steps may use, scrubbed from every page whatever happens upstream."""
    names = list(_AWS_ENV) + [s.token_env for s in SERVICES.values() if isinstance(s, TokenService)]
    return [environ[name] for name in names if environ.get(name)]


@dataclass(frozen=True)
class Filters:
    flow: str = ""
    status: str = ""
    since: str = "all"
    limit: int = 50

    def query(self, **changes) -> dict:
        return {"flow": self.flow, "status": self.status, "since": self.since, "limit": self.limit, **changes}


def _one(query: dict[str, list[str]], name: str, default: str) -> str:
    values = query.get(name) or [default]
    if len(values) > 1:
        raise BadInput(f"{name}: give it once", field=name, rule="single")
    return values[0]


def filters(query: dict[str, list[str]], flows: Flows) -> Filters:
    """The list's filters from the query string; BadInput naming the field and the rule for anything else."""
    flow = _one(query, "flow", "")
    if flow and flows.get(flow) is None:
        raise BadInput(f"flow: no flow named {flow[:64]!r}", field="flow", rule="known-flow")
    status = _one(query, "status", "")
    if status and status not in STATUSES:
        raise BadInput(f"status: one of {', '.join(STATUSES)}", field="status", rule="enum")
    since = _one(query, "since", "all")
    if since not in SINCE:
        raise BadInput(f"since: one of {', '.join(SINCE)}", field="since", rule="enum")
    limit = _one(query, "limit", "50")
    if limit not in {str(n) for n in LIMITS}:
        raise BadInput(f"limit: one of {', '.join(map(str, LIMITS))}", field="limit", rule="enum")
    return Filters(flow, status, since, int(limit))


class Pages:
    def __init__(self, flows: Flows, store, secrets=()):
        self.flows, self.store = flows, store
        self.secrets = list(secrets)

    def _public(self, event: Event) -> dict:
        return view.public(event, self.secrets)

    def overview(self) -> dict:
        recent: dict[str, dict[str, int]] = {}
        scanned = self.store.list(None, SCAN)
        for event in scanned:
            per = recent.setdefault(event.flow, {})
            per[event.status] = per.get(event.status, 0) + 1
        rows = [{"name": f.name, "description": f.description, "starts": "poll" if f.trigger else "webhook",
                 "path": None if f.trigger else f"/hooks/{f.name}", "steps": [s.key for s in f.steps],
                 "counts": recent.get(f.name, {})} for f in self.flows]
        return {"flows": rows, "totals": self.store.counts(), "statuses": STATUSES, "scan": SCAN,
                "scan_full": len(scanned) >= SCAN}

    def events(self, chosen: Filters, now: float) -> dict:
        window = SINCE[chosen.since]
        scanned = self.store.list(chosen.status or None, SCAN)
        picked = [e for e in scanned if (not chosen.flow or e.flow == chosen.flow)
                  and (window is None or e.received_at >= now - window)][:chosen.limit]
        rows = []
        for event in picked:
            shown = self._public(event)
            error = shown["error"] or {}
            rows.append({**shown, "error": error, "request_ids": _request_ids(shown),
                         "retryable": retry.refusal(event) is None, "risk": retry.outcome_unknown(event)})
        return {"rows": rows, "filters": chosen, "flows": [f.name for f in self.flows], "statuses": STATUSES,
                "since": SINCE_TITLES, "limits": LIMITS, "scan": SCAN, "scan_full": len(scanned) >= SCAN,
                "dead_ids": [r["id"] for r in rows if r["status"] == DEAD and r["retryable"]]}

    def event(self, event_id: str) -> dict | None:
        event = self.store.get(event_id) if EVENT_ID.match(event_id) else None
        if event is None:
            return None
        shown = self._public(event)
        flow = self.flows.get(event.flow)
        planned = [s.key for s in flow.steps] if flow else [s["action"] for s in shown["steps"]]
        failed_step = (shown["error"] or {}).get("step") or len(shown["steps"]) + 1
        steps = []
        for number, action in enumerate(planned, start=1):
            done = shown["steps"][number - 1] if number <= len(shown["steps"]) else None
            state = "done" if done else ("failed" if shown["error"] and number == failed_step else "not run")
            steps.append({"step": number, "action": action, "state": state,
                          "finished_at": done["finished_at"] if done else None,
                          "output": _pretty(done["output"]) if done else None})
        return {"event": shown, "steps": steps, "request_ids": _request_ids(shown),
                "retryable": retry.refusal(event) is None, "risk": retry.outcome_unknown(event),
                "resumes_at": len(shown["steps"]) + 1,
                "error_json": _pretty(shown["error"]) if shown["error"] else None}

    def scrub(self, text: str) -> str:
        return Redactor(self.secrets).scrub(text)


def _pretty(value) -> str:
    return cut(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True), OUTPUT_CHARS)


def _request_ids(shown: dict) -> list[str]:
    """The service's request ids the event's errors carry, newest first, each once."""
    found = []
    for error in [shown.get("error")] + [line.get("error") for line in reversed(shown.get("history") or [])]:
        request_id = (error or {}).get("request_id") if isinstance(error, dict) else None
        if isinstance(request_id, str) and request_id not in found:
            found.append(request_id)
    return found
