"""The errors an action can return: the service's codes (schemas/<service>/errors.json, from the botocore model
for AWS, from the service's error answers for SpaceONE and EmbedThis), each with what it means and what the
connector makes of it (error type, exit code, whether a retry can help). `describe` and docs/actions.md show
them; nothing here is on the path of a call."""

from __future__ import annotations

import os
from functools import lru_cache

from jobs_connector.base.errors import OutcomeUnknown, acted_unknown, error_type_for
from jobs_connector.component.registry import ROOT, Action, load_json

# What the model's one-line sentence does not say, for the codes a worker has to act on.
NOTES = {
    "InvalidNonceException": "another worker holds the job, or the nonce is stale: leave the job alone",
    "InvalidStateTransitionException": "the execution is already in a state that does not allow this update "
                                       "(for example a terminal one); the answer carries its current state",
    "TerminalStateException": "the job execution is in a terminal state (the job may have been removed)",
    "InvalidJobStateException": "the job is no longer in progress (already succeeded, failed or timed out)",
    "InvalidClientTokenException": "the clientToken does not belong to this job's custom action",
    "ConflictException": "the resource is in use or changed since it was read",
}


@lru_cache(maxsize=8)
def _service_file(service: str) -> dict:
    path = os.path.join("schemas", service, "errors.json")
    if not os.path.exists(os.path.join(ROOT, path)):
        return {"errors": {}, "operations": {}}
    return load_json(path)


def errors_for(action: Action) -> list[dict]:
    """[{code, status, meaning, type, exit, retryable}] in the model's order."""
    data = _service_file(action.service_name)
    idempotent = action.safe_to_repeat
    out = []
    bound = action.spec("BOUND_TO")  # a bound action returns the errors of the call underneath
    for code in data["operations"].get(bound.split(".", 1)[1] if bound else action.operation, []):
        known = data["errors"].get(code, {})
        status = known.get("status", 400)
        kind = error_type_for(status, code)
        if acted_unknown(status, kind, idempotent):
            kind = OutcomeUnknown  # as the transport reports it
        meaning = known.get("meaning", "")
        if code in NOTES:
            meaning = f"{meaning.rstrip('.')}. In practice: {NOTES[code]}." if meaning else NOTES[code] + "."
        out.append({"code": code, "status": status, "meaning": meaning, "type": kind.__name__,
                    "exit": kind.exit_code, "retryable": kind.retryable})
    return out


def source(action: Action) -> str | None:
    return _service_file(action.service_name).get("source")
