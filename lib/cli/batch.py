"""Batch mode: `jobs-connector run ACTION --each [--concurrency N]`.

One JSON input per line of standard input (blank lines are skipped), one output line per input on
standard output, in the order of the inputs: the emitted message body, or `{"error": {...}}` (the error's
type, message, code, status, ..., and the input's line number) for an input that failed; the process goes
on with the next input. A shell loop over many inputs then pays for one start, and every call shares one
pool of kept-alive connections.

--concurrency N runs up to N calls at once (threads sharing the runtime and its connection pool); the
output stays in input order, and at most 2N inputs are read ahead. Every input is sent as a call of its
own, exactly as a separate `run` would send it: a non-idempotent action is sent once per input.

Exit code: 0 when every input succeeded, else the worst failure's: 5 (outcome unknown: look before running
it again) before 1 (an internal error) before 4 (retryable) before 3 (rejected) before 2 (bad input).
"""

from __future__ import annotations

import json
import sys
from collections import deque
from collections.abc import Callable, Iterator

from jobs_connector.base.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_OUTCOME_UNKNOWN,
    EXIT_REJECTED,
    EXIT_RETRYABLE,
    BadInput,
    ConnectorError,
)

MAX_CONCURRENCY = 64
MAX_LINE_BYTES = 1024 * 1024  # one input; the APIs' own inputs are far smaller
# The worst failure decides the exit code; a larger rank is worse.
SEVERITY = {0: 0, EXIT_BAD_INPUT: 1, EXIT_REJECTED: 2, EXIT_RETRYABLE: 3, EXIT_INTERNAL: 4, EXIT_OUTCOME_UNKNOWN: 5}


def add_arguments(parser) -> None:
    """The batch options of `run` (the hook in lib/cli/main.py)."""
    parser.add_argument("--each", action="store_true",
                        help="batch: one JSON input per line of stdin, one output line per input, in order; "
                             "a failed input gives an {\"error\": ...} line and the rest go on")
    parser.add_argument("--concurrency", type=int, default=1, metavar="N",
                        help=f"with --each: run up to N calls at once (1 to {MAX_CONCURRENCY}; output stays in order)")


def check_options(args, cfg: dict) -> None:
    """Refuse what batch mode cannot do, before any input is read or request sent."""
    if args.concurrency != 1 and not args.each:
        raise BadInput("--concurrency needs --each", field="concurrency", rule="each")
    if not args.each:
        return
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise BadInput(f"--concurrency must be 1 to {MAX_CONCURRENCY}, not {args.concurrency}",
                       field="concurrency", rule="range")
    if args.output != "json":
        raise BadInput("--each writes one JSON line per input: leave out --output (or give json)",
                       field="output", rule="each")
    if args.input != "{}":
        raise BadInput("--each reads its inputs from stdin, one JSON object a line: leave out --input",
                       field="input", rule="each")
    if cfg.get("emitBehaviour") == "emitIndividually":
        raise BadInput("--each writes one line per input: use --emit fetchAll or fetchPage, not emitIndividually",
                       field="emitBehaviour", rule="each")


def read_inputs(stream) -> Iterator[tuple[int, object]]:
    """(line number, parsed JSON or the BadInput that says why not) for each non-blank line; a line longer
    than MAX_LINE_BYTES is refused without being held whole."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass  # skip the rest of the line
            yield number, BadInput(f"input line {number} is longer than {MAX_LINE_BYTES} bytes",
                                   field="input", rule="size")
            continue
        if not line.strip():  # not an input, but counted: error lines name the line as a file has it
            continue
        yield number, _parsed(line, number)


def _parsed(line: bytes, number: int):
    try:
        return json.loads(line)
    except UnicodeDecodeError:
        return BadInput(f"input line {number} is not UTF-8", field="input", rule="json")
    except json.JSONDecodeError as exc:
        return BadInput(f"input line {number} is not valid JSON: {exc.msg} at column {exc.colno}",
                        field="input", rule="json")
    except (ValueError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else "a number in it is too long"
        return BadInput(f"input line {number} cannot be read: {reason}", field="input", rule="json")


class Batch:
    """Runs one input to one output line and keeps the worst exit code."""

    def __init__(self, runtime, action: str, cfg: dict, *, dry_run: bool = False,
                 trace: Callable[[str], None] | None = None, errors=None, query: Callable = lambda body: body):
        self.runtime, self.action, self.cfg, self.query = runtime, action, cfg, query
        self.dry_run, self.trace = dry_run, trace
        self.errors = errors if errors is not None else sys.stderr
        self.worst = 0

    def one(self, number: int, body) -> tuple[str, int]:
        """The output line for one input and its exit code (never raises for the input's sake)."""
        try:
            if isinstance(body, BadInput):
                raise body
            if self.dry_run:
                message = self.runtime.dry_run(self.action, body, self.cfg)
            else:
                [message] = self.runtime.run(self.action, body, self.cfg, trace=self.trace,
                                             warn=lambda text: self._say(number, "warning", text))
                message = self.query(message)
            return json.dumps(message, separators=(",", ":"), ensure_ascii=False), 0
        except ConnectorError as exc:
            return self._error_line(number, exc.to_dict(), exc.exit_code, exc.describe())
        except Exception as exc:  # a bug: said briefly, and the other inputs still run
            text = f"internal error: {type(exc).__name__}"
            return self._error_line(number, {"type": "InternalError", "message": text, "retryable": False},
                                    EXIT_INTERNAL, text)

    def _say(self, number: int, kind: str, text: str) -> None:
        print(f"line {number}: {kind}: {text}", file=self.errors, flush=True)

    def _error_line(self, number: int, error: dict, code: int, text: str) -> tuple[str, int]:
        self._say(number, "error", text)
        return json.dumps({"error": {**error, "line": number}}, separators=(",", ":"), ensure_ascii=False), code

    def write(self, out, result: tuple[str, int]) -> None:
        line, code = result
        if SEVERITY.get(code, 4) > SEVERITY.get(self.worst, 4):
            self.worst = code
        out.write(line + "\n")
        out.flush()

    def run(self, inputs, out, concurrency: int) -> int:
        if concurrency == 1:
            for number, body in inputs:
                self.write(out, self.one(number, body))
            return self.worst
        from concurrent.futures import ThreadPoolExecutor  # only with --concurrency above 1

        pool = ThreadPoolExecutor(concurrency, thread_name_prefix="each")
        pending: deque = deque()
        try:
            for number, body in inputs:
                pending.append(pool.submit(self.one, number, body))
                # Written in input order as soon as the oldest is done; at most 2N read ahead.
                while pending and (pending[0].done() or len(pending) >= 2 * concurrency):
                    self.write(out, pending.popleft().result())
            while pending:
                self.write(out, pending.popleft().result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return self.worst


def main(args, cfg: dict, query: Callable = lambda body: body) -> int:
    """`run ACTION --each`: the options are checked, then stdin is read line by line; `query` (--query,
    compiled) applies to each emitted body."""
    # The CLI's parser imports this module for its flags: the runtime loads only when batch mode runs.
    from jobs_connector.component.registry import get_action
    from jobs_connector.http.transport import Transport
    from jobs_connector.runtime import Runtime

    check_options(args, cfg)
    get_action(args.action)  # an unknown action is refused once, not once a line
    runtime = Runtime(Transport(pool_size=max(16, args.concurrency)))
    trace = (lambda line: print(line, file=sys.stderr, flush=True)) if args.verbose else None
    batch = Batch(runtime, args.action, cfg, dry_run=args.dry_run, trace=trace, query=query)
    return batch.run(read_inputs(sys.stdin.buffer), sys.stdout, args.concurrency)
