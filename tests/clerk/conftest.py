"""Fixtures for the client tests: scripted servers on 127.0.0.1, plain and TLS."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clerk_servers import ScriptedServer, write_certificate


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    """A scripted server on 127.0.0.1, stopped after the test."""
    s = ScriptedServer()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for 127.0.0.1, as PEM files."""
    return write_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[ScriptedServer]:
    """The scripted server behind TLS with the self-signed certificate."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    s = ScriptedServer(tls=context)
    await s.start()
    yield s
    await s.stop()
