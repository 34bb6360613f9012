"""The transport's choices that need no endpoint: the proxy from the environment (and one it
cannot speak to), and answer timestamps in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.sagemaker.http import ConnectionPool
from app.sagemaker.transport import proxy_for, utc_timestamp


def test_the_proxy_comes_from_the_environment_for_the_endpoints_scheme(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    url = "https://api.sagemaker.us-east-1.amazonaws.com"
    assert proxy_for(url) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxy_for(url) == "http://proxy.internal:3128"
    assert proxy_for("http://127.0.0.1:8001") is None
    # Without a scheme, plain HTTP, as botocore reads it.
    monkeypatch.setenv("HTTPS_PROXY", "proxy.internal:3128")
    assert proxy_for(url) == "http://proxy.internal:3128"
    monkeypatch.setenv("HTTPS_PROXY", "//proxy.internal:3128")
    assert proxy_for(url) == "http://proxy.internal:3128"
    # Another scheme stays as it is, for the transport to refuse by name.
    monkeypatch.setenv("HTTPS_PROXY", "socks5://proxy.internal:1080")
    assert proxy_for(url) == "socks5://proxy.internal:1080"
    monkeypatch.setenv("NO_PROXY", ".amazonaws.com")
    assert proxy_for(url) is None


def test_answer_timestamps_are_in_utc() -> None:
    assert utc_timestamp(1700000000.5) == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert utc_timestamp(1700000000.5).tzinfo is UTC
    assert utc_timestamp("2023-11-14T22:13:20Z") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_a_proxy_the_transport_cannot_speak_to_is_refused_by_name_without_its_credentials() -> None:
    with pytest.raises(ValueError, match=r"socks5://proxy\.internal") as refused:
        ConnectionPool(
            "http://127.0.0.1:8001",
            size=1,
            connect_timeout=1,
            read_timeout=1,
            idle_lifetime=1,
            ssl_context=None,
            proxy="socks5://user:secret@proxy.internal:1080",
        )
    assert "secret" not in str(refused.value)
