"""verifyCredentials: one cheap, signed call per configured service, through the same runtime as a step.

Each probe asks for something that cannot exist (a job of a thing named for the purpose, a job id of
zeros) or for one item of a list. The answer says what is wrong:
- an answer, or "not found": the service took the credentials (verified);
- refused credentials (bad key or signature, expired token, 401): a bad key;
- "access denied": the key is valid but its policy does not allow the probe: verified, with a warning,
  since a policy limited to certain things or jobs can refuse a made-up one;
- no region, a malformed region or endpoint (ConfigurationError), or an endpoint that cannot be reached
  (DNS, refused, timeout, TLS): a bad region or endpoint;
- an answer that is not the API's (wrong endpoint), throttling or an outage: not verified, with the reason.

A service counts as configured when one of its credential fields is filled in. A service whose actions are
not part of this build is reported as not available instead of being probed. The AWS keys are probed on
IoT Jobs and CodePipeline; Panorama, retired by AWS, is not probed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs_connector.base.errors import (
    AuthError,
    BadInput,
    ConfigurationError,
    ConnectorError,
    NetworkError,
    NotFound,
    ServiceRetired,
    Throttled,
    UnexpectedResponse,
)
from jobs_connector.component.registry import component, get_action
from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime
from jobs_connector.validation import validate_input

AWS_FIELDS = ("accessKeyId", "secretAccessKey", "sessionToken", "region", "endpoint")
PROBE_NAME = "jobs-connector-verify-credentials"


@dataclass(frozen=True)
class Probe:
    service: str
    title: str
    action: str
    bodies: tuple  # candidate inputs: the first one the action's schema accepts is sent
    fields: tuple  # the credential fields that make this service "configured"
    ok_codes: frozenset = frozenset()  # service error codes that prove the credentials were accepted


PROBES = (
    Probe("iot-jobs-data", "AWS IoT Jobs", "iot-jobs-data.DescribeJobExecution",
          ({"thingName": PROBE_NAME, "jobId": PROBE_NAME},), AWS_FIELDS),
    Probe("codepipeline", "AWS CodePipeline", "codepipeline.GetThirdPartyJobDetails",
          ({"jobId": "00000000-0000-0000-0000-000000000000", "clientToken": PROBE_NAME},), AWS_FIELDS,
          frozenset({"JobNotFoundException", "InvalidJobException", "InvalidClientTokenException"})),
    Probe("spaceone", "SpaceONE", "spaceone.ListJobs",
          ({"query": {"page": {"start": 1, "limit": 1}}}, {"limit": 1}, {}), ("spaceoneEndpoint", "spaceoneApiKey")),
    Probe("embedthis", "EmbedThis Builder", "embedthis.FindClouds",
          ({"limit": 1}, {}), ("embedthisEndpoint", "embedthisToken")),
)

# One page, one request: a probe never walks a whole list.
PROBE_CFG = {"emitBehaviour": "fetchPage", "maxPages": 1}


@dataclass
class Check:
    service: str
    action: str
    ok: bool
    outcome: str  # verified | warning | bad-credentials | bad-endpoint | unavailable | not-available | failed
    detail: str

    def as_dict(self) -> dict:
        return {"service": self.service, "action": self.action, "ok": self.ok, "outcome": self.outcome,
                "detail": self.detail}


def configured(probe: Probe, cfg: Mapping) -> bool:
    return any(cfg.get(name) not in (None, "") for name in probe.fields)


def _probe_body(action_key: str, bodies: tuple) -> dict:
    action = get_action(action_key)
    last: BadInput | None = None
    for body in bodies:
        try:
            validate_input(action.in_schema, body)
            return body
        except BadInput as exc:
            last = exc
    raise BadInput(f"no probe input fits {action_key}'s schema ({last.message if last else 'none'})")


def classify(probe: Probe, exc: ConnectorError) -> Check:
    """What a failed probe says about the credentials."""
    op = probe.action.split(".", 1)[1]
    code = f" ({exc.code})" if exc.code else ""
    if isinstance(exc, NotFound) or (exc.code and exc.code in probe.ok_codes):
        return Check(probe.service, probe.action, True, "verified",
                     f"{probe.title} accepted the credentials: the probe for a made-up resource was answered "
                     f"not found{code}")
    if isinstance(exc, AuthError) and exc.code == "AccessDeniedException":
        return Check(probe.service, probe.action, True, "warning",
                     f"{probe.title} accepted the key, but its policy does not allow {op} on a made-up resource "
                     "(AccessDeniedException): make sure it allows the actions you use")
    if isinstance(exc, AuthError):
        return Check(probe.service, probe.action, False, "bad-credentials",
                     f"{probe.title} refused the credentials{code}: check the key, secret or token")
    if isinstance(exc, ConfigurationError):
        return Check(probe.service, probe.action, False, "bad-endpoint" if exc.field in (
            "region", "endpoint", "spaceoneEndpoint", "embedthisEndpoint") else "bad-credentials",
            f"{probe.title}: {exc.message}")
    if isinstance(exc, ServiceRetired):
        return Check(probe.service, probe.action, False, "unavailable", f"{probe.title}: {exc.message}")
    if isinstance(exc, NetworkError):
        return Check(probe.service, probe.action, False, "bad-endpoint",
                     f"{probe.title} could not be reached: {exc.message}; check the region or endpoint")
    if isinstance(exc, UnexpectedResponse):
        return Check(probe.service, probe.action, False, "bad-endpoint",
                     f"{probe.title}: the endpoint did not answer like the API ({exc.message}); check the endpoint")
    if isinstance(exc, Throttled) or exc.retryable:
        return Check(probe.service, probe.action, False, "unavailable",
                     f"{probe.title} could not answer right now{code}: {exc.message}; try again later")
    return Check(probe.service, probe.action, False, "failed", f"{probe.title} refused the probe{code}: {exc.message}")


def run_probe(probe: Probe, cfg: Mapping, runtime) -> Check:
    if probe.action not in component()["actions"]:
        return Check(probe.service, probe.action, False, "not-available",
                     f"{probe.title}: this build has no {probe.service} actions to verify with")
    try:
        body = _probe_body(probe.action, probe.bodies)
        for _message in runtime.run(probe.action, body, {**cfg, **PROBE_CFG}):
            break
    except ConnectorError as exc:
        return classify(probe, exc)
    return Check(probe.service, probe.action, True, "verified", f"{probe.title} accepted the credentials")


def verify_credentials(cfg: Mapping, runtime=None) -> dict:
    """{"verified": bool, "reason": str (when not verified), "checks": [...]}, as the platform expects."""
    if runtime is None:
        # Quick answers: the person is waiting at the credentials form.
        runtime = Runtime(Transport(policy=RetryPolicy(max_attempts=2, total_budget=20.0), read_timeout=15.0))
    checks = [run_probe(p, cfg, runtime) for p in PROBES if configured(p, cfg)]
    available = [c for c in checks if c.outcome != "not-available"]
    result: dict = {"verified": bool(available) and all(c.ok for c in available),
                    "checks": [c.as_dict() for c in checks]}
    if not checks:
        result["reason"] = ("no credentials entered: fill in the AWS keys and region, the SpaceONE endpoint and "
                            "API key, or the EmbedThis endpoint and token")
    elif not available:
        result["reason"] = "; ".join(c.detail for c in checks)
    elif not result["verified"]:
        result["reason"] = "; ".join(c.detail for c in available if not c.ok)
    return result
