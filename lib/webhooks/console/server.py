"""The console's own HTTP server: waitress, as the intake's (IntakeServer), on its own port, loopback by
default. Built before anything else of `serve` starts, so missing credentials stop it at once."""

from __future__ import annotations

import os

from jobs_connector.base.errors import ConfigurationError
from jobs_connector.webhooks.console.app import MAX_FORM, ConsoleApp
from jobs_connector.webhooks.console.credentials import Credentials
from jobs_connector.webhooks.console.guard import Origins
from jobs_connector.webhooks.flows import Flows
from jobs_connector.webhooks.intake.waitress_server import IntakeServer

THREADS = 4  # a few operators' pages at once


def console_server(flows: Flows, queue, host: str, port: int, environ=os.environ) -> IntakeServer:
    credentials = Credentials.from_environment(environ)
    public_origin = Origins.public_origin(host, environ)
    app = ConsoleApp(flows, queue, credentials)
    try:
        server = IntakeServer((host, port), app, threads=THREADS, max_body=MAX_FORM)
    except OSError as exc:
        raise ConfigurationError(f"the console cannot listen on {host}:{port}: {exc.strerror or exc}",
                                 field="console-port", rule="listen") from None
    app.origins = Origins(host, int(server.server.effective_port), public_origin)
    return server
