"""What `GET /events/<id>` and `jobs-connector events show` display: status, attempts, step results and
errors, with every secret redacted (fields the action's out-schema marks x-secret, and any secret value
known to this process scrubbed from the text). The event body is not shown over HTTP."""

from __future__ import annotations

import datetime
import json

from jobs_connector.base.errors import ConnectorError
from jobs_connector.base.redact import MASK, Redactor, redact_by_schema, secret_values
from jobs_connector.component.registry import get_action
from jobs_connector.webhooks.events import RETRYING, Event
from jobs_connector.webhooks.sealing import with_fields


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).isoformat(timespec="milliseconds")


def _out_schema(key: str) -> dict | None:
    try:
        return get_action(key).out_schema
    except ConnectorError:
        return None


def public(event: Event, secrets=(), *, with_body: bool = False) -> dict:
    redactor = Redactor(secrets)
    steps = []
    for number, done in enumerate(event.steps, start=1):
        schema = _out_schema(done.get("action", ""))
        output = done.get("output")
        if schema is None:  # an action this build does not know: its secrets are unknown too
            shown = MASK
        else:
            redactor.add(*secret_values(output, schema))
            shown = redact_by_schema(output, schema)
        steps.append({"step": number, "action": done.get("action"), "output": shown,
                      "finished_at": iso(done.get("finished_at"))})
    view = {
        "id": event.id,
        "flow": event.flow,
        "status": event.status,
        "attempts": event.attempts,
        "delivery_id": event.delivery_id,
        "received_at": iso(event.received_at),
        "updated_at": iso(event.updated_at),
        "next_attempt_at": iso(event.due_at) if event.status == RETRYING else None,
        "steps": steps,
        "warnings": event.warnings,  # answers used as sent although they differ from the documented shape
        "handbacks": event.handbacks,
        "error": event.error,
        "history": [{**line, "at": iso(line.get("at"))} for line in event.history],
    }
    if with_body:  # the fields the flow marks secret stay masked (they are sealed in the store anyway)
        view["event"] = with_fields(event.body, event.secret_fields, lambda value: MASK)
    return json.loads(redactor.scrub(json.dumps(view)))
