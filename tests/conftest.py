"""Shared fixtures: the Clerk sandbox, over a real socket and in-process.

- ``sandbox``: a fresh sandbox served by uvicorn on 127.0.0.1 in a thread (``SandboxHandle``:
  ``.url``, ``.secret_key``, ``.store``, ``.counters()``); limits and the user cap off.
- ``make_sandbox(config)``: the same with any ``SandboxConfig``; stopped after the test.
- ``sandbox_asgi``: a fresh in-process sandbox (``InProcessSandbox``: ``.transport`` for an
  ``httpx.AsyncClient``, ``.client()``, ``.url``, ``.secret_key``, ``.store``).
- ``make_sandbox_asgi(config)``: the in-process one with any config.

Test ids of digests made at import time (random salts) hide their random runs, so that every
pytest-xdist worker collects the same ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from migrate.sandbox import (
    InProcessSandbox,
    SandboxConfig,
    SandboxHandle,
    in_process_sandbox,
    running_sandbox,
)

_RANDOM_RUN = re.compile(r"[A-Za-z0-9./+]{8,}")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """A digest-like string parameter gets an id with its salt and hash shown as ``…``."""
    if isinstance(val, str) and "$" in val and len(val) >= 30:
        return _RANDOM_RUN.sub("…", val).replace("\n", "\\n")
    return None


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., SandboxHandle]]:
    """Start sandboxes on real sockets (``make_sandbox(config)``); all stop after the test."""
    with ExitStack() as stack:

        def start(config: SandboxConfig | None = None) -> SandboxHandle:
            return stack.enter_context(running_sandbox(config or SandboxConfig.for_tests()))

        yield start


@pytest.fixture
def sandbox(make_sandbox: Callable[..., SandboxHandle]) -> SandboxHandle:
    """A fresh sandbox on a real socket: development instance, limits and user cap off."""
    return make_sandbox()


@pytest.fixture
def make_sandbox_asgi() -> Callable[..., InProcessSandbox]:
    """Build in-process sandboxes: ``make_sandbox_asgi(config)``."""

    def build(config: SandboxConfig | None = None) -> InProcessSandbox:
        return in_process_sandbox(config or SandboxConfig.for_tests())

    return build


@pytest.fixture
def sandbox_asgi(make_sandbox_asgi: Callable[..., InProcessSandbox]) -> InProcessSandbox:
    """A fresh in-process sandbox: development instance, limits and user cap off."""
    return make_sandbox_asgi()
