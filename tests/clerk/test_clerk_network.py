"""The client's network: TLS trust (OS store, SSL_CERT_FILE, --ca-bundle) and the proxy route."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from clerk_servers import ConnectProxy, JsonServer, server_context, write_certificate

from migrate._internal.clerk.client import TLS_CODE, ClerkClient
from migrate._internal.clerk.network import Network, Route, check_ca_bundle, check_proxy, mask
from migrate._internal.clerk.outcomes import Counted, Rejected, Transient
from migrate._internal.clerk.retry import Action, classify
from migrate._internal.runner.engine import EngineSettings, execute
from migrate._internal.runner.ledger import StoreLedger
from migrate._internal.secrets import Secret
from migrate._internal.state import Fingerprints, PlanRow, RowState, StateStore

pytestmark = pytest.mark.anyio

KEY = "sk_test_" + "n" * 40


async def _count(url: str, network: Network) -> object:
    async with ClerkClient(url, Secret(KEY), network=network) as clerk:
        return await clerk.count_users()


async def test_an_untrusted_certificate_is_refused_with_its_cause_and_the_fix(
    tls_server: JsonServer,
) -> None:
    """Without the CA the handshake fails, nothing is sent, and the outcome names the
    certificate problem and --ca-bundle; it aborts rather than retries."""
    outcome = await _count(tls_server.url(), Network(environ={}))
    assert isinstance(outcome, Rejected)
    assert outcome.code == TLS_CODE
    assert "self-signed certificate" in (outcome.message or "")
    assert "--ca-bundle" in (outcome.message or "")
    assert classify(outcome) is Action.ABORT
    assert tls_server.requests == []


async def test_the_ca_bundle_makes_the_certificate_trusted(
    tls_server: JsonServer, certificate: tuple[Path, Path]
) -> None:
    """--ca-bundle adds the corporate CA to the OS store: the same server is now accepted."""
    outcome = await _count(tls_server.url(), Network(ca_bundle=certificate[0], environ={}))
    assert outcome == Counted(7)
    assert len(tls_server.requests) == 1


async def test_ssl_cert_file_is_honoured(
    tls_server: JsonServer, certificate: tuple[Path, Path]
) -> None:
    """SSL_CERT_FILE, the standard variable, adds its certificates too."""
    env = {"SSL_CERT_FILE": str(certificate[0])}
    assert await _count(tls_server.url("localhost"), Network(environ=env)) == Counted(7)


async def test_the_host_name_is_always_verified(tmp_path: Path) -> None:
    """A trusted certificate issued for another name is refused (host name mismatch)."""
    other = write_certificate(tmp_path / "other", ("other.test",))
    server = JsonServer(tls=server_context(other))
    await server.start()
    try:
        outcome = await _count(server.url(), Network(ca_bundle=other[0], environ={}))
    finally:
        await server.stop()
    assert isinstance(outcome, Rejected)
    assert outcome.code == TLS_CODE
    assert "mismatch" in (outcome.message or "")
    assert server.requests == []


async def test_the_proxy_option_tunnels_tls_and_sees_no_secret(
    tls_server: JsonServer, certificate: tuple[Path, Path], proxy: ConnectProxy
) -> None:
    """--proxy: one CONNECT to Clerk's host, TLS inside; the proxy never sees the key."""
    network = Network(proxy=proxy.url, ca_bundle=certificate[0], environ={})
    async with ClerkClient(tls_server.url("clerk.test"), Secret(KEY), network=network) as clerk:
        for _ in range(3):
            assert await clerk.count_users() == Counted(7)
    assert len(proxy.heads) == 1
    assert proxy.heads[0].startswith(f"CONNECT clerk.test:{tls_server.port} ".encode())
    assert KEY.encode() not in bytes(proxy.relayed)
    assert len(tls_server.requests) == 3


async def test_https_proxy_from_the_environment_is_used(
    tls_server: JsonServer, certificate: tuple[Path, Path], proxy: ConnectProxy
) -> None:
    """HTTPS_PROXY routes the requests when --proxy is not given."""
    network = Network(ca_bundle=certificate[0], environ={"HTTPS_PROXY": proxy.url})
    assert await _count(tls_server.url("clerk.test"), network) == Counted(7)
    assert len(proxy.heads) == 1


async def test_a_proxy_wanting_credentials_gets_them_from_the_url(
    tls_server: JsonServer, certificate: tuple[Path, Path]
) -> None:
    """user:password in the proxy URL becomes Proxy-Authorization; without it the 407 is a
    connection failure, not a Clerk answer."""
    guarded = ConnectProxy(credentials="ops:s3cret!")
    await guarded.start()
    try:
        url = tls_server.url("clerk.test")
        with_login = guarded.url.replace("http://", "http://ops:s3cret%21@")
        good = Network(proxy=with_login, ca_bundle=certificate[0], environ={})
        bad = Network(proxy=guarded.url, ca_bundle=certificate[0], environ={})
        assert await _count(url, good) == Counted(7)
        refused = await _count(url, bad)
    finally:
        await guarded.stop()
    assert isinstance(refused, Transient)
    assert refused.kind == "connection"
    assert not refused.ambiguous


def test_the_route_follows_option_then_environment_then_no_proxy() -> None:
    """--proxy beats HTTPS_PROXY; NO_PROXY exempts a host; loopback is always direct."""
    env = {"HTTPS_PROXY": "http://env.proxy:3128", "NO_PROXY": "internal.corp"}
    clerk = "https://api.clerk.com/v1"
    assert Network(environ=env).route(clerk) == Route("http://env.proxy:3128", "HTTPS_PROXY")
    option = Network(proxy="http://opt.proxy:8080", environ=env)
    assert option.route(clerk) == Route("http://opt.proxy:8080", "--proxy")
    assert Network(environ=env).route("https://api.internal.corp") == Route(
        None, "direct (NO_PROXY)"
    )
    assert Network(environ=env).route("http://127.0.0.1:8080").proxy is None
    assert Network(environ={"https_proxy": "http://low:1"}).route(clerk).proxy == "http://low:1"
    assert Network(environ={}).route(clerk) == Route(None, "direct")


def test_the_route_is_described_without_credentials() -> None:
    """The banner's words name the proxy and where it came from, never its password."""
    route = Network(proxy="http://ops:hunter2@proxy.corp:3128", environ={}).route(
        "https://api.clerk.com"
    )
    assert route.describe() == "proxy http://***@proxy.corp:3128 (--proxy)"
    assert "hunter2" not in repr(route)
    assert mask("http://proxy.corp:3128") == "http://proxy.corp:3128"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("socks5://127.0.0.1:1080", "must start with http:// or https://"),
        ("http://:3128", "has no host"),
        ("http://proxy.corp:3128/path", "must be just"),
        ("http://proxy.corp:port", "malformed"),
    ],
)
def test_a_bad_proxy_url_is_refused_with_the_reason(url: str, message: str) -> None:
    """Each unusable proxy URL is refused, saying why."""
    with pytest.raises(ValueError, match=message):
        check_proxy(url)


def test_a_bad_ca_bundle_is_refused_naming_the_file(tmp_path: Path) -> None:
    """A missing file or one that holds no PEM certificate is refused before any work."""
    with pytest.raises(ValueError, match="no such file"):
        check_ca_bundle(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=r"junk\.pem: cannot load CA certificates"):
        check_ca_bundle(junk)


async def test_a_run_stops_at_the_first_certificate_failure(
    tls_server: JsonServer, tmp_path: Path
) -> None:
    """A pass against an untrusted certificate aborts with tls_certificate_invalid at once: no
    row is failed or retried, every row is pending again, and nothing reached the server."""
    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    store.plan(PlanRow(r, f"u{r}", f"u{r}", f"u{r}@example.com") for r in range(2, 42))

    def payloads(rows: Sequence[int]) -> Iterator[Any]:
        for row in rows:
            body = {"external_id": f"u{row}", "email_address": [f"u{row}@example.com"]}
            yield SimpleNamespace(row=row, key=f"u{row}", body=body)

    settings = EngineSettings(rate=1000.0, concurrency=4)
    async with ClerkClient(tls_server.url(), Secret(KEY), network=Network(environ={})) as clerk:
        with anyio.fail_after(10):
            outcome = await execute(clerk, StoreLedger(store), payloads, settings)
    assert outcome.abort_code == TLS_CODE
    assert "--ca-bundle" in (outcome.abort_message or "")
    assert outcome.retries == 0
    assert outcome.pacing.requests <= 4  # at most one attempt per worker before the stop
    assert store.counts()[RowState.PENDING] == 40
    assert tls_server.requests == []
