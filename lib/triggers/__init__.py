"""Polling triggers: flows that start from the services themselves.

A trigger module (one per kind, `main` of a `triggers` entry in component.json) lists what is there now
through the actions (lib/runtime.py); `engine.py` keeps the snapshot of what was already emitted
(`snapshot.py`) and emits each new or changed item once. The same engine runs in three places:

- the platform runner (`jobs-connector ipaas` with the trigger key as ELASTICIO_FUNCTION): `engine.process`
  takes the step's snapshot and emits each item, then the `snapshot` event, as the Node sailor does;
- the CLI (`jobs-connector watch`, lib/cli/watch.py): one JSON line per item, the snapshot in a state file;
- the flows file (`trigger: {poll: ...}`, `poller.py`): items become events of the durable webhook queue.
"""
