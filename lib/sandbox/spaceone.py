"""SpaceONE (Cloudforet) identity v2 jobs: POST /identity/v2/job/{list,get,delete,stat}.

Any non-empty `Authorization: Bearer <token>` is accepted (401 ERROR_AUTHENTICATE_FAILURE otherwise).
`list` pages with query.page.start (1-based) and query.page.limit and answers total_count (the number of
matches before paging); it filters by job_id, status, workspace_id, trusted_account_id, plugin_id and by
query.filter conditions ({k, v, o} with o = eq | not | in | not_in | contain), and sorts by query.sort
(newest first by default); query.only answers just the listed fields, query.minimal the Job model's minimal
fields, query.count_only total_count alone. `stat` answers query.distinct, or query.aggregate with group keys and
count / sum / min / max fields (min and max over dates answer the date, as SpaceONE's MongoDB does). Every body is
first read into the method's protobuf message (spaceone_messages.py): an unknown field or enum label is refused as
SpaceONE refuses it. Errors have SpaceONE's shape: {"detail": {"code": "ERROR_...", "message": ...}}.
"""

from __future__ import annotations

import datetime as dt
import json

from jobs_connector.sandbox import spaceone_messages
from jobs_connector.sandbox.wire import ApiError, Reply, Request, member

NAME = "spaceone"
PROTOCOL = "spaceone"
PREFIX = "/identity/v2/job/"
DOMAIN = "domain-5a4db0c00001"
FILTER_KEYS = ("job_id", "status", "workspace_id", "trusted_account_id", "plugin_id")


def _bad(message: str, code: str = "ERROR_INVALID_PARAMETER") -> ApiError:
    return ApiError(400, code, message)


def _required(key: str) -> ApiError:
    return ApiError(400, "ERROR_REQUIRED_PARAMETER", f"Required parameter. (key = {key})")


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch * 1000) % 1000:03d}Z"


def seed(now: float) -> dict:
    plugins = ("plugin-aws-cloud-service-inven-collector", "plugin-azure-inven-collector",
               "plugin-google-cloud-inven-collector")
    statuses = ("SUCCESS", "SUCCESS", "FAILURE", "SUCCESS", "CANCELED", "SUCCESS", "IN_PROGRESS")
    jobs = {}
    for n, status in enumerate(statuses, start=1):  # seven jobs: three pages of list at limit 3
        created = now - 3600 * (8 - n)
        job = {
            "job_id": f"job-5a4db0c0{n:04x}", "status": status, "options": {},
            "resource_group": "WORKSPACE" if n % 2 else "DOMAIN", "domain_id": DOMAIN,
            "workspace_id": f"workspace-5a4db0c0000{1 + n % 2}", "trusted_account_id": f"ta-5a4db0c0000{1 + n % 3}",
            "plugin_id": plugins[n % 3], "created_at": _iso(created), "updated_at": _iso(created + 90),
        }
        if status != "IN_PROGRESS":
            job["finished_at"] = _iso(created + 90)
        if status == "FAILURE":
            job["error_message"] = "collector timed out after 3 retries (sandbox demo data)"
        jobs[job["job_id"]] = job
    return {"jobs": jobs}


def add_jobs(state: dict, count: int, now: float) -> list[str]:
    """Add `count` generated jobs (a benchmark's or a test's many jobs; `jobs-connector sandbox
    --spaceone-jobs N` does this at start): ids job-bench-0000000001... numbered on from earlier seeds,
    job n created n seconds after `now` minus 10^7 (older than the demo jobs, never two alike), statuses
    and workspaces cycling. Returns the new ids."""
    statuses = ("SUCCESS", "FAILURE", "CANCELED", "IN_PROGRESS")
    jobs, first = state["jobs"], sum(1 for job_id in state["jobs"] if job_id.startswith("job-bench-")) + 1
    added = []
    for n in range(first, first + count):
        created = now - 10_000_000 + n
        status = statuses[n % 4]
        job = {"job_id": f"job-bench-{n:010d}", "status": status, "options": {}, "resource_group": "WORKSPACE",
               "domain_id": DOMAIN, "workspace_id": f"workspace-bench-{n % 10:04d}",
               "trusted_account_id": f"ta-bench-{n % 7:04d}", "plugin_id": "plugin-bench-collector",
               "created_at": _iso(created), "updated_at": _iso(created + 30)}
        if status != "IN_PROGRESS":
            job["finished_at"] = _iso(created + 30)
        jobs[job["job_id"]] = job
        added.append(job["job_id"])
    _changed(state)
    return added


# The last selection (filtered and sorted jobs) and what it was made from, as one tuple so that threads
# of several sandboxes in one process see it whole: paging through a listing asks the same question once
# per page, and filtering and sorting every job for every page made paging quadratic.
_last_selection: list = [None]


def _changed(state: dict) -> None:
    """Jobs were added or removed: a remembered selection no longer holds."""
    _last_selection[0] = None


def _job(state: dict, body: dict) -> dict:
    job_id = body.get("job_id")
    if not job_id:
        raise _required("job_id")
    if not isinstance(job_id, str):
        raise _bad("Invalid parameter type. (key = job_id, type = str)", "ERROR_INVALID_PARAMETER_TYPE")
    job = state["jobs"].get(job_id)
    if job is None:
        raise ApiError(404, "ERROR_NOT_FOUND", f"Value not found. (job_id = {job_id})")
    return job


def _alias(spec: dict, name: str, default=None):
    """A field SpaceONE reads by its name or by its one-letter alias (key/k, value/v, operator/o, name/n)."""
    return spec.get(name, spec.get(name[0], default))


def _matches(job: dict, condition) -> bool:
    key = _alias(condition, "key")
    if key is None:
        raise _bad("query.filter conditions are objects {k, v, o} (or {key, value, operator})")
    value, op = _alias(condition, "value"), _alias(condition, "operator", "eq")
    actual = job.get(key)
    if op == "eq":
        return actual == value
    if op == "not":
        return actual != value
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            raise _bad(f"query.filter operator {op} needs a list value")
        return (actual in value) == (op == "in")
    if op == "contain":
        return isinstance(actual, str) and str(value).lower() in actual.lower()
    raise _bad(f"query.filter operator '{op}' is not supported by the sandbox (eq, not, in, not_in, contain)")


def _select(state: dict, body: dict, query: dict) -> list[dict]:
    """The jobs a list or stat asks for, filtered and sorted; the same question asked again of the same,
    unchanged jobs (the next page of a listing) is answered from the last selection."""
    try:
        question = json.dumps([{k: body.get(k) for k in FILTER_KEYS}, query.get("filter"), query.get("sort")],
                              sort_keys=True)
    except (TypeError, ValueError):
        question = None
    last = _last_selection[0]
    jobs = state["jobs"]
    if question is not None and last is not None and last[0] is jobs and last[1] == len(jobs) \
            and last[2] == question:
        return last[3]
    selection = _selected(state, body, query)
    if question is not None:
        _last_selection[0] = (jobs, len(jobs), question, selection)
    return selection


def _selected(state: dict, body: dict, query: dict) -> list[dict]:
    jobs = list(state["jobs"].values())
    for key in FILTER_KEYS:
        if body.get(key) is not None:
            jobs = [j for j in jobs if j.get(key) == body[key]]
    conditions = query.get("filter") or []
    if not isinstance(conditions, list):
        raise _bad("query.filter must be a list")
    jobs = [j for j in jobs if all(_matches(j, c) for c in conditions)]
    sort = query.get("sort") or [{"key": "created_at", "desc": True}]
    for rule in reversed(sort if isinstance(sort, list) else [sort]):
        if not isinstance(rule, dict) or not isinstance(rule.get("key"), str):
            raise _bad("query.sort entries are objects {key, desc}")
        jobs.sort(key=lambda j, k=rule["key"]: (j.get(k) is None, str(j.get(k) or "")), reverse=bool(rule.get("desc")))
    return jobs


def _page(items: list, query: dict) -> list:
    page = query.get("page")
    if page is None:
        return items
    if not isinstance(page, dict):
        raise _bad("query.page must be an object {start, limit}")
    start, limit = page.get("start", 1), page.get("limit")
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        raise _bad("query.page.start must be a whole number of at least 1 (it is 1-based)")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise _bad("query.page.limit must be a whole number of at least 1")
    return items[start - 1:start - 1 + limit if limit else None]


def _query(body: dict, required: bool = False) -> dict:
    query = member(body, "query", "object", _bad)
    if query is None:
        if required:
            raise _required("query")
        return {}
    return query


def _projected(jobs: list[dict], query: dict) -> list[dict]:
    """query.only's fields, with the minimal ones for query.minimal (MongoDB's only() calls add up)."""
    fields = set(query.get("only") or ())
    if query.get("minimal"):
        fields |= set(spaceone_messages.MINIMAL_FIELDS)
    if not fields:
        return jobs
    return [{key: value for key, value in job.items() if key in fields} for job in jobs]


def job_list(state: dict, body: dict) -> dict:
    query = _query(body)
    jobs = _select(state, body, query)
    if query.get("count_only"):  # no results: the empty repeated field is left out of the answer
        return {"total_count": len(jobs)}
    return {"results": _projected(_page(jobs, query), query), "total_count": len(jobs)}


def job_get(state: dict, body: dict) -> dict:
    return _job(state, body)


def job_delete(state: dict, body: dict) -> dict:
    job = _job(state, body)
    del state["jobs"][job["job_id"]]
    _changed(state)
    return {}


def _aggregate(jobs: list[dict], spec) -> list[dict]:
    group = spec.get("group") if isinstance(spec, dict) else None
    if not isinstance(group, dict):
        raise _bad("query.aggregate entries are objects {group: {keys, fields}}")
    keys = [(key, _alias(k, "name", key)) for k in group.get("keys", []) if (key := _alias(k, "key"))]
    fields = group.get("fields", [])
    buckets: dict[tuple, list[dict]] = {}
    for job in jobs:
        buckets.setdefault(tuple(job.get(k) for k, _ in keys), []).append(job)
    results = []
    for values, members in buckets.items():
        row = {name: value for (_, name), value in zip(keys, values, strict=True)}
        for spec_field in fields:
            name = _alias(spec_field, "name")
            if name is None:
                raise _bad("query.aggregate group fields are objects {name, operator, key}")
            op, key = _alias(spec_field, "operator", "count"), _alias(spec_field, "key")
            present = [m[key] for m in members if m.get(key) is not None] if key else []
            numbers = [v for v in present if isinstance(v, int | float) and not isinstance(v, bool)]
            if op == "count":
                row[name] = len(members)
            elif op == "sum":  # MongoDB's $sum leaves out what is not a number
                row[name] = sum(numbers)
            elif op in ("min", "max"):  # $min / $max of dates is a date: the ISO strings order as the dates do
                pick = min if op == "min" else max
                row[name] = pick(numbers) if numbers else pick((str(v) for v in present), default=None)
            else:
                raise _bad(f"aggregate operator '{op}' is not supported by the sandbox (count, sum, min, max)")
        results.append(row)
    return results


def job_stat(state: dict, body: dict) -> dict:
    query = _query(body, required=True)
    jobs = _select(state, {}, {"filter": query.get("filter")})
    if isinstance(query.get("distinct"), str):
        values = sorted({str(j[query["distinct"]]) for j in jobs if j.get(query["distinct"]) is not None})
        return {"results": _page(values, query), "total_count": len(values)}
    aggregate = query.get("aggregate")
    if aggregate is None:
        raise _bad("query needs 'distinct' or 'aggregate' (for example "
                   "{\"aggregate\": [{\"group\": {\"keys\": [{\"key\": \"status\", \"name\": \"status\"}], "
                   "\"fields\": [{\"operator\": \"count\", \"name\": \"count\"}]}}]})")
    rows = jobs
    for spec in aggregate if isinstance(aggregate, list) else [aggregate]:
        rows = _aggregate(rows, spec)
    return {"results": _page(rows, query), "total_count": len(rows)}


OPERATIONS = {"list": job_list, "get": job_get, "delete": job_delete, "stat": job_stat}


def handle(req: Request, state: dict, now: float) -> Reply:
    verb = req.raw_path[len(PREFIX):] if req.raw_path.startswith(PREFIX) else None
    if req.method != "POST" or verb not in OPERATIONS:
        raise ApiError(404, "ERROR_NOT_FOUND",
                       f"Value not found. (path = {req.method} {req.raw_path}; the sandbox serves POST "
                       f"{PREFIX}{{{','.join(OPERATIONS)}}})")
    body = spaceone_messages.read(verb, req.json(lambda m: _bad(m, "ERROR_INVALID_ARGUMENT")))
    return Reply(200, OPERATIONS[verb](state, body), protocol=PROTOCOL)
