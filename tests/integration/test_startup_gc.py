"""The process entry starts up without the cyclic collector and resumes it, freezing what start-up built,
once the command's modules are loaded (lib/cli/startup.py; the figures are in docs/performance.md).
In-process callers of `main(argv)` keep the collector as it was."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

from jobs_connector.cli import startup
from jobs_connector.component.registry import ROOT

# Records whether the collector ran while `requests` (the bulk of a call's imports) was being imported,
# then reports the collector's state once main() has returned.
PROBE = """
import gc, importlib.abc, json, sys
seen = {}
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == WATCHED and name not in seen:
            seen[name] = gc.isenabled()
        return None
WATCHED = sys.argv[1]
sys.meta_path.insert(0, Watch())
sys.argv = ["jobs-connector"] + json.loads(sys.argv[2])
import contextlib, io
from jobs_connector.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = main(None if EXPLICIT == "0" else sys.argv[1:])
print(json.dumps({"code": code, "while_importing": seen.get(WATCHED), "enabled": gc.isenabled(),
                  "frozen": gc.get_freeze_count()}))
"""

DRY_RUN = ["run", "iot-jobs-data.GetPendingJobExecutions", "--dry-run", "-i", '{"thingName": "demo-thing"}']


def probe(watched: str, argv: list[str], explicit: bool = False) -> dict:
    source = PROBE.replace("EXPLICIT", repr("1" if explicit else "0"))
    done = subprocess.run([sys.executable, "-c", source, watched, json.dumps(argv)], cwd=ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_call_imports_with_the_collector_paused_then_resumes_it_frozen(aws_env):
    report = probe("requests", DRY_RUN)
    assert report["code"] == 0
    assert report["while_importing"] is False  # paused while the call's modules were loaded
    assert report["enabled"] is True  # and on again for the call itself
    assert report["frozen"] > 10_000  # what start-up built is frozen, not walked by every later collection


def test_a_subcommand_module_is_imported_paused_and_then_it_resumes():
    report = probe("jobs_connector.cli.completion", ["completion", "bash"])
    assert report["code"] == 0
    assert report["while_importing"] is False
    assert report["enabled"] is True and report["frozen"] > 0


def test_the_other_commands_resume_it_before_they_start():
    report = probe("jobs_connector.component.registry", ["list"])  # which `list` imports once it runs
    assert report["code"] == 0
    assert report["while_importing"] is True
    assert report["enabled"] is True and report["frozen"] > 0


def test_main_called_with_its_arguments_leaves_the_collector_alone(aws_env):
    report = probe("requests", DRY_RUN, explicit=True)
    assert report["code"] == 0
    assert report["while_importing"] is True
    assert report["enabled"] is True
    assert report["frozen"] == 0


@pytest.fixture
def collector_restored():
    yield
    gc.unfreeze()
    gc.enable()


def test_resume_turns_on_only_what_pause_turned_off(collector_restored):
    startup.resume()  # nothing paused: nothing happens
    assert gc.isenabled() and gc.get_freeze_count() == 0
    startup.pause()
    assert not gc.isenabled()
    startup.resume()
    assert gc.isenabled() and gc.get_freeze_count() > 0
    gc.unfreeze()
    gc.disable()  # the caller's own choice: pause leaves it, and resume does not override it
    startup.pause()
    startup.resume()
    assert not gc.isenabled() and gc.get_freeze_count() == 0
