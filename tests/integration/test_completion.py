"""Shell completion: the candidates for each position, and the scripts bash and zsh read (bash runs them for
real: the script is sourced and its completion function called as a TAB would)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from jobs_connector.cli.completion import candidates, complete, script, split_line
from jobs_connector.cli.main import EXTENSIONS, build_parser
from jobs_connector.component.registry import ROOT, action_keys


def words(line: str) -> list[str]:
    return candidates(line, build_parser())[0]


def test_commands_and_top_level_flags():
    assert words("jobs-connector ") == ["list", "describe", "run", *EXTENSIONS]
    assert {"sandbox", "serve", "completion"} <= set(EXTENSIONS)
    assert words("jobs-connector de") == ["describe"]
    assert "--version" in words("jobs-connector --")


def test_action_keys_after_run_and_describe():
    assert words("jobs-connector run ") == action_keys()
    assert words("jobs-connector describe codepipeline.Put") == ["codepipeline.PutThirdPartyJobSuccessResult",
                                                                 "codepipeline.PutThirdPartyJobFailureResult"]


def test_flags_and_their_choices():
    flags = words("jobs-connector run iot-jobs-data.UpdateJobExecution --")
    assert {"--input", "--query", "--output", "--emit", "--region", "--dry-run"} <= set(flags)
    assert words("jobs-connector run spaceone.ListJobs --output ") == ["json", "table", "text"]
    assert words("jobs-connector run spaceone.ListJobs --emit e") == ["emitIndividually"]
    assert words("jobs-connector describe spaceone.ListJobs --s") == ["--skeleton"]


def test_subcommands_in_their_own_modules_complete_their_own_flags():
    assert words("jobs-connector completion ") == ["bash", "zsh"]
    assert "--port" in words("jobs-connector sandbox --")


def test_input_offers_the_required_fields_then_the_field_names():
    required, = words("jobs-connector run iot-jobs-data.UpdateJobExecution --input ")
    assert required.startswith("'") and required.endswith("'")
    # the required fields, each placeholder within its rules (the example's values: a skeleton's)
    assert json.loads(required[1:-1]) == {"jobId": "demo-job-1", "thingName": "demo-thing", "status": "SUCCEEDED"}
    open_object = words("""jobs-connector run iot-jobs-data.UpdateJobExecution --input '{"thingName": "x", "s""")
    assert open_object == ['{"thingName": "x", "status": ', '{"thingName": "x", "statusDetails": ',
                           '{"thingName": "x", "stepTimeoutInMinutes": ']
    used = words("""jobs-connector run iot-jobs-data.UpdateJobExecution --input '{"thingName": "x", \"""")
    assert not any(c.endswith('"thingName": ') for c in used)  # a field already given is not offered again
    assert len(used) == 8  # the other eight fields
    # one match comes with its placeholder too, so readline keeps the quote open behind the common prefix
    assert words("""jobs-connector run iot-jobs-data.UpdateJobExecution --input '{"th""") == [
        '{"thingName": ', '{"thingName": "demo-thing"']


def test_the_shell_splitting_keeps_an_open_quote():
    assert split_line("a 'b c' d") == (["a", "b c"], "d", "")
    assert split_line("""a --input '{"x": 1, "y""") == (["a", "--input"], '{"x": 1, "y', "'")


def test_a_single_finished_candidate_gets_its_space_in_bash():
    env = {"COMP_LINE": "jobs-connector desc", "COMP_POINT": "19"}
    assert complete("bash", env) == ["describe "]
    assert complete("zsh", env) == ["describe "]
    assert complete("zsh", {"COMP_LINE": "jobs-connector completion ", "COMP_POINT": "26"}) == ["bash ", "zsh "]
    assert complete("bash", {"COMP_LINE": "jobs-connector completion ", "COMP_POINT": "26"}) == ["bash", "zsh"]
    env = {"COMP_LINE": "jobs-connector describe x", "COMP_POINT": "19"}  # the cursor decides, not the line end
    assert complete("bash", env) == ["describe "]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_script_completes_through_the_real_cli(tmp_path):
    # A `jobs-connector` on PATH that is this checkout, so the script calls the code under test.
    shim = tmp_path / "jobs-connector"
    shim.write_text(f"#!/bin/sh\ncd {ROOT!s} && exec {sys.executable} -m jobs_connector \"$@\"\n")
    shim.chmod(0o755)
    (tmp_path / "completion.bash").write_text(script("bash"))
    line = "jobs-connector run iot-jobs-data.UpdateJ"
    program = f"""
source {tmp_path / 'completion.bash'}
COMP_LINE='{line}'; COMP_POINT={len(line)}
COMP_WORDS=(jobs-connector run iot-jobs-data.UpdateJ); COMP_CWORD=2
_jobs_connector_complete
printf '[%s]\\n' "${{COMPREPLY[@]}}"
complete -p jobs-connector
"""
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "[iot-jobs-data.UpdateJobExecution ]"
    assert "-F _jobs_connector_complete" in proc.stdout


def test_completion_command_prints_the_scripts():
    from tests.support.cli import run_cli

    bash = run_cli("completion", "bash")
    assert bash.code == 0 and "complete -o nospace -o default -F _jobs_connector_complete jobs-connector" in bash.stdout
    zsh = run_cli("completion", "zsh")
    assert zsh.code == 0 and zsh.stdout.startswith("#compdef jobs-connector")
    with pytest.raises(SystemExit):  # argparse refuses a shell it does not know
        run_cli("completion", "fish")
