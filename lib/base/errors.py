"""One error hierarchy for every service: what went wrong, and whether trying again can help.

Each error carries the HTTP status, the service's own error code, the request id and `retryable`,
and knows the CLI exit code it maps to (2 bad input, 3 rejected by the service, 4 retryable/network).
"""

from __future__ import annotations

EXIT_INTERNAL = 1  # a bug of ours, not the input's or the service's
EXIT_BAD_INPUT = 2
EXIT_REJECTED = 3
EXIT_RETRYABLE = 4
EXIT_OUTCOME_UNKNOWN = 5

# How much of a service's text an error keeps, counted after its secrets are scrubbed (Redactor.clip).
MESSAGE_LIMIT = 500
CODE_LIMIT = 200  # the service's error code and request id

# Server failures after which the service may have acted: retried only for idempotent operations, and an
# unknown outcome for the others (lib/http/transport.py; `describe` says so per action without loading HTTP).
IDEMPOTENT_RETRIED_STATUS = frozenset({500, 502, 504})


class ConnectorError(Exception):
    """Base of every error the connector reports on purpose (never shown as a traceback)."""

    retryable = False
    exit_code = EXIT_REJECTED
    attempts = 0  # how many requests were sent before giving up (0: none)

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 request_id: str | None = None, retryable: bool | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict:
        """The error as the body of an emitted error message (never contains secrets)."""
        out = {"type": self.type_name, "message": self.message, "retryable": self.retryable}
        for key in ("status", "code", "request_id", "attempts"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def describe(self) -> str:
        """One line for stderr: type, status, code, request id, message."""
        parts = [self.type_name]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(self.code)
        if self.request_id:
            parts.append(f"request-id {self.request_id}")
        return f"{' | '.join(parts)}: {self.message}"


class BadInput(ConnectorError):
    """The input or configuration was refused before any request was sent."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, *, field: str | None = None, rule: str | None = None, **kw):
        super().__init__(message, **kw)
        self.field = field
        self.rule = rule

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.field is not None:
            out["field"] = self.field
        if self.rule is not None:
            out["rule"] = self.rule
        return out


class ConfigurationError(BadInput):
    """Credentials, region or endpoint are missing or unusable."""


class RequestRejected(ConnectorError):
    """The service answered with a 4xx that trying again will not fix."""


class AuthError(RequestRejected):
    """Credentials were refused (401/403, bad signature, expired token)."""


class NotFound(RequestRejected):
    """The thing, job or resource does not exist (404)."""


class Conflict(RequestRejected):
    """Conflict or invalid state: version mismatch, illegal transition, terminal state (409/410)."""


class Throttled(ConnectorError):
    """Too many requests (429 or a throttling error code)."""

    retryable = True
    exit_code = EXIT_RETRYABLE


class ServiceUnavailable(ConnectorError):
    """The service failed on its side (5xx)."""

    retryable = True
    exit_code = EXIT_RETRYABLE


class NetworkError(ConnectorError):
    """The service could not be reached or did not answer in time."""

    retryable = True
    exit_code = EXIT_RETRYABLE


class ServiceRetired(NetworkError):
    """The provider has shut the service down; no retry can help."""

    retryable = False


class OutcomeUnknown(ConnectorError):
    """A request that is not safe to repeat may have reached the service, and no answer says what it did
    (read timeout, reset or close after sending, a cut-off answer, a 5xx without a modelled error code).

    No layer sends it again (not the transport, not event retries, not a platform rebound): a second
    reboot or OTA job is worse than a question. `check_with` names the action that shows what happened."""

    retryable = False
    exit_code = EXIT_OUTCOME_UNKNOWN

    def __init__(self, message: str, *, check_with: str | None = None, **kw):
        super().__init__(message, **kw)
        self.check_with = check_with

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["outcome"] = "unknown"
        if self.check_with:
            out["check_with"] = self.check_with
        return out


class UnexpectedResponse(ConnectorError):
    """The answer was not what the API promises (not JSON, too large, wrong shape, a redirect)."""


# Error codes that decide the type whatever the HTTP status says.
_CODE_TYPES = {
    "ThrottlingException": Throttled,
    "Throttling": Throttled,
    "TooManyRequestsException": Throttled,
    "RequestLimitExceeded": Throttled,
    "LimitExceededException": Throttled,
    "ProvisionedThroughputExceededException": Throttled,
    # The rest of botocore's throttling codes (botocore.retries.standard), so none is reported as a rejection.
    "ThrottledException": Throttled,
    "RequestThrottledException": Throttled,
    "RequestThrottled": Throttled,
    "TransactionInProgressException": Throttled,
    "BandwidthLimitExceeded": Throttled,
    "SlowDown": Throttled,
    "PriorRequestNotComplete": Throttled,
    "EC2ThrottledException": Throttled,
    "AccessDeniedException": AuthError,
    "UnrecognizedClientException": AuthError,
    "InvalidSignatureException": AuthError,
    "ExpiredTokenException": AuthError,
    "IncompleteSignature": AuthError,
    "MissingAuthenticationTokenException": AuthError,
    "InvalidClientTokenId": AuthError,
    "CertificateValidationException": AuthError,
    "InvalidClientTokenException": AuthError,  # CodePipeline: not the client token of this job's partner
    "ResourceNotFoundException": NotFound,
    "JobNotFoundException": NotFound,
    "ActionTypeNotFoundException": NotFound,
    "ConflictException": Conflict,
    "InvalidStateTransitionException": Conflict,
    "TerminalStateException": Conflict,
    "InvalidJobStateException": Conflict,
    "InvalidNonceException": Conflict,  # CodePipeline: another worker holds the job, or a stale nonce
    "ServiceUnavailableException": ServiceUnavailable,
    "InternalServerException": ServiceUnavailable,
    "InternalFailure": ServiceUnavailable,
}


def acted_unknown(status: int, error_type: type[ConnectorError], idempotent: bool) -> bool:
    """A server failure of a call that is not safe to repeat: the service may have acted before failing,
    so the outcome is unknown (a throttling answer says it did not act). The transport reports it so;
    `describe` and docs/actions.md say so per error code."""
    return status in IDEMPOTENT_RETRIED_STATUS and not idempotent and not issubclass(error_type, Throttled)


def error_type_for(status: int, code: str | None) -> type[ConnectorError]:
    """The error class for an HTTP error answer: the service's code first, then the status."""
    if code in _CODE_TYPES:
        return _CODE_TYPES[code]
    if code and code.endswith(("NotFoundException", "NotFound")):
        # json-1.1 services answer 400 to every client error: the code alone says "not found"
        # (CodePipeline's ActionTypeNotFoundException, PipelineNotFoundException, ...).
        return NotFound
    if status == 429:
        return Throttled
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFound
    if status in (409, 410, 412):
        return Conflict
    if status >= 500:
        return ServiceUnavailable
    return RequestRejected
