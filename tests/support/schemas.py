"""Schema checks shared by the service tests."""

from __future__ import annotations


def untyped_properties(schema: dict, path: str = "") -> list[str]:
    """The path of every property, array item or map value of `schema` that declares no `type`."""
    missing = []
    for name, sub in (schema.get("properties") or {}).items():
        missing += _check(sub, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), dict):
        missing += _check(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        missing += _check(schema["additionalProperties"], f"{path}{{}}")
    return missing


def _check(sub: dict, path: str) -> list[str]:
    if not isinstance(sub, dict) or "type" not in sub:
        return [path]
    return untyped_properties(sub, path)
