"""The SageMaker client: the one place that calls AWS.

A boto3 client, built once with the service's AWS options, holds what boto3 decides (credentials,
endpoint, retry mode); the calls themselves go over :mod:`app.sagemaker.transport`, on the event
loop, with no thread per call.

Calls take keys (:mod:`app.sagemaker.keys`) and give records (:mod:`app.sagemaker.records`);
a failure leaves as one of the domain errors of :mod:`app.sagemaker.errors`, carrying its key.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import boto3
import botocore.session
from botocore.config import Config

from app import metrics
from app.ledger import Ledger
from app.sagemaker.errors import AccessDenied, SageMakerError, Unavailable, from_botocore
from app.sagemaker.operations import Key, Operation
from app.sagemaker.transport import Transport

if TYPE_CHECKING:
    # A dev-only stubs package: never imported at run time (the shipped install lacks it).
    from mypy_boto3_sagemaker import SageMakerClient

    from app.sagemaker.rate_limit import RateLimit

log = logging.getLogger("app.sagemaker")

K = TypeVar("K", bound=Key)
V = TypeVar("V")

# The local endpoint (unless it is given secrets to check signatures with, as tests do) takes any
# well-formed credentials; these only have to look like them.
LOCAL_CREDENTIALS = ("local", "local")

RetryMode = Literal["standard", "adaptive", "legacy"]


@dataclass(frozen=True)
class AwsOptions:
    """How the service reaches SageMaker: where, with which credentials, and how patiently."""

    region: str
    # None: the endpoint botocore resolves for the region.
    endpoint_url: str | None
    # The local endpoint's stand-in credentials (and account "local") instead of the default
    # credential chain.
    local: bool
    pool_size: int
    # Seconds a pooled connection may idle before it is closed instead of reused: below the
    # upstream's keep-alive timeout, so the upstream never closes one as it is reused.
    pool_idle_seconds: float
    connect_timeout: float
    read_timeout: float
    retry_mode: RetryMode
    max_attempts: int

    def config(self, **more: Any) -> Config:
        """botocore's Config of these options."""
        return Config(
            region_name=self.region,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
            **more,
        )


def _session(options: AwsOptions, core: botocore.session.Session) -> boto3.session.Session:
    """A boto3 session over ``core``: on the default credential chain, or on the local
    endpoint's stand-ins."""
    if options.local:
        access_key, secret_key = LOCAL_CREDENTIALS
        return boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, botocore_session=core
        )
    return boto3.session.Session(botocore_session=core)


def _client(session: boto3.session.Session, options: AwsOptions) -> SageMakerClient:
    config = options.config(
        max_pool_connections=options.pool_size,
        user_agent_extra="sagemaker-images-graphql",
        # Keys are checked against the model where they are made (app.sagemaker.keys), and
        # SageMaker checks again: botocore's own pass is CPU on every call for nothing.
        parameter_validation=False,
    )
    client: SageMakerClient = session.client(
        "sagemaker", endpoint_url=options.endpoint_url, config=config
    )
    return client


def build_client(options: AwsOptions) -> SageMakerClient:
    """A plain boto3 SageMaker client with the service's options (for scripts and tests that
    call SageMaker as any boto3 user would). Slow to build: it loads the service model."""
    return _client(_session(options, botocore.session.Session()), options)


def build_transport(options: AwsOptions, clock: Callable[[], float] = time.monotonic) -> Transport:
    """The process's one way to SageMaker. Slow to build (it loads the service model and
    resolves the credential chain): do it once, at start, off the event loop. ``clock`` times
    how long pooled connections idle."""
    core = botocore.session.Session()
    return Transport(
        _client(_session(options, core), options),
        core.get_credentials(),
        pool_size=options.pool_size,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        retry_mode=options.retry_mode,
        max_attempts=options.max_attempts,
        idle_lifetime=options.pool_idle_seconds,
        ca_bundle=core.get_config_variable("ca_bundle"),
        clock=clock,
    )


def account_of(options: AwsOptions) -> str:
    """The AWS account the service's credentials belong to (STS GetCallerIdentity, which needs
    no permission); "local" for the local endpoint. Slow: call it once, off the event loop.
    Raises a domain error when STS cannot say."""
    if options.local:
        return "local"
    try:
        sts = boto3.session.Session().client("sts", config=options.config())
        account: str = sts.get_caller_identity()["Account"]
    except Exception as error:
        failure = from_botocore(error, None)
        if failure is None:
            raise
        raise failure from None
    return account


def _retries(response: object) -> int:
    """How often botocore retried, from an answer's (or a failure's) ResponseMetadata."""
    if not isinstance(response, dict):
        return 0
    attempts = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    return attempts if isinstance(attempts, int) else 0


async def namespace_of(options: AwsOptions, shared: bool) -> str:
    """What makes SageMaker's answers (and quotas) differ between services: the backend,
    region, endpoint and account. The account matters only to what other processes share
    (Redis); asking STS is skipped otherwise. Without it (STS did not answer), a name no other
    service shares, so nothing is shared by mistake."""
    account = "this-process"
    if shared:
        try:
            account = await asyncio.to_thread(account_of, options)
        except SageMakerError as error:
            log.warning({"event": "account_unknown", "error": type(error).__name__})
            account = f"unknown-{secrets.token_hex(4)}"
    backend = "local" if options.local else "aws"
    return f"{backend}:{options.region}:{options.endpoint_url or 'default'}:{account}"


class SageMakerCalls(Protocol):
    """The calls the service makes: :class:`SageMaker`'s, or the same through a cache. Each
    notes what it cost in the request's ``ledger``."""

    async def call(self, operation: Operation[K, V], key: K, ledger: Ledger) -> V: ...

    async def check_reachable(self) -> None: ...


class Wire(Protocol):
    """What carries a call to SageMaker: the :class:`Transport`, or a test's stand-in."""

    async def call(self, operation: str, request: dict[str, Any]) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class SageMaker:
    """Async calls to SageMaker over one :class:`Transport`, optionally under a rate limit."""

    def __init__(self, transport: Wire, rate_limit: RateLimit | None = None) -> None:
        self._transport = transport
        self._rate_limit = rate_limit

    async def call(self, operation: Operation[K, V], key: K, ledger: Ledger) -> V:
        """``operation`` for ``key``, as its record (every page of it, for one that gathers)."""
        request = key.as_request()
        if operation.gathers is None:
            return operation.read(await self._call(operation.name, request, key, ledger))
        gathered: list[Any] = []
        request["MaxResults"] = 100
        while True:
            answer = await self._call(operation.name, request, key, ledger)
            gathered += answer.get(operation.gathers, [])
            if not answer.get("NextToken"):
                return operation.read({operation.gathers: gathered})
            request["NextToken"] = answer["NextToken"]

    async def check_reachable(self) -> None:
        """Raise a domain error unless SageMaker answers a cheap authenticated call with what
        the model says it answers (an endpoint answering 200 with garbage is not SageMaker)."""
        answer = await self._call("ListImages", {"MaxResults": 1}, None, Ledger())
        if not isinstance(answer.get("Images"), list):
            raise Unavailable("SageMaker answered ListImages without a list of images.")

    async def _call(
        self, operation: str, request: dict[str, Any], key: Hashable | None, ledger: Ledger
    ) -> dict[str, Any]:
        if self._rate_limit is not None:
            await self._rate_limit.acquire(operation)
        started = time.perf_counter()
        metrics.UPSTREAM_IN_FLIGHT.inc()
        try:
            response = await self._transport.call(operation, request)
        except Exception as error:
            failure = from_botocore(error, key)
            retries = _retries(getattr(error, "response", None))
            outcome = type(failure).__name__ if failure else "Unexpected"
            metrics.upstream_call(operation, outcome, time.perf_counter() - started, retries)
            ledger.upstream_call(retries)
            if failure is None:
                raise
            if isinstance(failure, AccessDenied | Unavailable):
                # An operator's problem, not the client's: say so where operators look.
                log.warning(
                    {
                        "event": "upstream_failure",
                        "operation": operation,
                        "error": type(failure).__name__,
                        "awsErrorCode": failure.aws_code,
                        "awsRequestId": failure.request_id,
                    }
                )
            raise failure from None
        finally:
            metrics.UPSTREAM_IN_FLIGHT.dec()
        retries = _retries(response)
        metrics.upstream_call(operation, "ok", time.perf_counter() - started, retries)
        ledger.upstream_call(retries)
        return response

    async def aclose(self) -> None:
        await self._transport.aclose()
