"""Small value classes without `dataclasses`, whose import pulls in inspect, ast and dis (several ms on
every start of the CLI, and more per class). A subclass names its fields in `__slots__` (or `_fields`
when it needs a __dict__, for cached_property) and writes its __init__; equality, repr and, for a
`Frozen` one, hashing and read-only attributes come from the field names."""

from __future__ import annotations


class Record:
    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _hidden: tuple[str, ...] = ()  # fields left out of repr()

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # mutable: not hashable, as a dataclass with eq is not

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields if name not in self._hidden)
        return f"{type(self).__name__}({shown})"


class Frozen(Record):
    """A Record whose fields are set once, in __init__ through _set."""

    __slots__ = ()

    def _set(self, **values) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is read-only (cannot set {name})")

    def __delattr__(self, name):
        raise AttributeError(f"{type(self).__name__} is read-only (cannot delete {name})")

    def __hash__(self) -> int:
        return hash(self._values())
