"""The runtime, once for every action:

message body + config -> validate input -> bind to HTTP -> sign -> send (retry, timeout)
-> map errors -> parse / page -> note drift -> emitted message bodies.

A 2xx answer is the service's word: it is emitted as sent. Where it differs from the output schema (a new
enum value, a longer string, a missing or an extra member) the runtime warns (`warn`, else the log);
only what the runtime itself relies on (a JSON object, the paging cursor and the items list) can fail it.

`Runtime.run` yields message bodies and raises typed errors; `process` wraps it in elastic.io message
semantics (data, error, rebound) for the platform runner and the webhook workers.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import urlsplit

from jobs_connector.auth import chain
from jobs_connector.auth.endpoints import resolve_aws_endpoint, resolve_region
from jobs_connector.auth.keys import AwsCredentials, CredentialCache
from jobs_connector.auth.sigv4 import RefreshingSigV4, SigV4, TokenAuth
from jobs_connector.base.errors import (
    CODE_LIMIT,
    MESSAGE_LIMIT,
    ConnectorError,
    NetworkError,
    OutcomeUnknown,
    ServiceRetired,
)
from jobs_connector.base.record import Record
from jobs_connector.base.redact import Redactor, redact_by_schema, secret_values
from jobs_connector.component.answers import point_to_check, warn_of_drift
from jobs_connector.component.paging import emit_settings, get_path
from jobs_connector.component.registry import Action, get_action
from jobs_connector.http.binding import binding_of
from jobs_connector.http.protocols import HttpRequest
from jobs_connector.http.timeouts import step_timeout
from jobs_connector.http.transport import Transport
from jobs_connector.mqtt.settings import wants_mqtt
from jobs_connector.validation import validate_input

log = logging.getLogger("jobs_connector")


class Target(Record):
    """Where and how one call is sent: the service, its base URL, the request signer and the secrets to hide."""

    __slots__ = _fields = ("base_url", "auth", "secrets", "service", "timeout")

    def __init__(self, base_url: str, auth: object, secrets: list[str], service: object = None,
                 timeout: tuple[float, float] | None = None):
        # service: AwsService | TokenService; timeout: (connect, read) seconds, None: the transport's
        self.base_url, self.auth, self.secrets, self.service, self.timeout = base_url, auth, secrets, service, timeout


class Trace:
    """--verbose: each request, answer and retry on stderr, every secret redacted."""

    def __init__(self, write: Callable[[str], None], redactor: Redactor, out_schema: dict):
        self.write, self.redactor, self.out_schema = write, redactor, out_schema

    def request(self, prepared, attempt: int) -> None:
        lines = [f"> {prepared.method} {prepared.url}  (attempt {attempt})"]
        lines += [f"> {k}: {v}" for k, v in self.redactor.headers(prepared.headers).items()]
        if prepared.body:
            lines.append(f"> {self.redactor.clip(prepared.body, BODY_LIMIT)}")
        self.write(self.redactor.scrub("\n".join(lines)))

    def response(self, status: int, headers, content: bytes, attempt: int) -> None:
        try:
            data = json.loads(content) if content else None
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            self.redactor.add(*secret_values(data, self.out_schema))
            shown = json.dumps(redact_by_schema(data, self.out_schema))
        else:
            shown = content
        lines = [f"< HTTP {status}"] + [f"< {k}: {v}" for k, v in self.redactor.headers(headers).items()]
        if shown:
            lines.append(f"< {self.redactor.clip(shown, BODY_LIMIT)}")
        self.write(self.redactor.scrub("\n".join(lines)))

    def retry(self, error: ConnectorError, delay: float, attempt: int) -> None:
        failure = self.redactor.clip(error.describe(), MESSAGE_LIMIT)
        self.write(f"! attempt {attempt} failed ({failure}); retrying in {delay:.2f}s")


BODY_LIMIT = 4000  # characters of a request or answer body shown by --verbose, after scrubbing


class Runtime:
    def __init__(self, transport: Transport | None = None, environ: Mapping | None = None, clock=None):
        self.transport = transport or Transport()
        self.environ = os.environ if environ is None else environ
        self.clock = clock
        # Expiring credentials (credential_process), shared by every call and thread of this runtime.
        self.credential_cache = CredentialCache(**({"clock": clock} if clock else {}))

    # -- where a call goes and how it is signed --------------------------------------------------

    def target(self, action: Action, cfg: Mapping, body: dict | None = None) -> Target:
        target = self._target(action, cfg, body)
        target.timeout = step_timeout(cfg, action.spec("READ_TIMEOUT"), self.transport.timeout)
        return target

    def _target(self, action: Action, cfg: Mapping, body: dict | None) -> Target:
        binding = binding_of(action)  # an action may pick its service per call (http.Request)
        service = binding.service(body or {})
        if service.auth == "sigv4":
            def current() -> AwsCredentials:
                return chain.resolve_aws_credentials(cfg, self.environ, self.credential_cache)

            signing = binding.signing(body or {})
            aws = current()
            region = signing.region or resolve_region(cfg, self.environ)
            name = signing.name or service.signing_name
            base = resolve_aws_endpoint(service, cfg, region, self.environ)
            clock = {"clock": self.clock} if self.clock else {}
            if aws.expires_at is None:
                signer = SigV4(aws, region, name, **clock)
            else:  # checked again before each request is signed
                signer = RefreshingSigV4(aws, current, region, name, **clock)
            return Target(base, signer, aws.secrets(), service)
        token = chain.resolve_token(service, cfg, self.environ)
        return Target(token.base_url, TokenAuth(token), token.secrets(), service)

    @staticmethod
    def request_for(action: Action, body: dict, base_url: str) -> HttpRequest:
        return binding_of(action).request(body, base_url)

    def redactor_for(self, action: Action, body: dict, target: Target | None = None) -> Redactor:
        redactor = Redactor(target.secrets if target else ())
        redactor.add(*secret_values(body, action.in_schema))
        if target and isinstance(target.auth, RefreshingSigV4):  # credentials renewed mid-call are secrets too
            target.auth.on_credentials = lambda fresh: redactor.add(*fresh.secrets())
        return redactor

    def prepare_input(self, action: Action, body) -> dict:
        validate_input(action.in_schema, body)
        token_member = action.spec("IDEMPOTENCY_TOKEN")
        if token_member and token_member not in body:
            # As the AWS SDKs do: a fresh token makes the call safe to retry.
            import uuid  # only for an action with an idempotency token: 2 ms at start

            body = {**body, token_member: str(uuid.uuid4())}
        return body

    # -- one request ------------------------------------------------------------------------------

    def call(self, action: Action, body: dict, target: Target, redactor: Redactor, observer=None,
             warn: Callable[[str], None] | None = None) -> dict:
        binding = binding_of(action)
        request = binding.request(body, target.base_url)
        # An action that binds its own request says per call (http.Request: GET and HEAD only).
        idempotent = binding.idempotent(body)
        service = target.service or action.service
        retired_on = getattr(service, "retired_on", None)
        answer = None
        try:
            answer = self.transport.send(request, target.auth, protocol=service.protocol,
                                         idempotent=idempotent, retry_unreachable=not retired_on,
                                         observer=observer, timeout=target.timeout)
            page, integral_floats = binding.answer(body, answer)
            # Known before anything is said about the answer: no warning or error may quote its secrets.
            redactor.add(*secret_values(page, action.out_schema))
            paging = action.spec("PAGING")
            if paging:
                paging.check(page)
            warn_of_drift(action, page, integral_floats, redactor, warn or log.warning)
        except OutcomeUnknown as exc:
            point_to_check(action, exc)
            raise
        except NetworkError as exc:
            if retired_on and exc.code in ("dns", "refused", "unreachable", "connect-timeout"):
                host = urlsplit(request.url).hostname
                retired = ServiceRetired(
                    f"{service.name} was retired by AWS on {retired_on}: its endpoint {host} "
                    f"cannot be reached ({exc.message.split(' (')[0]})", code="ServiceRetired")
                retired.attempts = exc.attempts
                raise retired from None
            raise
        except ConnectorError as exc:  # a whole answer came, but not what the API promises
            if answer is not None and not exc.attempts:
                exc.attempts = answer.attempts
            raise
        return page

    # -- the whole step ---------------------------------------------------------------------------

    def run(self, key: str, body, cfg: Mapping | None = None, *, trace: Callable[[str], None] | None = None,
            progress: Callable[[int, int], None] | None = None,
            page_limit: Callable[[int], None] | None = None,
            warn: Callable[[str], None] | None = None) -> Iterator[dict]:
        """Yield each emitted message body; raise a ConnectorError (secrets scrubbed) on failure.

        progress(pages, items) is called after each page of a list action; page_limit(pages) once when
        the page limit (maxPages) stopped a listing that had more pages; warn(text) for each way an answer
        differs from the documented shape (scrubbed; the log when warn is None)."""
        cfg = cfg or {}
        action = get_action(key)
        redactor = Redactor()
        try:
            body = self.prepare_input(action, body)
            mqtt = _over_mqtt(action, cfg)
            if mqtt:  # IoT Jobs over MQTT (lib/mqtt/): same input, same output
                redactor = self.redactor_for(action, body)
                yield mqtt.run(self, action, body, cfg, redactor, warn, log)
                return
            paging = action.spec("PAGING")
            behaviour, max_pages = emit_settings(cfg) if paging else ("fetchPage", 1)
            target = self.target(action, cfg, body)
            redactor = self.redactor_for(action, body, target)
            observer = Trace(trace, redactor, action.out_schema) if trace else None
            if not paging:
                yield self.call(action, body, target, redactor, observer, warn)
                return
            yield from self._pages(action, paging, body, target, redactor, observer, behaviour, max_pages,
                                   progress, page_limit, warn)
        except ConnectorError as exc:
            # Scrub, then cut: the message arrives whole, so no secret straddles the cut.
            exc.message = redactor.clip(exc.message, MESSAGE_LIMIT)
            exc.args = (exc.message,)
            if isinstance(exc.code, str):  # the service's code is its text too: it could echo a secret
                exc.code = redactor.clip(exc.code, CODE_LIMIT)
            if isinstance(exc.request_id, str):  # so is the request id it sends back
                exc.request_id = redactor.clip(exc.request_id, CODE_LIMIT)
            raise

    def _pages(self, action, paging, body, target, redactor, observer, behaviour, max_pages, progress, page_limit,
               warn):
        request_body = paging.first_body(body) if hasattr(paging, "first_body") else body
        # `fetched` counts requests; `pages` keeps them only for fetchAll (emitIndividually keeps none).
        pages, seen, fetched = [], 0, 0
        while True:
            page = self.call(action, request_body, target, redactor, observer, warn)
            fetched += 1
            items = get_path(page, paging.items) or []
            seen += len(items)
            if progress:
                progress(fetched, seen)
            if behaviour == "fetchPage":
                yield page
                return
            next_body = paging.next_body(request_body, page, seen)
            more = next_body is not None and fetched < max_pages
            if behaviour == "emitIndividually":
                yield from items
            else:
                pages.append(page)
            if not more:
                if next_body is not None and page_limit:
                    page_limit(fetched)
                if behaviour == "fetchAll":
                    yield paging.merge(pages, next_body is not None)
                return
            request_body = next_body

    def dry_run(self, key: str, body, cfg: Mapping | None = None) -> dict:
        """The signed request as it would be sent, with every secret redacted; nothing is sent."""
        action = get_action(key)
        body = self.prepare_input(action, body)
        mqtt = _over_mqtt(action, cfg or {})
        if mqtt:
            return mqtt.dry_run(action, body, cfg or {}, self.environ)
        paging = action.spec("PAGING")
        if paging and hasattr(paging, "first_body"):
            body = paging.first_body(body)
        target = self.target(action, cfg or {}, body)
        redactor = self.redactor_for(action, body, target)
        prepared = self.transport.prepare(self.request_for(action, body, target.base_url), target.auth)
        shown_body = None
        if prepared.body:
            text = prepared.body.decode("utf-8") if isinstance(prepared.body, bytes) else prepared.body
            try:
                shown_body = redact_by_schema(json.loads(text), action.in_schema)
            except ValueError:
                shown_body = redactor.scrub(text)
        return json.loads(redactor.scrub(json.dumps({
            "method": prepared.method, "url": prepared.url,
            "headers": redactor.headers(prepared.headers), "body": shown_body,
        })))


def _over_mqtt(action: Action, cfg: Mapping):
    """The MQTT client module when this call goes over MQTT (an IoT Jobs data-plane action with `transport: mqtt`),
    else None."""
    if getattr(action.service, "name", None) != "iot-jobs-data" or not wants_mqtt(cfg):
        return None
    from jobs_connector.mqtt import jobs_client  # only for such a call: it loads uuid, hashlib and paho's wrapper

    return jobs_client


_default_runtime: Runtime | None = None


def default_runtime() -> Runtime:
    global _default_runtime
    if _default_runtime is None:
        _default_runtime = Runtime()
    return _default_runtime


def process(key: str, msg: Mapping, cfg: Mapping, emit: Callable[[str, dict], None],
            runtime: Runtime | None = None) -> None:
    """elastic.io semantics: emit('data', {'body': ...}) per message, then 'end'; on failure
    'rebound' for a retryable error or 'error' otherwise (the error's dict, secrets scrubbed)."""
    runtime = runtime or default_runtime()
    try:
        for body in runtime.run(key, (msg or {}).get("body", {}), cfg):
            emit("data", {"body": body})
    except ConnectorError as exc:
        emit("rebound" if exc.retryable else "error", exc.to_dict())
    emit("end", {})
