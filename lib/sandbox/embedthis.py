"""EmbedThis Builder device clouds: the 15 `POST /cloud/<operation>` calls of the Builder API.

Any non-empty `Authorization: Bearer <token>` is accepted and holds every role (admin, user, service,
cloud); 401 otherwise. `find` and `getHosts` page with the query-string options `limit` and `next` / `prev`
(the cursor strings a page answers; a JSON object {"id": <last id seen>} works as `next` too) and answer
{data, next, prev}. `find` also takes `filter` (a case-insensitive match on the name); `where` and `index`
are refused (the sandbox does not evaluate them). Unknown body fields are refused, as the seed documents
each operation's fields. Errors: {"error": true, "code": ..., "message": ...}.

Life of a cloud: create (status "created") -> provision / provisionAsync ("ready", a stack and a host)
-> connect (the device cloud reports its role: connected) -> report (usage) -> update / updateStack ->
remove / removeAsync.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets

from jobs_connector.sandbox.wire import ApiError, Reply, Request

NAME = "embedthis"
PROTOCOL = "embedthis"
PREFIX = "/cloud/"
ACCOUNT = "123456789012"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CLOUD_FIELDS = ("accountId", "api", "apiGateway", "awsAccount", "connected", "deviceRole", "devices", "enable",
                "error", "host", "hubs", "id", "iotPolicy", "load", "name", "open", "planId", "provisioned",
                "quota", "region", "schema", "shadows", "stack", "status", "suspended", "sync", "tenants",
                "trailBucket", "type", "version", "userPoolId", "userPoolClient")
# Body fields each operation accepts (from the seed), with their JSON types.
S, B, OBJ, N, A = "string", "boolean", "object", "number", "array"
_COMMON = {"enable": B, "error": S, "external": S, "iotPolicy": S, "name": S, "open": B, "region": S, "schema": OBJ,
           "shadows": B, "sync": B, "type": S}
BODY = {
    "create": _COMMON,
    "find": {"id": S},
    "get": {"id": S},
    "getBrowserKeys": {"id": S},
    "init": {},  # "A object." with no fields
    "provision": {"id": S},
    "provisionAsync": {"id": S, "accountId": S},
    "remove": {"id": S},
    "removeAsync": {"id": S, "accountId": S},
    "updateStack": {"id": S},
    "waitForTemplate": {"id": S},
    "getHosts": {"open": B, "region": S},
    "connect": {"api": S, "awsAccount": S, "cloud": S, "deviceRole": S, "connected": B, "error": S, "external": S,
                "roleArn": S, "stack": S, "token": OBJ, "version": S},
    "report": {"accountId": S, "count": N, "cloudId": S, "load": N, "usage": A},
    "update": {**_COMMON, "attachments": OBJ, "deviceRole": S, "erase": OBJ, "id": S},
}
_PYTHON = {S: str, B: bool, OBJ: dict, N: (int, float), A: list}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _not_found(cloud_id: str) -> ApiError:
    return ApiError(404, "NotFound", f"Cannot find cloud {cloud_id}")


def _ulid(now: float) -> str:
    """A ULID-like id (time first, then randomness), the kind of id the Builder uses."""
    value = (int(now * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_cloud(state: dict, now: float, fields: dict) -> dict:
    state["seq"] += 1
    cloud = {"id": _ulid(now), "seq": state["seq"], "name": fields.get("name"), "type": fields.get("type", "dedicated"),
             "region": fields.get("region", "us-east-1"), "enable": fields.get("enable", True),
             "open": fields.get("open", False), "shadows": fields.get("shadows", False),
             "sync": fields.get("sync", False), "schema": fields.get("schema", {}),
             "iotPolicy": fields.get("iotPolicy", "IotDevicePolicy"), "connected": False, "devices": 0, "hubs": 0,
             "load": 0, "tenants": 0, "quota": {"devices": 100}, "planId": "plan-sandbox-free",
             "status": "created", "suspended": False, "version": 1}
    for key in ("error", "external"):
        if fields.get(key) is not None:
            cloud[key] = fields[key]
    state["clouds"][cloud["id"]] = cloud
    return cloud


def _provision(cloud: dict, now: float, account_id: str | None = None) -> None:
    slug = cloud["id"].lower()[-10:]
    cloud.update(status="ready", provisioned=_iso(now), accountId=account_id or cloud.get("accountId") or ACCOUNT,
                 awsAccount=ACCOUNT, stack=f"builder-cloud-{slug}", host=f"{slug}.sandbox-cloud.example.com",
                 api=f"https://{slug}.sandbox-cloud.example.com/api",
                 apiGateway=f"https://{slug}.execute-api.{cloud['region']}.example.com",
                 userPoolId=f"{cloud['region']}_Sandbox{slug[:4]}", userPoolClient=f"sandboxclient{slug}",
                 trailBucket=f"builder-trail-{slug}")
    cloud.pop("error", None)


def seed(now: float) -> dict:
    state = {"clouds": {}, "seq": 0}
    regions = ("us-east-1", "eu-west-1", "ap-southeast-2")
    for n in range(1, 8):  # seven clouds: three pages of find at limit 3
        cloud = _new_cloud(state, now - 86400 * (8 - n) + n, {"name": f"demo-cloud-{n}", "region": regions[n % 3],
                                                               "open": n % 2 == 1})
        if n <= 5:
            _provision(cloud, now - 86400 * (8 - n) + 60)
            cloud.update(connected=True, devices=10 * n, deviceRole=f"arn:aws:iam::{ACCOUNT}:role/DeviceRole{n}")
    return state


def _view(cloud: dict) -> dict:
    return {k: cloud[k] for k in CLOUD_FIELDS if k in cloud and cloud[k] is not None}


def _checked(op: str, body: dict) -> dict:
    allowed = BODY[op]
    for key, value in body.items():
        if key not in allowed:
            raise _bad(f"'{key}' is not a field of /cloud/{op} (it takes {', '.join(allowed) or 'none'})")
        kind = allowed[key]
        if value is not None and (not isinstance(value, _PYTHON[kind]) or (kind == N and isinstance(value, bool))):
            raise _bad(f"'{key}' must be a {kind}")
    return body


def _cloud(state: dict, body: dict, key: str = "id") -> dict:
    cloud_id = body.get(key)
    if not cloud_id:
        raise _bad(f"'{key}' is required")
    cloud = state["clouds"].get(cloud_id)
    if cloud is None:
        raise _not_found(cloud_id)
    return cloud


# -- paging ---------------------------------------------------------------------------------------


def _token(direction: str, cloud_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({direction: cloud_id}).encode()).decode().rstrip("=")


def _cursor(value: str, option: str) -> tuple[str, str]:
    """('after'|'before', id) from a cursor this API returned, or a JSON object {"id": ...}."""
    try:
        decoded = json.loads(value)
    except ValueError:
        decoded = value
    if isinstance(decoded, dict) and isinstance(decoded.get("id"), str):
        return ("after" if option == "next" else "before"), decoded["id"]
    if isinstance(decoded, str):
        try:
            data = json.loads(base64.urlsafe_b64decode(decoded + "=" * (-len(decoded) % 4)))
            [(direction, cloud_id)] = data.items()
            if direction in ("after", "before") and isinstance(cloud_id, str):
                return direction, cloud_id
        except (ValueError, TypeError, binascii.Error):
            pass
    raise _bad(f"'{option}' is not a cursor this API returned")


def _paged(items: list[dict], query: dict, key) -> dict:
    limit_text = query.get("limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise _bad(f"'limit' must be a whole number from 1 to {MAX_LIMIT}")
        limit = int(limit_text)
    keys = [key(item) for item in items]
    start, end = 0, min(limit, len(items))
    if query.get("next") and query.get("prev"):
        raise _bad("give 'next' or 'prev', not both")
    for option in ("next", "prev"):
        if query.get(option):
            direction, mark = _cursor(query[option], option)
            position = sum(1 for k in keys if k <= mark) if direction == "after" else sum(1 for k in keys if k < mark)
            start, end = (position, position + limit) if direction == "after" else (max(0, position - limit), position)
    page = items[start:end]
    out = {"data": page}
    if page and end < len(items):
        out["next"] = _token("after", key(items[end - 1]))
    if page and start > 0:
        out["prev"] = _token("before", key(items[start]))
    return out


# -- operations -----------------------------------------------------------------------------------


def cloud_find(state, body, query, now):
    for option in ("where", "index"):
        if query.get(option):
            raise _bad(f"the sandbox does not evaluate the '{option}' option")
    clouds = sorted(state["clouds"].values(), key=lambda c: c["id"])
    if body.get("id"):
        clouds = [c for c in clouds if c["id"] == body["id"]]
    if query.get("filter"):
        clouds = [c for c in clouds if query["filter"].lower() in (c.get("name") or "").lower()]
    page = _paged(clouds, query, key=lambda c: c["id"])
    page["data"] = [_view(c) for c in page["data"]]
    return page


def cloud_create(state, body, query, now):
    if not body.get("name"):
        raise _bad("'name' is required")
    return _view(_new_cloud(state, now, body))


def cloud_get(state, body, query, now):
    return _view(_cloud(state, body))


def cloud_update(state, body, query, now):
    cloud = _cloud(state, body)
    for key, value in body.items():
        if key in ("id", "erase"):
            continue
        cloud[key] = value
    for key, wanted in (body.get("erase") or {}).items():
        if wanted and key not in ("id", "name", "region", "status"):
            cloud.pop(key, None)
    cloud["version"] += 1
    return _view(cloud)


def cloud_remove(state, body, query, now):
    cloud = _cloud(state, body)
    del state["clouds"][cloud["id"]]
    return _view({**cloud, "status": "removed"})


def cloud_remove_async(state, body, query, now):
    if not body.get("accountId"):
        raise _bad("'accountId' is required")
    return cloud_remove(state, body, query, now)


def cloud_get_browser_keys(state, body, query, now):
    cloud = _cloud(state, body)
    return {"accessKeyId": "ASIASANDBOXBROWSER01", "secretAccessKey": "sandbox-browser-secret-not-a-real-secret",
            "sessionToken": "sandbox-browser-session-token-not-real", "expires": _iso(now + 3600),
            "region": cloud["region"]}


def cloud_init(state, body, query, now):
    """The API document does not describe init; the sandbox answers the account's first cloud, creating
    a "default" one when there is none."""
    clouds = sorted(state["clouds"].values(), key=lambda c: c["id"])
    return _view(clouds[0] if clouds else _new_cloud(state, now, {"name": "default"}))


def cloud_provision(state, body, query, now):
    cloud = _cloud(state, body)
    _provision(cloud, now)
    return _view(cloud)


def cloud_provision_async(state, body, query, now):
    if not body.get("accountId"):
        raise _bad("'accountId' is required")
    cloud = _cloud(state, body)
    _provision(cloud, now, body["accountId"])
    return _view(cloud)


def cloud_update_stack(state, body, query, now):
    cloud = _cloud(state, body)
    if cloud["status"] == "created":
        raise ApiError(409, "Conflict", f"cloud {cloud['id']} has no stack yet: provision it first")
    cloud["version"] += 1
    cloud["status"] = "ready"
    return _view(cloud)


def cloud_wait_for_template(state, body, query, now):
    return _view(_cloud(state, body))


def cloud_get_hosts(state, body, query, now):
    clouds = [c for c in state["clouds"].values() if c.get("host")]
    if body.get("open") is not None:
        clouds = [c for c in clouds if c.get("open") == body["open"]]
    if body.get("region"):
        clouds = [c for c in clouds if c["region"] == body["region"]]
    hosts = sorted({(c["host"], c["region"]) for c in clouds})
    page = _paged([{"name": h, "region": r} for h, r in hosts], query, key=lambda h: h["name"])
    return page


def cloud_connect(state, body, query, now):
    cloud = _cloud(state, body, key="cloud")
    for key in ("api", "awsAccount", "deviceRole", "error", "external", "stack"):
        if body.get(key) is not None:
            cloud[key] = body[key]
    cloud["connected"] = body.get("connected", True)
    if body.get("version") is not None:
        cloud["connectedVersion"] = body["version"]
    if cloud["status"] == "created":
        cloud["status"] = "ready"
    return _view(cloud)


def cloud_report(state, body, query, now):
    cloud = _cloud(state, body, key="cloudId")
    if body.get("count") is not None:
        cloud["devices"] = body["count"]
    if body.get("load") is not None:
        cloud["load"] = body["load"]
    for entry in body.get("usage") or []:
        if not isinstance(entry, dict):
            raise _bad("'usage' items are objects {devices, tenants, load}")
        for key in ("devices", "tenants", "load"):
            if isinstance(entry.get(key), (int, float)) and not isinstance(entry.get(key), bool):
                cloud[key] = entry[key]
    return _view(cloud)


OPERATIONS = {
    "create": cloud_create, "find": cloud_find, "get": cloud_get, "getBrowserKeys": cloud_get_browser_keys,
    "init": cloud_init, "provision": cloud_provision, "provisionAsync": cloud_provision_async,
    "remove": cloud_remove, "removeAsync": cloud_remove_async, "updateStack": cloud_update_stack,
    "waitForTemplate": cloud_wait_for_template, "getHosts": cloud_get_hosts, "connect": cloud_connect,
    "report": cloud_report, "update": cloud_update,
}
assert set(OPERATIONS) == set(BODY)  # noqa: S101 - a table kept in step with itself


def handle(req: Request, state: dict, now: float) -> Reply:
    op = req.raw_path[len(PREFIX):] if req.raw_path.startswith(PREFIX) else None
    if req.method != "POST" or op not in OPERATIONS:
        raise ApiError(404, "NotFound", f"no operation at {req.method} {req.raw_path}; the sandbox serves POST "
                                        f"{PREFIX}<{'|'.join(OPERATIONS)}>")
    body = _checked(op, req.json(_bad))
    return Reply(200, OPERATIONS[op](state, body, req.query, now), protocol=PROTOCOL)
