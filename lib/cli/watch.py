"""`jobs-connector watch TRIGGER`: run a polling trigger from the command line.

  jobs-connector watch iot-jobs-data.newPendingJobExecution --config '{"thingName": "demo-thing"}' \\
      --state thing.state --every 30s

Each new or changed item is one JSON line on stdout; the snapshot is kept in the state file (rewritten
atomically after every line), so a restart goes on where the last run stopped and emits nothing twice.
SIGINT / SIGTERM stop it cleanly: the item in hand is written and recorded, then it exits 0. Errors go
to stderr: a retryable one (throttling, network) is tried again at the next interval; any other ends
the watch with the `run` exit codes (2 bad input, 3 rejected, 5 outcome unknown).
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading

from jobs_connector.base import logs
from jobs_connector.base.errors import BadInput, ConnectorError
from jobs_connector.cli.main import _read_json_arg
from jobs_connector.triggers import state_file
from jobs_connector.triggers.engine import Poll
from jobs_connector.triggers.interval import seconds
from jobs_connector.triggers.trigger import get_trigger


def add_arguments(parser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    parser.add_argument("trigger", help="the trigger key (jobs-connector docs lists them in docs/actions.md)")
    parser.add_argument("--config", "-c", help="the trigger's config (its fields, credentials, endpoints): "
                                               "JSON, @file or -")
    parser.add_argument("--state", metavar="FILE",
                        help="where the snapshot is kept between runs (without it every start is a first run)")
    parser.add_argument("--every", default="30s", help="time between polls: 30s (default), 5m, 500ms, ...")
    parser.add_argument("--once", action="store_true", help="poll once and exit")
    parser.add_argument("--log-format", default="text", choices=logs.FORMATS,
                        help="lines on stderr (errors, warnings): text (default) or json (one object a line)")


def main(args) -> int:
    from jobs_connector.auth.chain import environment_secrets

    # Warnings and errors on stderr as the bare message (text, as before), or JSON lines.
    logs.configure("WARNING", log_format=args.log_format, text_format="%(message)s",
                   secrets=environment_secrets(), quiet=())
    trigger = get_trigger(args.trigger)  # unknown trigger: exit 2 with a suggestion
    cfg = _read_json_arg(args.config, "config") if args.config else {}
    if not isinstance(cfg, dict):
        raise BadInput("config must be a JSON object", field="config", rule="type")
    from jobs_connector.cli.config_keys import check_config_keys

    check_config_keys(cfg, extra=trigger.config_schema["properties"])  # a misspelt key is named, not ignored
    every = seconds(args.every)
    trigger.check_config(cfg)  # bad config: refused before any request
    snapshot = state_file.load(args.state, trigger.key) if args.state else {}

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    out = sys.stdout
    try:
        while True:
            poll = Poll(trigger.key, cfg, snapshot, stop=stop)
            try:
                for body in poll.items():
                    out.write(json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n")
                    out.flush()
                    snapshot = poll.snapshot()
                    if args.state:
                        state_file.save(args.state, trigger.key, snapshot)
                    if stop.is_set():
                        break
                else:
                    snapshot = poll.snapshot()
                    if args.state:
                        state_file.save(args.state, trigger.key, snapshot)
            except ConnectorError as exc:
                logs.say(f"error: {exc.describe()}", level=logging.ERROR, logger="jobs_connector.triggers",
                         action=trigger.key, request_id=exc.request_id)
                if not exc.retryable or args.once:
                    return exc.exit_code
            if args.once or stop.wait(every):
                return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
