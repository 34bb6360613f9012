"""The baselines of scripts/bench.py: two small GraphQL servers over the same SageMaker calls,
and the ceiling of the machine's HTTP stack.

The two GraphQL servers serve ``imageVersion(imageName, version, alias)`` and
``imageVersions(refs)`` with the service's ImageVersion fields (no ``aliases``, no ``image``),
built with graphql-core's ``build_schema`` from a small SDL on Starlette, served by uvicorn
(httptools, uvloop, no access log):

* ``naive``: each request parsed, validated and run afresh; ``imageVersions`` calls
  DescribeImageVersion once per ref, one after another (each on a thread), with no dedupe;
* ``lean``: one boto3 client on a pool of 32 threads, a per-request loader that dedupes keys
  (a dict of futures) and runs them concurrently, documents parsed and validated once per
  query text.

The ceiling, ``fixed``, is no GraphQL server: a bare ASGI app on the same stack (uvicorn,
httptools, uvloop, one process) that reads each ``POST /graphql`` body and answers it with the
same JSON bytes, which the bench sets once with ``PUT /_answer`` (the service's own answer to
the query it compares, so the bytes on the wire are the same size). No server answers faster
here than that: the rest is what a server does per request.

    .venv/bin/python scripts/bench_peers.py lean|naive --port 8010 --endpoint-url URL
    .venv/bin/python scripts/bench_peers.py fixed --port 8010 [--workers 2 --answer-file F]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import os
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError
from graphql import DocumentNode, GraphQLError, build_schema, execute, graphql, parse, validate
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

POOL = 32
# The local endpoint checks no signatures; these only have to look like credentials.
LOCAL_CREDENTIALS = ("local", "local")
SDL = """
scalar DateTime
enum ImageVersionStatus { CREATING CREATED CREATE_FAILED DELETING DELETE_FAILED }
enum VendorGuidance { NOT_PROVIDED STABLE TO_BE_ARCHIVED ARCHIVED }
enum JobType { TRAINING INFERENCE NOTEBOOK_KERNEL }
enum Processor { CPU GPU }
input ImageVersionRef { imageName: String! version: Int alias: String }
type ImageVersion {
  imageVersionArn: String! imageArn: String! imageName: String! version: Int!
  imageVersionStatus: ImageVersionStatus! creationTime: DateTime! lastModifiedTime: DateTime!
  failureReason: String baseImage: String containerImage: String vendorGuidance: VendorGuidance
  jobType: JobType mlFramework: String programmingLang: String processor: Processor
  horovod: Boolean releaseNotes: String
}
type Query {
  imageVersion(imageName: String!, version: Int, alias: String): ImageVersion
  imageVersions(refs: [ImageVersionRef!]!): [ImageVersion]!
}
"""
# GraphQL field -> DescribeImageVersion member, for the optional members taken as they are.
OPTIONAL = {
    "failureReason": "FailureReason",
    "baseImage": "BaseImage",
    "containerImage": "ContainerImage",
    "vendorGuidance": "VendorGuidance",
    "jobType": "JobType",
    "mlFramework": "MLFramework",
    "programmingLang": "ProgrammingLang",
    "processor": "Processor",
    "horovod": "Horovod",
    "releaseNotes": "ReleaseNotes",
}
Key = tuple[str, int | None, str | None]
Version = dict[str, Any]


def make_client(endpoint_url: str, region: str = "us-east-1") -> SageMakerClient:
    """A boto3 client of the local endpoint, signing for ``region`` (whose catalog it reaches)."""
    config = Config(
        region_name=region,
        max_pool_connections=POOL,
        retries={"mode": "standard", "total_max_attempts": 3},
    )
    client: SageMakerClient = boto3.session.Session().client(
        "sagemaker",
        endpoint_url=endpoint_url,
        config=config,
        aws_access_key_id=LOCAL_CREDENTIALS[0],
        aws_secret_access_key=LOCAL_CREDENTIALS[1],
    )
    return client


def describe(client: SageMakerClient, key: Key) -> Version:
    """One DescribeImageVersion call, as the GraphQL type's dict; NOT_FOUND as a GraphQL error."""
    name, version, alias = key
    params: dict[str, Any] = {"ImageName": name}
    if version is not None:
        params["Version"] = version
    if alias is not None:
        params["Alias"] = alias
    try:
        answer = client.describe_image_version(**params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFound":
            raise GraphQLError(f"{key} not found", extensions={"code": "NOT_FOUND"}) from None
        raise
    found: Version = {
        "imageVersionArn": answer["ImageVersionArn"],
        "imageArn": answer["ImageArn"],
        "imageName": answer["ImageArn"].rsplit("/", 1)[-1],
        "version": answer["Version"],
        "imageVersionStatus": answer["ImageVersionStatus"],
        "creationTime": answer["CreationTime"].isoformat(),
        "lastModifiedTime": answer["LastModifiedTime"].isoformat(),
    }
    found.update({field: answer.get(member) for field, member in OPTIONAL.items()})
    return found


def key_of(ref: dict[str, Any]) -> Key:
    return (ref["imageName"], ref.get("version"), ref.get("alias"))


class Loader:
    """Per request: one call per unique key, all on the pool at once."""

    def __init__(self, client: SageMakerClient, pool: ThreadPoolExecutor) -> None:
        self.client, self.pool = client, pool
        self.futures: dict[Key, asyncio.Future[Version]] = {}

    def load(self, key: Key) -> asyncio.Future[Version]:
        future = self.futures.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            call = functools.partial(describe, self.client, key)
            future = self.futures[key] = loop.run_in_executor(self.pool, call)
        return future


class Lean:
    def __init__(self, endpoint_url: str) -> None:
        self.client = make_client(endpoint_url)
        self.pool = ThreadPoolExecutor(POOL, thread_name_prefix="sagemaker")
        self.documents: dict[str, DocumentNode] = {}
        self.schema = build_schema(SDL)
        root = self.schema.query_type
        assert root is not None
        root.fields["imageVersion"].resolve = self.image_version
        root.fields["imageVersions"].resolve = self.image_versions

    @staticmethod
    def image_version(_: Any, info: Any, **ref: Any) -> asyncio.Future[Version]:
        loader: Loader = info.context
        return loader.load(key_of(ref))

    @staticmethod
    def image_versions(_: Any, info: Any, refs: list[dict[str, Any]]) -> list[Any]:
        loader: Loader = info.context
        return [loader.load(key_of(ref)) for ref in refs]  # graphql-core gathers them

    def document(self, query: str) -> DocumentNode | list[GraphQLError]:
        cached = self.documents.get(query)
        if cached is not None:
            return cached
        try:
            document = parse(query)
        except GraphQLError as error:
            return [error]
        errors = validate(self.schema, document)
        if errors:
            return errors
        if len(self.documents) >= 1000:
            self.documents.clear()
        self.documents[query] = document
        return document

    async def graphql(self, request: Request) -> Response:
        body = await request.json()
        document = self.document(body["query"])
        if isinstance(document, list):
            return JSONResponse({"errors": [error.formatted for error in document]}, 400)
        result = execute(
            self.schema,
            document,
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
            context_value=Loader(self.client, self.pool),
        )
        if inspect.isawaitable(result):
            result = await result
        return JSONResponse(result.formatted)


class Naive:
    def __init__(self, endpoint_url: str) -> None:
        self.client = make_client(endpoint_url)
        self.schema = build_schema(SDL)
        root = self.schema.query_type
        assert root is not None
        root.fields["imageVersion"].resolve = self.image_version
        root.fields["imageVersions"].resolve = self.image_versions

    async def image_version(self, _: Any, info: Any, **ref: Any) -> Version:
        call = functools.partial(describe, self.client, key_of(ref))
        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def image_versions(self, _: Any, info: Any, refs: list[dict[str, Any]]) -> list[Version]:
        loop = asyncio.get_running_loop()
        found = []
        for ref in refs:  # one after another, repeats included
            call = functools.partial(describe, self.client, key_of(ref))
            found.append(await loop.run_in_executor(None, call))
        return found

    async def graphql(self, request: Request) -> Response:
        body = await request.json()
        result = await graphql(
            self.schema,
            body["query"],
            variable_values=body.get("variables"),
            operation_name=body.get("operationName"),
        )
        return JSONResponse(result.formatted)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class FixedBytes:
    """The ceiling: every ``POST /graphql`` answered with ``answer``, or the bytes ``PUT
    /_answer`` last set (503 before either), ``GET /healthz`` with ``ok``. Raw ASGI, no
    framework: each request costs uvicorn's parsing, one body read and one send."""

    def __init__(self, answer: bytes | None = None) -> None:
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        route = (scope["method"], scope["path"])
        if route == ("POST", "/graphql") and self.answer is not None:
            await self.respond(send, 200, b"application/json", self.answer)
        elif route == ("PUT", "/_answer"):
            self.answer = body
            await self.respond(send, 204, b"text/plain", b"")
        elif route == ("GET", "/healthz"):
            await self.respond(send, 200, b"text/plain", b"ok")
        else:
            await self.respond(send, 503 if route[1] == "/graphql" else 404, b"text/plain", b"")

    @staticmethod
    async def respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
        headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# Where a worker process of ``fixed --workers N`` finds its answer: a PUT reaches one worker only.
ANSWER_FILE = "BENCH_FIXED_ANSWER_FILE"


def fixed_in_a_worker() -> FixedBytes:
    """uvicorn's factory for each worker of ``fixed --workers N``."""
    return FixedBytes(Path(os.environ[ANSWER_FILE]).read_bytes())


async def healthz(_: Request) -> Response:
    return PlainTextResponse("ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("kind", choices=("lean", "naive", "fixed"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--endpoint-url", help="the SageMaker endpoint (lean and naive)")
    parser.add_argument("--workers", type=int, default=1, help="processes (fixed only)")
    parser.add_argument("--answer-file", help="the bytes fixed answers with (needed on workers)")
    args = parser.parse_args()
    app: Any
    if args.kind != "fixed" and args.workers > 1:
        parser.error(f"{args.kind} runs in one process")
    if args.kind == "fixed" and args.workers > 1:
        if args.answer_file is None:
            parser.error("fixed --workers needs --answer-file")
        os.environ[ANSWER_FILE] = args.answer_file
        app = f"{Path(__file__).stem}:{fixed_in_a_worker.__name__}"
    elif args.kind == "fixed":
        app = FixedBytes(Path(args.answer_file).read_bytes() if args.answer_file else None)
    elif args.endpoint_url is None:
        parser.error(f"{args.kind} needs --endpoint-url")
    else:
        peer = Lean(args.endpoint_url) if args.kind == "lean" else Naive(args.endpoint_url)
        routes = [Route("/graphql", peer.graphql, methods=["POST"]), Route("/healthz", healthz)]
        app = Starlette(routes=routes)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        http="httptools",
        loop="uvloop",
        access_log=False,
        log_level="warning",
        workers=args.workers,
        factory=isinstance(app, str),
        app_dir=str(Path(__file__).parent),
    )


if __name__ == "__main__":
    main()
