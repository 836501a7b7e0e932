"""Run the CLI in-process and capture what a user would see."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

from jobs_connector.cli.main import main


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def messages(self) -> list:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


def run_cli(*argv: str) -> CliResult:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return CliResult(code, out.getvalue(), err.getvalue())
