"""Log lines on stderr for the long-running commands (`serve`, `ipaas`, `watch`): text (the default) or
JSON (`--log-format json`), one object a line:

  {"time": "2026-12-07T03:35:35.123Z", "level": "WARNING", "logger": "jobs_connector.webhooks",
   "message": "event ... dead-lettered: ...", "event_id": "...", "flow": "device-status", "step": 1,
   "action": "iot-jobs-data.UpdateJobExecution", "attempt": 3, "request_id": "...", "duration": 0.42}

The fields after `message` appear where the line knows them (FIELDS; a log call passes them as `extra=`).
Both formats carry the same words: each call site logs what is already scrubbed (a service's text through
its call's Redactor, an event's error through the sealing's scrub), and the handler's ScrubFilter masks,
once, the secrets this process knows from its start (webhook secrets, keys and tokens in its environment)
in the message, the traceback and the fields, before either format writes them.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from jobs_connector.base.log_repeats import RepeatFilter
from jobs_connector.base.redact import Redactor

FORMATS = ("text", "json")
# The structured fields a line may carry (log calls pass them with extra=); nothing else of a record is shown.
FIELDS = ("event_id", "flow", "step", "action", "attempt", "request_id", "message_id", "duration", "field", "rule")

_handler: logging.Handler | None = None  # the stderr handler configure() installed
_redactor = Redactor()  # its ScrubFilter's, for the lines say() writes as they are


class JsonFormatter(logging.Formatter):
    def __init__(self, process: str | None = None):
        super().__init__()
        self.process = process  # `serve --worker-processes`: the child's number

    def format(self, record: logging.LogRecord) -> str:
        seconds = record.created
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z",
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if self.process:
            line["worker_process"] = self.process
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))


class ScrubFilter(logging.Filter):
    """On the handler: the process's known secrets masked in each record, whatever the format."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = self.redactor.scrub
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: logging's own error report says which
            return True
        record.msg, record.args = scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        for name in FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, str):
                setattr(record, name, scrub(value))
        return True


def configure(level: str, *, log_format: str = "text", text_format: str = "%(asctime)s %(levelname)s %(name)s: "
              "%(message)s", process: str | None = None, secrets=(), quiet=("pika",)) -> None:
    """One handler on stderr for the root logger (every library's lines too), at WARNING, and `level` for
    ours; a repeated failure said once per interval (RepeatFilter), known secrets masked (ScrubFilter)."""
    global _handler, _redactor
    _redactor = Redactor(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process) if log_format == "json" else logging.Formatter(text_format))
    handler.addFilter(RepeatFilter())  # first: it may add to the message, which is then scrubbed
    handler.addFilter(ScrubFilter(_redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        if old is _handler:
            root.removeHandler(old)
    if not root.handlers:  # an embedding's own handlers (tests) stay as they are
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("jobs_connector").setLevel(level)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    _handler = handler


def is_json() -> bool:
    return _handler is not None and isinstance(_handler.formatter, JsonFormatter)


def say(line: str, *, level: int = logging.INFO, logger: str = "jobs_connector", **fields) -> None:
    """A line the command writes whatever the log level (serve's `listening on ...`, an error at exit):
    through the handler when the format is JSON, else as it is."""
    if not is_json():
        sys.stderr.write(_redactor.scrub(line) + "\n")
        sys.stderr.flush()
        return
    record = logging.getLogger(logger).makeRecord(logger, level, "(command)", 0, line, None, None,
                                                  extra={k: v for k, v in fields.items() if v is not None})
    _handler.handle(record)
