"""Each setting is declared once, and everything that names settings agrees with that one
declaration: the parser, the README's table (tests/service/test_cli_and_deployment.py) and the
environment handed to worker processes."""

from __future__ import annotations

import dataclasses
import logging
from contextlib import ExitStack

import pytest

from app.assembly.build import with_embedded_endpoint
from app.assembly.settings import VARIABLES, Settings, environment_of

# A value other than the default for every kind of setting there is.
CHANGED = Settings(
    backend="aws",
    region="eu-west-1",
    endpoint_url="http://127.0.0.1:9",
    local_transition_delay=2.5,
    pool_size=7,
    read_timeout=2.5,
    retry_mode="adaptive",
    port=0,
    workers=3,
    cost_extension=True,
    graphiql=False,
    cors_origins=("https://a.example", "https://b.example"),
    cache="redis",
    redis_url="redis://127.0.0.1:1/0",
    rate_limit="5/second",
    # A readable file, as the parser demands.
    api_keys_file=__file__,
)


def test_every_field_is_a_declared_setting_with_a_variable_of_its_own() -> None:
    names = [variable.name for _, variable in VARIABLES]
    assert [field.name for field, _ in VARIABLES] == [f.name for f in dataclasses.fields(Settings)]
    assert len(set(names)) == len(names)
    assert all(name.startswith("SMGQL_") for name in names)


def test_the_workers_environment_reads_back_as_the_same_settings() -> None:
    assert Settings.from_env(environment_of(CHANGED)) == CHANGED


def test_defaults_export_nothing_unset_and_read_back_as_defaults() -> None:
    exported = environment_of(Settings())
    assert "SMGQL_REDIS_URL" not in exported
    assert Settings.from_env(exported) == Settings()


def test_a_transition_delay_for_an_endpoint_not_embedded_is_ignored_and_said_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(endpoint_url="http://127.0.0.1:9", local_transition_delay=5)
    with ExitStack() as stack:
        assert with_embedded_endpoint(settings, stack) == settings
    [warning] = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert "SMGQL_LOCAL_TRANSITION_DELAY is ignored" in warning.getMessage()
