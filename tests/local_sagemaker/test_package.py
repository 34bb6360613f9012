"""The package's public surface, and the wall between the endpoint and the GraphQL service."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import app.local_sagemaker
from tests.conftest import ROOT

# Import every module of the package in a fresh interpreter and print which app modules came in.
_LOADED = """
import importlib, json, pkgutil, sys
import app.local_sagemaker as package
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"app.local_sagemaker.{module.name}")
print(json.dumps(sorted(name for name in sys.modules if name.startswith("app."))))
"""


def test_the_endpoint_imports_nothing_of_the_service() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOADED], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = set(json.loads(result.stdout))
    outside = {name for name in loaded if not name.startswith("app.local_sagemaker")}
    assert outside == {"app.server_thread"}
    modules = {m.name for m in pkgutil.iter_modules(app.local_sagemaker.__path__)}
    assert {f"app.local_sagemaker.{name}" for name in modules} <= loaded


def test_the_public_surface_is_reexported() -> None:
    from app.local_sagemaker.faults import FaultPlan
    from app.local_sagemaker.seed import SECOND_ACCOUNT
    from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions, LocalSageMaker
    from app.local_sagemaker.targets import DEFAULT_ACCOUNT

    exported = {name: getattr(app.local_sagemaker, name) for name in app.local_sagemaker.__all__}
    assert exported == {
        "DEFAULT_ACCOUNT": DEFAULT_ACCOUNT,
        "SECOND_ACCOUNT": SECOND_ACCOUNT,
        "BackgroundEndpoint": BackgroundEndpoint,
        "EndpointOptions": EndpointOptions,
        "FaultPlan": FaultPlan,
        "LocalSageMaker": LocalSageMaker,
    }
