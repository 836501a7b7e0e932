"""A bounded cache of what is derived from one schema object (its compiled validators, whether it holds a
secret). Schemas are loaded once per action and never changed, so the object is the key; the entry keeps
the schema alive, so its id cannot be taken by another object while the entry lives."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable


class PerSchema:
    def __init__(self, derive: Callable[[object], object], size: int = 2048):
        self.derive, self.size = derive, size
        self.entries: OrderedDict[int, tuple[object, object]] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, schema):
        entry = self.entries.get(id(schema))
        if entry is not None and entry[0] is schema:
            return entry[1]
        value = self.derive(schema)
        with self.lock:
            self.entries[id(schema)] = (schema, value)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value
