"""The connector is a real package: the wheel built from this tree installs into a fresh virtual
environment and works from any directory (component.json, actions/ and schemas/ ship inside it), under a
distinctive import name, with the optional parts behind extras that say how to install them.

The wheel test is slow (it builds the wheel and installs the base dependencies from the package index
into one virtual environment per session); the extras' message is also checked in this interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib

import pytest

from jobs_connector.base.extras import EXTRA_OF_MODULE, install_hint, missing_extra
from jobs_connector.component.registry import ROOT
from tests.conftest import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION

# What the wheel is built from: the files the Dockerfile copies into its build stage.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "component.json", "logo.png", "lib", "actions", "schemas")
STEP_SECONDS = 600  # one bounded step: building, creating the environment, installing from the index


def _step(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=STEP_SECONDS, **kwargs)
    assert done.returncode == 0, f"{argv[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


@pytest.fixture(scope="session")
def venv(tmp_path_factory):
    """A fresh virtual environment with the wheel built from this tree installed (base dependencies only,
    pinned by requirements-runtime.txt). Built once per session."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    for name in SOURCES:
        origin = os.path.join(ROOT, name)
        if os.path.isdir(origin):
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    _step([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)], env=env)
    [wheel] = list((work / "dist").glob("jobs_connector-*.whl"))
    home = work / "venv"
    _step([sys.executable, "-m", "venv", str(home)])
    python = home / "bin" / "python"
    _step([str(python), "-m", "pip", "install", "-q", "-c", os.path.join(ROOT, "requirements-runtime.txt"),
           str(wheel)], env=env)
    return home, wheel


def _run(venv, tmp_path, *argv: str) -> subprocess.CompletedProcess:
    """The installed `jobs-connector` command, started in an empty directory far from the checkout, with
    only fake credentials in its environment."""
    home, _wheel = venv
    cwd = tmp_path / "elsewhere"
    cwd.mkdir(exist_ok=True)
    env = {"PATH": f"{home / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path),
           "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY, "AWS_REGION": REGION,
           "AWS_EC2_METADATA_DISABLED": "true", "LANG": "C.UTF-8"}
    return subprocess.run([str(home / "bin" / "jobs-connector"), *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.slow
def test_the_installed_wheel_lists_describes_and_dry_runs_from_anywhere(venv, tmp_path):
    listed = _run(venv, tmp_path, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    keys = [entry["action"] for entry in json.loads(listed.stdout)]
    with open(os.path.join(ROOT, "component.json"), encoding="utf-8") as fh:
        assert keys == list(json.load(fh)["actions"])

    described = _run(venv, tmp_path, "describe", "iot-jobs-data.UpdateJobExecution", "--json")
    assert described.returncode == 0, described.stderr
    assert "thingName" in described.stdout

    dry = _run(venv, tmp_path, "run", "iot-jobs-data.GetPendingJobExecutions", "--dry-run",
               "-i", '{"thingName": "demo-thing"}')
    assert dry.returncode == 0, dry.stderr
    request = json.loads(dry.stdout)
    assert request["url"] == f"https://data.jobs.iot.{REGION}.amazonaws.com/things/demo-thing/jobs"
    assert request["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert FAKE_SECRET_KEY not in dry.stdout

    # A paging action: its module loads from the wheel and imports the installed runtime's paging.
    paged = _run(venv, tmp_path, "run", "spaceone.ListJobs", "--dry-run", "-c",
                 '{"spaceoneEndpoint": "https://spaceone.example.test", "spaceoneApiKey": "fake-key-0000"}')
    assert paged.returncode == 0, paged.stderr


@pytest.mark.slow
def test_the_wheel_installs_a_distinctive_package_and_no_generic_lib(venv, tmp_path):
    home, wheel = venv
    import zipfile

    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"jobs_connector", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    probe = subprocess.run([str(home / "bin" / "python"), "-c",
                            "import importlib.util as u; print(u.find_spec('lib') is None, "
                            "u.find_spec('jobs_connector') is not None)"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert probe.stdout.split() == ["True", "True"], probe.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("command", "extra"), [("serve", "webhooks"), ("ipaas", "ipaas")])
def test_a_subcommand_whose_extra_is_missing_names_the_pip_install(venv, tmp_path, command, extra):
    done = _run(venv, tmp_path, command)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.endswith(f"pip install 'jobs-connector[{extra}]'"), line
    assert "Traceback" not in done.stderr


def test_every_extra_module_belongs_to_an_extra_pyproject_declares():
    pyproject = tomllib.load(open(os.path.join(ROOT, "pyproject.toml"), "rb"))
    extras = pyproject["project"]["optional-dependencies"]
    for module, extra in EXTRA_OF_MODULE.items():
        dists = " ".join(extras[extra]).lower()
        assert {"yaml": "pyyaml", "jsonata": "jsonata-python", "prometheus_client": "prometheus-client",
                "opentelemetry": "opentelemetry-api"}.get(
            module, module) in dists, (module, extra)
    assert install_hint("aws-roles") == "pip install 'jobs-connector[aws-roles]'"


def test_missing_extra_names_the_extra_and_leaves_other_errors_alone():
    hint = missing_extra(ModuleNotFoundError("No module named 'yaml'", name="yaml"), "'jobs-connector serve'")
    assert hint == ("'jobs-connector serve' needs the 'webhooks' extra (module yaml is missing): "
                    "pip install 'jobs-connector[webhooks]'")
    assert missing_extra(ModuleNotFoundError("No module named 'nothing'", name="nothing"), "x") is None


def test_the_checkout_reads_its_component_from_the_repository():
    assert os.path.isfile(os.path.join(ROOT, "component.json"))
    assert os.path.isdir(os.path.join(ROOT, "actions")) and os.path.isdir(os.path.join(ROOT, "schemas"))


def test_every_runtime_subpackage_ships_in_the_wheel():
    """pyproject lists the packages by hand (lib/ is mapped to jobs_connector): a new lib/ subpackage must be
    listed too, or the installed connector fails where the checkout works."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        listed = set(tomllib.load(fh)["tool"]["setuptools"]["packages"])
    lib = os.path.join(ROOT, "lib")
    found = {"jobs_connector"} | {
        "jobs_connector." + os.path.relpath(folder, lib).replace(os.sep, ".")
        for folder, _dirs, names in os.walk(lib) if "__init__.py" in names and folder != lib}
    assert found <= listed, f"pyproject.toml does not ship {sorted(found - listed)}"


def _doc_texts() -> dict[str, str]:
    names = ["README.md", *(os.path.join("docs", n) for n in sorted(os.listdir(os.path.join(ROOT, "docs")))
                            if n.endswith(".md") and n != "actions.md")]
    return {name: open(os.path.join(ROOT, name), encoding="utf-8").read() for name in names}


def doc_snippets() -> list[tuple[str, str]]:
    """Every piece of Python the docs give that uses the package: `from jobs_connector... import ...` statements
    (inline or fenced, with what follows them on the line) and `module:attribute` entry points for WSGI servers."""
    import re

    found = []
    for name, text in _doc_texts().items():
        for code in re.findall(r"`([^`\n]*(?:from|import) jobs_connector[^`\n]*)`", text):
            found.append((name, code))
        for module, attribute in re.findall(r"\b(jobs_connector(?:\.\w+)+):(\w+)\b", text):
            # What a WSGI server does with module:attribute, but for building the app (it needs the flows file
            # from the environment): the module imports and offers the attribute.
            found.append((name, f"import importlib\nm = importlib.import_module({module!r})\n"
                                f"assert {attribute!r} in vars(m) or '__getattr__' in vars(m)"))
    return found


SNIPPETS = doc_snippets()
# What a snippet may name without defining it (docs/webhooks.md signs `body` with the flow's `secret`).
SNIPPET_PRELUDE = 'secret, body = "test-hook-secret-not-real-0001", b\'{"thing": "demo-thing"}\'\n'


def test_the_docs_give_snippets_to_run():
    assert any("signatures" in code for _, code in SNIPPETS) and any("wsgi" in code for _, code in SNIPPETS)


@pytest.mark.slow
def test_every_docs_snippet_runs_from_the_installed_wheel(venv, tmp_path):
    """Run outside the checkout with the wheel's interpreter, so a snippet that only works from lib/ fails. The
    wheel's environment has the base dependencies only; the extras a snippet needs (the webhooks' huey, JSONata,
    waitress) come from this interpreter's site-packages, searched after the environment's own."""
    import sysconfig

    home, _wheel = venv
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    extras = f"import sys\nsys.path.append({sysconfig.get_paths()['purelib']!r})\n"
    program = extras + "".join(f"print({where!r})\n{SNIPPET_PRELUDE}{code}\n" for where, code in SNIPPETS)
    done = subprocess.run([str(home / "bin" / "python"), "-c", program], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)})
    assert done.returncode == 0, f"a docs snippet failed after {done.stdout.splitlines()[-1:]}: {done.stderr[-1500:]}"
