"""Input mappings: JSONata expressions that build a step's input from the event and earlier steps.

A step's `input` is either one expression (a string) or an object whose values are expressions
(strings), nested objects of expressions, or literal numbers, booleans, nulls and lists. Strings are
always expressions: a constant string is written as a JSONata string literal, e.g. `"'SUCCEEDED'"`.

Each expression is evaluated against the context
`{"event": <body>, "steps": [<outputs of earlier steps>], "headers": {...}, "meta": {...}}`.
A field whose expression yields nothing (JSONata's undefined, or null) is left out of the input.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import jsonata

# Context roots whose values are only known when the event runs, never at load time.
RUNTIME_ROOTS = frozenset({"steps", "headers", "meta"})
# Stands for a value only run time knows, so the field's name is still checked at load time.
AT_RUN_TIME = "(known at run time)"


class MappingError(Exception):
    """An expression that does not compile or fails to evaluate; `where` names the input field."""

    def __init__(self, where: str, message: str):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def _walk(node, seen: set[int]):
    """Every node of a jsonata-python AST (its Symbol objects hold children in many attributes)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item, seen)
        return
    if not hasattr(node, "type") or not hasattr(node, "value"):
        return
    yield node
    for name, child in vars(node).items():
        if name.startswith("_") or name in ("type", "value", "position", "id"):
            continue
        if isinstance(child, (list, tuple)) or (hasattr(child, "type") and hasattr(child, "value")):
            yield from _walk(child, seen)


@dataclass
class Expression:
    """One compiled JSONata expression and what it reads from the context."""

    source: str
    where: str
    compiled: jsonata.Jsonata = field(repr=False)
    names: frozenset[str] = frozenset()
    reads_root: bool = False  # `$` / `$$`: may read anything
    # jsonata-python binds the input in the expression's shared environment: one evaluation at a time.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def compile(cls, source: str, where: str) -> Expression:
        try:
            compiled = jsonata.Jsonata(source)
        except Exception as exc:  # jsonata-python raises its JException for syntax errors
            raise MappingError(where, f"the JSONata expression {source!r} does not compile: {exc}") from None
        names, reads_root = set(), False
        for node in _walk(compiled.ast, set()):
            if node.type == "name" and isinstance(node.value, str):
                names.add(node.value)
            elif node.type == "variable" and node.value in ("", "$"):
                reads_root = True
        return cls(source, where, compiled, frozenset(names), reads_root)

    @property
    def static(self) -> bool:
        """True when the result does not depend on the context at all."""
        return not self.names and not self.reads_root

    def known_at_load(self, has_example_event: bool) -> bool:
        """True when load-time evaluation gives the run-time result's shape: no earlier step output,
        header or meta is read, and the event is read only when the flow declares an example."""
        if self.static:
            return True
        if self.reads_root or self.names & RUNTIME_ROOTS:
            return False
        return has_example_event

    def evaluate(self, context: dict):
        try:
            with self.lock:
                result = self.compiled.evaluate(context, {})
            return _plain(result)
        except Exception as exc:
            raise MappingError(self.where, f"the JSONata expression {self.source!r} failed: {exc}") from None


def _plain(value):
    """jsonata-python returns its own list subclass and may return functions; keep plain JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if callable(value):
        return None
    return value


class Mapping:
    """A step's compiled `input`: one expression, or an object of expressions and literals."""

    def __init__(self, spec, where: str = "input"):
        self.where = where
        self.root = self._compile(spec, where)

    def _compile(self, spec, where: str):
        if isinstance(spec, str):
            return Expression.compile(spec, where)
        if isinstance(spec, dict):
            return {key: self._compile(value, f"{where}.{key}") for key, value in spec.items()}
        return spec  # a literal number, boolean, null or list

    def expressions(self) -> list[Expression]:
        found: list[Expression] = []

        def collect(node):
            if isinstance(node, Expression):
                found.append(node)
            elif isinstance(node, dict):
                for value in node.values():
                    collect(value)

        collect(self.root)
        return found

    def evaluate(self, context: dict):
        return self._evaluate(self.root, context, lambda expr: True)

    def evaluate_known(self, context: dict, has_example_event: bool):
        """Evaluate the fields knowable at load time; the others get the AT_RUN_TIME placeholder.
        Returns (value, the `where` of each placeholder field)."""
        unknown: set[str] = set()

        def knowable(expr: Expression) -> bool:
            if expr.known_at_load(has_example_event):
                return True
            unknown.add(expr.where)
            return False

        value = self._evaluate(self.root, context, knowable)
        return value, unknown

    def _evaluate(self, node, context, knowable):
        if isinstance(node, Expression):
            return node.evaluate(context) if knowable(node) else AT_RUN_TIME
        if isinstance(node, dict):
            out = {}
            for key, child in node.items():
                value = self._evaluate(child, context, knowable)
                if value is not None:
                    out[key] = value
            return out
        return node
