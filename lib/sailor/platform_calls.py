"""The calls the platform makes outside a flow run, as the sailors' service runner answers them: the
method comes as the argument, the form's values as ELASTICIO_CFG, and the answer,
`{"status": "success" | "error", "data": ...}`, is POSTed to ELASTICIO_POST_RESULT_URL.

- verifyCredentials: a cheap signed call per configured service (see `verify.py`);
- getMetaModel: the action's input and output schemas for the step's config; for a list action set to
  emit one message per item, the output is the item's schema rather than the page's;
- selectModel: the options of a step's select field (`"model": "<method>"` in component.json), listed
  from the service with the step's credentials (see `select_models.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from jobs_connector.base.errors import ConnectorError
from jobs_connector.component.paging import emit_settings
from jobs_connector.component.registry import get_action
from jobs_connector.sailor.platform_api import post_result
from jobs_connector.sailor.select_models import select_model
from jobs_connector.sailor.settings import post_result_url, read_service_settings
from jobs_connector.sailor.verify import verify_credentials

log = logging.getLogger("jobs_connector.sailor")


def _item_schema(out_schema: dict, dotted: str) -> dict | None:
    node = out_schema
    for part in dotted.split("."):
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and isinstance(node.get("items"), dict):
        return node["items"]
    return None


def meta_model(action_key: str, cfg: Mapping) -> dict:
    action = get_action(action_key)
    out = action.out_schema
    paging = action.spec("PAGING")
    if paging:
        behaviour, _ = emit_settings(dict(cfg))
        if behaviour == "emitIndividually":
            out = _item_schema(action.out_schema, paging.items) or out
    return {"in": action.in_schema, "out": out}


def run_service(method: str, environ: Mapping, runtime=None) -> int:
    """Answer one service call. Exit 0 once an answer (success or error) reached the platform."""
    url = post_result_url(environ)  # without it nobody can be told: the caller reports it and exits 2
    settings = None
    try:
        settings = read_service_settings(environ, method)
        if method == "verifyCredentials":
            data = verify_credentials(settings.cfg, runtime)
        elif method == "getMetaModel":
            data = meta_model(settings.action_or_trigger, settings.cfg)
        else:
            data = select_model(settings.get_model_method, settings.cfg, runtime)
        result = {"status": "success", "data": data}
    except ConnectorError as exc:  # settings, unknown action, bad config
        result = {"status": "error", "data": {"message": exc.message}}
    except Exception as exc:  # a bug: the platform gets the type, the traceback stays out of it
        log.error("%s failed unexpectedly: %s", method, type(exc).__name__)
        result = {"status": "error", "data": {"message": f"{method} failed unexpectedly ({type(exc).__name__})"}}
    if result["status"] == "success" and method == "verifyCredentials":
        log.info("verifyCredentials: verified=%s", result["data"].get("verified"))
    else:
        log.info("%s: %s", method, result["status"])
    post_result(url, result, attempts=settings.api_retry_attempts if settings else 3,
                delay_ms=settings.api_retry_delay if settings else 100)
    return 0
