"""No planted secret ever shows: every action, run with --verbose, with failures and with --dry-run.

Planted: AWS keys and session token (from the environment and from the step config), the SpaceONE and
EmbedThis tokens (both ways), every input field an in-schema marks "x-secret" and every answer field an
out-schema marks "x-secret". The server echoes credentials and input secrets back in its error answers
(message, error code, request id). Afterwards stdout, stderr, every log record (caplog, DEBUG and up) and
every emitted error are searched for each value, raw, JSON-escaped and percent-encoded: zero hits.
The only place a secret may appear is a data message (stdout of a successful run, or an emitted 'data'
message): the next flow step needs the answer's secrets.
"""

from __future__ import annotations

import itertools
import json
import logging
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

from lib.redact import secret_values
from lib.runtime import Runtime, process
from tests.support.inputs import full_input, input_for, last_page, sample_output
from tests.support.rawhttp import RawServer, Respond, free_port
from tests.support.targets import all_actions, run_action, service_of

ACTIONS = all_actions()
AWS_ENV = ("AKIDPLANTEDENV000001", "planted-env-secret-key-0001", "planted-env-session-token-0001")
AWS_CFG = ("AKIDPLANTEDCFG000001", "planted-cfg-secret-key-0001", "planted-cfg-session-token-0001")


@dataclass
class Planted:
    values: dict[str, str] = field(default_factory=dict)  # value -> what it is

    def add(self, label: str, *values: str) -> None:
        for value in values:
            self.values[value] = label

    def hits(self, text: str, only: set[str] | None = None) -> list[str]:
        found = []
        for value, label in self.values.items():
            if only is not None and label not in only:
                continue
            for form in {value, json.dumps(value)[1:-1], quote(value, safe="")}:
                if form in text:
                    found.append(f"{label}: {form!r}")
        return found


def _input_planter():
    numbers = itertools.count(1)

    def plant(path: str) -> str:
        return f'planted"in/put é+{next(numbers):03d}'  # JSON-escaped and percent-encoded unlike itself
    return plant


def _answer_planter(path: str) -> str:
    return f"plantedAnswerSecret-{abs(hash(path)) % 10 ** 8:08d}"


def _secret_input(action) -> dict:
    """Every member filled in, the secret ones with planted values (or the plain input if that fails)."""
    try:
        return full_input(action.in_schema, _input_planter())
    except ValueError:
        return input_for(action)


@pytest.fixture
def scene(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    servers = []

    class Scene:
        planted = Planted()

        def configure(self, action, base_url: str, source: str, header: str | None = None) -> dict:
            """Credentials planted in the environment or in the step config; the config to run with."""
            service = service_of(action)
            if service.auth == "sigv4":
                keys = AWS_ENV if source == "env" else AWS_CFG
                self.planted.add("aws credentials", *keys)
                if source == "env":
                    for name, value in zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
                                           keys, strict=True):
                        monkeypatch.setenv(name, value)
                    monkeypatch.setenv("AWS_REGION", "eu-west-1")
                    return {"endpoint": base_url}
                return {"endpoint": base_url, "region": "eu-west-1", "accessKeyId": keys[0],
                        "secretAccessKey": keys[1], "sessionToken": keys[2]}
            token = f"planted-{service.name}-token-{source}-0001"
            self.planted.add(f"{service.name} token", token)
            cfg = {service.endpoint_cfg: base_url}
            if header and service.header_cfg:
                cfg[service.header_cfg] = header
            if source == "env":
                monkeypatch.setenv(service.endpoint_env, base_url)
                monkeypatch.setenv(service.token_env, token)
                return cfg
            return cfg | {service.token_cfg: token}

        def serve(self, handler) -> RawServer:
            server = RawServer(handler).start()
            servers.append(server)
            return server

        def echo(self) -> str:
            return " / ".join(f"{v} Bearer {v} {json.dumps(v)}" for v in self.planted.values)

    yield Scene()
    for server in servers:
        server.stop()


def _check_clean(scene, caplog, *texts, allowed_in_data: str = "") -> None:
    hits = []
    for text in texts:
        hits += scene.planted.hits(text)
    hits += scene.planted.hits(caplog.text)
    for record in caplog.records:
        hits += scene.planted.hits(record.getMessage())
    # a data message may carry the answer's secrets, and only those
    hits += scene.planted.hits(allowed_in_data, only=set(scene.planted.values.values()) - {"answer secret"})
    assert hits == []


@pytest.mark.parametrize("source", ["env", "config"])
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_verbose_success_shows_no_secret(action, source, scene, caplog):
    body = _secret_input(action)
    scene.planted.add("input secret", *secret_values(body, action.in_schema))
    answer = last_page(action, sample_output(action.out_schema, secret=_answer_planter))
    scene.planted.add("answer secret", *secret_values(answer, action.out_schema))
    server = scene.serve(lambda request: Respond(200, answer))
    cfg = scene.configure(action, server.url, source, header="X-Builder-Token")
    result = run_action(action, body, cfg, "--verbose")
    assert result.code == 0, result.stderr
    assert result.stderr.count("< HTTP 200") >= 1  # the trace was written
    _check_clean(scene, caplog, result.stderr, allowed_in_data=result.stdout)


@pytest.mark.parametrize("status", [403, 503])
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_failures_echoing_the_secrets_show_none(action, status, scene, caplog, no_sleep):
    body = _secret_input(action)
    scene.planted.add("input secret", *secret_values(body, action.in_schema))
    server = scene.serve(lambda request: None)
    cfg = scene.configure(action, server.url, "config")
    echo = scene.echo()
    token = next(iter(scene.planted.values))
    server.handler = lambda request: Respond(status, {
        "message": f"refused: {echo}", "__type": f"Denied{token}", "code": f"Denied{token}",
        "error": {"code": f"Denied{token}", "message": echo}}, {"x-amzn-RequestId": f"req-{token}",
                                                                 "x-request-id": f"req-{token}"})
    result = run_action(action, body, cfg, "--verbose")
    assert result.code in (3, 4) and result.stdout == ""
    assert "request-id req-***" in result.stderr  # the request id was there, and scrubbed
    emitted = []
    process(action.key, {"body": body}, cfg, lambda kind, payload: emitted.append((kind, payload)),
            runtime=Runtime())
    assert [kind for kind, _ in emitted] == ["rebound" if status == 503 else "error", "end"]
    _check_clean(scene, caplog, result.stderr, json.dumps(emitted))


@pytest.mark.parametrize("action", [a for a in ACTIONS if secret_values(
    sample_output(a.out_schema, secret=_answer_planter), a.out_schema)], ids=lambda a: a.key)
@pytest.mark.parametrize("breakage", ["wrapped in an object", "with a lone surrogate"])
def test_a_malformed_answer_does_not_quote_its_secrets(action, breakage, scene, caplog):
    answer = last_page(action, sample_output(action.out_schema, secret=_answer_planter))
    secrets = secret_values(answer, action.out_schema)
    scene.planted.add("answer secret in a malformed answer", *secrets)
    broken = json.loads(json.dumps(answer))

    def broken_secret(value):
        return {"wrapped": value} if breakage == "wrapped in an object" else value + "\ud800"

    def break_secrets(node):  # every secret string is made invalid, still holding the secret
        if isinstance(node, dict):
            return {k: break_secrets(v) for k, v in node.items()}
        if isinstance(node, list):
            return [break_secrets(v) for v in node]
        return broken_secret(node) if node in secrets else node

    server = scene.serve(lambda request: Respond(200, break_secrets(broken)))
    cfg = scene.configure(action, server.url, "config")
    result = run_action(action, input_for(action), cfg, "--verbose")
    assert result.code == 3 and "UnexpectedResponse" in result.stderr, result.stderr
    _check_clean(scene, caplog, result.stdout, result.stderr)


def _secret_members(action) -> list[str]:
    return [k for k, v in (action.in_schema.get("properties") or {}).items() if v.get("x-secret")]


@pytest.mark.parametrize("action", [a for a in ACTIONS if _secret_members(a)], ids=lambda a: a.key)
def test_refused_secret_inputs_are_not_quoted(action, scene, caplog):
    body = _secret_input(action)
    secret_paths = _secret_members(action)
    cfg = scene.configure(action, f"http://127.0.0.1:{free_port()}", "config")
    for member in secret_paths:
        planted = "planted-refused-secret-input-0001"
        scene.planted.add("refused secret input", planted)
        for wrong in (planted * 40, {"v": planted}, [planted], planted + "\r\n"):
            result = run_action(action, {**body, member: wrong}, cfg)
            if result.code == 0:
                continue
            assert result.code in (2, 4), result.stderr
            _check_clean(scene, caplog, result.stdout, result.stderr)


@pytest.mark.parametrize("source", ["env", "config"])
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.key)
def test_dry_run_and_network_failures_show_no_secret(action, source, scene, caplog, no_sleep):
    body = _secret_input(action)
    scene.planted.add("input secret", *secret_values(body, action.in_schema))
    cfg = scene.configure(action, f"http://127.0.0.1:{free_port()}", source, header="X-Builder-Token")
    dry = run_action(action, body, cfg, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert json.loads(dry.stdout)["headers"]  # the signed request was printed
    refused = run_action(action, body, cfg, "--verbose")
    assert refused.code == 4 and ("NetworkError" in refused.stderr or "ServiceRetired" in refused.stderr)
    _check_clean(scene, caplog, dry.stdout, dry.stderr, refused.stdout, refused.stderr)
