"""The dynamic select lists (`selectModel`): the options of a step's select field, read from the service
with the step's credentials through the same runtime as a step, as `{value: label}`.

- embedthisClouds: the clouds FindClouds lists, "name (id)";
- spaceoneJobs: the jobs ListJobs lists (newest first), "job_id: status, plugin, created";
- spaceoneWorkspaces: the workspaces ListJobs shows jobs in.

A list is bounded (MAX_PAGES pages, MAX_OPTIONS options) because a person is waiting at the form; a
service error is the call's error answer, with the runtime's message (secrets already scrubbed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from jobs_connector.base.errors import BadInput
from jobs_connector.http.retry import RetryPolicy
from jobs_connector.http.transport import Transport
from jobs_connector.runtime import Runtime

MAX_PAGES = 10
MAX_OPTIONS = 1000


@dataclass(frozen=True)
class SelectModel:
    action: str
    body: dict
    options: Callable[[Iterable[dict]], dict]


def _take(items: Iterable[dict]) -> Iterable[dict]:
    for n, item in enumerate(items):
        if n >= MAX_OPTIONS:
            return
        if isinstance(item, dict):
            yield item


def _clouds(items) -> dict:
    return {str(c["id"]): f"{c.get('name') or c['id']} ({c['id']})" for c in _take(items) if c.get("id")}


def _jobs(items) -> dict:
    out = {}
    for job in _take(items):
        if job.get("job_id"):
            details = ", ".join(str(job[k]) for k in ("status", "plugin_id", "created_at") if job.get(k))
            out[str(job["job_id"])] = f"{job['job_id']}: {details}" if details else str(job["job_id"])
    return out


def _workspaces(items) -> dict:
    return {str(j["workspace_id"]): str(j["workspace_id"]) for j in _take(items) if j.get("workspace_id")}


MODELS = {
    "embedthisClouds": SelectModel("embedthis.FindClouds", {}, _clouds),
    "spaceoneJobs": SelectModel("spaceone.ListJobs", {}, _jobs),
    "spaceoneWorkspaces": SelectModel("spaceone.ListJobs", {}, _workspaces),
}


def select_model(method: str, cfg: Mapping, runtime=None) -> dict:
    model = MODELS.get(method)
    if model is None:
        raise BadInput(f"this component has no select model {method!r} (one of {', '.join(sorted(MODELS))})",
                       field="ELASTICIO_GET_MODEL_METHOD", rule="unknown-model")
    if runtime is None:
        # Quick answers, as verifyCredentials: the person is waiting at the form.
        runtime = Runtime(Transport(policy=RetryPolicy(max_attempts=2, total_budget=20.0), read_timeout=15.0))
    settings = {**cfg, "emitBehaviour": "emitIndividually", "maxPages": MAX_PAGES}
    return model.options(runtime.run(model.action, dict(model.body), settings))
