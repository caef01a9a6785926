"""Fixtures for the sandbox's own tests: one live server per module.

``api`` is a synchronous httpx client on a real socket to a module-wide sandbox whose users,
counters and rate windows are wiped before each test, so every test starts from an empty
instance without paying for a server start.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sandbox_helpers import headers

from migrate.sandbox import SandboxConfig, SandboxHandle, running_sandbox


@pytest.fixture(scope="module")
def live() -> Iterator[SandboxHandle]:
    """One real-socket sandbox for the whole module (limits and cap off)."""
    with running_sandbox(SandboxConfig.for_tests()) as handle:
        yield handle


@pytest.fixture
def api(live: SandboxHandle) -> Iterator[httpx.Client]:
    """A client for the module's sandbox, emptied before the test."""
    live.reset()
    with httpx.Client(base_url=live.url, headers=headers(live), timeout=10) as client:
        yield client
