"""The app, and the services its lifespan starts.

``create_app(settings)`` builds the app and nothing else: no socket, no thread, no AWS call. Its
lifespan (:func:`running_services`) starts, in order, the embedded local endpoint (when it is the
backend and no endpoint URL is set), the targets (what each is, and the way to each, opened on
first use with its rate limit), the caches, the version watch and readiness, and stops them in
reverse; spans are exported when OpenTelemetry's environment asks (:mod:`.telemetry`).
``create_app()`` with no argument reads
the environment: ``uvicorn --factory app.assembly.build:create_app`` serves it; each worker
process of ``serve`` builds its app with :func:`worker_app`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE

from app.assembly.allocator import return_freed_memory
from app.assembly.collector import frozen_after_start
from app.assembly.settings import Settings
from app.assembly.telemetry import configure_tracing
from app.cache.build import build_caches
from app.cache.stores import KEY_PREFIX
from app.logs import configure_logging, log_uncaught
from app.sagemaker import SageMaker
from app.sagemaker.client import connect, learn_targets, namespace_of
from app.sagemaker.routing import TargetedSageMaker
from app.sagemaker.targets import Target, TargetSpec
from app.schema import build_schema, schema_version
from app.watch import VersionWatch
from app.web.app import GRAPHQL_PATH, web_app
from app.web.health import Readiness
from app.web.persisted_queries import PersistedQueries
from app.web.services import Services

log = logging.getLogger("app")


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Starlette:
    """The app of ``settings`` (the environment's when None), judging freshness and JWTs' times
    by ``clock`` and timing the cache's cool-downs by ``monotonic``."""
    settings = settings or Settings.from_env()
    # OpenTelemetry's own variables (OTEL_*), read as its SDK documents them.
    configure_tracing(os.environ)
    credentials = None
    if settings.authentication:
        # Imported here: JWT support (PyJWT, cryptography) costs about 8 MB a process, which a
        # service without authentication does not pay.
        from app.web.auth import Credentials

        credentials = Credentials.load(
            settings.api_keys_file,
            settings.jwks_file,
            settings.jwt_audience,
            settings.jwt_issuer,
            settings.jwt_max_lifetime,
            clock,
        )
    schema = build_schema(settings.schema_limits())
    version = schema_version(schema)
    return web_app(
        schema,
        settings.web(),
        credentials,
        lambda: running_services(settings, version, clock, monotonic),
    )


def worker_app() -> Starlette:
    """A worker process's app (uvicorn's factory with ``SMGQL_WORKERS`` above 1): the
    settings ``serve`` exported, logging as ``serve`` has it, one JSON line per record, and
    what start-up built frozen out of the garbage collector's walks (:mod:`.collector`).

    An app that cannot be built is logged as ``serve`` logs it (multiprocessing would print the
    traceback as raw text), and the worker ends as one whose startup failed, so that the
    supervisor stops instead of starting it again and again.
    """
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return_freed_memory()
    try:
        return frozen_after_start(create_app(settings))
    except Exception as error:
        log_uncaught(type(error), error, error.__traceback__)
        sys.exit(STARTUP_FAILURE)


@asynccontextmanager
async def running_services(
    settings: Settings,
    schema_version: str,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> AsyncIterator[Services]:
    """What requests use, started; stopped on the way out. Whole responses are kept per
    ``schema_version`` (``app.schema.schema_version``)."""
    async with AsyncExitStack() as stack:
        endpoints = stack.enter_context(ExitStack())
        settings = await asyncio.to_thread(with_embedded_endpoint, settings, endpoints)
        aws = settings.aws()
        served, specs = await asyncio.to_thread(learn_targets, aws, settings.target_specs())
        namespace = settings.cache_namespace or namespace_of(aws, served.default)
        served_by = {str(target): spec.credentials for target, spec in specs.items()}
        log.info(
            {
                "event": "targets",
                "message": "Serving "
                + "; ".join(f"{target} by {how}" for target, how in served_by.items())
                + f" (default {served.default})",
                "default": str(served.default),
                "served": served_by,
            }
        )

        async def open_target(target: Target) -> SageMaker:
            rate_limit = None
            if settings.rate_limit is not None:
                # Imported here: only a service with a rate limit loads the limits library.
                from app.sagemaker.rate_limit import RateLimit

                rate_limit = RateLimit(
                    settings.rate_limit,
                    settings.redis_url if settings.cache == "redis" else None,
                    key_prefix=f"{KEY_PREFIX}:{namespace}:{target}:rate",
                    max_wait=settings.request_timeout,
                )
            transport = await asyncio.to_thread(connect, aws, specs[target])
            return SageMaker(transport, rate_limit, target)

        sagemaker = TargetedSageMaker(served, open_target)
        stack.push_async_callback(sagemaker.aclose)
        await sagemaker.open_default()
        trusted = await asyncio.to_thread(settings.trusted_document_manifest)
        # Kept answers are sent without a look at the request (app.cache.responses): a replica
        # that trusts other documents must not send this one's.
        answers_version = (
            schema_version if trusted is None else f"{schema_version}:{trusted.digest}"
        )
        caches = await build_caches(
            settings.cache_options(), sagemaker, namespace, answers_version, stack, clock, monotonic
        )
        watch = VersionWatch(caches.calls, settings.max_subscriptions)
        stack.push_async_callback(watch.close)
        readiness = Readiness(
            caches.calls,
            settings.readiness_cache_seconds,
            settings.readiness_timeout,
            cache=caches.breaker,
        )
        log.info(
            f"GraphQL (and GraphiQL in a browser) at http://{settings.host}:{settings.port}"
            f"{GRAPHQL_PATH}"
        )
        yield Services(
            sagemaker=caches.calls,
            responses=caches.responses,
            persisted=PersistedQueries(caches.persisted, settings.persisted_queries_ttl, trusted),
            watch=watch,
            readiness=readiness,
            targets=served,
        )


def with_embedded_endpoint(settings: Settings, stack: ExitStack) -> Settings:
    """``settings`` as they are, or, when the backend is the local endpoint and none is named,
    with the URL of one started now in this process (stopped with ``stack``) and, unless they
    name a targets file, one listing every target of its demo catalog: the home region, a second
    region, and a second account reached by assuming a role through the endpoint's STS. (A
    file, so that worker processes read the same targets.)"""
    if settings.backend != "local" or settings.endpoint_url is not None:
        where = settings.endpoint_url or "SageMaker"
        log.info(f"Backend: {settings.backend}, {where}")
        if settings.local_transition_delay:
            log.warning(
                "SMGQL_LOCAL_TRANSITION_DELAY is ignored: it slows the embedded local endpoint,"
                " and this service uses another backend."
            )
        return settings
    # Imported only here: a service on AWS never loads the local endpoint's code.
    from app.local_sagemaker import (
        DEFAULT_ACCOUNT,
        SECOND_ACCOUNT,
        BackgroundEndpoint,
        EndpointOptions,
    )

    specs = settings.target_specs()
    home = specs[0].region
    delay = settings.local_transition_delay
    if settings.targets_file is None:
        # The home region first, then the demo's others.
        options = EndpointOptions(db=settings.local_db, region=home, transition_delay=delay)
    else:
        regions = tuple(dict.fromkeys(spec.region for spec in specs))
        options = EndpointOptions(db=settings.local_db, regions=regions, transition_delay=delay)
    endpoint = stack.enter_context(BackgroundEndpoint(options))
    log.info(
        f"Backend: the embedded local SageMaker endpoint (and STS) at {endpoint.url} with its "
        f"demo catalog ({settings.local_db}), serving {options.served()}; new images and "
        f"versions stay CREATING for {delay:g} s. Set SMGQL_BACKEND=aws for real SageMaker."
    )
    settings = dataclasses.replace(settings, endpoint_url=endpoint.url)
    if settings.targets_file is not None:
        return settings
    demo = [
        TargetSpec(home, DEFAULT_ACCOUNT),
        *(TargetSpec(region, DEFAULT_ACCOUNT) for region in options.regions if region != home),
        TargetSpec(home, SECOND_ACCOUNT, role_arn=f"arn:aws:iam::{SECOND_ACCOUNT}:role/Images"),
    ]
    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="smgql-demo-"))
    targets = Path(folder, "targets.json")
    targets.write_text(json.dumps([spec.as_entry() for spec in demo]), encoding="utf-8")
    return dataclasses.replace(settings, targets_file=str(targets))
