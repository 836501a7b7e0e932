"""Write schemas/<service>/errors.json for the AWS services from the botocore service model (development only).

    python tools/aws_errors.py            # every AWS service of component.json

Per operation, the error codes the model says it can return; per code, its HTTP status (json-1.1 errors
without one are 400) and the model's own sentence. `describe` and docs/actions.md read the files; the
runtime never needs botocore. tests/unit/test_action_errors.py fails when a file drifts from the model.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools.aws_schemas import ROOT, describe, load_model  # noqa: E402


def service_errors(service: str, operations: list[str]) -> dict:
    model = load_model(service)
    errors: dict[str, dict] = {}
    by_operation: dict[str, list[str]] = {}
    for name in operations:
        codes = []
        for shape in model.operation_model(name).error_shapes:
            code = shape.metadata.get("error", {}).get("code", shape.name)
            codes.append(code)
            errors[code] = {"status": shape.metadata.get("error", {}).get("httpStatusCode", 400),
                            "meaning": describe(shape.documentation) or ""}
        by_operation[name] = codes
    return {"source": f"botocore service model {service} {model.api_version}",
            "errors": dict(sorted(errors.items())), "operations": by_operation}


def aws_operations() -> dict[str, list[str]]:
    from jobs_connector.component.registry import action_keys, get_action

    out: dict[str, list[str]] = {}
    for key in action_keys():
        action = get_action(key)
        if action.service.auth == "sigv4":
            bound = action.spec("BOUND_TO")  # a bound action: the call underneath
            operation = bound.split(".", 1)[1] if bound else action.operation
            if operation not in out.get(action.service_name, []):
                out.setdefault(action.service_name, []).append(operation)
    return out


def main() -> None:
    for service, operations in aws_operations().items():
        path = os.path.join(ROOT, "schemas", service, "errors.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(service_errors(service, operations), fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        print(f"wrote {os.path.relpath(path, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
