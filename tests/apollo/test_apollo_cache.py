"""Apollo Client 4's default ``InMemoryCache`` (no ``typePolicies``, no ``keyFields``) against
the live service on loopback: two overlapping queries (an image with its versions; one of those
versions with its image) leave one normalized entry per entity, keyed ``Image:<id>`` and
``ImageVersion:<id>``, holding the fields of both queries."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy_boto3_sagemaker import SageMakerClient

from app.assembly.build import create_app
from app.local_sagemaker.server import BackgroundEndpoint
from app.server_thread import ServerThread
from tests.conftest import assert_node_packages_are_the_locked_ones, create_image
from tests.service.conftest import TEST_SETTINGS

HERE = Path(__file__).parent


def _id(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.fixture
def service_url(endpoint: BackgroundEndpoint) -> Iterator[str]:
    settings = dataclasses.replace(TEST_SETTINGS, endpoint_url=endpoint.url)
    server = ServerThread(create_app(settings), lifespan="on")
    url = server.start()
    try:
        yield f"{url}/graphql"
    finally:
        server.stop()


def test_the_installed_node_packages_are_the_pinned_ones() -> None:
    assert_node_packages_are_the_locked_ones(HERE)


def test_the_default_cache_keeps_one_entry_per_entity(
    service_url: str, sagemaker: SageMakerClient
) -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the Apollo Client tests (scripts/bootstrap --test)"
    assert (HERE / "node_modules").is_dir(), (
        "run scripts/bootstrap --test: it installs tests/apollo"
    )
    name = create_image(sagemaker, 3, "apollo")
    image_arn = sagemaker.describe_image(ImageName=name)["ImageArn"]
    listed = sagemaker.list_image_versions(ImageName=name, SortOrder="DESCENDING")
    version_ids = [_id("ImageVersion:" + v["ImageVersionArn"]) for v in listed["ImageVersions"]]

    result = subprocess.run(
        [node, str(HERE / "cache.mjs"), service_url, name],
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    cache = json.loads(result.stdout)
    assert cache["errors"] == []
    entities = cache["entities"]
    image_key = "Image:" + _id("Image:" + image_arn)
    version_keys = [f"ImageVersion:{version_id}" for version_id in version_ids]
    assert sorted(entities) == sorted([image_key, *version_keys])
    image = entities[image_key]
    # One entry holds what both queries asked of the image...
    assert image["displayName"] is None
    assert image["description"] is None
    # ...and its connection's edges point at the versions' entries, not copies of them.
    (connection,) = (value for field, value in image.items() if field.startswith("versions"))
    assert [edge["node"] for edge in connection["edges"]] == [
        {"__ref": key} for key in version_keys
    ]
    first = entities[f"ImageVersion:{version_ids[-1]}"]
    assert first["version"] == 1
    assert first["imageVersionStatus"] == "CREATED"
    assert first["baseImage"] == f"repo/{name}:1"
    assert first["image"] == {"__ref": image_key}
