import os
import sys

import pytest

# botocore's pure-Python signer is the tests' reference; with awscrt installed (it comes with awsiotsdk)
# botocore signs through the CRT instead, whose clock the frozen-clock conformance tests cannot freeze.
os.environ["BOTO_DISABLE_CRT"] = "true"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tests.support import hypothesis_profiles  # noqa: E402  (registers the hypothesis profiles)
from tests.support.loopback import LoopbackServer  # noqa: E402

if os.environ.get("HYPOTHESIS_PROFILE"):
    from hypothesis import settings

    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])

# Obviously fake credentials: tests plant these and check they never leak.
FAKE_ACCESS_KEY = "AKIDTESTFAKEKEY00001"
FAKE_SECRET_KEY = "test-secret-key-not-real-0000000000000000"
FAKE_SESSION_TOKEN = "test-session-token-not-real-0000"
REGION = "eu-west-1"

_AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
             "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_CA_BUNDLE",
             "SPACEONE_ENDPOINT", "SPACEONE_API_KEY", "EMBEDTHIS_ENDPOINT", "EMBEDTHIS_TOKEN",
             # The role sources (lib/auth/roles.py): none of the machine's may answer a test.
             "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_STS_REGIONAL_ENDPOINTS",
             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
             "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
             "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No test sees the developer's real credentials, profiles or endpoints."""
    for name in list(os.environ):
        if name in _AWS_VARS or name.startswith("AWS_ENDPOINT_URL_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    # The webhook sealing key: a fresh one per test, never the developer's (~/.config/jobs-connector).
    monkeypatch.delenv("JOBS_CONNECTOR_SEALING_KEY", raising=False)
    monkeypatch.delenv("JOBS_CONNECTOR_SEALING_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # a test that wants IMDS starts its own fake


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture
def loopback():
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def no_sleep(monkeypatch):
    """Retries back off without waiting; the waits asked for are recorded."""
    waits: list[float] = []
    monkeypatch.setattr("jobs_connector.http.transport.time.sleep", waits.append)
    return waits


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its counts go to the controller, which prints them
        workeroutput["generated_cases"] = dict(hypothesis_profiles.GENERATED_CASES)
        workeroutput["fuzz_examples"] = dict(hypothesis_profiles.FUZZ_EXAMPLES)
        workeroutput["multihost_counts"] = dict(_multihost_counts())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    output = getattr(node, "workeroutput", {})
    hypothesis_profiles.GENERATED_CASES.update(output.get("generated_cases", {}))
    hypothesis_profiles.FUZZ_EXAMPLES.update(output.get("fuzz_examples", {}))
    _multihost_counts().update(output.get("multihost_counts", {}))


def _multihost_counts() -> dict:
    """Per fault of tests/integration/multihost: accepted, succeeded, dead, step requests (loaded lazily: the
    module is imported only by the tests that make test hosts)."""
    from tests.support import multihost

    return multihost.FAULT_COUNTS


def pytest_terminal_summary(terminalreporter):
    """How many generated cases the property-based conformance tests and the fuzz tests ran (for the closing
    notes)."""
    fuzz = hypothesis_profiles.FUZZ_EXAMPLES
    if fuzz:
        terminalreporter.write_sep("-", f"fuzz examples run: {sum(fuzz.values())} "
                                        f"({', '.join(f'{kind}: {n}' for kind, n in sorted(fuzz.items()))})")
    faults = _multihost_counts()
    if faults:
        terminalreporter.write_sep("-", f"hosts that die (tests/integration/multihost): {len(faults)} faults")
        for fault, figures in sorted(faults.items()):
            terminalreporter.write_line(f"  {fault}: " + ", ".join(f"{name} {n}" for name, n in figures.items()))
    counts = hypothesis_profiles.GENERATED_CASES
    if counts:
        terminalreporter.write_sep("-", f"generated conformance cases: {sum(counts.values())}")
        for kind, count in sorted(counts.items()):
            terminalreporter.write_line(f"{count:6d}  {kind}")


def pytest_sessionstart(session):
    """Say first which system programs the suite needs and this machine lacks (tests/support/system_needs.py):
    their tests skip, and the line says how to install them. Written even under -q (the default)."""
    from tests.support.system_needs import missing, report

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in report(missing()):
        if reporter is not None:
            reporter.write_line(line, yellow=True)


@pytest.fixture
def private_redis():
    """A redis-server of the test's own (appendfsync always), to be stopped or changed while serving; its
    files removed after. Imported here, not at the top: most tests need no Redis."""
    from tests.support.webhooks import RedisProcess, need_redis_server

    need_redis_server()
    server = RedisProcess()
    try:
        yield server.start()
    finally:
        server.cleanup()
