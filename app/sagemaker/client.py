"""The SageMaker client: the one place that calls AWS.

Each target (a region and account, :mod:`app.sagemaker.targets`) gets a boto3 client, built once
with the service's AWS options and the target's credentials (a profile, a role assumed through
STS, or the default chain), which holds what boto3 decides (credentials, endpoint, retry mode);
the calls themselves go over :mod:`app.sagemaker.transport`, on the event loop, with no thread
per call. The region and the credentials are resolved exactly as boto3 resolves them.

Calls take keys (:mod:`app.sagemaker.keys`) and give records (:mod:`app.sagemaker.records`);
a failure leaves as one of the domain errors of :mod:`app.sagemaker.errors`, carrying its key.
Each call is an OpenTelemetry span: the operation, the target's region and account, AWS's
request id and how often botocore retried.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.exceptions import NoCredentialsError
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from app import metrics
from app.ledger import Ledger
from app.sagemaker.errors import (
    UNREADABLE_MESSAGE,
    AccessDenied,
    SageMakerError,
    Unavailable,
    UnexpectedAnswer,
    from_botocore,
)
from app.sagemaker.operations import Key, Operation
from app.sagemaker.service_model import use_cut_model
from app.sagemaker.targets import ServedTargets, Target, TargetSpec
from app.sagemaker.transport import Transport
from app.spans import start_span

if TYPE_CHECKING:
    # A dev-only stubs package: never imported at run time (the shipped install lacks it).
    from mypy_boto3_sagemaker import SageMakerClient

    from app.sagemaker.rate_limit import RateLimit

log = logging.getLogger("app.sagemaker")
tracer = trace.get_tracer("app.sagemaker")

K = TypeVar("K", bound=Key)
V = TypeVar("V")

# The local endpoint (unless it is given secrets to check signatures with, as tests do) takes any
# well-formed credentials; these only have to look like them.
LOCAL_CREDENTIALS = ("local", "local")
# The local endpoint's home region, where a service on it goes when no region is configured.
LOCAL_REGION = "us-east-1"
# The session name of an assumed role when its target names none: CloudTrail shows it.
SESSION_NAME = "sagemaker-images-graphql"

RetryMode = Literal["standard", "adaptive", "legacy"]


class NoRegion(ValueError):
    """No region is configured anywhere: the service cannot know where SageMaker is."""


def resolve_region(explicit: str | None, local: bool) -> str:
    """The region of the default target: ``explicit`` (``SMGQL_REGION``), else what botocore's
    own chain says (``AWS_DEFAULT_REGION``, then the profile's ``region`` in the config file),
    exactly as a boto3 client would resolve it. The local endpoint's home region when nothing
    says; for AWS, none is an error, as it is for boto3."""
    if explicit is not None:
        return explicit
    region: str | None = botocore.session.Session().get_config_variable("region")
    if region:
        return region
    if local:
        return LOCAL_REGION
    raise NoRegion(
        "No AWS region is configured: set SMGQL_REGION, AWS_DEFAULT_REGION or the profile's "
        "region in the AWS config file (or list targets in SMGQL_TARGETS_FILE)."
    )


@dataclass(frozen=True)
class AwsOptions:
    """How the service reaches SageMaker in every target: where, and how patiently."""

    # None: the endpoint botocore resolves for each target's region.
    endpoint_url: str | None
    # The local endpoint's stand-in credentials instead of the default credential chain, and
    # its STS (at the same URL) instead of AWS's.
    local: bool
    pool_size: int
    # Seconds a pooled connection may idle before it is closed instead of reused: below the
    # upstream's keep-alive timeout, so the upstream never closes one as it is reused.
    pool_idle_seconds: float
    connect_timeout: float
    read_timeout: float
    retry_mode: RetryMode
    max_attempts: int

    def config(self, region: str, **more: Any) -> Config:
        """botocore's Config of these options, in ``region``."""
        return Config(
            region_name=region,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
            **more,
        )


class _OneLineFailures(logging.Filter):
    """botocore's credential code logs a failed refresh with its traceback, then raises the
    error, which the service reports itself (UPSTREAM_ACCESS_DENIED and an ``upstream_failure``
    warning): a traceback per call, for as long as the credentials stay broken, would bury the
    log. The line keeps botocore's words and the error's, on one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            record.msg = f"{record.getMessage()} ({type(error).__name__}: {error})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


_ONE_LINE_FAILURES = _OneLineFailures()
CREDENTIAL_LOGGERS = ("botocore.credentials", "botocore.tokens")


def _session(
    options: AwsOptions, spec: TargetSpec
) -> tuple[botocore.session.Session, Credentials | None]:
    """A botocore session for the target, and the credentials its calls are signed with: its
    profile's, a role assumed with botocore's own assume-role fetcher over the session's
    credentials (refreshed before it expires), or the default chain's (the local endpoint's
    stand-ins, for it). Nothing is fetched yet: credentials are resolved when first used."""
    for name in CREDENTIAL_LOGGERS:
        # Added once however many sessions a process makes (a logger keeps one of each).
        logging.getLogger(name).addFilter(_ONE_LINE_FAILURES)
    core = botocore.session.Session(profile=spec.profile)
    if spec.profile is None and options.local:
        core.set_credentials(*LOCAL_CREDENTIALS)
    source = core.get_credentials()
    if spec.role_arn is None or source is None:
        return core, source
    extra = {"RoleSessionName": spec.session_name or SESSION_NAME}
    if spec.external_id is not None:
        extra["ExternalId"] = spec.external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=functools.partial(
            core.create_client,
            region_name=spec.region,
            endpoint_url=_sts_url(options),
            config=options.config(spec.region),
        ),
        source_credentials=source,
        role_arn=spec.role_arn,
        extra_args=extra,
    )
    return core, DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )


def _sts_url(options: AwsOptions) -> str | None:
    # The local endpoint answers STS on its own URL; AWS's is the one botocore resolves.
    return options.endpoint_url if options.local else None


def _client(core: botocore.session.Session, options: AwsOptions, region: str) -> SageMakerClient:
    config = options.config(
        region,
        max_pool_connections=options.pool_size,
        user_agent_extra="sagemaker-images-graphql",
        # Keys are checked against the model where they are made (app.sagemaker.keys), and
        # SageMaker checks again: botocore's own pass is CPU on every call for nothing.
        parameter_validation=False,
    )
    client: SageMakerClient = boto3.session.Session(botocore_session=core).client(
        "sagemaker", endpoint_url=options.endpoint_url, config=config
    )
    return client


def build_client(options: AwsOptions, region: str) -> SageMakerClient:
    """A plain boto3 SageMaker client with the service's options (for scripts and tests that
    call SageMaker as any boto3 user would). Slow to build: it loads the service model."""
    core, _ = _session(options, TargetSpec(region, None))
    return _client(core, options, region)


def build_transport(
    options: AwsOptions, spec: TargetSpec, clock: Callable[[], float] = time.monotonic
) -> Transport:
    """One target's way to SageMaker: its own connection pool, signer, credentials and retry
    quota, on the service model cut to the operations it calls (:mod:`.service_model`). Slow to
    build (it reads botocore's endpoint data and resolves the credential chain): do it off the
    event loop. ``clock`` times how long pooled connections idle."""
    core, credentials = _session(options, spec)
    use_cut_model(core)
    return Transport(
        _client(core, options, spec.region),
        credentials,
        pool_size=options.pool_size,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        retry_mode=options.retry_mode,
        max_attempts=options.max_attempts,
        idle_lifetime=options.pool_idle_seconds,
        ca_bundle=core.get_config_variable("ca_bundle"),
        clock=clock,
    )


def account_of(options: AwsOptions, spec: TargetSpec) -> str:
    """The AWS account the target's credentials belong to (STS GetCallerIdentity, which needs
    no permission). Slow: call it off the event loop. Raises a domain error when STS cannot
    say."""
    try:
        return _caller_account(options, spec)
    finally:
        # The STS client and its botocore session are reference cycles that hold botocore's
        # endpoint data and STS's model (about 5 MB): collected now, rather than when the
        # collector next runs, after the SageMaker client has loaded its own beside them. A full
        # collection, once per target opened (tens of ms); measured with scripts/bench.py's
        # cache-off service: peak RSS 104 -> 96 MiB.
        gc.collect()


def _caller_account(options: AwsOptions, spec: TargetSpec) -> str:
    try:
        core, credentials = _session(options, spec)
        if credentials is None:
            raise NoCredentialsError
        frozen = credentials.get_frozen_credentials()
        # Typed as botocore's BaseClient, which declares no operations.
        sts: Any = core.create_client(
            "sts",
            region_name=spec.region,
            endpoint_url=_sts_url(options),
            config=options.config(spec.region),
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
        )
        account: str = sts.get_caller_identity()["Account"]
    except Exception as error:
        # Anything else (botocore's parser failing on what came back) is an answer this
        # service cannot read, not a bug of its own: STS is whatever the endpoint URL names.
        raise from_botocore(error, None) or UnexpectedAnswer(UNREADABLE_MESSAGE) from None
    return account


def connect(
    options: AwsOptions, spec: TargetSpec, clock: Callable[[], float] = time.monotonic
) -> Transport:
    """A target's transport, once its credentials are shown to belong to the target's account:
    another account's would answer for that account's images under this one's ARNs and cache
    keys. (Where STS cannot be reached, as in a VPC without its endpoint, the targets file is
    trusted, with a warning.) Slow: call it off the event loop."""
    if spec.account is not None:
        try:
            account = account_of(options, spec)
        except Unavailable:
            log.warning({"event": "account_unchecked", "target": f"{spec.region}/{spec.account}"})
            account = spec.account
        if account != spec.account:
            raise AccessDenied(
                f"The credentials for {spec.region}/{spec.account} ({spec.credentials}) belong "
                "to another account; an operator must fix the targets file."
            )
    return build_transport(options, spec, clock)


def learn_targets(
    options: AwsOptions, specs: tuple[TargetSpec, ...]
) -> tuple[ServedTargets, dict[Target, TargetSpec]]:
    """The targets ``specs`` name, the first the default. A spec without an account (the one
    target of a service without a targets file) serves the account STS reports for its
    credentials; "unknown" if STS cannot say (logged: ARNs then match no target until a
    restart, though lookups by name still work). Slow: call it off the event loop."""
    targets: dict[Target, TargetSpec] = {}
    for spec in specs:
        account = spec.account
        if account is None:
            try:
                account = account_of(options, spec)
            except SageMakerError as error:
                log.warning({"event": "account_unknown", "error": type(error).__name__})
                account = "unknown"
        targets[Target.of(spec.region, account)] = spec
    return ServedTargets(list(targets)), targets


def _retries(response: object) -> int:
    """How often botocore retried, from an answer's (or a failure's) ResponseMetadata."""
    if not isinstance(response, dict):
        return 0
    attempts = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    return attempts if isinstance(attempts, int) else 0


def _note_answer(span: trace.Span, request_id: object, retries: int) -> None:
    """What AWS said of a call, on its span: its request id (what AWS support asks for) and
    how often botocore retried it."""
    if isinstance(request_id, str):
        span.set_attribute("aws.request_id", request_id)
    span.set_attribute("aws.retry_attempts", retries)


def namespace_of(options: AwsOptions, default: Target) -> str:
    """What makes SageMaker's answers (and quotas) differ between services that share a cache:
    the backend, the endpoint, and the target a lookup that names none goes to. (Each key
    names its own target besides.)"""
    backend = "local" if options.local else "aws"
    return f"{backend}:{options.endpoint_url or 'default'}:{default}"


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
    """Async calls to SageMaker over one :class:`Transport` (to ``target``, which its spans
    name), optionally under a rate limit."""

    def __init__(
        self, transport: Wire, rate_limit: RateLimit | None = None, target: Target | None = None
    ) -> None:
        self._transport = transport
        self._rate_limit = rate_limit
        self._span_attributes: dict[str, str] = {
            "rpc.system": "aws-api",
            "rpc.service": "SageMaker",
        }
        if target is not None:
            self._span_attributes |= {
                "cloud.region": target.region,
                "cloud.account.id": target.account,
            }

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
        with start_span(
            tracer,
            f"SageMaker.{operation}",
            kind=SpanKind.CLIENT,
            attributes={**self._span_attributes, "rpc.method": operation},
        ) as span:
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
                _note_answer(span, failure.request_id if failure else None, retries)
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
            _note_answer(span, response.get("ResponseMetadata", {}).get("RequestId"), retries)
            return response

    async def aclose(self) -> None:
        await self._transport.aclose()
