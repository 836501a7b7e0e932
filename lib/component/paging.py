"""Paging, described once: how a list action asks for the next page, and how its pages become messages.

Two styles cover the five APIs: a cursor the service returns (AWS `NextToken`/`nextToken`, EmbedThis
`next`) and an offset with a total (SpaceONE `query.page.start`/`limit` + `total_count`). An action module
declares `PAGING = Cursor(...)` or `PAGING = Offset(...)`; the runtime does the rest.

Emit behaviours (the step config's `emitBehaviour`, the CLI's `--emit`):
- `fetchAll`: every page, merged into one message (the default);
- `fetchPage`: one page, as the service returned it, cursor included, to continue later;
- `emitIndividually`: one message per item, across all pages.
"""

from __future__ import annotations

import copy

from jobs_connector.base.errors import BadInput, UnexpectedResponse
from jobs_connector.base.record import Frozen

EMIT_BEHAVIOURS = ("fetchAll", "fetchPage", "emitIndividually")
DEFAULT_MAX_PAGES = 100


def get_path(data: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def set_path(data: dict, dotted: str, value) -> dict:
    """A copy of `data` with `dotted` set, creating the objects on the way."""
    out = copy.deepcopy(data)
    node = out
    *parents, last = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return out


def _check_items(page: dict, items: str) -> None:
    value = get_path(page, items)
    if value is not None and not isinstance(value, list):
        raise UnexpectedResponse(f"the service answered with '{items}' that is not a list "
                                 f"({type(value).__name__}), so its pages cannot be read")


class Cursor(Frozen):
    """The service returns a cursor; the next request sends it back."""

    __slots__ = _fields = ("items", "input_token", "output_token")

    def __init__(self, items: str, input_token: str, output_token: str):
        self._set(items=items, input_token=input_token, output_token=output_token)

    def check(self, page: dict) -> None:
        """What paging relies on, the only part of an answer that can fail it: the items and the cursor."""
        _check_items(page, self.items)
        token = get_path(page, self.output_token)
        if token is not None and not isinstance(token, (str, dict)):
            raise UnexpectedResponse(f"the service answered with a '{self.output_token}' cursor that is not a "
                                     f"string ({type(token).__name__}), so the next page cannot be asked for")

    def next_body(self, body: dict, page: dict, seen: int) -> dict | None:
        token = get_path(page, self.output_token)
        if token in (None, "", {}):
            return None
        return set_path(body, self.input_token, token)

    def merge(self, pages: list[dict], more: bool) -> dict:
        merged = dict(pages[-1])
        merged[self.items] = [item for page in pages for item in (get_path(page, self.items) or [])]
        if not more:
            merged.pop(self.output_token, None)
        return merged


class Offset(Frozen):
    """The request says where to start and how many; the answer says how many there are in all."""

    __slots__ = _fields = ("items", "start", "limit", "total", "first_index", "default_limit")

    def __init__(self, items: str, start: str, limit: str, total: str, first_index: int = 1,
                 default_limit: int = 100):
        self._set(items=items, start=start, limit=limit, total=total, first_index=first_index,
                  default_limit=default_limit)

    def first_body(self, body: dict) -> dict:
        out = body
        if get_path(body, self.start) is None:
            out = set_path(out, self.start, self.first_index)
        if get_path(body, self.limit) is None:
            out = set_path(out, self.limit, self.default_limit)
        return out

    def check(self, page: dict) -> None:
        """What paging relies on, the only part of an answer that can fail it: the items and the total."""
        _check_items(page, self.items)
        total = get_path(page, self.total)
        if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
            raise UnexpectedResponse(f"the service answered with a '{self.total}' that is not a whole number, "
                                     "so the next page cannot be asked for")

    def next_body(self, body: dict, page: dict, seen: int) -> dict | None:
        got = get_path(page, self.items) or []
        total = get_path(page, self.total)
        start = get_path(body, self.start)
        if not got or total is None or start - self.first_index + len(got) >= total:
            return None
        return set_path(body, self.start, start + len(got))

    def merge(self, pages: list[dict], more: bool) -> dict:
        merged = dict(pages[-1])
        merged[self.items] = [item for page in pages for item in (get_path(page, self.items) or [])]
        return merged


def emit_settings(cfg: dict) -> tuple[str, int]:
    behaviour = cfg.get("emitBehaviour") or "fetchAll"
    if behaviour not in EMIT_BEHAVIOURS:
        raise BadInput(f"configuration field 'emitBehaviour' must be one of {', '.join(EMIT_BEHAVIOURS)}",
                       field="emitBehaviour", rule="enum")
    max_pages = cfg.get("maxPages", DEFAULT_MAX_PAGES)
    if isinstance(max_pages, str) and max_pages.isdigit():
        max_pages = int(max_pages)
    if not isinstance(max_pages, int) or isinstance(max_pages, bool) or max_pages < 1:
        raise BadInput("configuration field 'maxPages' must be a whole number of at least 1",
                       field="maxPages", rule="minimum")
    return behaviour, max_pages
