"""Benchmark: what batching buys a query, against a baseline measured in the same run.

Both sides fetch the same image versions from one local SageMaker endpoint that answers each call
after a fixed latency (like a real AWS round trip):

* baseline: a naive client that calls DescribeImageVersion once per ref, one after another;
* service:  one GraphQL ``imageVersions`` query for the same refs through the real service
  (HTTP, DataLoader, the boto3 pool).

It prints the wall time of each (median of the rounds), the calls the endpoint counted, and the
ratio. Everything runs on loopback, with a bounded number of rounds, and stops by itself.

    .venv/bin/python scripts/bench_batching.py [--refs 50] [--unique 40] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from mypy_boto3_sagemaker import SageMakerClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.assembly.build import create_app
from app.assembly.settings import Settings
from app.local_sagemaker.faults import FaultPlan
from app.local_sagemaker.server import BackgroundEndpoint, EndpointOptions
from app.sagemaker import build_client
from app.server_thread import ServerThread

QUERY = "query($refs: [ImageVersionRef!]!) { imageVersions(refs: $refs) { version baseImage } }"


def _prepare(client: SageMakerClient, unique: int) -> None:
    client.create_image(ImageName="bench", RoleArn="arn:aws:iam::123456789012:role/Bench")
    for number in range(unique):
        client.create_image_version(
            ImageName="bench", BaseImage=f"repo/bench:{number}", ClientToken=f"t{number}"
        )


def _baseline(client: SageMakerClient, refs: list[dict[str, Any]]) -> None:
    for ref in refs:
        client.describe_image_version(ImageName=ref["imageName"], Version=ref["version"])


async def _service(service_url: str, refs: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient(timeout=120) as http:
        response = await http.post(
            f"{service_url}/graphql", json={"query": QUERY, "variables": {"refs": refs}}
        )
        body = response.json()
        assert "errors" not in body, body["errors"][:1]
        assert len(body["data"]["imageVersions"]) == len(refs)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--refs", type=int, default=50, help="refs in the query")
    parser.add_argument("--unique", type=int, default=40, help="distinct versions among them")
    parser.add_argument("--latency-ms", type=float, default=50, help="endpoint latency per call")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each side")
    args = parser.parse_args()

    refs = [{"imageName": "bench", "version": 1 + i % args.unique} for i in range(args.refs)]
    timings: dict[str, list[float]] = {"baseline": [], "service": []}
    calls: dict[str, int] = {}
    with BackgroundEndpoint(EndpointOptions(seed=False)) as endpoint:
        settings = dataclasses.replace(Settings(), endpoint_url=endpoint.url)
        client = build_client(settings.aws(), settings.target_specs()[0].region)
        _prepare(client, args.unique)
        faults = endpoint.endpoint.faults
        faults.configure(FaultPlan(latency=args.latency_ms / 1000))
        service = ServerThread(create_app(settings), lifespan="on")
        service_url = service.start()
        try:
            for round_number in range(1, args.rounds + 1):
                for side in ("baseline", "service"):
                    faults.reset_stats()
                    started = time.perf_counter()
                    if side == "baseline":
                        _baseline(client, refs)
                    else:
                        asyncio.run(_service(service_url, refs))
                    timings[side].append(time.perf_counter() - started)
                    calls[side] = faults.stats()["calls"].get("DescribeImageVersion", 0)
                    print(
                        f"round {round_number}/{args.rounds} {side}: "
                        f"{timings[side][-1] * 1000:.0f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            service.stop()

    baseline, batched = (statistics.median(timings[side]) for side in ("baseline", "service"))
    print(
        f"refs={args.refs} unique={args.unique} latency={args.latency_ms:g}ms "
        f"pool={settings.pool_size} rounds={args.rounds}"
    )
    print(f"baseline (serial boto3): {baseline * 1000:8.0f} ms  {calls['baseline']:3d} calls")
    print(f"service (one query):     {batched * 1000:8.0f} ms  {calls['service']:3d} calls")
    print(
        f"speed-up: {baseline / batched:.1f}x   calls saved: {calls['baseline'] - calls['service']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
