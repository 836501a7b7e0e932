"""JSON a user hands us (`--input`, `--config`: inline, @file or - for stdin), read within bounds and refused
with a reason: a file that cannot be read, is not a regular file (a device such as /dev/urandom, a FIFO
that may never end, a directory), is larger than MAX_BYTES, is binary or not UTF-8, is not JSON, or
gives one key twice (which of the two was meant is anyone's guess).
"""

from __future__ import annotations

import json
import os
import stat
import sys

from jobs_connector.base.errors import BadInput
from jobs_connector.base.limits import MAX_DOCUMENT_BYTES

MAX_BYTES = MAX_DOCUMENT_BYTES  # the same bound as an answer's


def _refuse(what: str, source: str, reason: str, rule: str) -> BadInput:
    return BadInput(f"{source} {reason}", field=what, rule=rule)


def _read_file(path: str, what: str, source: str) -> bytes:
    try:
        # O_NONBLOCK: opening a FIFO no one writes to must not hang before we can look at what it is.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _refuse(what, source, f"cannot be read: {exc.strerror}", "file") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _refuse(what, source, "is not a regular file (a device, FIFO or directory could be endless); "
                                    "give a file, or - for standard input", "file")
    with os.fdopen(fd, "rb") as fh:
        try:
            return fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise _refuse(what, source, f"cannot be read: {exc.strerror}", "file") from None


def _text(data: bytes, what: str, source: str) -> str:
    if len(data) > MAX_BYTES:
        raise _refuse(what, source, f"is larger than {MAX_BYTES // (1024 * 1024)} MiB", "size")
    if b"\0" in data:
        raise _refuse(what, source, "is binary (it holds NUL bytes), not JSON text", "encoding")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _refuse(what, source, f"is not UTF-8 text (an invalid byte at offset {exc.start})",
                      "encoding") from None


def _no_duplicates(pairs: list) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def loads_strict(text: str | bytes):
    """json.loads, refusing an object that gives a key twice (raises DuplicateKey naming it)."""
    return json.loads(text, object_pairs_hook=_no_duplicates)


def read_json_argument(value: str, what: str, stdin=None):
    """The JSON of a `--input` / `--config` value: inline, @file (or file://, fileb://), or - (standard input)."""
    if value == "-":
        source = f"{what} (stdin)"
        stream = stdin or sys.stdin
        text = _text(stream.buffer.read(MAX_BYTES + 1) if hasattr(stream, "buffer") else
                     stream.read(MAX_BYTES + 1).encode("utf-8", "surrogateescape"), what, source)
    elif value.startswith(("@", "file://", "fileb://")):
        # @PATH, or the AWS CLI's file://PATH and fileb://PATH (the same here: JSON is read as UTF-8 bytes).
        path = value[1:] if value.startswith("@") else os.path.expanduser(value.split("://", 1)[1])
        source = f"{what} file {path}"
        text = _text(_read_file(path, what, source), what, source)
    else:
        source, text = what, value
    try:
        return loads_strict(text)
    except DuplicateKey as exc:
        raise BadInput(f"{source} gives the key '{exc.key}' twice; say it once", field=exc.key,
                       rule="duplicate-key") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                       field=what, rule="json") from None
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits, or nesting too deep
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else "a number in it is too long"
        raise BadInput(f"{source} cannot be read: {reason}", field=what, rule="json") from None
