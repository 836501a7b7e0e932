"""The AWS IoT Jobs MQTT API as data: one row per data-plane operation (its request topic, the members of its
payload, what the answer keeps), the notification topics, and the `rejected` codes as the HTTPS API's errors.

Topics and payloads follow the AWS IoT developer guide ("Jobs device MQTT API operations"): a request is
published to `$aws/things/{thingName}/jobs/<api>` with a `clientToken`, the service answers on `<api>/accepted`
or `<api>/rejected` with the same clientToken. The sandbox's MQTT side reads the same table, so both ends
agree on every name.
"""

from __future__ import annotations

import json

from jobs_connector.base.errors import BadInput, ConnectorError, OutcomeUnknown, error_type_for
from jobs_connector.base.record import Frozen

PREFIX = "$aws/things/"


class Operation(Frozen):
    """One data-plane operation over MQTT. `api` is the topic tail after `jobs/` ({jobId} filled per call);
    `payload` the input members that travel in the request (thingName and jobId travel in the topic)."""

    __slots__ = _fields = ("name", "api", "payload", "idempotent")

    def __init__(self, name: str, api: str, payload: tuple[str, ...], idempotent: bool):
        self._set(name=name, api=api, payload=payload, idempotent=idempotent)

    def request_topic(self, body: dict) -> str:
        return jobs_topic(body["thingName"], self.api.format(jobId=body.get("jobId", "")))

    def request_payload(self, body: dict, client_token: str) -> dict:
        payload = {name: body[name] for name in self.payload if name in body}
        payload["clientToken"] = client_token
        return payload


OPERATIONS = {op.name: op for op in (
    Operation("GetPendingJobExecutions", "get", (), True),
    Operation("StartNextPendingJobExecution", "start-next", ("statusDetails", "stepTimeoutInMinutes"), False),
    Operation("DescribeJobExecution", "{jobId}/get", ("executionNumber", "includeJobDocument"), True),
    Operation("UpdateJobExecution", "{jobId}/update",
              ("status", "statusDetails", "expectedVersion", "executionNumber", "includeJobExecutionState",
               "includeJobDocument", "stepTimeoutInMinutes"), False),
)}

NOTIFY = "notify"  # JobExecutionsChanged: the pending list, {"timestamp", "jobs": {"QUEUED": [...], ...}}
NOTIFY_NEXT = "notify-next"  # NextJobExecutionChanged: {"timestamp", "execution": {...}} (no execution: none)
NOTIFICATIONS = (NOTIFY, NOTIFY_NEXT)
# The envelope an MQTT answer adds to the HTTPS one: correlation and the time it was sent.
ENVELOPE = ("clientToken", "timestamp")


def jobs_topic(thing: str, api: str) -> str:
    return f"{PREFIX}{thing}/jobs/{api}"


def parse_jobs_topic(topic: str) -> tuple[str, str] | None:
    """(thingName, api) of a `$aws/things/{thingName}/jobs/{api}` topic, else None."""
    if not topic.startswith(PREFIX):
        return None
    thing, sep, api = topic[len(PREFIX):].partition("/jobs/")
    if not sep or not thing or "/" in thing or not api:
        return None
    return thing, api


def check_topic_level(name: str, value: str) -> None:
    """A thing name or job id becomes a topic level: MQTT wildcards or a '/' would change the topic."""
    if any(char in value for char in "+#/\x00"):
        raise BadInput(f"input field '{name}' cannot contain '/', '+', '#' or NUL over MQTT (it is a topic level)",
                       field=name, rule="topic-level")


# -- answers ------------------------------------------------------------------------------------------

def answer_body(accepted: dict) -> dict:
    """The HTTPS API's answer from an MQTT `accepted` payload, so a flow sees the same output whichever
    transport it uses: the envelope (clientToken, timestamp) goes, and the job document, a JSON object over
    MQTT, becomes the JSON text the HTTPS API returns."""
    out = {k: v for k, v in accepted.items() if k not in ENVELOPE}
    if isinstance(out.get("jobDocument"), (dict, list)):
        out["jobDocument"] = json.dumps(out["jobDocument"])
    execution = out.get("execution")
    if isinstance(execution, dict) and isinstance(execution.get("jobDocument"), (dict, list)):
        out["execution"] = {**execution, "jobDocument": json.dumps(execution["jobDocument"])}
    return out


# The MQTT error codes and the HTTPS error each one is (status, code of the iot-jobs-data service model), so a
# refusal is the same typed error over either transport. VersionMismatch has no code of its own over HTTPS:
# there a stale expectedVersion is InvalidStateTransitionException (409).
REJECTED_AS_HTTP = {
    "InvalidTopic": (400, "InvalidRequestException"),
    "InvalidJson": (400, "InvalidRequestException"),
    "InvalidRequest": (400, "InvalidRequestException"),
    "InvalidStateTransition": (409, "InvalidStateTransitionException"),
    "VersionMismatch": (409, "InvalidStateTransitionException"),
    "ResourceNotFound": (404, "ResourceNotFoundException"),
    "TerminalStateReached": (410, "TerminalStateException"),
    "RequestThrottled": (429, "ThrottlingException"),
    "InternalError": (500, "InternalFailure"),
}
HTTP_AS_REJECTED = {
    "InvalidRequestException": "InvalidRequest",
    "InvalidStateTransitionException": "InvalidStateTransition",
    "ResourceNotFoundException": "ResourceNotFound",
    "TerminalStateException": "TerminalStateReached",
    "ThrottlingException": "RequestThrottled",
    "InternalFailure": "InternalError",
    "ServiceUnavailableException": "InternalError",
}


def rejected_error(operation: Operation, rejected: dict) -> ConnectorError:
    """The typed error for a `rejected` answer: the class the HTTPS API's error would have; `code` keeps the
    MQTT code the service sent (the one its documentation names). An InternalError of an operation that is not
    idempotent may have been carried out in part: outcome unknown, as HTTP 500 is over HTTPS."""
    code = rejected.get("code") if isinstance(rejected.get("code"), str) else None
    message = rejected.get("message") if isinstance(rejected.get("message"), str) else "the service refused it"
    status, http_code = REJECTED_AS_HTTP.get(code or "", (400, None))
    if code == "InternalError" and not operation.idempotent:
        return OutcomeUnknown(f"the request may have been carried out: the service answered InternalError "
                              f"({message}); it was not sent again", status=status, code=code)
    error = error_type_for(status, http_code)(message, status=status, code=code)
    state = rejected.get("executionState")
    if isinstance(state, dict):
        error.execution_state = state
    return error
