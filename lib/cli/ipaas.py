"""`jobs-connector ipaas`: the container's entry point on the integration platform.

Without an argument it runs the step the ELASTICIO_* environment describes (as the sailors' run.js /
Sailor main); with a service method (verifyCredentials, getMetaModel, selectModel) it answers that one
call and exits (as their runService.js / Service main). Logs go to stderr; LOG_LEVEL sets the level.
"""

from __future__ import annotations

import logging
import os
import signal
import time

from pika.exceptions import AMQPError

from jobs_connector.base import logs
from jobs_connector.base.errors import ConnectorError
from jobs_connector.sailor.settings import SERVICE_METHODS, read_settings

log = logging.getLogger("jobs_connector.sailor")


def add_arguments(parser) -> None:
    parser.description = ("The container's entry point on the integration platform: run the step the ELASTICIO_* "
                          "environment describes, or answer one platform service call.")
    parser.add_argument("method", nargs="?", choices=SERVICE_METHODS,
                        help="answer one platform service call instead of running the step")
    parser.add_argument("--log-format", default="text", choices=logs.FORMATS,
                        help="log lines on stderr: text (default) or json (one object a line)")


# The platform's secrets in the container's environment, masked in every log line (lib/base/logs.py).
PLATFORM_SECRET_ENV = ("ELASTICIO_API_KEY", "ELASTICIO_MESSAGE_CRYPTO_PASSWORD", "ELASTICIO_MESSAGE_CRYPTO_IV")


def _platform_secrets(environ) -> list[str]:
    from urllib.parse import urlsplit

    from jobs_connector.auth.chain import environment_secrets

    found = [environ.get(name) for name in PLATFORM_SECRET_ENV] + environment_secrets(environ)
    try:
        found.append(urlsplit(environ.get("ELASTICIO_AMQP_URI", "")).password)
    except ValueError:  # a malformed URI: read_settings names it
        pass
    return [value for value in found if value]


def _configure_logging(log_format: str = "text") -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    level = level if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "INFO"
    logs.configure(level, log_format=log_format, secrets=_platform_secrets(os.environ))
    logging.getLogger().setLevel(level)  # as before: the libraries' lines at LOG_LEVEL too (pika's at WARNING)


def run_step(environ, process=None) -> int:
    from jobs_connector.sailor.amqp import AmqpLink  # pika: a step run only, not the platform's service calls
    from jobs_connector.sailor.step import StepRunner, check_function, load_step, report_startup_error

    settings = read_settings(environ)  # refuses, naming every missing variable, before any connection
    if settings.hook_shutdown:
        log.info("shutdown hook: this component keeps no start-up state, nothing to do")
        return 0
    link = AmqpLink(settings).connect()
    try:
        check_function(settings)
        step = load_step(settings)
    except ConnectorError as exc:
        try:
            report_startup_error(settings, link, exc.to_dict())
        finally:
            link.close()
        raise
    runner = StepRunner(settings, step, link, **({"process": process} if process else {}))
    previous = {sig: signal.signal(sig, runner.request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    failures = 0
    try:
        while True:
            handled = runner.processed
            try:
                runner.serve()
                break  # asked to stop
            except (AMQPError, ConnectionError) as exc:
                if runner.stop_requested.is_set():
                    break
                failures = 1 if runner.processed > handled else failures + 1
                if failures > settings.reconnect_attempts:
                    log.error("lost the broker connection %d times in a row (%s); exiting", failures,
                              type(exc).__name__)
                    return 1
                log.warning("lost the broker connection (%s); reconnecting", type(exc).__name__)
                link.close()
                time.sleep(settings.reconnect_timeout / 1000)
                link.connect()
    finally:
        link.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("stopped after %d message(s)", runner.processed)
    return 0


def main(args) -> int:
    _configure_logging(getattr(args, "log_format", "text"))
    if args.method:
        from jobs_connector.sailor.platform_calls import run_service

        return run_service(args.method, os.environ)
    try:
        return run_step(os.environ)
    except ConnectionError as exc:
        logs.say(f"error: {exc}", level=logging.ERROR, logger="jobs_connector.sailor")
        return 4
