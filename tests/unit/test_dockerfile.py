"""The Dockerfile's essentials, read statically (no Docker engine here): slim Python base, the built wheel
with the `ipaas` extra only (pinned by the runtime requirements), everything it copies exists, a non-root
user, the runner as entry point. And the requirements split: the runtime file has no test packages,
`requirements.txt` still installs it all."""

from __future__ import annotations

import ast
import json
import os
import re
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST_ONLY = {"pytest", "responses", "boto3", "hypothesis", "ruff", "moto", "awscli", "bandit", "pip-audit", "awsiotsdk",
             "opentelemetry-sdk"}
IMPORT_TO_DIST = {"aws_requests_auth": "aws-requests-auth", "jsonschema_rs": "jsonschema-rs",
                  "jsonata": "jsonata-python", "yaml": "pyyaml", "paho": "paho-mqtt",
                  "prometheus_client": "prometheus-client", "opentelemetry": "opentelemetry-api"}


def instructions() -> list[tuple[str, str]]:
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as fh:
        text = re.sub(r"\\\n", " ", fh.read())  # join continued lines
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def requirement_names(path: str) -> dict[str, str]:
    names = {}
    with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                name, _, version = line.partition("==")
                names[name.strip().lower()] = version.strip()
    return names


def test_base_image_is_slim_python_311():
    bases = [rest.split()[0] for word, rest in instructions() if word == "FROM"]
    assert bases and set(bases) == {"python:3.11-slim"}


def test_runs_as_a_non_root_user_after_the_last_install():
    steps = instructions()
    users = [i for i, (word, _) in enumerate(steps) if word == "USER"]
    assert users, "no USER instruction: the container would run as root"
    user = steps[users[-1]][1].split(":")[0]
    assert user not in ("root", "0")
    last_run = max(i for i, (word, _) in enumerate(steps) if word == "RUN")
    assert users[-1] > last_run


def test_entry_point_is_the_platform_runner():
    [(_, entry)] = [i for i in instructions() if i[0] == "ENTRYPOINT"]
    assert json.loads(entry) == ["jobs-connector", "ipaas"]
    pyproject = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))
    assert pyproject["project"]["scripts"]["jobs-connector"] == "jobs_connector.cli.main:main"


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_the_image_installs_the_built_wheel_with_the_ipaas_extra_only():
    steps = instructions()
    build_runs = " ".join(rest for word, rest in steps[:len(steps) - len(final_stage())] if word == "RUN")
    assert "pip wheel --no-deps" in build_runs
    [install] = [rest for word, rest in final_stage() if word == "RUN" and "pip install" in rest]
    wheel = re.search(r'"[^"]*jobs_connector-\*\.whl\)?\[([a-z,-]+)\]"', install)
    assert wheel, install
    assert wheel.group(1) == "ipaas"
    assert "-c /tmp/constraints.txt" in install  # the pinned versions
    assert not re.search(r"(?<![\w-])requirements\.txt", install), "the image must not install the test packages"
    assert " -e " not in install and "-r " not in install
    copies = [rest for word, rest in final_stage() if word == "COPY"]
    assert ["requirements-runtime.txt", "/tmp/constraints.txt"] in [c.split() for c in copies]
    # The final image holds no source tree: only the wheel's installed package.
    assert all(c.startswith("--from=build") or c.startswith("requirements-runtime.txt") for c in copies), copies


def test_everything_copied_exists():
    for word, rest in instructions():
        if word == "COPY" and not rest.startswith("--from="):
            *sources, _dest = rest.split()
            for source in sources:
                assert os.path.exists(os.path.join(ROOT, source)), f"COPY {source}: not in the repository"
    copied = " ".join(rest for word, rest in instructions() if word == "COPY")
    for needed in ("component.json", "lib", "actions", "schemas", "pyproject.toml"):
        assert needed in copied


def test_runtime_requirements_have_no_test_packages_and_are_pinned():
    runtime = requirement_names("requirements-runtime.txt")
    assert not TEST_ONLY & set(runtime)
    assert all(runtime.values()), "pin every runtime requirement with =="
    assert {"pika", "cryptography", "requests", "botocore"} <= set(runtime)


def test_requirements_txt_installs_the_runtime_and_the_tests():
    with open(os.path.join(ROOT, "requirements.txt"), encoding="utf-8") as fh:
        assert "-r requirements-runtime.txt" in [line.strip() for line in fh]
    assert {"pytest", "ruff"} <= set(requirement_names("requirements.txt"))


def test_lib_imports_only_runtime_requirements():
    """A test-only package imported by lib/ would break the image at run time."""
    runtime = set(requirement_names("requirements-runtime.txt"))
    missing = set()
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "lib")):
        for name in files:
            if not name.endswith(".py"):
                continue
            tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    tops = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    tops = [node.module.split(".")[0]]
                else:
                    continue
                for top in tops:
                    if top in sys.stdlib_module_names or top in ("jobs_connector", "__future__"):
                        continue
                    if IMPORT_TO_DIST.get(top, top).lower() not in runtime:
                        missing.add(f"{top} ({os.path.relpath(os.path.join(folder, name), ROOT)})")
    assert not missing, f"imported by lib/ but not in requirements-runtime.txt: {sorted(missing)}"
