"""What every /v1 request passes first: the secret key, the API version, the rate limit."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sandbox_helpers import API_VERSION, assert_errors, headers

from migrate.errors import ConfigError
from migrate.sandbox import SandboxConfig, SandboxHandle
from migrate.sandbox.limits import RateLimiter


def test_missing_authorization_is_401(live: SandboxHandle) -> None:
    """No Authorization header is 401 authorization_header_format_invalid."""
    response = httpx.get(f"{live.url}/v1/users")
    assert_errors(response, 401, "authorization_header_format_invalid")


def test_malformed_authorization_is_401(live: SandboxHandle) -> None:
    """A header that is not 'Bearer <key>' is 401 authorization_header_format_invalid."""
    response = httpx.get(f"{live.url}/v1/users", headers={"Authorization": live.secret_key})
    assert_errors(response, 401, "authorization_header_format_invalid")


@pytest.mark.parametrize("key", ["sk_test_wrong", "sk_live_wrong", "pk_test_abc"])
def test_wrong_key_is_clerk_key_invalid(live: SandboxHandle, key: str) -> None:
    """A bearer key that is not the instance's is 401 clerk_key_invalid, and is not echoed back."""
    response = httpx.get(f"{live.url}/v1/users", headers=headers(key))
    assert_errors(response, 401, "clerk_key_invalid")
    assert key not in response.text


def test_keys_match_the_instance_type(make_sandbox: Callable[..., SandboxHandle]) -> None:
    """A development sandbox issues sk_test_ keys, a production one sk_live_ keys."""
    assert make_sandbox(SandboxConfig.for_tests()).secret_key.startswith("sk_test_")
    prod = make_sandbox(SandboxConfig.for_tests(instance="production"))
    assert prod.secret_key.startswith("sk_live_")
    assert httpx.get(f"{prod.url}/v1/users/count", headers=headers(prod)).status_code == 200


def test_given_key_must_match_instance() -> None:
    """A key whose prefix contradicts the instance type is refused, without echoing it."""
    with pytest.raises(ConfigError, match="sk_live_") as err:
        SandboxConfig(instance="production", secret_key="sk_test_secret123")
    assert "secret123" not in str(err.value)
    assert "secret123" not in repr(SandboxConfig(secret_key="sk_test_secret123"))


def test_seeded_key_is_reproducible() -> None:
    """The same seed generates the same key, so scripted rehearsals can reuse it."""
    assert (
        SandboxConfig(seed=7).with_key().secret_key == SandboxConfig(seed=7).with_key().secret_key
    )
    assert (
        SandboxConfig(seed=7).with_key().secret_key != SandboxConfig(seed=8).with_key().secret_key
    )


@pytest.mark.parametrize(
    "version", ["2021-02-05", "2024-10-01", "2025-04-10", "2025-11-10", "2026-05-12"]
)
def test_known_api_versions_pass(api: httpx.Client, version: str) -> None:
    """Every published Clerk-API-Version is accepted."""
    assert api.get("/v1/users", headers={"Clerk-API-Version": version}).status_code == 200


def test_no_version_is_accepted(live: SandboxHandle) -> None:
    """A request without any version selector is served (the instance default applies)."""
    response = httpx.get(
        f"{live.url}/v1/users", headers={"Authorization": f"Bearer {live.secret_key}"}
    )
    assert response.status_code == 200


def test_bad_version_is_400(api: httpx.Client) -> None:
    """An unknown Clerk-API-Version is 400 api_version_invalid."""
    assert_errors(
        api.get("/v1/users", headers={"Clerk-API-Version": "2023-01-01"}),
        400,
        "api_version_invalid",
    )


def test_version_in_query_works_alone_but_not_with_header(live: SandboxHandle) -> None:
    """__clerk_api_version alone is fine; together with the header it is 400 api_version_invalid."""
    auth = {"Authorization": f"Bearer {live.secret_key}"}
    url = f"{live.url}/v1/users?__clerk_api_version={API_VERSION}"
    assert httpx.get(url, headers=auth).status_code == 200
    both = httpx.get(url, headers={**auth, "Clerk-API-Version": API_VERSION})
    assert_errors(both, 400, "api_version_invalid")


def test_unknown_route_is_resource_not_found(api: httpx.Client) -> None:
    """A path outside the served API is a Clerk-shaped 404."""
    assert_errors(api.get("/v1/invitations"), 404, "resource_not_found")


def test_rate_limit_429_with_retry_after(make_sandbox: Callable[..., SandboxHandle]) -> None:
    """Past N requests per window every endpoint gets 429 too_many_requests + Retry-After."""
    handle = make_sandbox(SandboxConfig.for_tests(rate_limit=5, rate_window=30))
    with httpx.Client(base_url=handle.url, headers=headers(handle)) as client:
        statuses = [client.get("/v1/users/count").status_code for _ in range(5)]
        assert statuses == [200] * 5
        for response in (client.get("/v1/users"), client.post("/v1/users", json={})):
            assert_errors(response, 429, "too_many_requests")
            assert 1 <= int(response.headers["Retry-After"]) <= 30
        # The private endpoints are never limited.
        counters = client.get("/_sandbox/counters").json()
    assert counters["rate_limited"] == 2
    assert counters["by_status"]["429"] == 2
    assert counters["users"] == 0


def test_bad_keys_do_not_spend_the_instance_budget(
    make_sandbox: Callable[..., SandboxHandle],
) -> None:
    """Requests refused for their key are not counted against the key's rate limit."""
    handle = make_sandbox(SandboxConfig.for_tests(rate_limit=2, rate_window=30))
    for _ in range(5):
        httpx.get(f"{handle.url}/v1/users", headers=headers("sk_test_wrong"))
    ok = [
        httpx.get(f"{handle.url}/v1/users", headers=headers(handle)).status_code for _ in range(2)
    ]
    assert ok == [200, 200]


def test_documented_limits_are_the_defaults() -> None:
    """Production allows 1000 and development 100 requests per 10 s; dev holds 100 users."""
    dev, prod = SandboxConfig(), SandboxConfig(instance="production")
    assert (dev.effective_rate_limit, dev.rate_window, dev.effective_user_cap) == (100, 10.0, 100)
    assert (prod.effective_rate_limit, prod.effective_user_cap) == (1000, 0)
    assert SandboxConfig(rate_limit=0).effective_rate_limit == 0


def test_limiter_window_reopens_and_retry_after_counts_down() -> None:
    """The window admits N requests, tells how long to wait, then admits N again after it ends."""
    now = [100.0]
    limiter = RateLimiter(3, 10.0, clock=lambda: now[0])
    assert [limiter.check("k") for _ in range(3)] == [None, None, None]
    assert limiter.check("k") == 10
    now[0] += 7.2
    assert limiter.check("k") == 3
    assert limiter.check("other") is None  # per key
    now[0] += 2.8
    assert limiter.check("k") is None


def test_limit_zero_means_unlimited() -> None:
    """A limit of 0 never refuses."""
    limiter = RateLimiter(0, 10.0, clock=lambda: 0.0)
    assert all(limiter.check("k") is None for _ in range(10_000))


def test_every_response_carries_a_trace_id(api: httpx.Client) -> None:
    """Each /v1 response has its own Clerk-Trace-Id header (error bodies repeat it)."""
    first, second = api.get("/v1/users"), api.get("/v1/users")
    assert len(first.headers["clerk-trace-id"]) == 32
    assert first.headers["clerk-trace-id"] != second.headers["clerk-trace-id"]
