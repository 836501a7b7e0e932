"""Keeping secrets out of everything a person or a log can read.

Two tools: `Redactor` scrubs known secret values (and SigV4 signatures) from any text; `redact_by_schema`
replaces the fields a schema marks `"x-secret": true` in structured data. Data messages keep their
secrets (the next flow step needs them); logs, errors, --verbose and --dry-run never show them.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from jobs_connector.base.schema_cache import PerSchema

MASK = "***"
_SIGNATURE = re.compile(r"(Signature=)[0-9a-f]+")
_CREDENTIAL = re.compile(r"(Credential=)[^/,\s]+")
_SECRET_HEADERS = frozenset({"authorization", "x-amz-security-token", "x-api-key", "cookie", "set-cookie"})
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


class Redactor:
    def __init__(self, secrets=()):
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *values) -> None:
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                # Also as it appears inside JSON text and inside a URL, where it is escaped.
                url_form = quote(value.encode("utf-8", "surrogatepass"), safe="-._~")
                self._secrets.update({value, json.dumps(value)[1:-1], url_form})

    def scrub(self, text: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        text = _SIGNATURE.sub(r"\1" + MASK, text)
        return _CREDENTIAL.sub(r"\1" + MASK, text)

    def clip(self, text: str | bytes, limit: int) -> str:
        """Scrub, then cut: every secret is masked whole before the text is shortened, so a secret that
        straddles the cut cannot leave its first half behind (as a cut made first would)."""
        return cut(self.scrub(text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)), limit)

    def headers(self, headers) -> dict[str, str]:
        out = {}
        for name, value in headers.items():
            value = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            out[name] = MASK if name.lower() in _SECRET_HEADERS and not value.startswith("AWS4-") else value
            out[name] = self.scrub(out[name])
        return out


def cut(text: str, limit: int) -> str:
    """`text` shortened to `limit` characters, saying how long it was. Only for text already scrubbed:
    use Redactor.clip for anything that may hold a secret."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


_NO_SCHEMA: dict = {}  # shared, never changed: what a value without a schema of its own is read with


def _holds_secret(schema) -> bool:
    if isinstance(schema, dict):
        return bool(schema.get("x-secret")) or any(_holds_secret(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_holds_secret(v) for v in schema)
    return False


holds_secret = PerSchema(_holds_secret)  # True when the schema, or any part of it, marks a field secret


def _subschemas(schema: dict, key):
    """The schema of a property or array item, following the shapes our schemas use."""
    if not isinstance(schema, dict):
        return _NO_SCHEMA
    if isinstance(key, int):
        return schema.get("items", _NO_SCHEMA)
    props = schema.get("properties", _NO_SCHEMA)
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else _NO_SCHEMA


def secret_values(data, schema: dict) -> list[str]:
    """Every string value found under a field the schema marks secret."""
    found: list[str] = []

    def walk(value, sub, secret):
        if not secret and not holds_secret(sub):  # nothing secret below: most answers end here at once
            return
        secret = secret or (isinstance(sub, dict) and bool(sub.get("x-secret")))
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, _subschemas(sub, k), secret)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, _subschemas(sub, i), secret)
        elif secret and isinstance(value, str):
            found.append(value)

    walk(data, schema, False)
    return found


def redact_by_schema(data, schema: dict, replace=None):
    """A copy of `data` with every secret field replaced by '***' (or by `replace(value)`)."""
    if isinstance(schema, dict) and schema.get("x-secret"):
        return MASK if replace is None else replace(data)
    if isinstance(data, dict):
        return {k: redact_by_schema(v, _subschemas(schema, k), replace) for k, v in data.items()}
    if isinstance(data, list):
        return [redact_by_schema(v, _subschemas(schema, i), replace) for i, v in enumerate(data)]
    return data
