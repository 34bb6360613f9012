"""The shipped install starts: ``requirements.lock`` alone (the Dockerfile's install step), with
nothing from the dev lock, serves a query and says it is ready, and exports the schema.

Every other test runs in the dev venv, where a stray run-time import of a dev-only package (type
stubs, test tools) works by accident; these run the service from ``.venv-runtime``, which
``scripts/bootstrap --test`` builds from ``requirements.lock`` and nothing else.
"""

from __future__ import annotations

import re
import subprocess

import httpx
import pytest

from tests.conftest import ROOT, free_port, running_command

RUNTIME_PYTHON = ROOT / ".venv-runtime" / "bin" / "python"


@pytest.fixture(scope="module")
def runtime_python() -> str:
    assert RUNTIME_PYTHON.is_file(), "no .venv-runtime: run scripts/bootstrap --test"
    return str(RUNTIME_PYTHON)


def test_the_runtime_venv_holds_no_dev_package(runtime_python: str) -> None:
    installed = subprocess.run(
        [runtime_python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    for dev_only in ("mypy-boto3-sagemaker", "pytest", "httpx", "mypy"):
        assert f"{dev_only}==" not in installed


def test_every_app_module_imports_from_the_runtime_install(runtime_python: str) -> None:
    walk = (
        "import importlib, pkgutil, app\n"
        "for module in pkgutil.walk_packages(app.__path__, 'app.'):\n"
        "    importlib.import_module(module.name)\n"
    )
    result = subprocess.run(
        [runtime_python, "-c", walk], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr


def test_serve_from_the_runtime_install_answers_and_is_ready(runtime_python: str) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    query = {"query": '{ imageVersion(imageName: "sklearn-kernel") { version jobType } }'}
    with running_command(
        ["serve", "--port", str(port)],
        env={"SMGQL_BACKEND": "", "SMGQL_ENDPOINT_URL": ""},
        python=runtime_python,
    ) as finished:
        ready = httpx.get(f"{url}/readyz")
        answer = httpx.post(f"{url}/graphql", json=query).json()
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready"}
    assert answer == {"data": {"imageVersion": {"version": 2, "jobType": "NOTEBOOK_KERNEL"}}}
    assert finished.returncode == 0, finished.stderr
    # The embedded endpoint's port is nobody's business: only the service's is announced.
    assert re.findall(r"Uvicorn running on (http://[\d.:]+)", finished.stderr) == [url]


def test_export_schema_from_the_runtime_install_matches_the_checked_in_sdl(
    runtime_python: str,
) -> None:
    result = subprocess.run(
        [runtime_python, "-m", "app", "export-schema"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema.graphql").read_text(encoding="utf-8")
