"""Sealing: the secrets of a stored webhook event are encrypted (AES-256-GCM) before any store writes them.

What is sealed: in each completed step's output, every field the action's out-schema marks `x-secret`
(GetThirdPartyJobDetails' artifactCredentials and secret action-configuration values, GetBrowserKeys'
keys). Each becomes `{"$sealed": "v1.<key id>.<base64url(nonce | ciphertext | tag)>"}`, with the event
id as associated data, so a sealed value cannot be moved to another event unnoticed. The event's error
and history are scrubbed of those secrets before they are written, too. Only the worker opens sealed
values (to give a resumed flow its earlier outputs); `events show` and `GET /events/<id>` show '***'.

The key, 32 random bytes in base64, is read from (first found):
  JOBS_CONNECTOR_SEALING_KEY         the key itself; during a rotation "NEW,OLD": the first seals, all open
  JOBS_CONNECTOR_SEALING_KEY_FILE    a file holding the key(s), one a line, the same rule
  $XDG_CONFIG_HOME/jobs-connector/sealing.key (~/.config/...), created on first use
A key file must be readable and writable by its owner only (mode 0600 or stricter), or it is refused.
`jobs-connector events new-key` prints a fresh key; `jobs-connector events reseal` rewrites every stored
event under the first key, after which the old keys can be dropped.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
import threading
from dataclasses import dataclass

from jobs_connector.base.errors import ConfigurationError, ConnectorError
from jobs_connector.base.redact import Redactor, holds_secret, redact_by_schema, secret_values
from jobs_connector.component.registry import get_action

KEY_ENV = "JOBS_CONNECTOR_SEALING_KEY"
KEY_FILE_ENV = "JOBS_CONNECTOR_SEALING_KEY_FILE"
SEALED = "$sealed"
VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12


class SealingError(ConfigurationError):
    """No usable sealing key, or a sealed value that none of the given keys opens."""

    def __init__(self, message: str, *, field: str = KEY_ENV, rule: str = "sealing-key"):
        super().__init__(message, field=field, rule=rule)


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def key_id(key: bytes) -> str:
    """A short public name for a key: which key sealed a value, without saying anything about the key."""
    return hashlib.sha256(b"jobs-connector sealing key id\0" + key).hexdigest()[:12]


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().replace("+", "-").replace("/", "_").encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        key = b""
    if len(key) != KEY_BYTES:
        raise SealingError(f"{where} must hold base64 keys of {KEY_BYTES} bytes each "
                           "(`jobs-connector events new-key` makes one)")
    return key


@dataclass(frozen=True)
class Keyring:
    keys: tuple[bytes, ...]  # the first seals; every one opens

    @property
    def current(self) -> bytes:
        return self.keys[0]

    def find(self, kid: str) -> bytes | None:
        return next((key for key in self.keys if key_id(key) == kid), None)


def _parse(text: str, where: str) -> Keyring:
    parts = [p for p in text.replace(",", "\n").splitlines() if p.strip() and not p.strip().startswith("#")]
    if not parts:
        raise SealingError(f"{where} holds no key")
    return Keyring(tuple(_decode_key(p, where) for p in parts))


def _owner_only(path: str, field: str) -> None:
    info = os.stat(path)
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO) or (hasattr(os, "getuid") and info.st_uid != os.getuid()):
        raise SealingError(f"the sealing key file {path} must belong to this user and be readable by its owner "
                           f"only (chmod 600 {path})", field=field, rule="file-mode")


def _read_key_file(path: str, field: str) -> Keyring:
    try:
        _owner_only(path, field)
        with open(path, encoding="ascii") as fh:
            text = fh.read(64 * 1024)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not text"
        raise SealingError(f"cannot read the sealing key file {path}: {reason}", field=field, rule="file") from None
    return _parse(text, f"the sealing key file {path}")


def default_key_path(environ=os.environ) -> str:
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "jobs-connector", "sealing.key")


def _created_key_file(path: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    try:  # O_EXCL: two processes starting at once end up with the one key the first wrote
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(new_key() + "\n")
        fh.flush()
        os.fsync(fh.fileno())


_cache: dict[tuple, Keyring] = {}
_cache_lock = threading.Lock()


def keyring(environ=os.environ) -> Keyring:
    """The keys this process seals and opens with (read once per setting; a restart picks up a new file)."""
    given, file = environ.get(KEY_ENV), environ.get(KEY_FILE_ENV)
    where = ("env", given) if given else ("file", file) if file else ("default", default_key_path(environ))
    with _cache_lock:
        if where not in _cache:
            if given:
                _cache[where] = _parse(given, KEY_ENV)
            elif file:
                _cache[where] = _read_key_file(file, KEY_FILE_ENV)
            else:
                try:
                    _created_key_file(where[1])
                except OSError as exc:
                    raise SealingError(f"cannot create the sealing key file {where[1]} ({exc.strerror}); "
                                       f"set {KEY_ENV} or {KEY_FILE_ENV}") from None
                _cache[where] = _read_key_file(where[1], KEY_FILE_ENV)
        return _cache[where]


# -- sealing and opening one value ----------------------------------------------------------------------


def _aead(key: bytes):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only when an event holds a secret

    return AESGCM(key)


def is_sealed(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def seal(value, context: str, ring: Keyring) -> dict:
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    sealed = _aead(ring.current).encrypt(nonce, plain, context.encode("utf-8"))
    blob = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
    return {SEALED: f"{VERSION}.{key_id(ring.current)}.{blob}"}


def open_value(envelope: dict, context: str, ring: Keyring):
    from cryptography.exceptions import InvalidTag  # as AESGCM above: only when an event holds a secret

    version, kid, blob = (envelope[SEALED].split(".", 2) + ["", ""])[:3]
    key = ring.find(kid) if version == VERSION else None
    if key is None:
        raise SealingError(f"a secret of event {context} was sealed with key id {kid or '?'}, which is not among "
                           f"the keys given ({KEY_ENV}, {KEY_FILE_ENV}); keep an old key listed after the new "
                           "one until `jobs-connector events reseal` has run", rule="unknown-key")
    try:
        raw = base64.urlsafe_b64decode(blob.encode("ascii"))
        plain = _aead(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
    except (InvalidTag, ValueError, binascii.Error):
        raise SealingError(f"a sealed secret of event {context} does not open: it was altered, or belongs to "
                           "another event", rule="tampered") from None
    return json.loads(plain.decode("utf-8", "surrogatepass"))


# -- whole events -------------------------------------------------------------------------------------------


def _out_schema(action_key) -> dict | None:
    try:
        return get_action(action_key).out_schema
    except ConnectorError:
        return None


def _messages(output) -> list:
    """A step's output is one message body, or a list of them when the step emitted several."""
    return output if isinstance(output, list) else [output]


def sealed_doc(doc: dict, environ=os.environ) -> dict:
    """The event's document as it may be stored: secret step outputs sealed, error and history scrubbed.
    `doc` is not changed; values already sealed stay as they are (re-sealed under the current key when an
    older key sealed them)."""
    redactor = Redactor()
    steps = []
    ring: list[Keyring] = []  # read only when a secret is found: most events hold none

    def replace(value):
        if not ring:
            ring.append(keyring(environ))
        if is_sealed(value):
            if value[SEALED].split(".")[1:2] == [key_id(ring[0].current)]:
                return value
            value = open_value(value, doc["id"], ring[0])
        redactor.add(*_strings(value))
        return seal(value, doc["id"], ring[0])

    for done in doc.get("steps") or []:
        schema = _out_schema(done.get("action"))
        output = done.get("output")
        if schema is not None and holds_secret(schema):  # most outputs have no secret field: no walk
            sealed = [redact_by_schema(message, schema, replace) for message in _messages(output)]
            output = sealed if isinstance(output, list) else sealed[0]
        steps.append({**done, "output": output})
    out = {**doc, "steps": steps}
    if doc.get("secret_fields"):
        out["body"] = with_fields(doc.get("body"), doc["secret_fields"], replace)
    for name in ("error", "history"):
        if out.get(name):
            out[name] = json.loads(redactor.scrub(json.dumps(out[name])))
    return out


def with_fields(body, paths, replace):
    """A copy of the webhook body with the value at each dotted path replaced (the fields a flow marks secret)."""
    if not isinstance(body, dict):
        return body
    out = json.loads(json.dumps(body))
    for path in paths:
        *parents, last = path.split(".")
        node = out
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(last) is not None:
            node[last] = replace(node[last])
    return out


def body_secrets(body, paths, event_id: str) -> list[str]:
    """The strings held at the secret paths of a (possibly sealed) webhook body."""
    found: list[str] = []
    with_fields(opened(body, event_id), paths, lambda value: found.extend(_strings(value)) or value)
    return found


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def scrubbed(error: dict, event) -> dict:
    """An event's error with the secrets of its completed steps' outputs and of its body masked: a later
    step's service may echo them, and that step's runtime does not know them (for the log line written
    before storing)."""
    steps, event_id = event.steps, event.id
    redactor = Redactor()
    if event.secret_fields:
        redactor.add(*body_secrets(event.body, event.secret_fields, event_id))
    for done in steps:
        schema = _out_schema(done.get("action"))
        if schema is not None:
            for message in _messages(opened(done.get("output"), event_id)):
                redactor.add(*secret_values(message, schema))
    return json.loads(redactor.scrub(json.dumps(error)))


def opened(output, event_id: str, environ=os.environ):
    """A stored step output with its sealed values opened again (for the next steps of a resumed flow)."""
    if isinstance(output, dict):
        if is_sealed(output):
            return open_value(output, event_id, keyring(environ))
        return {k: opened(v, event_id, environ) for k, v in output.items()}
    if isinstance(output, list):
        return [opened(v, event_id, environ) for v in output]
    return output
