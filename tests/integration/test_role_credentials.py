"""Role credentials, each source against a loopback fake of its endpoint: web identity (STS
AssumeRoleWithWebIdentity), assume-role profiles (source_profile, credential_source, external_id,
duration_seconds, role_session_name), SSO (sso_session and the token cache), container credentials
(RELATIVE_URI, FULL_URI with a token or a token file) and IMDSv2. For each, a real call to a loopback IoT
endpoint is signed with the temporary credentials that source handed out (the signature is recomputed
with their secret), and botocore resolves the same credentials from the same environment.

Also: the static sources are not slowed by it (botocore is not imported), a missing profile is named with
its file, an unreachable credential endpoint fails clearly within a bounded time."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from jobs_connector.auth import roles as role_credentials
from jobs_connector.auth.chain import resolve_aws_credentials
from jobs_connector.auth.sigv4 import signature
from jobs_connector.base.errors import ConfigurationError, NetworkError
from jobs_connector.runtime import Runtime
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION
from tests.support.cli import run_cli
from tests.support.loopback import LoopbackServer, Recorded, Reply

EXPIRES = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
ACTION = "iot-jobs-data.GetPendingJobExecutions"
ANSWER = {"inProgressJobs": [], "queuedJobs": []}


def temporary(tag: str) -> dict:
    """Fake temporary credentials, one set per source, obviously not real."""
    return {"AccessKeyId": f"ASIATEST{tag.upper():0<12}"[:20], "SecretAccessKey": f"{tag}-secret-not-real-0000",
            "SessionToken": f"{tag}-session-token-not-real", "Expiration": EXPIRES.strftime("%Y-%m-%dT%H:%M:%SZ")}


def sts_answer(request: Recorded) -> Reply:
    params = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
    action = params["Action"]
    creds = temporary(params.get("RoleSessionName", "sts").replace("-", "")[:8])
    xml = (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result><Credentials>'
           f'<AccessKeyId>{creds["AccessKeyId"]}</AccessKeyId><SecretAccessKey>{creds["SecretAccessKey"]}'
           f'</SecretAccessKey><SessionToken>{creds["SessionToken"]}</SessionToken><Expiration>'
           f'{creds["Expiration"]}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:'
           f'assumed-role/jobs/x</Arn><AssumedRoleId>AROATEST:x</AssumedRoleId></AssumedRoleUser></{action}Result>'
           f'<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></{action}Response>')
    return Reply(200, xml, {"Content-Type": "text/xml"})


@pytest.fixture
def server():
    started = []

    def start(default) -> LoopbackServer:
        started.append(LoopbackServer(default).start())
        return started[-1]

    yield start
    for one in started:
        one.stop()


@pytest.fixture
def iot(server, monkeypatch):
    target = server(Reply(200, ANSWER))
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT_JOBS_DATA", target.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # the name botocore reads too
    monkeypatch.setenv("HOME", os.environ.get("AWS_CONFIG_FILE").rsplit("/", 1)[0])  # tmp_path
    role_credentials._found.clear()
    yield target
    role_credentials._found.clear()


def write(path: str, text: str) -> str:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


def signed_call(target: LoopbackServer, expected: dict, cfg: dict | None = None) -> None:
    """One real call; the request carries the source's key and token and verifies with its secret."""
    assert list(Runtime().run(ACTION, {"thingName": "demo-thing"}, cfg or {})) == [ANSWER]
    request = target.requests[-1]
    headers = {k.lower(): v for k, v in request.headers.items()}
    auth = headers["authorization"]
    assert f"Credential={expected['AccessKeyId']}/" in auth
    assert headers["x-amz-security-token"] == expected["SessionToken"]
    signed = re.search(r"SignedHeaders=([^,]+)", auth).group(1).split(";")
    sig = signature(request.method, target.url + request.path, {h: headers[h] for h in signed}, request.body,
                    expected["SecretAccessKey"], REGION, "iot-jobs-data", headers["x-amz-date"])
    assert auth.endswith(f"Signature={sig}")


def same_as_botocore(expected: dict, profile: str | None = None) -> None:
    import botocore.session

    role_credentials._found.clear()
    theirs = botocore.session.Session(profile=profile).get_credentials().get_frozen_credentials()
    assert (theirs.access_key, theirs.secret_key, theirs.token) == (
        expected["AccessKeyId"], expected["SecretAccessKey"], expected["SessionToken"])


def test_web_identity_assumes_the_role_through_sts(iot, server, monkeypatch, tmp_path):
    sts = server(sts_answer)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", write(str(tmp_path / "token"), "fake-oidc-token-not-real"))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/jobs")
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "webid")
    signed_call(iot, temporary("webid"))
    [call] = sts.requests
    params = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
    assert params["Action"] == "AssumeRoleWithWebIdentity"
    assert params["RoleArn"] == "arn:aws:iam::123456789012:role/jobs"
    assert params["WebIdentityToken"] == "fake-oidc-token-not-real"
    same_as_botocore(temporary("webid"))


def test_the_environment_web_identity_comes_before_the_profile_keys(iot, server, monkeypatch, tmp_path):
    sts = server(sts_answer)
    write(os.environ["AWS_SHARED_CREDENTIALS_FILE"],
          f"[default]\naws_access_key_id = {FAKE_ACCESS_KEY}\naws_secret_access_key = {FAKE_SECRET_KEY}\n")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", write(str(tmp_path / "token"), "fake-oidc-token-not-real"))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/jobs")
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "order")
    signed_call(iot, temporary("order"))
    same_as_botocore(temporary("order"))


@pytest.mark.parametrize("source", ["source_profile", "credential_source"])
def test_an_assume_role_profile_signs_the_sts_call_with_its_source(iot, server, monkeypatch, source):
    sts = server(sts_answer)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
    origin = ("source_profile = base" if source == "source_profile" else "credential_source = Environment")
    write(os.environ["AWS_CONFIG_FILE"],
          "[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\n"
          f"{origin}\nexternal_id = fake-external-id\nduration_seconds = 1800\nrole_session_name = assumed\n")
    write(os.environ["AWS_SHARED_CREDENTIALS_FILE"],
          f"[base]\naws_access_key_id = {FAKE_ACCESS_KEY}\naws_secret_access_key = {FAKE_SECRET_KEY}\n")
    if source == "credential_source":
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_KEY)
    signed_call(iot, temporary("assumed"), {"profile": "ops"})
    [call] = sts.requests
    params = {k: v[0] for k, v in parse_qs(call.body.decode()).items()}
    assert (params["Action"], params["RoleArn"], params["ExternalId"], params["DurationSeconds"],
            params["RoleSessionName"]) == ("AssumeRole", "arn:aws:iam::123456789012:role/ops", "fake-external-id",
                                           "1800", "assumed")
    assert f"Credential={FAKE_ACCESS_KEY}/" in call.headers["Authorization"]  # signed by the source's keys
    same_as_botocore(temporary("assumed"), profile="ops")


def test_sso_reads_the_token_cache_and_asks_the_portal(iot, server, monkeypatch, tmp_path):
    creds = temporary("sso")

    def portal(request: Recorded) -> Reply:
        assert request.headers.get("x-amz-sso_bearer_token") == "fake-sso-access-token"
        query = parse_qs(urlsplit(request.path).query)
        assert (query["role_name"], query["account_id"]) == (["JobsRole"], ["123456789012"])
        return Reply(200, {"roleCredentials": {
            "accessKeyId": creds["AccessKeyId"], "secretAccessKey": creds["SecretAccessKey"],
            "sessionToken": creds["SessionToken"], "expiration": int(EXPIRES.timestamp() * 1000)}})

    sso = server(portal)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", sso.url)
    write(os.environ["AWS_CONFIG_FILE"],
          "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = JobsRole\n"
          "[sso-session corp]\nsso_region = eu-west-1\nsso_start_url = https://corp.awsapps.example/start\n")
    cache = tmp_path / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    write(str(cache / f"{hashlib.sha1(b'corp').hexdigest()}.json"), json.dumps({  # noqa: S324 (botocore's key)
        "startUrl": "https://corp.awsapps.example/start", "region": "eu-west-1",
        "accessToken": "fake-sso-access-token", "expiresAt": EXPIRES.strftime("%Y-%m-%dT%H:%M:%SZ")}))
    # botocore fixes ~/.aws/sso/cache when it is first imported, perhaps under another test's HOME.
    import botocore.credentials
    import botocore.tokens

    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setenv("AWS_PROFILE", "dev")
    signed_call(iot, creds)
    assert len(sso.requests) == 1
    same_as_botocore(creds)


def container_answer(creds: dict, token: str):
    def answer(request: Recorded) -> Reply:
        if request.headers.get("Authorization", "") != token:
            return Reply(401, {"message": "bad token"})
        return Reply(200, {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
                           "Token": creds["SessionToken"], "Expiration": creds["Expiration"]})
    return answer


@pytest.mark.parametrize("how", ["full-uri-token", "full-uri-token-file", "relative-uri"])
def test_container_credentials(iot, server, monkeypatch, tmp_path, how):
    creds = temporary("ecs")
    endpoint = server(container_answer(creds, "" if how == "relative-uri" else "fake-container-token"))
    if how == "relative-uri":
        # The relative URI is read from the link-local 169.254.170.2: pointed at the loopback fake here.
        import botocore.utils

        monkeypatch.setattr(botocore.utils.ContainerMetadataFetcher, "IP_ADDRESS", endpoint.url.split("//")[1])
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/fake-id")
    else:
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url + "/creds")
        if how == "full-uri-token":
            monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "fake-container-token")
        else:
            monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                               write(str(tmp_path / "ecs-token"), "fake-container-token"))
    signed_call(iot, creds)
    assert endpoint.requests[0].path == ("/v2/credentials/fake-id" if how == "relative-uri" else "/creds")
    same_as_botocore(creds)


def imds_answer(creds: dict):
    def answer(request: Recorded) -> Reply:
        if request.method == "PUT" and request.path == "/latest/api/token":
            assert request.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
            return Reply(200, "fake-imds-session-token")
        if request.headers.get("x-aws-ec2-metadata-token") != "fake-imds-session-token":
            return Reply(401, "")
        if request.path == "/latest/meta-data/iam/security-credentials/":
            return Reply(200, "jobs-role")
        if request.path == "/latest/meta-data/iam/security-credentials/jobs-role":
            return Reply(200, {"Code": "Success", "AccessKeyId": creds["AccessKeyId"],
                               "SecretAccessKey": creds["SecretAccessKey"], "Token": creds["SessionToken"],
                               "Expiration": creds["Expiration"]})
        return Reply(404, "")
    return answer


def test_instance_metadata_v2_honours_the_endpoint_setting(iot, server, monkeypatch):
    creds = temporary("imds")
    imds = server(imds_answer(creds))
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url + "/")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "false")
    signed_call(iot, creds)
    assert imds.requests[0].method == "PUT"  # IMDSv2: a session token first
    same_as_botocore(creds)


def test_instance_metadata_disabled_is_not_asked(iot, server, monkeypatch):
    imds = server(imds_answer(temporary("imds")))
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url + "/")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        list(Runtime().run(ACTION, {"thingName": "demo-thing"}, {}))
    assert imds.requests == [] and iot.requests == []


def test_role_credentials_are_asked_again_before_they_expire(iot, server, monkeypatch):
    """The runtime's cache hands them out until 5 minutes before their Expiration, then botocore's
    credentials object refreshes from the source (here the container endpoint, which rotates them)."""
    served = []

    def rotating(request: Recorded) -> Reply:
        creds = temporary(f"rot{len(served)}")
        creds["Expiration"] = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20 if not served else 60)
                               ).strftime("%Y-%m-%dT%H:%M:%SZ")
        served.append(creds)
        return Reply(200, {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
                           "Token": creds["SessionToken"], "Expiration": creds["Expiration"]})

    endpoint = server(rotating)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url + "/creds")
    now = [dt.datetime.now(dt.UTC)]
    runtime = Runtime(clock=lambda: now[0])
    list(runtime.run(ACTION, {"thingName": "demo-thing"}, {}))
    list(runtime.run(ACTION, {"thingName": "demo-thing"}, {}))
    assert len(served) == 1  # kept while far from expiry
    assert f"Credential={served[0]['AccessKeyId']}/" in iot.requests[-1].headers["Authorization"]
    now[0] += dt.timedelta(minutes=16)  # 4 minutes left: inside our window and botocore's
    # botocore's credentials object reads the real clock: move its notion of now as well.
    [held] = role_credentials._found.values()
    monkeypatch.setattr(held, "_time_fetcher", lambda: now[0])
    list(runtime.run(ACTION, {"thingName": "demo-thing"}, {}))
    assert len(served) == 2
    assert f"Credential={served[1]['AccessKeyId']}/" in iot.requests[-1].headers["Authorization"]


def test_a_hanging_sts_fails_clearly_within_a_bounded_time(iot, server, monkeypatch, tmp_path):
    sts = server(lambda request: time.sleep(3) or Reply(200, ""))
    monkeypatch.setattr(role_credentials, "STS_READ_TIMEOUT", 0.5)
    monkeypatch.setattr(role_credentials, "STS_CONNECT_TIMEOUT", 0.5)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", write(str(tmp_path / "token"), "fake-oidc-token-not-real"))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/jobs")
    started = time.monotonic()
    with pytest.raises(NetworkError, match="credential endpoint .*could not be reached") as caught:
        list(Runtime().run(ACTION, {"thingName": "demo-thing"}, {}))
    assert time.monotonic() - started < 2 * role_credentials.STS_MAX_ATTEMPTS * 0.5 + 3
    assert caught.value.exit_code == 4 and "fake-oidc-token" not in str(caught.value)
    assert iot.requests == []


def test_an_unreachable_container_endpoint_fails_clearly_within_a_bounded_time(iot, server, monkeypatch):
    closed = server(Reply(200, {}))
    url = closed.url
    closed.stop()  # nothing listens there any more
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url + "/creds")
    started = time.monotonic()
    with pytest.raises(NetworkError, match="no AWS credentials from container-role"):
        list(Runtime().run(ACTION, {"thingName": "demo-thing"}, {}))
    assert time.monotonic() - started < 10  # botocore: 3 attempts, 2 s timeout, 1 s apart
    assert iot.requests == []


def test_a_missing_profile_is_named_with_its_file(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "aws/config")  # as the user gave it
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "aws/credentials")
    done = run_cli("run", ACTION, "-i", '{"thingName": "demo-thing"}')
    assert done.code == 2 and done.stdout == ""
    assert "profile 'nosuch' not found in aws/config (nor in aws/credentials)" in done.stderr


def test_a_missing_profile_in_the_default_files_is_shown_relative_to_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AWS_CONFIG_FILE")
    monkeypatch.delenv("AWS_SHARED_CREDENTIALS_FILE")
    with pytest.raises(ConfigurationError) as caught:
        resolve_aws_credentials({"profile": "nosuch"}, os.environ)
    assert caught.value.message == "profile 'nosuch' not found in ~/.aws/config (nor in ~/.aws/credentials)"


def test_keys_from_the_environment_do_not_load_botocore(aws_env):
    probe = ("import sys, os; from jobs_connector.auth.chain import resolve_aws_credentials as r; "
             "c = r({}, os.environ); "
             "print(c.source, 'botocore' in sys.modules, 'importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert done.stdout.split() == ["environment", "False", "False"], done.stderr


def test_without_the_extra_a_role_source_names_the_pip_install(monkeypatch):
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds")
    monkeypatch.setitem(sys.modules, "botocore", None)  # as if botocore were not installed
    role_credentials._found.clear()
    with pytest.raises(ConfigurationError, match=re.escape("pip install 'jobs-connector[aws-roles]'")):
        resolve_aws_credentials({}, os.environ)
