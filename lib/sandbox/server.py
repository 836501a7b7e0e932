"""The sandbox's HTTP server: one port on 127.0.0.1 for all five APIs, told apart as the real ones are.

- AWS: a SigV4 Authorization header; its credential scope names the service (iot-jobs-data, iot, panorama,
  codepipeline), and CodePipeline's json-1.1 operations are named by X-Amz-Target. The signature is
  verified before anything else; an unsigned request to an AWS path is MissingAuthenticationTokenException.
- SpaceONE: POST /identity/..., EmbedThis: POST /cloud/...; both need a non-empty bearer token.
Every answer carries x-amzn-RequestId (and x-request-id for the token APIs).
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jobs_connector.auth.keys import AwsCredentials
from jobs_connector.component.services import SERVICES as CONNECTOR_SERVICES
from jobs_connector.sandbox import (
    admin,
    codepipeline,
    constraints,
    embedthis,
    iot,
    iot_jobs_data,
    panorama,
    spaceone,
)
from jobs_connector.sandbox import (
    signature_check as sigv4,
)
from jobs_connector.sandbox.defaults import DEFAULT_PORT, DEFAULT_REGION, MAX_BODY_BYTES, SANDBOX_TOKEN
from jobs_connector.sandbox.http_head import HeadError, parse_request_line, read_headers
from jobs_connector.sandbox.signature_check import sandbox_credentials
from jobs_connector.sandbox.state import Store
from jobs_connector.sandbox.wire import CONTENT_TYPES, ApiError, Reply, Request, error_reply

HOST = "127.0.0.1"  # loopback only: the sandbox is a development tool, never a network service
HEALTH_PATH = "/_sandbox/health"
AWS_SERVICES = {m.NAME: m for m in (iot_jobs_data, iot, panorama, codepipeline)}
TOKEN_SERVICES = (("/identity/", spaceone), ("/cloud/", embedthis))
AWS_PATHS = ("/things/", "/command-executions", "/jobs", "/job-templates")
INTERNAL_ERROR = {"rest-json": "InternalFailure", "json-1.1": "InternalFailure", "spaceone": "ERROR_UNKNOWN",
                  "embedthis": "InternalError"}
UNAUTHORIZED = {
    "spaceone": ApiError(401, "ERROR_AUTHENTICATE_FAILURE",
                         "Authenticate failure. (message = the request has no bearer token: send "
                         "'Authorization: Bearer <any non-empty token>')"),
    "embedthis": ApiError(401, "Unauthorized",
                          "Missing or empty bearer token: send 'Authorization: Bearer <any non-empty token>'"),
}


def _has_bearer(req: Request) -> bool:
    scheme, _, token = (req.header("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


class Sandbox:
    """The emulator: `Sandbox(port=0).start()` in a test, `serve_forever()` from the CLI, `stop()` after."""

    def __init__(self, port: int = DEFAULT_PORT, *, state_file: str | None = None,
                 credentials: AwsCredentials | None = None, clock: Callable[[], float] = time.time,
                 log: Callable[[str], None] | None = None, latency: float = 0.0):
        """`latency`: seconds each API call waits before it is answered, as a remote service's would (outside
        the state's lock, so calls on other connections overlap)."""
        self.clock = clock
        self.latency = latency
        self.log = log
        self.credentials = credentials or sandbox_credentials(os.environ)
        self.store = Store(state_file, clock)
        self.httpd = _HttpServer((HOST, port), _Handler)
        self.httpd.sandbox = self
        self._thread: threading.Thread | None = None
        self.after_request: list[Callable[[], object]] = []  # the MQTT side's notifications (mqtt_side.py)
        self.mqtt = None  # mqtt_side.MqttSide once started

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    # -- life cycle -------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self.httpd.close_connections()
        self.httpd.server_close()
        with self.store.lock:
            self.store.save_if_changed()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what a client needs ----------------------------------------------------------------------

    def client_environment(self) -> dict[str, str | None]:
        """The variables a client sets to use this sandbox (None: unset it, so it cannot override)."""
        env: dict[str, str | None] = {"AWS_ENDPOINT_URL": self.url}
        for service in CONNECTOR_SERVICES.values():
            if service.auth == "sigv4":
                env[f"AWS_ENDPOINT_URL_{service.endpoint_env}"] = None
        # AWS_DEFAULT_REGION too: the AWS CLI v1 (and older SDKs) read only that one.
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = DEFAULT_REGION
        if self.credentials.source != "environment":
            env.update(AWS_ACCESS_KEY_ID=self.credentials.access_key,
                       AWS_SECRET_ACCESS_KEY=self.credentials.secret_key, AWS_SESSION_TOKEN=None)
        if self.mqtt is not None:
            env["AWS_IOT_MQTT_ENDPOINT"] = self.mqtt.url
        env.update(SPACEONE_ENDPOINT=self.url, SPACEONE_API_KEY=SANDBOX_TOKEN,
                   EMBEDTHIS_ENDPOINT=self.url, EMBEDTHIS_TOKEN=SANDBOX_TOKEN)
        return env

    def seed_spaceone_jobs(self, count: int) -> list[str]:
        """Add `count` generated SpaceONE jobs (for a benchmark or a test of long listings); their ids."""
        with self.store.lock:
            added = spaceone.add_jobs(self.store.data[spaceone.NAME], count, self.clock())
            self.store.save_if_changed()
        return added

    def shell_lines(self) -> list[str]:
        """client_environment() as POSIX shell lines that `eval` accepts."""
        env = self.client_environment()
        unset = [name for name, value in env.items() if value is None]
        lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items() if value is not None]
        return ([f"unset {' '.join(unset)}"] if unset else []) + lines

    # -- one request ------------------------------------------------------------------------------

    def handle(self, req: Request) -> Reply:
        now = self.clock()
        reply = self._route(req, now)
        for hook in self.after_request:
            hook()
        request_id = str(uuid.uuid4())
        reply.headers["x-amzn-RequestId"] = request_id
        if reply.protocol in ("spaceone", "embedthis"):
            reply.headers["x-request-id"] = request_id
        if self.log:
            code = reply.headers.get("x-amzn-ErrorType") or (
                (reply.body or {}).get("detail", {}).get("code") if reply.protocol == "spaceone"
                else (reply.body or {}).get("code") if reply.protocol == "embedthis" else None)
            target = req.header("x-amz-target")
            self.log(f"{req.method} {req.raw_path}{f' ({target})' if target else ''} -> {reply.status}"
                     f"{f' {code}' if code else ''}")
        return reply

    def _route(self, req: Request, now: float) -> Reply:
        if req.raw_path == HEALTH_PATH:
            return Reply(200, {"status": "ok", "services": [*AWS_SERVICES, "spaceone", "embedthis"]})
        if req.raw_path.startswith(admin.PREFIX):  # queue jobs, change items: what a trigger waits for
            reply = admin.handle(req, self.store, now)
            if reply is not None:
                return reply
        authorization = req.header("authorization") or ""
        if authorization.startswith("AWS4-HMAC-SHA256"):
            scope = sigv4.parse_authorization(authorization)
            module = AWS_SERVICES.get(scope.service) if scope else None
            protocol = module.PROTOCOL if module else ("json-1.1" if req.header("x-amz-target") else "rest-json")
            try:
                sigv4.verify(req, self.credentials, now)
            except ApiError as error:
                return error_reply(protocol, error)
            if module is None:
                return error_reply(protocol, ApiError(
                    403, "InvalidSignatureException",
                    f"Credential should be scoped to a service the sandbox emulates: {', '.join(AWS_SERVICES)}."))
            return self._call(module, req, now)
        for prefix, module in TOKEN_SERVICES:
            if req.raw_path.startswith(prefix):
                if not _has_bearer(req):
                    return error_reply(module.PROTOCOL, UNAUTHORIZED[module.PROTOCOL])
                return self._call(module, req, now)
        if req.header("x-amz-target"):
            return error_reply("json-1.1", ApiError(403, "MissingAuthenticationTokenException",
                                                    "Missing Authentication Token"))
        if req.raw_path.startswith(AWS_PATHS):
            return error_reply("rest-json", ApiError(403, "MissingAuthenticationTokenException",
                                                     "Missing Authentication Token"))
        return error_reply("rest-json", ApiError(
            404, "UnknownOperationException",
            f"nothing at {req.method} {req.raw_path}: the sandbox serves the AWS APIs (SigV4-signed), "
            f"/identity/v2/job/* (SpaceONE) and /cloud/* (EmbedThis)"))

    def _call(self, module, req: Request, now: float) -> Reply:
        if self.latency:
            time.sleep(self.latency)
        with self.store.lock:
            try:
                if module in AWS_SERVICES.values():  # the model's constraints first, as the services do
                    constraints.check(module.NAME, req, getattr(module, "TARGET_PREFIX", ""))
                # The IoT control plane keeps its state with the data plane's (STATE): one fleet, two APIs.
                reply = module.handle(req, self.store.data[getattr(module, "STATE", module.NAME)], now)
            except ApiError as error:
                reply = error_reply(module.PROTOCOL, error)
            except Exception:  # a sandbox bug: answer as the service would, keep serving, show the trace
                print(traceback.format_exc(), file=sys.stderr, flush=True)
                reply = error_reply(module.PROTOCOL, ApiError(500, INTERNAL_ERROR[module.PROTOCOL],
                                                              "the sandbox failed on this request; see its log"))
            reply.protocol = module.PROTOCOL
            try:
                self.store.save_if_changed()
            except OSError as exc:
                print(f"warning: cannot write the state file: {exc.strerror}", file=sys.stderr, flush=True)
        return reply


class _HttpServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that also closes the kept-alive connections it still holds when stopped, so a
    stopped sandbox answers nothing more."""

    daemon_threads = True
    sandbox: Sandbox

    def __init__(self, *args, **kwargs):
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # A client that went away (reset, broken pipe, timed out) is not a fault of the sandbox: no traceback,
        # --quiet or not. Anything else is a bug and keeps socketserver's report.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jobs-connector-sandbox"
    sys_version = ""
    # A kept-alive client must not wait for a delayed ACK (40 ms on Linux) before the answer leaves:
    # no Nagle, and the headers and the body go out in one write (see _send).
    disable_nagle_algorithm = True
    _date: tuple[int, str] = (0, "")  # the last Date header and its second

    def log_message(self, format, *args):  # noqa: A002 - the sandbox logs one line per request itself
        pass

    def parse_request(self) -> bool:
        """http.server's parse_request, reading the head with http_head rather than the email parser."""
        self.command = None  # for send_error, as in http.server
        # http.server would answer a bad request line as HTTP/0.9 (no status line); HTTP/0.9 is not served
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        if not self.requestline.strip():
            return False
        try:
            self.command, path, version_number, self.request_version = parse_request_line(self.requestline)
            # gh-87389, as http.server: '//x' would read as a host to a client following a redirect
            self.path = "/" + path.lstrip("/") if path.startswith("//") else path
            self.headers = read_headers(self.rfile)
        except HeadError as error:
            self.send_error(error.status, error.message)
            return False
        connection = (self.headers.get("Connection") or "").lower()
        self.close_connection = connection == "close" or (version_number < (1, 1) and connection != "keep-alive")
        if (self.headers.get("Expect") or "").lower() == "100-continue" and version_number >= (1, 1):
            return self.handle_expect_100()
        return True

    def date_time_string(self, timestamp=None):
        """The Date header, formatted once a second rather than for every answer."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        second, text = _Handler._date
        if second != now:
            text = super().date_time_string(now)
            _Handler._date = (now, text)  # one tuple: a thread reads a second and its text together
        return text

    def _plain_error(self, status: int, message: str) -> None:
        reply = error_reply("rest-json", ApiError(status, "InvalidRequestException", message))
        self._send(reply)
        self.close_connection = True

    def _send(self, reply: Reply) -> None:
        payload = reply.encoded()
        self.send_response(reply.status)
        self.send_header("Content-Type", CONTENT_TYPES[reply.protocol])
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        # end_headers() would write the header block alone; the body joins it in the same write instead.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(payload)
        self.flush_headers()

    def _serve(self) -> None:
        if self.headers.get("Transfer-Encoding"):
            return self._plain_error(411, "send the body with a Content-Length")
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit():
            return self._plain_error(400, "Content-Length is not a number")
        if int(length) > MAX_BODY_BYTES:
            return self._plain_error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        body = self.rfile.read(int(length)) if int(length) else b""
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target: keep the path
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        path, _, query = target.partition("?")
        request = Request(self.command, path or "/", query, self.headers, body)
        self._send(self.server.sandbox.handle(request))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve
