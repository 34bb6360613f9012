"""The command line: ``python -m app serve | export-schema | local-sagemaker``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.logs import LOG_LEVELS, configure_logging

if TYPE_CHECKING:
    from app.assembly.settings import Settings

LOCAL_SAGEMAKER_PORT = 8001
# serve's options, and the variables they stand for.
SERVE_OPTIONS = {
    "host": "SMGQL_HOST",
    "port": "SMGQL_PORT",
    "backend": "SMGQL_BACKEND",
    "workers": "SMGQL_WORKERS",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the GraphQL service",
        description="Run the GraphQL service. Without settings it starts the local SageMaker "
        "endpoint in-process with its demo catalog; SMGQL_* variables configure the rest.",
    )
    serve.add_argument("--host", help="address to bind (SMGQL_HOST)")
    serve.add_argument("--port", type=int, help="port to bind (SMGQL_PORT)")
    serve.add_argument(
        "--backend", choices=("local", "aws"), help="SageMaker backend (SMGQL_BACKEND)"
    )
    serve.add_argument("--workers", type=int, help="worker processes (SMGQL_WORKERS)")

    export = commands.add_parser("export-schema", help="print the subgraph SDL")
    export.add_argument("--output", help="write to this file instead of standard output")

    local = commands.add_parser(
        "local-sagemaker",
        help="run the SageMaker-compatible local endpoint",
        description="Serve the SageMaker image operations over AWS JSON 1.1 on HTTP, backed by "
        "SQLite. Point boto3 at it with endpoint_url.",
    )
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=LOCAL_SAGEMAKER_PORT)
    local.add_argument("--db", default=":memory:", help="SQLite file; ':memory:' keeps nothing")
    local.add_argument("--region", default="us-east-1", help="region written into ARNs")
    local.add_argument(
        "--transition-delay",
        type=float,
        default=0.0,
        help="seconds a new version stays CREATING and a deleted one DELETING",
    )
    local.add_argument("--no-seed", action="store_true", help="start empty, without demo data")
    local.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "local-sagemaker":
        return _local_sagemaker(args)
    # Imported here: the local endpoint's command loads nothing of the service.
    from app.assembly.settings import Settings, SettingsError

    # An option given on the command line stands for its variable, and is checked as it is.
    given = {
        variable: str(value)
        for option, variable in SERVE_OPTIONS.items()
        if (value := getattr(args, option, None)) is not None
    }
    try:
        settings = Settings.from_env({**os.environ, **given})
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "export-schema":
        return _export_schema(settings, args.output)
    return _serve(settings)


def _local_sagemaker(args: argparse.Namespace) -> int:
    from app.local_sagemaker.server import EndpointOptions, LocalSageMaker

    configure_logging(args.log_level)
    options = EndpointOptions(
        db=args.db,
        region=args.region,
        transition_delay=args.transition_delay,
        seed=not args.no_seed,
    )
    LocalSageMaker(options).serve_forever(args.host, args.port)
    return 0


def _export_schema(settings: Settings, output: str | None) -> int:
    from app.schema import build_schema, schema_sdl

    sdl = schema_sdl(build_schema(settings.schema_limits()))
    if output:
        with open(output, "w", encoding="utf-8") as file:
            file.write(sdl)
    else:
        sys.stdout.write(sdl)
    return 0


def _serve(settings: Settings) -> int:
    from app.assembly.serving import serve

    configure_logging(settings.log_level)
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
