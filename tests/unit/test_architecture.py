"""The house rules of lib/ (docs/architecture.md): every package sits on a layer and imports only from the layers
below it, never up and never sideways into a sibling package; no module imports itself round a circle, counting
imports inside functions too; action and trigger modules import only the kit."""

from __future__ import annotations

import ast
import os

import pytest

from jobs_connector.component.registry import ROOT, component

LIB = os.path.join(ROOT, "lib")
PACKAGE = "jobs_connector"
# Bottom to top; packages on one line are siblings that may not import each other.
LAYERS = [("base",), ("validation",), ("component",), ("http", "auth"), ("mqtt",), ("runtime",), ("triggers",),
          ("webhooks", "sailor", "sandbox"), ("cli", "kit"), ("__main__",)]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: str) -> str:
    parts = os.path.relpath(path, LIB)[:-3].split(os.sep)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def lib_modules() -> dict[str, str]:
    found = {}
    for folder, _, files in os.walk(LIB):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found[module_name(path)] = path
    return found


def imports_of(path: str) -> list[tuple[str, int]]:
    """(imported module of ours, line) for every import in the file, those inside functions included."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: a relative import (use jobs_connector.… absolute)"
            if node.module == PACKAGE or (node.module or "").startswith(PACKAGE + "."):
                for alias in node.names:  # `from pkg import module` imports the module
                    candidate = f"{node.module}.{alias.name}"
                    found.append((candidate if candidate in MODULES else node.module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names if a.name.startswith(PACKAGE + ".")]
    return found


MODULES = lib_modules()
# Trigger kinds (lib/triggers/<kind>.py, a `main` of component.json) are plug-ins like action modules: the
# registry loads them by name, and they import only the kit.
PLUGINS = {module_name(os.path.join(ROOT, t["main"])) for t in component().get("triggers", {}).values()}


def package_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_every_package_of_lib_is_on_a_layer():
    packages = {package_of(m) for m in MODULES} - {""}
    assert packages <= set(RANK), f"not on a layer in docs/architecture.md: {sorted(packages - set(RANK))}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_layers_only(module):
    own = package_of(module)
    if not own:  # jobs_connector/__init__.py: the version only
        assert imports_of(MODULES[module]) == []
        return
    if module in PLUGINS:
        assert {t for t, _ in imports_of(MODULES[module])} <= {f"{PACKAGE}.kit"}
        return
    for target, line in imports_of(MODULES[module]):
        other = package_of(target)
        if other == own or not other:
            continue
        assert RANK[other] < RANK[own], (
            f"{module} (layer {own}) imports {target} (layer {other}) at line {line}: "
            f"{'upward' if RANK[other] > RANK[own] else 'sideways into a sibling'}")


def test_no_import_circle():
    graph = {m: {t for t, _ in imports_of(p) if t in MODULES and t != m} for m, p in MODULES.items()}
    # A package imports its __init__ first; an edge into a package's __init__ from inside it is not a circle.
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def _action_and_trigger_files() -> list[str]:
    entries = [*component()["actions"].values(), *component().get("triggers", {}).values()]
    return sorted({os.path.join(ROOT, entry["main"]) for entry in entries})


@pytest.mark.parametrize("path", _action_and_trigger_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_action_and_trigger_modules_import_only_the_kit(path):
    tree = ast.parse(open(path, encoding="utf-8").read())
    ours = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
            and (getattr(node, "module", None) or "").startswith(PACKAGE) or isinstance(node, ast.ImportFrom)
            and node.level]
    assert all(node.module == f"{PACKAGE}.kit" for node in ours), [ast.unparse(n) for n in ours]


def test_the_rules_see_an_upward_import_and_a_circle(tmp_path, monkeypatch):
    """The checks above can fail: an upward import and a circle planted in a copy are both found."""
    (tmp_path / "base").mkdir()
    (tmp_path / "cli").mkdir()
    (tmp_path / "base" / "a.py").write_text("from jobs_connector.cli.b import x\n")
    (tmp_path / "cli" / "b.py").write_text("def f():\n    from jobs_connector.base.a import y\n")
    monkeypatch.setattr(__import__(__name__), "LIB", str(tmp_path))
    planted = lib_modules()
    monkeypatch.setattr(__import__(__name__), "MODULES", planted)
    with pytest.raises(AssertionError, match="upward"):
        test_imports_run_down_the_layers_only("jobs_connector.base.a")
    with pytest.raises(AssertionError, match="import circle"):
        test_no_import_circle()
