"""Credentials, region and endpoint resolution: step config, else environment, else AWS shared files."""

import pytest

from jobs_connector.auth.chain import resolve_aws_credentials, resolve_token
from jobs_connector.auth.endpoints import checked_base_url, resolve_aws_endpoint, resolve_region
from jobs_connector.base.errors import ConfigurationError
from jobs_connector.component.services import SERVICES

IOT = SERVICES["iot-jobs-data"]


@pytest.fixture
def shared_files(tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDPROFILEDEFAULT01\n"
                     "aws_secret_access_key = default-secret-not-real\n"
                     "[ops]\naws_access_key_id = AKIDPROFILEOPS000001\naws_secret_access_key = ops-secret-not-real\n"
                     "aws_session_token = ops-token-not-real\n")
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-east-2\n[profile ops]\nregion = ap-southeast-2\n")
    return {"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_CONFIG_FILE": str(config), "HOME": str(tmp_path)}


def test_config_beats_environment(shared_files):
    env = {**shared_files, "AWS_ACCESS_KEY_ID": "AKIDENV0000000000001", "AWS_SECRET_ACCESS_KEY": "env-secret"}
    got = resolve_aws_credentials({"accessKeyId": "AKIDCFG0000000000001", "secretAccessKey": "cfg-secret"}, env)
    assert (got.access_key, got.source) == ("AKIDCFG0000000000001", "config")


def test_environment_beats_profile(shared_files):
    env = {**shared_files, "AWS_ACCESS_KEY_ID": "AKIDENV0000000000001", "AWS_SECRET_ACCESS_KEY": "env-secret",
           "AWS_SESSION_TOKEN": "env-token"}
    got = resolve_aws_credentials({}, env)
    assert (got.access_key, got.token, got.source) == ("AKIDENV0000000000001", "env-token", "environment")


def test_default_profile_then_named_profile(shared_files):
    assert resolve_aws_credentials({}, shared_files).access_key == "AKIDPROFILEDEFAULT01"
    ops = resolve_aws_credentials({}, {**shared_files, "AWS_PROFILE": "ops"})
    assert (ops.access_key, ops.token, ops.source) == ("AKIDPROFILEOPS000001", "ops-token-not-real", "profile ops")
    assert resolve_aws_credentials({"profile": "ops"}, shared_files).access_key == "AKIDPROFILEOPS000001"


def test_half_a_key_pair_is_refused():
    with pytest.raises(ConfigurationError) as caught:
        resolve_aws_credentials({"accessKeyId": "AKIDCFG0000000000001"}, {})
    assert caught.value.field == "secretAccessKey"


def test_nothing_found(tmp_path):
    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        resolve_aws_credentials({}, {"HOME": str(tmp_path), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "x"),
                                     "AWS_CONFIG_FILE": str(tmp_path / "y")})


def test_repr_hides_the_keys(shared_files):
    got = resolve_aws_credentials({}, shared_files)
    assert "AKIDPROFILEDEFAULT01" not in repr(got) and "default-secret" not in repr(got)


def test_region_order(shared_files):
    assert resolve_region({"region": "eu-north-1"}, {**shared_files, "AWS_REGION": "eu-west-1"}) == "eu-north-1"
    both = {**shared_files, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2"}
    assert resolve_region({}, both) == "eu-west-1"
    assert resolve_region({}, {**shared_files, "AWS_DEFAULT_REGION": "eu-west-2"}) == "eu-west-2"
    assert resolve_region({}, shared_files) == "us-east-2"
    assert resolve_region({}, {**shared_files, "AWS_PROFILE": "ops"}) == "ap-southeast-2"


@pytest.mark.parametrize("bad", ["EU-WEST-1", "eu-west-1.evil.com", "eu west 1", "eu-west-1/x", "eu-west-1\n"])
def test_region_must_look_like_a_region(bad):
    with pytest.raises(ConfigurationError) as caught:
        resolve_region({"region": bad}, {})
    assert caught.value.rule == "pattern"


def test_endpoint_default_and_overrides():
    assert resolve_aws_endpoint(IOT, {}, "eu-west-1", {}) == "https://data.jobs.iot.eu-west-1.amazonaws.com"
    env = {"AWS_ENDPOINT_URL": "https://all.example.test"}
    assert resolve_aws_endpoint(IOT, {}, "eu-west-1", env) == "https://all.example.test"
    env["AWS_ENDPOINT_URL_IOT_JOBS_DATA"] = "https://jobs.example.test/"
    assert resolve_aws_endpoint(IOT, {}, "eu-west-1", env) == "https://jobs.example.test"
    assert resolve_aws_endpoint(IOT, {"endpoint": "https://cfg.example.test"}, "eu-west-1", env) == \
        "https://cfg.example.test"


@pytest.mark.parametrize(("url", "rule"), [
    ("http://jobs.example.com", "https-only"),
    ("http://10.0.0.1:8080", "https-only"),
    ("ftp://example.com", "url"),
    ("https://user:pass@example.com", "url"),
    ("https://example.com/?x=1", "url"),
    ("https://exa mple.com", "url"),
    ("jobs.example.com", "url"),
])
def test_unsafe_base_urls_are_refused(url, rule):
    with pytest.raises(ConfigurationError) as caught:
        checked_base_url(url, "endpoint")
    assert caught.value.rule == rule


@pytest.mark.parametrize("url", ["http://127.0.0.1:4566", "http://localhost:8080/", "http://[::1]:9000",
                                 "http://127.9.9.9", "https://api.example.com/v1/"])
def test_loopback_http_and_https_are_accepted(url):
    assert checked_base_url(url, "endpoint") == url.rstrip("/")


def test_token_service_from_env_and_config():
    spaceone = SERVICES["spaceone"]
    got = resolve_token(spaceone, {}, {"SPACEONE_ENDPOINT": "https://so.example.test", "SPACEONE_API_KEY": "k-1234"})
    assert (got.base_url, got.header, got.value) == ("https://so.example.test", "Authorization", "Bearer k-1234")
    embedthis = SERVICES["embedthis"]
    got = resolve_token(embedthis, {"embedthisEndpoint": "https://et.example.test", "embedthisToken": "t-5678",
                                    "embedthisAuthHeader": "X-Api-Token"}, {})
    assert (got.header, got.value) == ("X-Api-Token", "t-5678")
    assert "t-5678" not in repr(got)
    with pytest.raises(ConfigurationError) as caught:
        resolve_token(spaceone, {}, {"SPACEONE_ENDPOINT": "https://so.example.test"})
    assert caught.value.field == "spaceoneApiKey"
