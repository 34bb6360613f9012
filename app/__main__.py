"""The command line: ``python -m app serve | export-schema | local-sagemaker``."""

from __future__ import annotations

import argparse
import logging
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
    "transition_delay": "SMGQL_LOCAL_TRANSITION_DELAY",
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
    serve.add_argument(
        "--transition-delay",
        type=float,
        help="seconds the embedded local endpoint keeps a new version CREATING, to watch a "
        "build (SMGQL_LOCAL_TRANSITION_DELAY)",
    )

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
    local.add_argument(
        "--regions",
        type=_names,
        help="regions served, comma-separated, the home one first (default: us-east-1,eu-west-1)",
    )
    local.add_argument(
        "--accounts",
        type=_pairs,
        help="KEY=ACCOUNT,...: the account of each access key; any other key acts in "
        "123456789012 (default: demo-second-account=210987654321)",
    )
    local.add_argument(
        "--check-signatures",
        type=_pairs,
        metavar="KEY=SECRET,...",
        help="check every request's SigV4 signature; only these keys (and credentials assumed "
        "through the endpoint's STS) are accepted",
    )
    local.add_argument(
        "--transition-delay",
        type=float,
        default=0.0,
        help="seconds a new version stays CREATING and a deleted one DELETING",
    )
    local.add_argument("--no-seed", action="store_true", help="start empty, without demo data")
    local.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    return parser


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _pairs(text: str) -> dict[str, str]:
    """``A=1,B=2`` as a dict; argparse reports the ValueError of a pair without ``=``."""
    pairs = {}
    for pair in _names(text):
        key, sign, value = pair.partition("=")
        if not sign or not key or not value:
            raise argparse.ArgumentTypeError(f"{pair!r} is not KEY=VALUE")
        pairs[key] = value
    return pairs


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "local-sagemaker":
        return _local_sagemaker(parser, args)
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


def _local_sagemaker(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from app.local_sagemaker.server import EndpointOptions, LocalSageMaker

    # Only the options given: the others keep EndpointOptions' defaults, documented there once.
    given = {
        name: value
        for name, value in (("regions", args.regions), ("accounts", args.accounts))
        if value is not None
    }
    try:
        options = EndpointOptions(
            db=args.db,
            transition_delay=args.transition_delay,
            seed=not args.no_seed,
            secrets=args.check_signatures,
            **given,
        )
    except ValueError as error:
        parser.error(str(error))
    configure_logging(args.log_level)
    logging.getLogger("app.local_sagemaker").info(
        f"Local SageMaker endpoint (and STS) at http://{args.host}:{args.port}: {options.served()}"
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
