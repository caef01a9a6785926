"""Starting and stopping the sandbox: the thread server, the private endpoints, the CLI command."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import httpx
import pytest
from click.testing import CliRunner
from sandbox_helpers import headers

from migrate.cli import main
from migrate.errors import SandboxError
from migrate.sandbox import SandboxConfig, SandboxHandle, running_sandbox
from migrate.sandbox.coalesce import _CoalescingTransport
from migrate.sandbox.server import bind_socket


def test_running_sandbox_serves_then_stops() -> None:
    """running_sandbox listens on 127.0.0.1 for the with-block and not after it."""
    with running_sandbox(SandboxConfig.for_tests()) as handle:
        assert handle.url.startswith("http://127.0.0.1:")
        health = httpx.get(f"{handle.url}/_sandbox/health")
        assert health.json() == {"ok": True, "instance": "development"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{handle.url}/_sandbox/health")


def test_busy_port_is_a_sandbox_error() -> None:
    """Asking for a port that is taken raises SandboxError naming the port."""
    taken = bind_socket(0)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(SandboxError, match=f"127.0.0.1:{port}.*in use"):
            bind_socket(port)
    finally:
        taken.close()


def test_handle_repr_hides_the_key(sandbox: SandboxHandle) -> None:
    """Neither the handle's nor the config's repr shows the secret key."""
    assert sandbox.secret_key not in repr(sandbox)
    assert sandbox.secret_key not in repr(sandbox.app.config)


def test_counters_and_reset(sandbox: SandboxHandle) -> None:
    """/_sandbox/counters reports traffic and users; /_sandbox/reset empties the instance."""
    with httpx.Client(base_url=sandbox.url, headers=headers(sandbox)) as client:
        client.post("/v1/users", json={"external_id": "a"})
        client.get("/v1/users/count")
        counters = client.get("/_sandbox/counters").json()
        assert counters == {
            "requests": 2,
            "fapi_requests": 0,
            "creates": 1,
            "deletes": 0,
            "updates": 0,
            "verifications": 0,
            "rate_limited": 0,
            "users": 1,
            "by_status": {"200": 2},
            "rejections": {},
            "faults": {},
            "org_writes": {},
        }
        assert sandbox.counters() == counters
        assert client.post("/_sandbox/reset").json() == {"reset": True}
        assert client.get("/v1/users/count").json()["total_count"] == 0
        # Ids keep counting after a reset, so an old id never names a new user.
        assert client.post("/v1/users", json={"external_id": "a"}).status_code == 200


def test_cli_prints_url_and_key_and_stops_on_ctrl_c() -> None:
    """`clerk-migrate sandbox` prints a working URL and key; SIGINT stops it with exit 0."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "migrate",
            "sandbox",
            "--port",
            "0",
            "--seed",
            "3",
            "--rate-limit",
            "7",
            "--org-role",
            "org:owner",
            "--org-role",
            "org:viewer",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        exports = dict(line.removeprefix("export ").strip().split("=", 1) for line in lines[1:4])
        url, key = exports["CLERK_API_URL"], exports["CLERK_SECRET_KEY"]
        assert key == SandboxConfig(seed=3).with_key().secret_key
        assert exports["CLERK_PUBLISHABLE_KEY"].startswith("pk_test_")
        assert "rate limit: 7 requests / 10 s; user cap: 100" in lines[4]
        assert "organizations: org:owner, org:viewer" in lines[4]
        response = httpx.post(f"{url}/v1/users", json={"external_id": "x"}, headers=headers(key))
        assert response.status_code == 200
        roles = httpx.get(f"{url}/v1/organization_roles", headers=headers(key)).json()
        assert [r["key"] for r in roles["data"]] == ["org:owner", "org:viewer"]
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "sandbox stopped" in err


def test_cli_stops_cleanly_on_a_signal_right_after_it_printed_its_url() -> None:
    """A Ctrl-C or SIGTERM sent as soon as the URL is printed still ends in a clean exit 0."""
    procs = {
        sig: subprocess.Popen(
            [sys.executable, "-m", "migrate", "sandbox"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for sig in (signal.SIGINT, signal.SIGTERM)  # started together: half the wait
    }
    for sig, proc in procs.items():
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("# Clerk sandbox")
        proc.send_signal(sig)
    for proc in procs.values():
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert err.strip() == "# sandbox stopped"


def test_cli_refuses_contradictory_settings() -> None:
    """Requiring phone numbers while disabling them is a usage error (exit 2), clearly worded."""
    result = CliRunner().invoke(main, ["sandbox", "--require", "phone_number", "--no-phone"])
    assert result.exit_code == 2
    assert "phone_number cannot be both required and disabled" in result.output


def test_cli_reports_a_busy_port() -> None:
    """A taken --port is a run error (exit 1) naming the port."""
    taken = bind_socket(0)
    port = taken.getsockname()[1]
    try:
        result = CliRunner().invoke(main, ["sandbox", "--port", str(port)])
    finally:
        taken.close()
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


@pytest.mark.anyio
async def test_writes_of_one_loop_turn_leave_in_one_send() -> None:
    """The coalescing transport passes headers and body on as one write; close flushes first."""

    class Recorder(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.writes: list[bytes] = []
            self.closed = False

        def write(self, data: bytes | bytearray | memoryview) -> None:
            self.writes.append(bytes(data))

        def is_closing(self) -> bool:
            return self.closed

        def close(self) -> None:
            self.closed = True

    real = Recorder()
    proxy = _CoalescingTransport(real, asyncio.get_running_loop())
    proxy.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    proxy.write(b"{}")
    assert real.writes == []
    await asyncio.sleep(0)
    assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    proxy.write(b"bye")
    proxy.close()
    assert real.writes[-1] == b"bye"
    assert real.closed
    assert proxy.is_closing()  # everything else is the real transport's
