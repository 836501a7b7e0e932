"""The sandbox's state: one JSON-able dict per emulated service, seeded with demo data, kept in memory or,
with `--state FILE`, in a JSON file rewritten atomically (a temporary file, fsync, rename) after every
request that changed something, so a crash never leaves half a file."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable

from jobs_connector.base.atomic_file import write_atomically
from jobs_connector.sandbox import codepipeline, embedthis, iot_jobs_data, panorama, spaceone

SERVICES = (iot_jobs_data, panorama, codepipeline, spaceone, embedthis)
FORMAT = "jobs-connector-sandbox/1"


class StateFileError(Exception):
    """The state file cannot be read or is not a sandbox state file."""


class Store:
    def __init__(self, path: str | None = None, clock: Callable[[], float] | None = None):
        self.path = path
        self.clock = clock or time.time
        self.lock = threading.RLock()  # one request at a time touches the state
        self.data: dict[str, dict] = {}
        loaded = self._load() if path and os.path.exists(path) else {}
        now = self.clock()
        for service in SERVICES:  # a service missing from the file (older file, new service) is seeded
            self.data[service.NAME] = loaded.get(service.NAME) or service.seed(now)
        self._saved = ""
        try:
            self.save_if_changed()  # at once: a file that cannot be written is reported at start, not later
        except OSError as exc:
            raise StateFileError(f"cannot write the state file {path}: {exc.strerror}") from None

    def _load(self) -> dict:
        try:
            with open(self.path, encoding="utf-8") as fh:
                document = json.load(fh)
        except OSError as exc:
            raise StateFileError(f"cannot read the state file {self.path}: {exc.strerror}") from None
        except ValueError as exc:
            raise StateFileError(f"the state file {self.path} is not valid JSON ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT or \
                not isinstance(document.get("services"), dict):
            raise StateFileError(f"{self.path} is not a sandbox state file (expected \"format\": \"{FORMAT}\")")
        return document["services"]

    def _serialised(self) -> str:
        return json.dumps({"format": FORMAT, "services": self.data}, indent=1, sort_keys=True)

    def save_if_changed(self) -> bool:
        """Write the state file if the state differs from what was last written; True if written."""
        if not self.path:
            return False
        with self.lock:
            text = self._serialised()
            if text == self._saved:
                return False
            write_atomically(self.path, text, prefix=".sandbox-state-")
            self._saved = text
            return True
