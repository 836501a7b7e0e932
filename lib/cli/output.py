"""How `run` shows each emitted message body: `--query` (JMESPath) picks from it, `--output` formats it.

- json (the default): one compact JSON line per message, as before;
- table: a boxed table, one row per object of a list (nested lists of objects become their own titled
  tables), aligned by display width so wide characters keep the columns straight;
- text: the AWS CLI's text output (tab-separated values, nested lists prefixed with their key in upper
  case), so `cut` and `awk` read it as they read `aws ... --output text`.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable

from jobs_connector.base.errors import BadInput

OUTPUT_FORMATS = ("json", "table", "text")


def compile_query(expression: str | None) -> Callable[[object], object]:
    """The --query expression, compiled once (a bad one is refused before any request is sent)."""
    if expression is None:
        return lambda body: body
    import jmespath  # only with --query: 12 ms at start
    from jmespath.exceptions import JMESPathError

    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as exc:
        reason = str(exc).splitlines()[0]
        raise BadInput(f"--query {expression!r} is not a JMESPath expression: {reason}",
                       field="--query", rule="jmespath") from None

    def search(body):
        try:
            return compiled.search(body)
        except JMESPathError as exc:  # e.g. a function given the wrong type of value
            raise BadInput(f"--query {expression!r} cannot be applied: {str(exc).splitlines()[0]}",
                           field="--query", rule="jmespath") from None

    return search


def formatter(name: str) -> Callable[[object], str]:
    """The text written for one emitted body (ending with a newline) in the chosen output format."""
    return {"json": as_json, "table": as_table, "text": as_text}[name]


def as_json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"


# -- text: the AWS CLI's text output --------------------------------------------------------------------

def as_text(value) -> str:
    lines: list[str] = []
    _text(value, lines, None, None)
    return "".join(line + "\n" for line in lines)


def _scalar(value) -> str:
    return str(value)  # as the AWS CLI writes them: True, None, 1.5


def _is_scalar(value) -> bool:
    return not isinstance(value, dict | list)


def _text(value, lines: list[str], identifier: str | None, columns: list[str] | None) -> None:
    if isinstance(value, dict):
        _text_object(value, lines, identifier, columns)
    elif isinstance(value, list):
        _text_list(value, lines, identifier)
    else:
        lines.append(_scalar(value))


def _text_list(items: list, lines: list[str], identifier: str | None) -> None:
    if not items:
        return
    if any(isinstance(item, dict) for item in items):
        # One set of columns for every object of the list, so a column means the same on each line.
        columns = sorted({k for item in items if isinstance(item, dict) for k, v in item.items() if _is_scalar(v)})
        for item in items:
            _text(item, lines, identifier, columns)
        return
    scalars = [item for item in items if _is_scalar(item)]
    if scalars:
        if identifier is None:
            lines.append("\t".join(map(_scalar, scalars)))
        else:
            lines.extend(f"{identifier.upper()}\t{_scalar(item)}" for item in scalars)
    for nested in (item for item in items if not _is_scalar(item)):
        _text(nested, lines, identifier, None)


def _text_object(obj: dict, lines: list[str], identifier: str | None, columns: list[str] | None) -> None:
    if columns is None:
        scalars = [_scalar(v) for k, v in sorted(obj.items()) if _is_scalar(v)]
        nested = [(k, v) for k, v in sorted(obj.items()) if not _is_scalar(v)]
    else:
        scalars = [_scalar(obj.get(k, "")) for k in columns]
        nested = [(k, obj[k]) for k in sorted(set(obj) - set(columns))]
    if scalars:
        lines.append("\t".join(([identifier.upper()] if identifier is not None else []) + scalars))
    for key, value in nested:
        _text(value, lines, key, None)


# -- table ------------------------------------------------------------------------------------------------

def display_width(text: str) -> int:
    """Columns a terminal gives `text`: wide East Asian characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return " ".join(str(value).split())  # one line per row: newlines and tabs become spaces


def _box(title: str | None, header: list[str] | None, rows: list[list[str]]) -> list[str]:
    count = len(header) if header else max((len(r) for r in rows), default=1)
    widths = [0] * count
    for row in ([header] if header else []) + rows:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], display_width(text))
    inner = sum(widths) + 3 * (count - 1)
    if title and display_width(title) > inner:  # a long title widens the last column
        widths[-1] += display_width(title) - inner
        inner = display_width(title)
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = []
    if title:
        out += ["+" + "-" * (inner + 2) + "+", "| " + _pad(title, inner) + " |"]
    out.append(rule)
    if header:
        out += ["| " + " | ".join(_pad(h, w) for h, w in zip(header, widths, strict=True)) + " |", rule]
    for row in rows:
        out.append("| " + " | ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)) + " |")
    if rows or not header:
        out.append(rule)
    return out


def _objects_table(title: str | None, items: list[dict]) -> list[str]:
    columns: list[str] = []
    for item in items:
        columns += [k for k in item if k not in columns]
    return _box(title, columns, [[_cell(item.get(c)) for c in columns] for item in items])


def _table(value, title: str | None) -> list[str]:
    if isinstance(value, list):
        if value and all(isinstance(item, dict) for item in value):
            return _objects_table(title, value)
        return _box(title, None, [[_cell(item)] for item in value]) if value else _box(title, ["(empty)"], [])
    if isinstance(value, dict):
        plain = [(k, v) for k, v in value.items() if not _nests(v)]
        out = _box(title, None, [[k, _cell(v)] for k, v in plain]) if plain or not value else []
        for key, nested in value.items():
            if _nests(nested):
                out += _table(nested, f"{title}.{key}" if title else key)
        return out
    return _box(title, None, [[_cell(value)]])


def _nests(value) -> bool:
    """A value shown as a table of its own: a list of objects, or an object."""
    return isinstance(value, dict) or (isinstance(value, list) and bool(value)
                                       and all(isinstance(item, dict) for item in value))


def as_table(value) -> str:
    return "".join(line + "\n" for line in _table(value, None))
