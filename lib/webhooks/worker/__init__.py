"""Workers: run an event's flow, step by step, through the same runtime as the CLI.

- A worker first *claims* the event (queued/retrying -> running, with a lease and a claim token); a
  duplicate task, or a second worker, finds it claimed and does nothing. With SQLite the claim is
  written in the transaction that takes the task off the queue.
- Each step's input is the step's JSONata mapping evaluated against
  {"event": body, "steps": [outputs so far], "headers": {...}, "meta": {...}}. The output of each
  completed step is recorded before the next one starts, so a retried event resumes at the failed step.
- For actions with an idempotency token (IDEMPOTENCY_TOKEN), a token derived from the event id and the
  step is filled in when the mapping sets none, so a step re-run after a crash is the same request to
  the service, which then does not act twice.
- Retryable failures (throttling, 5xx, network: a *rebound*) retry with exponential backoff up to the
  flow's max_attempts; after that, or on any other error, the event is dead-lettered with its error.
  A retry is never scheduled later than the flow's max_delay: a service asking for a longer pause
  (Retry-After) ends the event dead, saying so (`events retry` sends it again when the operator decides).
- A mapping that fails or passes a limit (time, memory, sizes: lib/webhooks/mapping/jsonata_box.py) ends the
  event dead, naming the flow, the step and the field.
- An answer that drifts from the action's output schema is used as sent; each warning is recorded in
  the event (`warnings`) and logged.
- Handbacks at shutdown are counted: a step still running at the shutdown timeout counts as an attempt
  (and a step that is not safe to repeat ends dead with OutcomeUnknown), and an event handed back
  MAX_HANDBACKS times ends dead, so a poisoned event never loops forever.
- A heartbeat renews the leases of running events; the sweeper takes over events whose worker died
  (lease expired) and re-dispatches events whose queue task was lost.

Modules: runner.py (the Worker: takes a task, claims its event, runs it), steps.py (the step loop),
outcomes.py (how an attempt ends: retried, dead-lettered or handed back), leases.py (the heartbeat and the
sweeper), inflight.py (the events this process is running).
"""

from jobs_connector.webhooks.worker.runner import Worker
from jobs_connector.webhooks.worker.steps import context_for, step_token

__all__ = ["Worker", "context_for", "step_token"]
