"""`jobs-connector events`: look at webhook events, retry dead ones, purge finished ones.

  jobs-connector events list [--status dead] [--limit 50] [--json]   # --json: JSON lines
  jobs-connector events show ID [--body]
  jobs-connector events retry ID [--force]  # back to the queue; it resumes at its failed step
  jobs-connector events purge [--dead] [--older-than SECONDS]
  jobs-connector events new-key       # a fresh sealing key (docs/security.md: rotation)
  jobs-connector events reseal        # every stored secret sealed again under the first key
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from jobs_connector.base.errors import BadInput
from jobs_connector.webhooks import retry, view
from jobs_connector.webhooks.events import DEAD, STATUSES, SUCCEEDED
from jobs_connector.webhooks.sealing import new_key
from jobs_connector.webhooks.store.queue import QUEUE_ENV, Queue, queue_url, sqlite_path


def add_arguments(parser) -> None:
    parser.description = __doc__.split("\n\n")[0]
    queue_help = f"the queue the server uses (default ${QUEUE_ENV}, else sqlite:///jobs-connector.db)"
    parser.add_argument("--queue", metavar="URL", help=queue_help)
    # Also after the action (`events list --queue URL`); SUPPRESS keeps a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--queue", metavar="URL", default=argparse.SUPPRESS, help=queue_help)
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def add(name: str, help_text: str):
        return sub.add_parser(name, help=help_text, parents=[common])

    p = add("list", "the newest events first")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true",
                   help="JSON lines: one object per event, nothing when there are none (the counts go to stderr)")
    p = add("show", "one event: status, attempts, step results (secrets redacted), warnings, errors")
    p.add_argument("id")
    p.add_argument("--body", action="store_true", help="include the event body as received")
    p = add("retry", "put a dead or retrying event back in the queue now")
    p.add_argument("id")
    p.add_argument("--force", action="store_true",
                   help="also an event whose outcome is unknown (its failed request may have been carried out)")
    p = add("purge", "delete finished events (succeeded and dead)")
    p.add_argument("--dead", action="store_true", help="only dead-lettered events")
    p.add_argument("--older-than", type=float, default=0, metavar="SECONDS",
                   help="only events last updated at least this long ago")
    sub.add_parser("new-key", help="print a fresh key for JOBS_CONNECTOR_SEALING_KEY")
    sub.add_parser("reseal", help="seal every stored event's secrets again under the first (new) key")


def _event_or_fail(queue: Queue, event_id: str):
    event = queue.store.get(event_id)
    if event is None:
        raise BadInput(f"no event with id {event_id}", field="id", rule="not-found")
    return event


def cmd_list(queue: Queue, args) -> int:
    events = queue.store.list(args.status, args.limit)
    for event in events:
        row = {"id": event.id, "flow": event.flow, "status": event.status, "attempts": event.attempts,
               "received_at": view.iso(event.received_at),
               "error": (event.error or {}).get("type")}
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['id']}  {row['status']:<9}  {row['attempts']:>2}  {row['received_at']}  {row['flow']}"
                  + (f"  {row['error']}" if row["error"] else ""))
    counts = queue.store.counts()  # on stderr, so --json's JSON lines stay clean (and none at all: no events)
    print(", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s)) or "no events", file=sys.stderr)
    return 0


def cmd_show(queue: Queue, args) -> int:
    print(json.dumps(view.public(_event_or_fail(queue, args.id), with_body=args.body), indent=2))
    return 0


def cmd_retry(queue: Queue, args) -> int:
    done = retry.requeue(queue, args.id, force=args.force)
    print(f"{done.event_id} queued again; it resumes at step {done.resumes_at}", file=sys.stderr)
    if done.risk:
        print(f"warning: forced: {done.risk} Sending it again may carry it out twice.", file=sys.stderr)
    return 0


def cmd_purge(queue: Queue, args) -> int:
    statuses = (DEAD,) if args.dead else (SUCCEEDED, DEAD)
    removed = queue.store.purge(statuses, time.time() - args.older_than)
    print(f"purged {removed} event(s)", file=sys.stderr)
    return 0


def cmd_reseal(queue: Queue, args) -> int:
    resealed = 0
    for event in queue.store.list(None, limit=2 ** 62):
        if event.steps and queue.store.save(event):  # to_doc seals under the first key; a busy event is left
            resealed += 1
    print(f"resealed {resealed} event(s)", file=sys.stderr)
    return 0


def main(args) -> int:
    if args.action == "new-key":
        print(new_key())
        return 0
    url = queue_url(args.queue)
    if url.startswith("sqlite:") and not os.path.exists(sqlite_path(url)):
        raise BadInput(f"there is no queue file {sqlite_path(url)} (give the --queue that serve uses)",
                       field="queue", rule="not-found")
    queue = Queue(url)
    try:
        return {"list": cmd_list, "show": cmd_show, "retry": cmd_retry, "purge": cmd_purge,
                "reseal": cmd_reseal}[args.action](queue, args)
    finally:
        queue.close()
