"""Fixtures for the client's network tests: a self-signed certificate and local servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clerk_servers import ConnectProxy, JsonServer, server_context, write_certificate


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed CA certificate for 127.0.0.1, localhost and clerk.test, and its key."""
    return write_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[JsonServer]:
    """A JSON server behind TLS with the self-signed certificate."""
    s = JsonServer(tls=server_context(certificate))
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def proxy() -> AsyncIterator[ConnectProxy]:
    """A CONNECT proxy on 127.0.0.1 (tunnels always lead to 127.0.0.1)."""
    p = ConnectProxy()
    await p.start()
    yield p
    await p.stop()
