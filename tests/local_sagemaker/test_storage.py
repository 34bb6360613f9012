"""The SQLite store: a file survives restarts, and concurrent writers never corrupt it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from app.local_sagemaker.store import ImageStore
from tests.conftest import ROLE_ARN, free_port, running_command, sagemaker_client


def test_a_file_backed_store_survives_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sagemaker.db")
    with BackgroundEndpoint(EndpointOptions(db=db)) as first:
        client = sagemaker_client(first.url)
        client.create_image(ImageName="kept", RoleArn=ROLE_ARN)
        client.create_image_version(
            ImageName="kept", BaseImage="repo/k:1", ClientToken="k", Aliases=["prod"]
        )
        seeded = len(client.list_images(MaxResults=100)["Images"])
    with BackgroundEndpoint(EndpointOptions(db=db)) as second:
        client = sagemaker_client(second.url)
        kept = client.describe_image_version(ImageName="kept", Alias="prod")
        assert kept["BaseImage"] == "repo/k:1"
        assert len(client.list_images(MaxResults=100)["Images"]) == seeded


def test_concurrent_creates_get_distinct_versions(tmp_path: Path) -> None:
    with BackgroundEndpoint(EndpointOptions(db=str(tmp_path / "c.db"), seed=False)) as endpoint:
        client = sagemaker_client(endpoint.url, max_pool_connections=20)
        client.create_image(ImageName="busy", RoleArn=ROLE_ARN)

        def create(number: int) -> str:
            return client.create_image_version(
                ImageName="busy", BaseImage=f"repo/b:{number}", ClientToken=f"t{number}"
            )["ImageVersionArn"]

        with ThreadPoolExecutor(20) as pool:
            arns = list(pool.map(create, range(60)))
        assert sorted(int(arn.rsplit("/", 1)[1]) for arn in arns) == list(range(1, 61))


def test_two_stores_on_one_file_share_writes_safely(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    stores = [ImageStore(db), ImageStore(db)]
    stores[0].create_image({"ImageName": "shared", "RoleArn": ROLE_ARN})

    def create(number: int) -> str:
        params = {"ImageName": "shared", "BaseImage": "r:1", "ClientToken": f"t{number}"}
        return str(stores[number % 2].create_image_version(params)["ImageVersionArn"])

    with ThreadPoolExecutor(8) as pool:
        arns = list(pool.map(create, range(40)))
    assert len(set(arns)) == 40
    listed = stores[1].list_image_versions({"ImageName": "shared", "MaxResults": 100})
    assert len(listed["ImageVersions"]) == 40
    for store in stores:
        store.close()


def test_standalone_command_serves_boto3(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["local-sagemaker", "--port", str(port), "--db", str(tmp_path / "cli.db")]
    with running_command(
        command,
    ) as finished:
        described = sagemaker_client(url).describe_image_version(ImageName="sklearn-kernel")
        assert described["Version"] == 2
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr
    calls = [json.loads(line) for line in finished.stderr.splitlines() if "sagemaker_call" in line]
    assert [(c["operation"], c["status"]) for c in calls] == [("DescribeImageVersion", 200)]
