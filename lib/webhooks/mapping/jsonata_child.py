"""The JSONata evaluator process: evaluates flow mappings for lib/webhooks/mapping/jsonata_box.py.

Runs as its own interpreter (started by file path, with an empty environment: no secret reaches it),
so its limits can be enforced from outside: an address-space limit bounds its memory, and the parent
kills it when it overruns its time (a regular expression backtracking inside `re`, or one builtin call
that never returns, cannot be interrupted from within). Inside, each request also gets a cooperative
deadline and size limits checked at every evaluation step, so the usual runaway (endless recursion, a
huge range, nested ranges) ends with a precise error and the process lives on.

Wire format, both ways: frames of one kind byte, a 4-byte big-endian length and a UTF-8 JSON payload.
  ready    b"r": {"ready": true}                (once, when the child has started)
  request  b"q": {"sources": [...], "context": {...}, "time_limit": seconds}
  answer   b"r": {"results": [...]}  or  {"failed": i, "rule": "...", "message": "..."}
While evaluating sources[i], the child keeps i in a shared memory page (no system call, no wake-up), so
a parent that had to kill it still knows which field was running.

Stdlib and jsonata only: this file is started as a script, not imported through the package.
"""

from __future__ import annotations

import json
import struct
import sys
import time

MAX_RANGE = 1_000_000  # items one `[a..b]` may allocate (jsonata's own message says 1e6; its code allows 1e7)
MAX_SEQUENCE = 1_000_000  # items in any intermediate result
MAX_STRING = 1_000_000  # characters in any intermediate string
MAX_DEPTH = 500  # nested evaluation frames (recursion that is not a tail call)
CHECK_EVERY = 64  # evaluation steps between two clock reads
HEADER = struct.Struct(">cI")
PROGRESS = struct.Struct("=I")


class LimitExceeded(Exception):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def _limited_jsonata():
    import jsonata  # in the evaluator child only, after its memory limit is set
    from jsonata import jsonata as engine

    original_range = engine.Jsonata.evaluate_range_expression

    def evaluate_range_expression(self, lhs, rhs):
        if isinstance(lhs, int) and isinstance(rhs, int) and rhs - lhs + 1 > MAX_RANGE:
            raise LimitExceeded("size-limit", f"the range [{lhs}..{rhs}] has {rhs - lhs + 1} items; "
                                              f"at most {MAX_RANGE:,} are allowed")
        return original_range(self, lhs, rhs)

    engine.Jsonata.evaluate_range_expression = evaluate_range_expression
    return jsonata


class Guard:
    """Entry and exit hooks of jsonata's evaluator: a deadline, a depth limit and size limits."""

    def __init__(self):
        self.deadline = 0.0
        self.time_limit = 0.0
        self.depth = 0
        self.steps = 0

    def start(self, time_limit: float) -> None:
        self.time_limit, self.deadline = time_limit, time.monotonic() + time_limit
        self.depth = self.steps = 0

    def entry(self, expr, input, env):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise LimitExceeded("depth-limit", f"evaluation nested deeper than {MAX_DEPTH} levels "
                                               "(a recursive function that does not end?)")
        self.steps += 1
        if self.steps % CHECK_EVERY == 0 and time.monotonic() > self.deadline:
            raise LimitExceeded("time-limit", f"did not finish within the time limit of {self.time_limit:g} s "
                                              "(a loop or recursion that does not end?)")

    def exit(self, expr, input, env, result):
        self.depth -= 1
        if isinstance(result, list) and _items(result) > MAX_SEQUENCE:
            raise LimitExceeded("size-limit", f"a sequence of {_items(result):,} items; at most {MAX_SEQUENCE:,} "
                                              "are allowed")
        if isinstance(result, str) and len(result) > MAX_STRING:
            raise LimitExceeded("size-limit", f"a string of {len(result):,} characters; at most "
                                              f"{MAX_STRING:,} are allowed")


def _items(sequence: list) -> int:
    if hasattr(sequence, "a") and hasattr(sequence, "b"):  # jsonata's lazy range counts one item too many
        return sequence.b - sequence.a
    return len(sequence)


def plain(value):
    """jsonata returns its own list subclass and may return functions; keep plain JSON."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if callable(value):
        return None
    return value


def _read_exact(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _write(stream, kind: bytes, payload) -> None:
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    stream.write(HEADER.pack(kind, len(data)) + data)
    stream.flush()


def serve(memory_limit: int, progress_fd: int) -> None:
    import mmap

    progress = mmap.mmap(progress_fd, PROGRESS.size) if progress_fd >= 0 else None
    if memory_limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    jsonata = _limited_jsonata()
    guard = Guard()
    bindings = {"__evaluate_entry": guard.entry, "__evaluate_exit": guard.exit}
    compiled: dict[str, object] = {}
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    _write(stdout, b"r", {"ready": True})  # the parent's clock starts with the first request, not before
    while True:
        header = _read_exact(stdin, HEADER.size)
        if header is None:
            return  # the parent closed the pipe: it is gone or done with us
        _kind, size = HEADER.unpack(header)
        request = json.loads(_read_exact(stdin, size) or b"{}")
        sources, context = request["sources"], request["context"]
        guard.start(float(request["time_limit"]))
        results, index = [], 0
        try:
            for index, source in enumerate(sources):
                if progress is not None:
                    PROGRESS.pack_into(progress, 0, index)
                expression = compiled.get(source)
                if expression is None:
                    if len(compiled) > 1000:
                        compiled.clear()
                    expression = compiled[source] = jsonata.Jsonata(source)
                guard.depth = 0
                results.append(plain(expression.evaluate(context, bindings)))
            answer = {"results": results}
            data = json.dumps(answer, separators=(",", ":"), allow_nan=False)
            if len(data) > MAX_STRING * 4:
                raise LimitExceeded("size-limit", f"the results take {len(data):,} bytes as JSON; at most "
                                                  f"{MAX_STRING * 4:,} are allowed")
            _write(stdout, b"r", answer)
        except MemoryError:
            compiled.clear()
            _write(stdout, b"r", {"failed": index, "rule": "memory-limit", "restart": True,
                                  "message": f"needed more than the memory limit of {memory_limit >> 20} MiB"})
            return  # a process that ran out of memory is not trusted with the next request
        except LimitExceeded as exc:
            _write(stdout, b"r", {"failed": index, "rule": exc.rule, "message": str(exc)})
        except RecursionError:
            _write(stdout, b"r", {"failed": index, "rule": "depth-limit",
                                  "message": "evaluation nested too deeply (a recursive function that does not end?)"})
        except Exception as exc:  # jsonata's own errors: a type mismatch, a function called wrongly, ...
            _write(stdout, b"r", {"failed": index, "rule": "evaluation", "message": str(exc)})


if __name__ == "__main__":
    sys.path.append(sys.argv[1])  # where jsonata is installed, should isolated mode not find it
    serve(int(sys.argv[2]), int(sys.argv[3]))
