"""Seeded faults: 5xx, latency, lost responses and stalls, over a real socket and in-process."""

from __future__ import annotations

import statistics
from collections.abc import Callable

import httpx
import pytest
from sandbox_helpers import assert_errors, headers, wait_until

from migrate.errors import ConfigError
from migrate.sandbox import FaultConfig, InProcessSandbox, SandboxConfig, SandboxHandle
from migrate.sandbox.faults import Faults

MakeLive = Callable[..., SandboxHandle]
MakeAsgi = Callable[..., InProcessSandbox]


def faulty(**faults: object) -> SandboxConfig:
    return SandboxConfig.for_tests(faults=FaultConfig(**faults))  # type: ignore[arg-type]


def test_fault_plans_follow_the_rates_and_the_seed() -> None:
    """Drawn 5xx and lost fractions match the configured rates, and a seed replays exactly."""
    config = FaultConfig(error_rate=0.2, lost_rate=0.1)
    faults = Faults(config, seed=42)
    plans = [faults.plan(is_create=True) for _ in range(5000)]
    errors = sum(p.error_status is not None for p in plans) / len(plans)
    lost = sum(p.lose for p in plans) / len(plans)
    assert 0.17 < errors < 0.23
    assert 0.06 < lost < 0.10  # 10 % of the 80 % that did not fail
    again = Faults(config, seed=42)
    assert [again.plan(is_create=True) for _ in range(5000)] == plans
    other = Faults(config, seed=43)
    assert [other.plan(is_create=True) for _ in range(5000)] != plans


def test_only_creates_are_lost() -> None:
    """lost_rate applies to creates only; other requests are never lost."""
    faults = Faults(FaultConfig(lost_rate=1.0), seed=1)
    assert all(not faults.plan(is_create=False).lose for _ in range(100))
    assert all(faults.plan(is_create=True).lose for _ in range(100))


def test_latency_is_a_lognormal_with_the_configured_mean() -> None:
    """Delays average the configured mean and have a long tail (p99 well above the median)."""
    faults = Faults(FaultConfig(latency_mean_ms=150, latency_sigma=0.8), seed=7)
    delays = sorted(faults.plan(is_create=True).delay for _ in range(20_000))
    assert 0.140 < statistics.fmean(delays) < 0.160
    median, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99)]
    assert median < 0.150 < p99
    assert p99 > 3 * median


def test_fault_rates_are_validated() -> None:
    """Rates outside [0, 1] and non-5xx error statuses are configuration errors."""
    with pytest.raises(ConfigError, match="error_rate"):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ConfigError, match="5xx"):
        FaultConfig(error_statuses=(404,))


def test_5xx_faults_store_nothing(make_sandbox: MakeLive) -> None:
    """An injected 500 is Clerk's internal_clerk_error, a 502/503 a non-JSON gateway page."""
    handle = make_sandbox(faulty(error_rate=1.0, error_statuses=(500,)))
    response = httpx.post(
        f"{handle.url}/v1/users", json={"external_id": "x"}, headers=headers(handle)
    )
    assert_errors(response, 500, "internal_clerk_error")
    gateway = make_sandbox(faulty(error_rate=1.0, error_statuses=(502,)))
    response = httpx.post(
        f"{gateway.url}/v1/users", json={"external_id": "x"}, headers=headers(gateway)
    )
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert len(handle.store) == len(gateway.store) == 0
    assert handle.counters()["faults"] == {"error": 1}


def test_seeded_5xx_sequence_replays(make_sandbox: MakeLive) -> None:
    """Two sandboxes with the same seed fail the same requests."""
    runs = []
    for _ in range(2):
        handle = make_sandbox(SandboxConfig.for_tests(seed=5, faults=FaultConfig(error_rate=0.5)))
        with httpx.Client(base_url=handle.url, headers=headers(handle)) as client:
            runs.append([client.get("/v1/users/count").status_code for _ in range(30)])
    assert runs[0] == runs[1]
    assert {200} < set(runs[0])


def test_latency_fault_delays_but_answers(make_sandbox: MakeLive) -> None:
    """Requests under injected latency still succeed, and each delay is counted."""
    handle = make_sandbox(faulty(latency_mean_ms=2, latency_sigma=0.5))
    with httpx.Client(base_url=handle.url, headers=headers(handle)) as client:
        assert all(client.get("/v1/users").status_code == 200 for _ in range(5))
    assert handle.counters()["faults"] == {"latency": 5}


def test_lost_response_over_a_socket(make_sandbox: MakeLive) -> None:
    """A lost create closes the connection without a response, yet the user exists afterwards."""
    handle = make_sandbox(faulty(lost_rate=1.0))
    with httpx.Client(base_url=handle.url, headers=headers(handle)) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/users", json={"external_id": "legacy-9"})
        found = client.get("/v1/users", params={"external_id": "+legacy-9"})
    assert [u["external_id"] for u in found.json()] == ["legacy-9"]
    counters = handle.counters()
    assert counters["creates"] == 1
    assert counters["faults"] == {"lost": 1}
    assert counters["by_status"] == {"200": 1}  # the lookup; the lost create sent nothing


@pytest.mark.anyio
async def test_lost_response_in_process(make_sandbox_asgi: MakeAsgi) -> None:
    """In-process, a lost create raises httpx.RemoteProtocolError after storing the user."""
    sandbox = make_sandbox_asgi(faulty(lost_rate=1.0))
    async with sandbox.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/v1/users", json={"external_id": "legacy-9"})
    assert sandbox.store.get_by_external_id("legacy-9") is not None


def test_stall_before_store_times_out_and_stores_nothing(make_sandbox: MakeLive) -> None:
    """A stalled create outlives the client's timeout; once the client leaves it is dropped."""
    handle = make_sandbox(faulty(stall_rate=1.0, stall_seconds=5))
    with (
        httpx.Client(base_url=handle.url, headers=headers(handle), timeout=0.2) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post("/v1/users", json={"external_id": "legacy-1"})
    wait_until(lambda: handle.counters()["faults"] == {"stall": 1})
    assert len(handle.store) == 0


def test_stall_after_store_times_out_with_the_user_stored(make_sandbox: MakeLive) -> None:
    """With stall_after_store the create is stored, then the response stalls past the timeout."""
    handle = make_sandbox(faulty(stall_rate=1.0, stall_seconds=5, stall_after_store=True))
    with (
        httpx.Client(base_url=handle.url, headers=headers(handle), timeout=0.2) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post("/v1/users", json={"external_id": "legacy-1"})
    wait_until(lambda: handle.store.get_by_external_id("legacy-1") is not None)


def test_short_stall_still_answers(make_sandbox: MakeLive) -> None:
    """A client patient enough to outlast stall_seconds gets its normal answer."""
    handle = make_sandbox(faulty(stall_rate=1.0, stall_seconds=0.05))
    response = httpx.post(
        f"{handle.url}/v1/users", json={"external_id": "x"}, headers=headers(handle)
    )
    assert response.status_code == 200
    assert len(handle.store) == 1


@pytest.mark.anyio
async def test_stall_in_process_honours_the_client_timeout(make_sandbox_asgi: MakeAsgi) -> None:
    """In-process, the transport enforces the read timeout: httpx.ReadTimeout, nothing stored."""
    sandbox = make_sandbox_asgi(faulty(stall_rate=1.0, stall_seconds=5))
    async with sandbox.client(timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post("/v1/users", json={"external_id": "legacy-1"})
    assert len(sandbox.store) == 0


def test_faults_spare_the_private_endpoints(make_sandbox: MakeLive) -> None:
    """/_sandbox endpoints are never faulted, so tests can always read the counters."""
    handle = make_sandbox(faulty(error_rate=1.0))
    for _ in range(5):
        assert httpx.get(f"{handle.url}/_sandbox/counters").status_code == 200
