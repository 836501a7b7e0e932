"""Input mappings: JSONata expressions that build a step's input from the event and earlier steps.

A step's `input` is either one expression (a string) or an object whose values are expressions
(strings), nested objects of expressions, or literal numbers, booleans, nulls and lists. Strings are
always expressions: a constant string is written as a JSONata string literal, e.g. `"'SUCCEEDED'"`.

Each expression is evaluated against the context
`{"event": <body>, "steps": [<outputs of earlier steps>], "headers": {...}, "meta": {...}}`.
A field whose expression yields nothing (JSONata's undefined, or null) is left out of the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jsonata

from jobs_connector.webhooks.mapping.jsonata_box import EvaluationFailed, Evaluator, shared
from jobs_connector.webhooks.mapping.jsonata_child import plain

# The context's members; a path starting anywhere else reads nothing.
CONTEXT_ROOTS = frozenset({"event", "steps", "headers", "meta"})
# Context roots whose values are only known when the event runs, never at load time.
RUNTIME_ROOTS = frozenset({"steps", "headers", "meta"})
# Stands for a value only run time knows, so the field's name is still checked at load time.
AT_RUN_TIME = "(known at run time)"
# Children of an AST node that are evaluated against the same input as the node itself.
_SAME_INPUT = ("lhs", "rhs", "condition", "then", "_else", "expression", "expressions", "arguments",
               "lhs_object")


class MappingError(Exception):
    """An expression that does not compile, fails to evaluate or passes a limit; `where` names the input
    field and `rule` says which (evaluation, time-limit, memory-limit, size-limit, depth-limit, ...)."""

    def __init__(self, where: str, message: str, rule: str = "mapping"):
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message
        self.rule = rule


def _walk(node, seen: set[int]):
    """Every node of a jsonata-python AST (its Symbol objects hold children in many attributes)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _walk(item, seen)
        return
    if not _is_node(node):
        return
    yield node
    for name, child in vars(node).items():
        if (name.startswith("_") and name != "_else") or name in ("type", "value", "position", "id"):
            continue
        if isinstance(child, (list, tuple)) or _is_node(child):
            yield from _walk(child, seen)


def _is_node(value) -> bool:
    return hasattr(value, "type") and hasattr(value, "value")


def _root_names(node) -> list[str]:
    """Names read from the context itself (the first step of a path evaluated against the root).
    Conservative: lambda bodies, predicates and later path steps, whose input differs, are not looked at."""
    found: list[str] = []

    def visit(item):
        if isinstance(item, (list, tuple)):
            for child in item:
                visit(child)
            return
        if not _is_node(item):
            return
        if item.type == "name":
            found.append(item.value)
        elif item.type == "path" and item.steps:
            visit(item.steps[0])
        elif item.type == "bind":
            visit(item.rhs)
        elif item.type in ("binary", "condition", "unary", "block", "function"):
            for name in _SAME_INPUT:
                visit(getattr(item, name, None))

    visit(node)
    return found


# Attributes a jsonata-python node may carry and still be a plain literal or a plain name step; any
# other (a predicate, a stage, `[]`, `#$i`, `@$x`, `%`, a group, ...) sends the expression to the box.
_PLAIN_ATTRIBUTES = frozenset({"type", "value", "id", "position", "_outer_instance", "bp", "lbp", "level"})
_NOT_DIRECT = object()  # the direct reading does not apply to this context: the box evaluates it


def _is_plain(node, extra: frozenset = frozenset()) -> bool:
    allowed = _PLAIN_ATTRIBUTES | extra
    return all(not value or name in allowed for name, value in vars(node).items())


def _direct_reader(ast):
    """For a literal or a path of plain names (`event.device.name`), a function that reads the value
    without the evaluator process: its time and memory are bounded by the path's length, so it needs no
    box, and it spares a round trip per event. None for anything else. The reader returns _NOT_DIRECT when
    it meets an array on the way (JSONata's sequence rules), and the box decides."""
    if ast.type in ("string", "value") and _is_plain(ast):
        value = ast.value
        return lambda context: value
    if ast.type == "number" and _is_plain(ast):
        value = int(ast.value) if isinstance(ast.value, float) and ast.value.is_integer() else ast.value
        return lambda context: value
    steps = getattr(ast, "steps", None)
    if ast.type != "path" or not steps or not _is_plain(ast, frozenset({"steps"})):
        return None
    if not all(step.type == "name" and isinstance(step.value, str) and _is_plain(step) for step in steps):
        return None
    names = tuple(step.value for step in steps)

    def read(context):
        value = context
        for name in names:
            if not isinstance(value, dict):
                return _NOT_DIRECT if isinstance(value, list) else None
            value = value.get(name)
        if isinstance(value, list):
            return _NOT_DIRECT
        return plain(value)  # as the evaluator hands a value back

    return read


@dataclass
class Expression:
    """One compiled JSONata expression and what it reads from the context."""

    source: str
    where: str
    names: frozenset[str] = frozenset()
    reads_root: bool = False  # `$` / `$$`: may read anything
    bare_words: tuple[str, ...] = field(default=())  # names read from the context that it does not have
    direct: object = field(default=None, repr=False, compare=False)  # see _direct_reader

    @classmethod
    def compile(cls, source: str, where: str) -> Expression:
        try:
            ast = jsonata.Jsonata(source).ast  # only to check it and see what it reads: it runs in the box
        except Exception as exc:  # jsonata-python raises its JException for syntax errors
            raise MappingError(where, f"the JSONata expression {source!r} does not compile: {exc}") from None
        names, reads_root = set(), False
        for node in _walk(ast, set()):
            if node.type == "name" and isinstance(node.value, str):
                names.add(node.value)
            elif node.type == "variable" and node.value in ("", "$"):
                reads_root = True
        bare = tuple(dict.fromkeys(n for n in _root_names(ast) if n not in CONTEXT_ROOTS))
        return cls(source, where, frozenset(names), reads_root, bare, _direct_reader(ast))

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

    def failure(self, failed: EvaluationFailed) -> MappingError:
        if failed.rule == "evaluation":
            text = f"the JSONata expression {self.source!r} failed: {failed.message}"
        else:
            text = f"the JSONata expression {self.source!r} was stopped ({failed.rule}): {failed.message}"
        return MappingError(self.where, text, failed.rule)


class Mapping:
    """A step's compiled `input`: one expression, or an object of expressions and literals. Evaluated in
    the bounded evaluator (lib/webhooks/mapping/jsonata_box.py): all of a step's expressions in one request, but
    for literals and plain paths, which are read directly (_direct_reader)."""

    def __init__(self, spec, where: str = "input", evaluator: Evaluator | None = None):
        self.where = where
        self.root = self._compile(spec, where)
        self._evaluator = evaluator

    @property
    def evaluator(self) -> Evaluator:
        return self._evaluator or shared()

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
        return self._evaluate(context, lambda expr: True)

    def evaluate_known(self, context: dict, has_example_event: bool):
        """Evaluate the fields knowable at load time; the others get the AT_RUN_TIME placeholder.
        Returns (value, the `where` of each placeholder field)."""
        unknown: set[str] = set()

        def knowable(expr: Expression) -> bool:
            if expr.known_at_load(has_example_event):
                return True
            unknown.add(expr.where)
            return False

        value = self._evaluate(context, knowable)
        return value, unknown

    def _evaluate(self, context, knowable):
        values = {}
        wanted = []
        for expr in self.expressions():
            if knowable(expr):
                value = expr.direct(context) if expr.direct else _NOT_DIRECT
                if value is _NOT_DIRECT:
                    wanted.append(expr)
                else:
                    values[id(expr)] = value
        if wanted:
            values.update(self._evaluate_in_box(wanted, context))
        return self._assemble(self.root, values)

    def _evaluate_in_box(self, wanted: list[Expression], context) -> dict:
        try:
            results = self.evaluator.evaluate([expr.source for expr in wanted], context)
        except EvaluationFailed as failed:
            if failed.index is not None:
                raise wanted[failed.index].failure(failed) from None
            fields = ", ".join(expr.where for expr in wanted)
            raise MappingError(fields, f"one of these fields' JSONata expressions was stopped ({failed.rule}): "
                                       f"{failed.message}", failed.rule) from None
        return {id(expr): value for expr, value in zip(wanted, results, strict=True)}

    def _assemble(self, node, values):
        if isinstance(node, Expression):
            return values.get(id(node), AT_RUN_TIME)
        if isinstance(node, dict):
            out = {}
            for key, child in node.items():
                value = self._assemble(child, values)
                if value is not None:
                    out[key] = value
            return out
        return node
