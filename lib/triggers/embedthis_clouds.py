"""EmbedThis: clouds created or changed.

Lists the device clouds (FindClouds, every page) and emits each cloud that is new or whose record
changed since the last poll (the record's content is its version: Builder keeps no change time).
"""

from __future__ import annotations

import hashlib
import json

from jobs_connector.kit import Item

CONFIG = {
    "properties": {
        "filter": {"type": "string", "maxLength": 200},
        "pageSize": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
}


def items(ctx):
    body = {"limit": ctx.cfg.get("pageSize", 50)}
    if ctx.cfg.get("filter"):
        body["filter"] = ctx.cfg["filter"]
    for cloud in ctx.each("embedthis.FindClouds", body):
        if not isinstance(cloud, dict) or not cloud.get("id"):
            continue
        digest = hashlib.sha256(json.dumps(cloud, sort_keys=True).encode("utf-8")).hexdigest()[:32]
        yield Item(id=cloud["id"], version=digest, body=cloud)
