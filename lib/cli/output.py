"""How `run` shows each emitted message body: `--query` (JMESPath) picks from it, `--output` formats it.

- json (the default): one compact JSON line per message, as before;
- table: the AWS CLI's table (lib/cli/table.py): a title row, a header row and a row per object of a list,
  columns for a list of lists, nested values as titled sections;
- text: the AWS CLI's text output (tab-separated values, nested lists prefixed with their key in upper
  case), so `cut` and `awk` read it as they read `aws ... --output text`.
"""

from __future__ import annotations

import json
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
        reason = str(exc).splitlines()[0].rstrip(":")
        for prefix in ("Invalid jmespath expression: ", "Bad jmespath expression: "):
            reason = reason.removeprefix(prefix)
        reason = reason.split(", for expression")[0]
        raise BadInput(f"--query is not a JMESPath expression: {reason}{_caret(expression, exc)}",
                       field="--query", rule="jmespath") from None

    def search(body):
        try:
            return compiled.search(body)
        except JMESPathError as exc:  # e.g. a function given the wrong type of value
            raise BadInput(f"--query {expression!r} cannot be applied: {str(exc).splitlines()[0]}",
                           field="--query", rule="jmespath") from None

    return search


def _caret(expression: str, exc) -> str:
    """The expression under the error, and a caret under the place it went wrong (as the AWS CLI shows it)."""
    position = getattr(exc, "lex_position", None)
    if not isinstance(position, int):
        position = getattr(exc, "lexer_position", None)
    if not isinstance(position, int) or "\n" in expression:
        return f"\n  {expression}"
    return f"\n  {expression}\n  {' ' * min(position, len(expression))}^"


def formatter(name: str, title: str | None = None) -> Callable[[object], str]:
    """The text written for one emitted body (ending with a newline) in the chosen output format; a table
    is titled `title` (the operation's name, as the AWS CLI titles it)."""
    if name == "table":
        from jobs_connector.cli.table import as_table

        return lambda value: as_table(value, title)
    return {"json": as_json, "text": as_text}[name]


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
