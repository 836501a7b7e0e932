"""Start-up cost: a command loads only what it needs (figures in benchmarks/run.py, not asserted here).

`list` and `describe` need neither HTTP nor validation; `run` with credentials from the environment
reads no AWS file and runs no credential_process, so it imports neither configparser nor subprocess, and
a valid message passes the fast validation stage without loading the reference validator (jsonschema).
Each case runs in a fresh interpreter and reports the modules it ended with."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jobs_connector.component.registry import ROOT

PROBE = """
import contextlib, io, json, sys
from jobs_connector.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(json.loads(sys.argv[1]))
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

HEAVY_FOR_LIST = {"requests", "urllib3", "jsonschema", "jsonschema_rs", "regex", "aws_requests_auth",
                  "jobs_connector.runtime"}
# GetPendingJobExecutions' only pattern is plain ASCII, left to jsonschema-rs: `regex` is not needed either.
# dataclasses pulls in inspect, ast and dis: lib/base/record.py stands in for it on this path.
UNNEEDED_FOR_RUN = {"configparser", "subprocess", "shlex", "jsonschema", "regex",
                    "jobs_connector.validation.reference", "jobs_connector.webhooks", "jobs_connector.sandbox",
                    "jobs_connector.sailor", "pika", "huey", "yaml", "cryptography",
                    "dataclasses", "inspect", "ast", "dis", "concurrent.futures"}


def loaded_by(argv: list[str]) -> tuple[int, set[str]]:
    """Run the CLI in a fresh interpreter with this test's environment (aws_env sets it)."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


@pytest.mark.parametrize("argv", [["list"], ["describe", "iot-jobs-data.GetPendingJobExecutions"]])
def test_list_and_describe_load_no_http_and_no_validation(argv):
    code, modules = loaded_by(argv)
    assert code == 0
    assert not HEAVY_FOR_LIST & modules, sorted(HEAVY_FOR_LIST & modules)


def test_a_run_loads_no_profile_reader_and_no_other_subcommand(aws_env):
    # --dry-run signs the request and stops before the network: the same imports as a call.
    code, modules = loaded_by(["run", "iot-jobs-data.GetPendingJobExecutions", "--dry-run",
                               "-i", '{"thingName": "demo-thing"}'])
    assert code == 0
    assert {"requests", "jsonschema_rs", "jobs_connector.runtime"} <= modules  # the probe did run the call path
    assert not UNNEEDED_FOR_RUN & modules, sorted(UNNEEDED_FOR_RUN & modules)


def test_a_run_builds_only_its_own_parser_and_parses_as_the_whole_tree_does():
    from jobs_connector.cli.main import build_parser

    def commands(parser):
        return set(parser._subparsers._group_actions[0].choices)

    assert commands(build_parser("run")) == {"run"}
    assert {"list", "describe", "run", "sandbox", "serve"} <= commands(build_parser())
    argv = ["run", "spaceone.ListJobs", "-i", "{}", "--emit", "fetchPage", "--max-pages", "3", "--each",
            "--concurrency", "4", "-v"]
    assert vars(build_parser("run").parse_args(argv)) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("stage", ["reference", "fast"])
def test_validators_are_compiled_once_per_schema_object(stage):
    from jobs_connector.validation import fast as fast_validation
    from jobs_connector.validation import reference as reference_validation

    compiled = reference_validation.validator_for if stage == "reference" else fast_validation._validators
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    twin = json.loads(json.dumps(schema))
    first = compiled(schema)
    assert compiled(schema) is first
    assert compiled(twin) is not first  # an equal schema elsewhere is its own entry
    strict = first if stage == "reference" else first[0]  # the fast stage also keeps a float-free variant
    assert not strict.is_valid({"n": 5.0}) and strict.is_valid({"n": 5})  # our integer rule is compiled in


def test_the_per_schema_cache_is_bounded():
    from jobs_connector.base.schema_cache import PerSchema

    made = []
    cache = PerSchema(lambda schema: made.append(schema) or len(made), size=3)
    schemas = [{"type": "object", "maxProperties": n} for n in range(6)]
    assert [cache(schema) for schema in schemas] == [1, 2, 3, 4, 5, 6]
    assert len(cache.entries) == 3
    assert cache(schemas[5]) == 6 and cache(schemas[0]) == 7  # kept, and evicted then derived again


def test_events_and_a_serve_without_metrics_never_load_prometheus_client(tmp_path):
    """Only a serve with metrics on imports prometheus_client: `events` (which shares serve's modules) does not,
    and neither does building a service with --no-metrics. (Whether opentelemetry is loaded is not ours to
    say: redis-py imports its SDK, where installed, as redis itself is imported.)"""
    from jobs_connector.webhooks.store.queue import Queue

    Queue(f"sqlite:///{tmp_path / 'q.db'}").close()  # the file events reads
    code, modules = loaded_by(["events", "list", "--queue", f"sqlite:///{tmp_path / 'q.db'}"])
    assert code == 0
    assert {"prometheus_client", "jobs_connector.webhooks.metrics.prometheus"}.isdisjoint(modules)
    probe = (
        "import json, sys\n"
        "from jobs_connector.webhooks import flows\n"
        "from jobs_connector.webhooks.lifecycle import Service, Settings\n"
        "from jobs_connector.webhooks.store.queue import Queue\n"
        f"q = Queue('sqlite:///{tmp_path / 'q.db'}')\n"
        "f = flows.build({'flows': [{'name': 'a', 'secret_env': 'S', 'steps': [{'action': "
        "'iot-jobs-data.DescribeJobExecution', 'input': {'thingName': \"'t'\", 'jobId': \"'j'\"}}]}]}, "
        "environ={'S': 'a-secret-of-sixteen-or-more'})\n"
        "s = Service(f, q, Settings(port=0, work=False, metrics=sys.argv[1] == 'on'), announce=lambda line: None, "
        "install_signals=False)\n"
        "s.start(); s.stop()\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    for switch, expected in (("off", False), ("on", True)):
        done = subprocess.run([sys.executable, "-c", probe, switch], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert ("prometheus_client" in json.loads(done.stdout.splitlines()[-1])) is expected, switch
