"""Sending a request: timeouts, bounded retries with full-jitter backoff, Retry-After, a size bound on
answers, no redirects, and the idempotency rule.

What is retried:
- always: 429 and throttling error codes, 503, and failures before the request left this machine
  (DNS, connection refused, connect timeout): the service never acted on it;
- only for idempotent operations: 500, 502, 504, read timeouts, connections reset or answers cut off
  after the request was sent, because the service may have acted on it already.
For an operation that is not idempotent, those ambiguous failures raise OutcomeUnknown: it is not
retryable, so no layer above (event retries, platform rebounds) sends the request again either.
Redirects are never followed: an AWS or token API does not redirect, and following one could carry the
Authorization header to another host or to plain HTTP. A 3xx is reported as an unexpected response.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter

from jobs_connector import __version__
from jobs_connector.base.errors import (
    IDEMPOTENT_RETRIED_STATUS,
    ConfigurationError,
    ConnectorError,
    NetworkError,
    OutcomeUnknown,
    Throttled,
    UnexpectedResponse,
    acted_unknown,
)
from jobs_connector.base.limits import MAX_DOCUMENT_BYTES
from jobs_connector.base.record import Record
from jobs_connector.http.protocols import HttpRequest, error_from_response
from jobs_connector.http.retry import RetryPolicy, parse_retry_after

ALWAYS_RETRIED_STATUS = frozenset({429, 503})
# What the proxy and CA-bundle settings of a request are made from (besides its scheme and host): when
# none of these changed, the settings are those worked out last time for the same scheme and host.
SETTINGS_ENVIRONMENT = ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                        *(f"{name}_proxy" for name in ("http", "https", "all", "no")),
                        *(f"{name}_PROXY" for name in ("HTTP", "HTTPS", "ALL", "NO")))
MAX_RESPONSE_BYTES = MAX_DOCUMENT_BYTES
READ_CHUNK_BYTES = 1024 * 1024


class Answer(Record):
    __slots__ = _fields = ("status", "headers", "content", "attempts")

    def __init__(self, status: int, headers: requests.structures.CaseInsensitiveDict, content: bytes,
                 attempts: int):
        self.status, self.headers, self.content, self.attempts = status, headers, content, attempts


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request provably did not reach the server (it cannot have acted on it)."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError)):
        return True  # a ProxyError: the proxy could not be reached or would not open the tunnel
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc)
        return any(mark in text for mark in ("NewConnectionError", "NameResolutionError", "Failed to resolve",
                                             "Connection refused", "No route to host", "Network is unreachable"))
    return False


def _host_and_port(url: str) -> str:
    """host:port of a URL for an error message (the port said even when it is the scheme's default)."""
    parts = requests.utils.urlparse(url)
    try:
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        port = None
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def _network_error(exc: requests.RequestException, url_host: str) -> NetworkError:
    text = repr(exc)
    if isinstance(exc, requests.exceptions.ProxyError):
        reason, kind = "the proxy (HTTPS_PROXY / HTTP_PROXY) could not be reached or refused the tunnel", "proxy"
    elif isinstance(exc, requests.exceptions.ConnectTimeout):
        reason, kind = "connecting timed out", "connect-timeout"
    elif isinstance(exc, requests.exceptions.ReadTimeout):
        reason, kind = "the service did not answer in time", "read-timeout"
    elif "NameResolutionError" in text or "Failed to resolve" in text or "Name or service not known" in text:
        reason, kind = "the host name could not be resolved", "dns"
    elif "Connection refused" in text:
        reason, kind = "the connection was refused: nothing listens on that port", "refused"
    elif "Network is unreachable" in text or "No route to host" in text:
        reason, kind = "the network is unreachable (no route to the host)", "unreachable"
    elif isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)):
        reason, kind = "the answer stopped half-way", "truncated"
    elif isinstance(exc, requests.exceptions.SSLError):
        reason, kind = "the TLS certificate could not be verified", "tls"
    else:
        reason, kind = "the connection failed or was reset", "reset"
    error = NetworkError(f"{reason} ({url_host})", code=kind)
    if kind == "tls":
        error.retryable = False
    return error


def _outcome_unknown(request: HttpRequest, cause: ConnectorError) -> OutcomeUnknown:
    """The request left and may have been carried out, but no answer says so (see the module doc)."""
    if cause.status:
        what = f"it answered HTTP {cause.status}" + (f" {cause.code}" if cause.code else "") + f" ({cause.message})"
    else:
        what = cause.message
    return OutcomeUnknown(f"the request may have been carried out: it reached the service, then {what}; "
                          "it was not sent again", status=cause.status, code=cause.code, request_id=cause.request_id)


def _headers_cut_off(response: requests.Response) -> bool:
    """True when the header block ended without its blank line (the connection closed in the middle of
    it): urllib3 only logs that, and would hand over an empty body as if the answer were complete."""
    original = getattr(response.raw, "_original_response", None)
    defects = getattr(getattr(original, "msg", None), "defects", None) or ()
    return any(type(defect).__name__ == "MissingHeaderBodySeparatorDefect" for defect in defects)


class Transport:
    """One pool of kept-alive HTTP connections (requests' adapter) shared by all calls of a process; safe to
    use from many threads."""

    def __init__(self, *, policy: RetryPolicy | None = None, connect_timeout: float = 5.0,
                 read_timeout: float = 30.0, max_response_bytes: int = MAX_RESPONSE_BYTES,
                 sleep: Callable[[float], None] | None = None, rng: Callable[[], float] = random.random,
                 monotonic: Callable[[], float] = time.monotonic, pool_size: int = 16):
        self.policy = policy or RetryPolicy()
        self.timeout = (connect_timeout, read_timeout)
        self.max_response_bytes = max_response_bytes
        self.sleep, self.rng, self.monotonic = sleep, rng, monotonic
        # One pool of kept-alive connections for every thread (urllib3's pools are thread-safe).
        self._adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_size, max_retries=0)
        self._headers = requests.utils.default_headers()
        self._headers["User-Agent"] = f"jobs-connector/{__version__} {self._headers['User-Agent']}"
        self._settings_cache: dict[tuple, dict] = {}
        self._prepared_urls: dict[str, str] = {}

    def prepare(self, request: HttpRequest, auth) -> requests.PreparedRequest:
        """The request with our default headers, signed by `auth`. Built directly rather than through
        Session.prepare_request, whose setting merges cost more than the rest of the call's Python: no
        cookie is carried from one call to the next (none of the APIs sets any) and no .netrc is read
        (every call has its own auth)."""
        prepared = requests.PreparedRequest()
        prepared.prepare_method(request.method)
        url = self._prepared_urls.get(request.url)
        if url is None:  # requests' URL checks and IDNA/percent-encoding: a function of the URL alone
            prepared.prepare_url(request.url, None)
            if len(self._prepared_urls) >= 256:  # a bound, for a process calling very many URLs
                self._prepared_urls.clear()
            self._prepared_urls[request.url] = prepared.url
        else:
            prepared.url = url
        headers = self._headers.copy()
        headers.update(request.headers)
        prepared.prepare_headers(headers)
        prepared.prepare_body(request.body, None, None)
        prepared.prepare_auth(auth, request.url)
        return prepared

    def _settings(self, url: str) -> dict:
        """Proxies (HTTPS_PROXY, NO_PROXY, ...) and the CA bundle: AWS_CA_BUNDLE, else REQUESTS_CA_BUNDLE /
        CURL_CA_BUNDLE, else the system's. Verification itself is never turned off. Worked out here, once
        per scheme, host and value of the variables they come from: requests' Session, which would scan
        every variable twice a call, is not used to send."""
        scheme, _, rest = url.partition("://")
        key = (scheme, rest.split("/", 1)[0], *map(os.environ.get, SETTINGS_ENVIRONMENT))
        settings = self._settings_cache.get(key)
        if settings is None:
            verify = (os.environ.get("AWS_CA_BUNDLE") or os.environ.get("REQUESTS_CA_BUNDLE")
                      or os.environ.get("CURL_CA_BUNDLE") or True)
            settings = {"proxies": requests.utils.get_environ_proxies(url), "verify": verify, "cert": None}
            if len(self._settings_cache) >= 64:  # a bound, for a process calling very many hosts
                self._settings_cache.clear()
            self._settings_cache[key] = settings
        bundle = settings["verify"]
        if isinstance(bundle, str) and not os.path.exists(bundle):
            source = "AWS_CA_BUNDLE" if os.environ.get("AWS_CA_BUNDLE") else next(
                (name for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(name) == bundle),
                "REQUESTS_CA_BUNDLE")
            raise ConfigurationError(f"{source} names a CA bundle that does not exist: {bundle}",
                                     field=source, rule="file")
        return {**settings, "proxies": dict(settings["proxies"])}  # a copy: requests may add to it

    def _read(self, response: requests.Response) -> bytes:
        if _headers_cut_off(response):
            raise requests.exceptions.ChunkedEncodingError("the answer's header block was cut off")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            response.close()
            raise self._too_large(response)
        if response._content_consumed:  # read already (a mocked answer)
            content = response.content or b""
            if len(content) > self.max_response_bytes:
                raise self._too_large(response)
            return content
        # Read once, in large pieces (a small answer in one), stopping at the bound; requests is then
        # told the answer is read, so nothing reads or copies it a second time.
        chunks, size = [], 0
        for chunk in response.iter_content(READ_CHUNK_BYTES):
            size += len(chunk)
            if size > self.max_response_bytes:
                response.close()
                raise self._too_large(response)
            chunks.append(chunk)
        content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        response._content, response._content_consumed = content, True
        return content

    def _too_large(self, response: requests.Response) -> UnexpectedResponse:
        return UnexpectedResponse(f"the answer is larger than the {self.max_response_bytes}-byte bound",
                                  status=response.status_code)

    def send(self, request: HttpRequest, auth, *, protocol: str, idempotent: bool,
             retry_unreachable: bool = True, observer=None, timeout: tuple[float, float] | None = None) -> Answer:
        started = self.monotonic()
        host = _host_and_port(request.url)
        attempt = 0
        while True:
            attempt += 1
            prepared = self.prepare(request, auth)  # signed afresh each attempt: X-Amz-Date moves on
            if observer:
                observer.request(prepared, attempt)
            error: ConnectorError
            try:
                # Straight to the adapter: Session.send only adds what we do not use (hooks, cookies,
                # redirects, which are never followed), at a tenth of the call's own time.
                response = self._adapter.send(prepared, stream=True, timeout=timeout or self.timeout,
                                              **self._settings(prepared.url))
                try:
                    content = self._read(response)
                finally:
                    response.close()
            except UnexpectedResponse as exc:  # larger than the bound
                exc.attempts = attempt
                raise
            except requests.RequestException as exc:
                error = _network_error(exc, host)
                never_sent = _never_sent(exc)
                may_retry = error.retryable and (idempotent or never_sent)
                if error.code in ("dns", "refused", "unreachable", "connect-timeout") and not retry_unreachable:
                    may_retry = False
                if error.retryable and not idempotent and not never_sent:
                    error = _outcome_unknown(request, error)
            else:
                if observer:
                    observer.response(response.status_code, response.headers, content, attempt)
                if response.status_code < 300:
                    return Answer(response.status_code, response.headers, content, attempt)
                if response.status_code < 400:
                    redirect = UnexpectedResponse(
                        f"the service answered with a redirect (HTTP {response.status_code}), which is not followed",
                        status=response.status_code)
                    redirect.attempts = attempt
                    raise redirect
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = error_from_response(protocol, response.status_code, response.headers, content,
                                            retry_after=retry_after)
                status = response.status_code
                may_retry = error.retryable and (
                    idempotent or status in ALWAYS_RETRIED_STATUS or isinstance(error, Throttled))
                if status in IDEMPOTENT_RETRIED_STATUS and not idempotent:
                    may_retry = False
                if acted_unknown(status, type(error), idempotent):  # it failed mid-way: it may have acted
                    error = _outcome_unknown(request, error)
            error.attempts = attempt
            # A longer pause than we wait in-call (Retry-After over max_delay) ends the call: rebound later.
            decision = self.policy.decide(attempt, retryable=may_retry, retry_after=error.retry_after,
                                          elapsed=self.monotonic() - started, rng=self.rng)
            if decision.delay is None:
                raise error
            delay = decision.delay
            if observer:
                observer.retry(error, delay, attempt)
            (self.sleep or time.sleep)(delay)  # looked up per call so tests can stub time.sleep
