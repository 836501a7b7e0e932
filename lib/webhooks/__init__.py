"""Webhook-triggered flows: signed intake, a durable queue, workers, and scale-out on Redis.

flows.py     the flows file: loading and checking at start      mapping.py   JSONata input mappings
signing.py   a flow's signature scheme: signature.py (X-Jobs-Signature, HMAC over `<t>.<body>`) or
             standard_webhooks.py (webhook-id/-timestamp/-signature)
intake.py    what to answer to a webhook                        wsgi.py      the intake as a WSGI application
server.py    serving it on waitress                             ratelimited.py  repeated log lines held back
events.py    an event and its statuses                          store*.py    where events live (SQLite, Redis)
queue.py     huey: "process event <id>" tasks                   worker.py    running flows, retries, the sweeper
view.py      what an event looks like to a person (redacted)    service.py   `serve`: start and graceful stop
cli.py       `jobs-connector serve`                             events_cli.py `jobs-connector events`
"""
