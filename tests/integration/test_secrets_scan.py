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

import http.client
import itertools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

from jobs_connector.base.errors import CODE_LIMIT, MESSAGE_LIMIT
from jobs_connector.base.redact import Redactor, secret_values
from jobs_connector.component.registry import get_action
from jobs_connector.runtime import BODY_LIMIT, Runtime, process
from tests.support.cli import run_cli
from tests.support.inputs import full_input, input_for, last_page, sample_output
from tests.support.loopback import LoopbackServer, Reply
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
def test_a_drifted_or_malformed_answer_does_not_quote_its_secrets(action, breakage, scene, caplog):
    answer = last_page(action, sample_output(action.out_schema, secret=_answer_planter))
    secrets = secret_values(answer, action.out_schema)
    drift = breakage == "wrapped in an object"  # another shape: the service's word, emitted with a warning
    scene.planted.add("answer secret" if drift else "answer secret in a malformed answer", *secrets)
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
    if drift:
        assert result.code == 0 and "warning: " in result.stderr, result.stderr
        _check_clean(scene, caplog, result.stderr, allowed_in_data=result.stdout)
        return
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


# -- scrub, then cut: a secret planted at every offset around every cut leaves no run of 6 characters -------

RUN = 6  # the longest part of a secret allowed to survive is 5 characters


def leaked_runs(text: str, secret: str) -> list[str]:
    return sorted({secret[i:i + RUN] for i in range(len(secret) - RUN + 1) if secret[i:i + RUN] in text})


def offsets_around(limit: int, secret: str) -> range:
    """Every start from the secret ending just before the cut to it starting just after it."""
    return range(limit - len(secret) - 1, limit + 2)


@pytest.mark.parametrize("limit", [MESSAGE_LIMIT, BODY_LIMIT, CODE_LIMIT])
def test_clip_masks_a_secret_at_every_offset_around_the_cut(limit):
    secret = "fake-clip-secret-Zq8Kx2Wm4Vb7Np1Rt5Ys"
    redactor = Redactor([secret])
    for offset in offsets_around(limit, secret):
        for text in ("." * offset + secret + "." * 50, "." * offset + json.dumps(secret)[1:-1]):
            shown = redactor.clip(text, limit)
            assert leaked_runs(shown, secret) == [], (offset, shown[-80:])
            assert len(shown) <= limit + len(f"... ({len(text)} characters)")


def test_an_error_message_cut_at_its_limit_never_shows_part_of_the_token(monkeypatch):
    """The EmbedThis token echoed by an error answer, at every offset around the 500-character cut."""
    action = get_action("embedthis.GetCloud")
    token = "FAKE0Hq3Lr8Tz1Wd6Kv9Pn2Bx5Mc7Ys4Ja0GfOi6Ue2Sa7Dl"
    position = {"offset": 0}
    server = RawServer(lambda request: Respond(400, {
        "message": "." * position["offset"] + token + " was refused", "code": "Refused"})).start()
    try:
        cfg = {action.service.endpoint_cfg: server.url, action.service.token_cfg: token}
        for offset in offsets_around(MESSAGE_LIMIT, token):
            position["offset"] = offset
            result = run_action(action, input_for(action), cfg)
            assert result.code == 3 and "RequestRejected" in result.stderr, result.stderr
            assert leaked_runs(result.stderr, token) == [], (offset, result.stderr[-120:])
            emitted: list = []
            process(action.key, {"body": input_for(action)}, cfg,
                    lambda kind, data, into=emitted: into.append(data), runtime=Runtime())
            assert leaked_runs(json.dumps(emitted), token) == [], offset
    finally:
        server.stop()


def test_verbose_bodies_cut_at_their_limit_never_show_part_of_a_secret(aws_env):
    """A CodePipeline clientToken in the request body, and echoed in a non-JSON answer, at every offset
    around the 4000-character cut of --verbose."""
    action = get_action("codepipeline.PutThirdPartyJobSuccessResult")
    token = "FAKE0Rw4Nq8Zx2Lk6Vb1Ht9Mp3Jd7Cs5Gy0FeQ3Wu8Ti"
    echo = {"offset": 0}
    server = RawServer(lambda request: Respond(400, "." * echo["offset"] + token + " unknown")).start()
    try:
        def body_with(padding: int) -> dict:  # clientToken last, after 'padding' characters of summary
            return {"jobId": "job-1", "currentRevision": {"revision": "r" * 1500, "changeIdentifier": "c",
                                                          "revisionSummary": "s" * padding},
                    "executionDetails": {"summary": "d" * 2000}, "clientToken": token}

        start = json.dumps(body_with(1)).index(token) - 1
        for offset in offsets_around(BODY_LIMIT, token):
            echo["offset"] = offset
            body = body_with(offset - start)
            assert json.dumps(body).index(token) == offset
            result = run_action(action, body, {"endpoint": server.url}, "--verbose")
            assert "> {" in result.stderr and "< HTTP 400" in result.stderr, result.stderr[-300:]
            assert leaked_runs(result.stderr, token) == [], offset
    finally:
        server.stop()


# -- no secret at rest: the webhook queue database, its WAL and the server's log -------------------------------


def _artifact_secrets(job: str) -> dict:
    return {"accessKeyId": f"FAKEPLANTEDKEY{job.upper():0>6}", "secretAccessKey": f"planted-artifact-secret-{job}-Xq7L",
            "sessionToken": f"planted-artifact-session-{job}-Wd2K", "deployToken": f"planted-config-secret-{job}-Jt5R"}


class ThirdPartyApi:
    """CodePipeline for one flow: job details holding planted secrets; acknowledging fails as the job id says
    (retry: throttled 4 times; dead: refused; slow: the first answer takes 3 s), echoing the secrets."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acks: dict[str, list[str]] = {}  # job -> client tokens received
        self.slow_started = threading.Event()

    def __call__(self, recorded):
        operation = recorded.headers.get("X-Amz-Target", "").split(".")[-1]
        body = recorded.json()
        job = body["jobId"]
        planted = _artifact_secrets(job)
        if operation == "GetThirdPartyJobDetails":
            return Reply(200, {"jobDetails": {"id": job, "nonce": "nonce-1", "data": {
                "actionConfiguration": {"configuration": {"DeployToken": planted["deployToken"]}},
                "artifactCredentials": {k: planted[k] for k in ("accessKeyId", "secretAccessKey", "sessionToken")}}}})
        with self.lock:
            tokens = self.acks.setdefault(job, [])
            tokens.append(body["clientToken"])
            count = len(tokens)
        echo = " ".join(planted.values())
        if job == "retry" and count <= 4:
            return Reply(400, {"__type": "ThrottlingException", "message": f"slow down {echo}"})
        if job == "dead":
            return Reply(400, {"__type": "InvalidNonceException", "message": f"nonce refused for {echo}"})
        if job == "slow" and count == 1:
            self.slow_started.set()
            time.sleep(3)
        return Reply(200, {"status": "InProgress"})


def _files_hits(planted: Planted, paths) -> list[str]:
    hits = []
    for path in paths:
        if os.path.exists(path):
            data = open(path, "rb").read()
            hits += [f"{os.path.basename(path)}: {hit}" for hit in planted.hits(data.decode("latin-1"))]
    return hits


def test_no_secret_at_rest_through_success_retries_dead_letters_kill_9_and_resume(tmp_path):
    from jobs_connector.webhooks.store.queue import Queue
    from tests.support.webhooks import SECRET_ENV, ServeProcess, post, serve_env, wait_for

    api, loopback = ThirdPartyApi(), LoopbackServer()
    loopback.default = api
    loopback.start()
    jobs = ("ok", "retry", "dead", "slow")
    planted = Planted()
    for job in jobs:
        planted.add(f"secret of job {job}", *_artifact_secrets(job).values())
    details = "steps[0].jobDetails"
    flows = tmp_path / "flows.json"
    flows.write_text(json.dumps({"flows": [{
        "name": "deploy", "secret_env": SECRET_ENV, "retry": {"max_attempts": 3, "delay": 0.05, "max_delay": 0.1},
        "steps": [{"action": "codepipeline.GetThirdPartyJobDetails",
                   "input": {"jobId": "event.job", "clientToken": "'sandbox-client-token-not-a-real-secret'"}},
                  {"action": "codepipeline.AcknowledgeThirdPartyJob",
                   "input": {"jobId": "event.job", "nonce": f"{details}.nonce",
                             "clientToken": f"{details}.data.actionConfiguration.configuration.DeployToken"}}]}]}))
    db = tmp_path / "queue.db"
    files = [str(db), f"{db}-wal", f"{db}-shm"]
    env = serve_env(AWS_ENDPOINT_URL_CODEPIPELINE=loopback.url)
    port = free_port()
    args = ["serve", "--flows", str(flows), "--queue", f"sqlite:///{db}"]
    web = ServeProcess([*args, "--port", str(port), "--web-only"], env)
    worker = ServeProcess([*args, "--worker-only", "--lease", "1.5", "--sweep-interval", "0.3"], env)
    logs = []
    try:
        web.start("listening on")
        worker.start("workers:")
        ids = {}
        for job in jobs:
            status, answer = post(f"http://127.0.0.1:{port}", "deploy", {"job": job})
            assert status == 202
            ids[job] = answer["id"]
        assert api.slow_started.wait(20)
        worker.kill()  # kill -9 mid-step: step 1's secrets are already stored
        logs.append(worker.output())
        assert _files_hits(planted, files) == []
        worker.start("workers:")
        store = Queue(f"sqlite:///{db}").store
        expected = {"ok": "succeeded", "retry": "succeeded", "dead": "dead", "slow": "succeeded"}
        wait_for(lambda: {job: store.get(ids[job]).status for job in jobs} == expected, timeout=40, interval=0.2,
                 what="every event to finish")
        shown = run_cli("events", "--queue", f"sqlite:///{db}", "show", ids["dead"]).stdout
        assert json.loads(shown)["error"]["type"] == "Conflict"
        assert _files_hits(planted, files) == []  # the WAL is still there: the worker holds it open
        events = {job: store.get(ids[job]) for job in jobs}
    finally:
        web.kill()
        worker.kill()
        logs += [web.output(), worker.output()]
        loopback.stop()
    assert os.path.getsize(f"{db}-wal") > 0
    assert _files_hits(planted, files) == []
    assert planted.hits("".join(logs) + shown) == []
    # Resumed steps were given the opened secrets: every acknowledgement carried the job's own token.
    for job in jobs:
        assert set(api.acks[job]) == {_artifact_secrets(job)["deployToken"]}, job
    assert len(api.acks["retry"]) == 5 and len(api.acks["slow"]) == 2
    assert events["retry"].history and events["dead"].history  # the echoed errors were stored, scrubbed


def _details_event(event_id: str = "e" * 32):
    from jobs_connector.webhooks.events import Event

    data = {"artifactCredentials": {"secretAccessKey": "planted-sealed-0001"},
            "actionConfiguration": {"configuration": {"Pw": "planted-sealed-0002"}}}
    output = {"jobDetails": {"id": "j", "data": data}}
    return Event(id=event_id, flow="f", body={}, received_at=0.0, steps=[
        {"action": "codepipeline.GetThirdPartyJobDetails", "output": output, "finished_at": 0.0}],
        error={"message": "echo planted-sealed-0001"})


def test_sealed_events_open_again_and_rotate_keys(monkeypatch):
    from jobs_connector.webhooks import sealing
    from jobs_connector.webhooks.events import Event

    old, new = sealing.new_key(), sealing.new_key()
    monkeypatch.setenv(sealing.KEY_ENV, old)
    event = _details_event()
    doc = event.to_doc()
    assert "planted-sealed" not in doc and sealing.SEALED in doc
    stored = Event.from_doc(doc, 1)
    assert stored.step_outputs() == [event.steps[0]["output"]]
    assert stored.to_doc() == doc  # already sealed under the current key: stored as it was
    monkeypatch.setenv(sealing.KEY_ENV, f"{new},{old}")  # rotation: the new key seals, the old one still opens
    assert stored.step_outputs() == [event.steps[0]["output"]]
    resealed = Event.from_doc(stored.to_doc(), 2)
    monkeypatch.setenv(sealing.KEY_ENV, new)
    assert resealed.step_outputs() == [event.steps[0]["output"]]
    with pytest.raises(sealing.SealingError, match="not among the keys"):
        stored.step_outputs()  # sealed under the dropped key


def test_a_sealed_value_moved_or_altered_does_not_open(monkeypatch):
    from jobs_connector.webhooks import sealing
    from jobs_connector.webhooks.events import Event

    monkeypatch.setenv(sealing.KEY_ENV, sealing.new_key())
    doc = _details_event("a" * 32).to_doc()
    with pytest.raises(sealing.SealingError, match="another event"):
        Event.from_doc(doc.replace("a" * 32, "b" * 32), 1).step_outputs()
    blob = json.loads(doc)["steps"][0]["output"]["jobDetails"]["data"]["artifactCredentials"][sealing.SEALED]
    altered = blob[:-6] + ("A" if blob[-6] != "A" else "B") + blob[-5:]
    with pytest.raises(sealing.SealingError):
        Event.from_doc(doc.replace(blob, altered), 1).step_outputs()


def test_the_key_file_is_owner_only_and_made_owner_only(tmp_path, monkeypatch):
    from jobs_connector.webhooks import sealing

    _details_event().to_doc()  # no key given: one is made in the user's config directory
    made = sealing.default_key_path()
    assert os.stat(made).st_mode & 0o777 == 0o600
    shared = tmp_path / "shared.key"
    shared.write_text(sealing.new_key() + "\n")
    shared.chmod(0o644)
    monkeypatch.setenv(sealing.KEY_FILE_ENV, str(shared))
    with pytest.raises(sealing.SealingError, match="chmod 600"):
        _details_event().to_doc()
    monkeypatch.setenv(sealing.KEY_ENV, "too-short")
    with pytest.raises(sealing.SealingError, match="32 bytes"):
        _details_event().to_doc()


def test_events_reseal_moves_every_stored_secret_to_the_new_key(tmp_path, monkeypatch):
    from jobs_connector.webhooks import sealing
    from jobs_connector.webhooks.store.queue import Queue

    old = sealing.new_key()
    new = run_cli("events", "new-key").stdout.strip()
    assert len(sealing._decode_key(new, "new-key")) == sealing.KEY_BYTES
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    monkeypatch.setenv(sealing.KEY_ENV, old)
    queue = Queue(url)
    event = _details_event()
    queue.store.add(event)
    queue.close()
    monkeypatch.setenv(sealing.KEY_ENV, f"{new},{old}")
    result = run_cli("events", "--queue", url, "reseal")
    assert result.code == 0 and "resealed 1 event(s)" in result.stderr, result.stderr
    monkeypatch.setenv(sealing.KEY_ENV, new)  # the old key dropped
    queue = Queue(url)
    try:
        assert queue.store.get(event.id).step_outputs() == [event.steps[0]["output"]]
    finally:
        queue.close()


def test_the_sandbox_state_file_holds_no_client_secret_and_only_recognisably_fake_ones(tmp_path):
    from jobs_connector.auth.keys import AwsCredentials
    from jobs_connector.sandbox import codepipeline
    from tests.support.sandbox import running_sandbox

    keys = ("AKIDPLANTEDSANDBOX01", "planted-sandbox-client-secret-0001")
    token = "planted-sandbox-bearer-token-0001"
    planted = Planted()
    planted.add("client secret", *keys, token)
    state = tmp_path / "state.json"
    with running_sandbox(credentials=AwsCredentials(*keys), state_file=str(state)) as sandbox:
        aws_cfg = {"endpoint": sandbox.url, "region": "eu-west-1", "accessKeyId": keys[0], "secretAccessKey": keys[1]}
        polled = run_cli("run", "codepipeline.PollForThirdPartyJobs", "--config", json.dumps(aws_cfg),
                         "--input", json.dumps({"actionTypeId": codepipeline.ACTION_TYPE}))
        job = {"jobId": polled.messages[0]["jobs"][0]["jobId"], "clientToken": codepipeline.CLIENT_TOKEN}
        details = run_cli("run", "codepipeline.GetThirdPartyJobDetails", "--config", json.dumps(aws_cfg),
                          "--input", json.dumps(job))
        nonce = details.messages[0]["jobDetails"]["nonce"]
        acked = run_cli("run", "codepipeline.AcknowledgeThirdPartyJob", "--config", json.dumps(aws_cfg),
                        "--input", json.dumps({**job, "nonce": nonce}))
        assert acked.code == 0, acked.stderr
        embed_cfg = {"embedthisEndpoint": sandbox.url, "embedthisToken": token}
        created = run_cli("run", "embedthis.CreateCloud", "--config", json.dumps(embed_cfg), "--input",
                          json.dumps({"name": "demo", "region": "us-east-1", "type": "dedicated"}))
        assert created.code == 0, created.stderr
    text = state.read_bytes().decode("utf-8")
    assert planted.hits(text) == []
    stored = json.loads(text)["services"]["codepipeline"]
    credentials = [job["data"]["artifactCredentials"] for job in stored["jobs"].values()]
    assert credentials and all(("not-a-real" in v or "not-real" in v or "FAKE" in v)
                               for c in credentials for v in c.values())


# -- no secret on any page of the operator's console -------------------------------------------------------------


def test_no_secret_on_any_console_page(tmp_path, monkeypatch):
    """Events that ran for real (step 1's answer holds x-secret credentials, sealed at rest; step 2's error
    echoes them), a body field the flow marks secret, the webhook secret, the AWS keys and the console's own
    token and password: none on any page, raw, JSON-escaped, percent- or HTML-escaped; no sealed envelope."""
    import html

    from tests.support.console import PASSWORD, TOKEN, ConsoleClient, console_env
    from tests.support.webhooks import HOOK_SECRET, SECRET_ENV, InProcess

    api, loopback = ThirdPartyApi(), LoopbackServer()
    loopback.default = api
    loopback.start()
    for name, value in zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), AWS_ENV, strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_CODEPIPELINE", loopback.url)
    console_env(monkeypatch, basic=True)
    planted = Planted()
    planted.add("AWS key from the environment", *AWS_ENV)
    planted.add("webhook secret", HOOK_SECRET)
    planted.add("console credential", TOKEN, PASSWORD)
    planted.add("secret body field", "planted-body-token-0001")
    for job in ("ok", "dead"):
        planted.add(f"secret of job {job}", *_artifact_secrets(job).values())
    details = "steps[0].jobDetails"
    flows = {"flows": [{
        "name": "deploy", "secret_env": SECRET_ENV, "secret_event_fields": ["auth.token"],
        "steps": [{"action": "codepipeline.GetThirdPartyJobDetails",
                   "input": {"jobId": "event.job", "clientToken": "'sandbox-client-token-not-a-real-secret'"}},
                  {"action": "codepipeline.AcknowledgeThirdPartyJob",
                   "input": {"jobId": "event.job", "nonce": f"{details}.nonce",
                             "clientToken": f"{details}.data.actionConfiguration.configuration.DeployToken"}}]}]}
    pages = {}
    try:
        with InProcess(tmp_path, flows, console=True) as serve:
            ids = {}
            for job, end in (("ok", "succeeded"), ("dead", "dead")):
                status, answer = serve.post("deploy", {"job": job, "auth": {"token": "planted-body-token-0001"}})
                assert status == 202
                ids[job] = answer["id"]
                serve.wait_status(ids[job], end)
            client = ConsoleClient(serve.console_url)
            pages["login"] = client.get("/").text
            pages["failed login"] = client.post("/login", {"token": TOKEN[:-1]}).text
            client.login()
            for path in ("/", "/events", "/events?status=dead", "/events?flow=deploy&since=15m", "/nothing",
                         *(f"/events/{event_id}" for event_id in ids.values())):
                pages[path] = client.get(path).text
            pages["retry"] = client.retry(ids["dead"], ids["ok"]).text
            serve.wait_status(ids["dead"], "dead")  # the service refuses it again
            pages["after retry"] = client.get(f"/events/{ids['dead']}").text
    finally:
        loopback.stop()
    assert "&#34;nonce&#34;: &#34;nonce-1&#34;" in pages[f"/events/{ids['ok']}"]  # a real page: step 1 shown
    assert "InvalidNonceException" in pages[f"/events/{ids['dead']}"]
    for name, text in pages.items():
        assert planted.hits(text) == [] and planted.hits(html.unescape(text)) == [], name
        assert "$sealed" not in text and "planted" not in text.lower(), name


# -- /metrics and the JSON log lines of serve ----------------------------------------------------------------


def test_metrics_and_json_logs_show_no_secret_and_the_log_lines_carry_their_fields(tmp_path):
    """serve --log-format json at DEBUG, its service echoing every planted value in an error answer: each line
    of stderr is one JSON object with its fields (the dead event's id, flow, step, action, attempt, the
    service's request id, duration), and neither the log nor /metrics quotes a planted value."""
    from tests.support.webhooks import HOOK_SECRET, SECRET_ENV, ServeProcess, get, post, serve_env, wait_for

    planted = Planted()
    env = serve_env(AWS_SESSION_TOKEN="planted-serve-session-token-0001", SPACEONE_API_KEY="planted-spaceone-key-01",
                    EMBEDTHIS_TOKEN="planted-embedthis-token-01")
    planted.add("webhook secret", HOOK_SECRET)
    planted.add("aws credentials", env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])
    planted.add("tokens", env["SPACEONE_API_KEY"], env["EMBEDTHIS_TOKEN"])
    echo = " / ".join(planted.values)
    loopback = LoopbackServer(Reply(400, {"__type": "InvalidRequestException", "message": f"echo {echo}"},
                                    {"x-amzn-RequestId": "req-planted-check-01"})).start()
    flows = tmp_path / "flows.json"
    step = {"action": "iot-jobs-data.DescribeJobExecution", "input": {"thingName": "event.thing", "jobId": "event.job"}}
    flows.write_text(json.dumps({"flows": [{"name": "update", "secret_env": SECRET_ENV, "steps": [step]}]}))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = ServeProcess(["serve", "--flows", str(flows), "--queue", f"sqlite:///{tmp_path / 'q.db'}", "--port",
                          str(port), "--log-format", "json", "--log-level", "DEBUG"],
                         {**env, "AWS_ENDPOINT_URL_IOT_JOBS_DATA": loopback.url})
    try:
        serve.start("listening on")
        status, answer = post(url, "update", {"thing": "sensor-1", "job": "fw-42"})
        assert status == 202
        wait_for(lambda: get(url, f"/events/{answer['id']}")[1]["status"] == "dead", what="the event to end dead")
        assert post(url, "update", {"thing": "x"}, secret="planted-wrong-secret-000001")[0] == 401
        view = get(url, f"/events/{answer['id']}")[1]
        host, _, number = url[len("http://"):].partition(":")
        conn = http.client.HTTPConnection(host, int(number), timeout=10)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        conn.close()
        assert serve.terminate() == 0
    finally:
        serve.kill()
        loopback.stop()
    assert "echo ***" in view["error"]["message"]  # the echo was there, and was masked
    assert 'jobs_connector_events_finished_total{flow="update",outcome="dead"} 1.0' in metrics
    lines = [json.loads(line) for line in serve.output().splitlines()]  # every line parses
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    [dead] = [line for line in lines if "dead-lettered" in line["message"]]
    assert {k: dead[k] for k in ("event_id", "flow", "step", "action", "attempt", "request_id")} == {
        "event_id": answer["id"], "flow": "update", "step": 1, "action": "iot-jobs-data.DescribeJobExecution",
        "attempt": 1, "request_id": "req-planted-check-01"}
    assert dead["level"] == "WARNING" and dead["duration"] > 0
    assert any(line["message"].startswith("hook update refused") and line["flow"] == "update" for line in lines)
    assert planted.hits(serve.output()) == [] and planted.hits(metrics) == []
