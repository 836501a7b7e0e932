"""The declarations an action module may make, checked when the registry loads it.

An action module (actions/<service>/<Operation>.py) holds only what is specific to its operation. Every
upper-case name it sets must be one of DECLARATIONS, of the kind given there; anything else (a typo such as
`IDEMPOTNET`, a value of the wrong kind) fails the load with the file and the name, instead of silently
meaning "not declared". Module-private helpers start with an underscore and are not declarations.
"""

from __future__ import annotations

import sys
from numbers import Real

from jobs_connector.base.record import Frozen
from jobs_connector.component.paging import Cursor, Offset

METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD")
_BINDING_METHODS = ("service", "signing", "request", "idempotent", "answer")


def _is_str_map(value) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _is_binding(value) -> bool:
    return all(callable(getattr(value, name, None)) for name in _BINDING_METHODS)


# name: (what it is, the check its value must pass, the value when the module does not set it)
DECLARATIONS = {
    "METHOD": ("the HTTP method (rest-json)", lambda v: v in METHODS, None),
    "PATH": ("the request URI template, '/...{member}...'", lambda v: isinstance(v, str) and v.startswith("/"),
             None),
    "QUERY": ("query-string name per input member", _is_str_map, {}),
    "HEADERS": ("header name per input member", _is_str_map, {}),
    "IDEMPOTENT": ("whether repeating the call after an ambiguous failure is safe", lambda v: isinstance(v, bool),
                   False),
    "IDEMPOTENCY_TOKEN": ("the input member filled with a fresh token when absent", lambda v: isinstance(v, str),
                          None),
    "CHECK_WITH": ("the action to look with after an outcome unknown", lambda v: isinstance(v, str) and "." in v,
                   None),
    "PAGING": ("how the answer pages (Cursor or Offset)", lambda v: isinstance(v, (Cursor, Offset)), None),
    "READ_TIMEOUT": ("the read timeout in seconds this call needs", lambda v: isinstance(v, Real) and v > 0, None),
    "ROLE": ("the service role the credentials must have", lambda v: isinstance(v, str), None),
    "BOUND_TO": ("the one modelled action this action calls underneath", lambda v: isinstance(v, str) and "." in v,
                 None),
    "BINDING": ("an object binding the request per call (jobs_connector.http.binding.Binding)", _is_binding, None),
    "EXAMPLE": ("an example input", lambda v: isinstance(v, dict), None),
    "NOTES": ("notes for the generated docs", lambda v: isinstance(v, str), None),
}


class DeclarationError(Exception):
    """An action module declares a name it may not, or a value of the wrong kind."""


class OperationSpec(Frozen):
    """An action module's declarations, checked: every name of DECLARATIONS, lower-cased, as an attribute."""

    __slots__ = _fields = tuple(name.lower() for name in DECLARATIONS)

    def __init__(self, **values):
        self._set(**values)


def read_spec(module, where: str) -> OperationSpec:
    """The checked declarations of an action module; DeclarationError names the file and the declaration."""
    # What the module imported from the kit (SERVICES, ...) is not one of its declarations.
    kit = getattr(sys.modules.get("jobs_connector.kit"), "__dict__", {})
    declared = {name: value for name, value in vars(module).items()
                if name.isupper() and not name.startswith("_") and kit.get(name) is not value}
    unknown = sorted(set(declared) - set(DECLARATIONS))
    if unknown:
        raise DeclarationError(f"{where}: {', '.join(unknown)} is not a declaration an action module may make "
                               f"(see jobs_connector.component.spec; private helpers start with '_')")
    for name, value in declared.items():
        meaning, check, _ = DECLARATIONS[name]
        if not check(value):
            raise DeclarationError(f"{where}: {name} must be {meaning}; it is {value!r}")
    if "BINDING" not in declared and declared.get("METHOD") is not None and "PATH" not in declared:
        raise DeclarationError(f"{where}: METHOD needs a PATH")
    return OperationSpec(**{name.lower(): declared.get(name, default)
                            for name, (_, _, default) in DECLARATIONS.items()})
