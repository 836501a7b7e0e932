"""Lightweight messages: a body kept in the platform's object storage instead of in the message.

An upstream step that runs with ELASTICIO_EMIT_LIGHTWEIGHT_MESSAGE uploads a large body and sends an
empty one, with the object's id in the message's own headers (`x-ipaas-object-storage-id`, on the message
and on each pass-through step). As the Node sailor 2.7.8 does with its object-storage client
(@elastic.io/maester-client 6.0.0), the body is fetched before the action runs:

- GET {ELASTICIO_OBJECT_STORAGE_URI}/objects/{id} with `Authorization: Bearer {ELASTICIO_OBJECT_STORAGE_TOKEN}`
  and `x-request-id: f:{flow};s:{step};m:`, no redirects followed;
- the answer is the body as JSON, encrypted with the message cipher (AES-256-CBC, raw bytes, no base64);
- a network failure or a 5xx is tried again twice (100 ms, then 200 ms, plus up to 20 %), a 4xx is not;
  each attempt is bounded by 10 s;
- any failure is the error "Failed to get message body with id=..." and the action does not run.

Beyond Node (which reads any size): the object is bounded in size (MAX_OBJECT_BYTES), the id must be a
plain path segment, and the token and any credentials in the address never reach a message or a log.
Node resolves references unless a function sets `autoResolveObjectReferences: false` (its component reader
defaults it to true); no action of this component opts out, so the runner always resolves them.
"""

from __future__ import annotations

import copy
import random
import re
import time
from collections.abc import Callable, Mapping

import requests

from jobs_connector import __version__
from jobs_connector.base.errors import ConnectorError
from jobs_connector.sailor.crypto import DecryptError, MessageCipher
from jobs_connector.sailor.platform_api import _shown

OBJECT_ID_HEADER = "x-ipaas-object-storage-id"
RETRIES = 2  # maester-client's default: two more attempts after a network failure or a 5xx
REQUEST_TIMEOUT = 10.0  # seconds per attempt, maester-client's default
MAX_OBJECT_BYTES = 64 * 1024 * 1024  # Node has no bound; a message body this large is already an outlier
OBJECT_ID = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,199}")  # one path segment, never '.' or '..'


class ObjectStorageError(ConnectorError):
    """A lightweight message's body could not be fetched from the platform's object storage: an error
    of the message, never a rebound (as Node: the input is rejected after the error)."""

    exit_code = 4


class _TooLarge(Exception):
    pass


def object_id_of(message: Mapping) -> str | None:
    headers = message.get("headers") if isinstance(message, Mapping) else None
    value = headers.get(OBJECT_ID_HEADER) if isinstance(headers, Mapping) else None
    return None if value in (None, "") else str(value)


class ObjectStorage:
    """The GET side of the platform's object storage, as the sailor uses it."""

    def __init__(self, uri: str | None, token: str | None, cipher: MessageCipher, *, flow_id: str = "",
                 step_id: str = "", max_bytes: int = MAX_OBJECT_BYTES, timeout: float = REQUEST_TIMEOUT,
                 retries: int = RETRIES, sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random):
        self.uri = (uri or "").rstrip("/")
        self._token = token or ""
        self.cipher = cipher
        self.request_id = f"f:{flow_id};s:{step_id};m:"
        self.max_bytes, self.timeout, self.retries, self.sleep, self.rng = max_bytes, timeout, retries, sleep, rng

    def __repr__(self) -> str:
        return f"ObjectStorage({_shown(self.uri) if self.uri else 'unset'}, token=<redacted>)"

    def get(self, object_id: str):
        """The stored body, decrypted and parsed, or ObjectStorageError."""
        prefix = f"Failed to get message body with id={object_id[:200]}"
        if not OBJECT_ID.fullmatch(object_id) or set(object_id) == {"."}:
            raise ObjectStorageError(f"{prefix}: the {OBJECT_ID_HEADER} header is not an object id (letters, "
                                     "digits, '.', '_', '~', '-'; at most 200)")
        for name, value in (("URI", self.uri), ("TOKEN", self._token)):
            if not value:
                raise ObjectStorageError(f"{prefix}: ELASTICIO_OBJECT_STORAGE_{name} is not set")
        url = f"{self.uri}/objects/{object_id}"
        try:
            sealed = self._download(url, prefix)
        except _TooLarge:
            raise ObjectStorageError(f"{prefix}: the object is larger than {self.max_bytes} bytes") from None
        if not sealed:
            raise ObjectStorageError(f"{prefix}: the object is empty")
        try:
            return self.cipher.decode(sealed, 2)
        except DecryptError as exc:
            raise ObjectStorageError(f"{prefix}: the object is not a message body encrypted for this step "
                                     f"({exc})") from None

    def _download(self, url: str, prefix: str) -> bytes:
        attempt = 0
        while True:
            try:
                status, content = self._attempt(url)
                failure = None if status < 500 else f"HTTP {status}"
            except requests.Timeout:
                status, content, failure = None, b"", f"no answer within {self.timeout:g} s"
            except requests.RequestException as exc:
                status, content, failure = None, b"", f"{type(exc).__name__} from {_shown(url)}"
            if failure is None:
                if not 200 <= status < 300:  # 3xx (not followed) and 4xx: another try cannot help
                    raise ObjectStorageError(f"{prefix}: the object storage answered HTTP {status}", status=status)
                return content
            if attempt >= self.retries:
                raise ObjectStorageError(f"{prefix}: {failure} after {attempt + 1} attempt(s)", status=status)
            delay = 0.1 * 2 ** attempt
            self.sleep(delay + delay * 0.2 * self.rng())  # maester-client's backoff: up to 20 % more
            attempt += 1

    def _attempt(self, url: str) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self._token}", "x-request-id": self.request_id,
                   "User-Agent": f"jobs-connector/{__version__} (sailor)"}
        deadline = time.monotonic() + self.timeout
        with requests.get(url, headers=headers, timeout=(self.timeout, self.timeout), stream=True,
                          allow_redirects=False) as response:
            if not 200 <= response.status_code < 300:
                return response.status_code, b""
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise _TooLarge()
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > self.max_bytes:
                    raise _TooLarge()
                if time.monotonic() > deadline:
                    raise requests.Timeout("the object took longer than the timeout to arrive")  # a trickle
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)


def resolve_references(payload: Mapping, storage: ObjectStorage) -> dict:
    """The message with its body (and each pass-through step's body) fetched where it is a reference; the
    same object when nothing is."""
    object_id = object_id_of(payload)
    passthrough = payload.get("passthrough")
    steps = [s for s, m in passthrough.items() if object_id_of(m)] if isinstance(passthrough, Mapping) else []
    if object_id is None and not steps:
        return payload
    resolved = copy.deepcopy(dict(payload))
    if object_id is not None:
        resolved["body"] = storage.get(object_id)
    for step in steps:
        resolved["passthrough"][step]["body"] = storage.get(object_id_of(passthrough[step]))
    return resolved
