"""``sync`` rides out an outage like ``run``: no connection pauses sending and probes, and past
``--outage-limit`` the sync stops resumably (``clerk_unreachable``), its keys left in_flight."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from test_send import MAPPING, user, write

from migrate._internal.clerk.outcomes import Transient
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.sync_send import SyncOptions, SyncTally, _Sender
from migrate.cli import main
from migrate.errors import RunAbortedError
from migrate.sandbox import SandboxConfig, running_sandbox

DOWN = Transient("connection", ambiguous=False)


def sender(outage_limit: float) -> tuple[_Sender, Pacer, SyncTally]:
    """A sync sender whose pacer probes every 10 ms (no client: the tests call ``call``)."""
    pacer = Pacer(1000.0, probe_first=0.01, probe_max=0.01)
    tally = SyncTally()
    options = SyncOptions(outage_limit=outage_limit)
    return _Sender(None, pacer, options, tally), pacer, tally  # type: ignore[arg-type]


def answers(*replies: object) -> Callable[[], Awaitable[object]]:
    """A request answering ``replies`` in turn, then the last one for ever."""
    left = list(replies)

    async def request() -> object:
        return left.pop(0) if len(left) > 1 else left[0]

    return request


def test_a_short_outage_is_ridden_out_and_the_request_sent_again() -> None:
    """Three refused connections, then an answer: the call returns the answer (no attempt
    spent), the pacer counts one outage, and four requests left."""
    send, pacer, tally = sender(outage_limit=30.0)
    got = anyio.run(send.call, answers(DOWN, DOWN, DOWN, "answer"))
    assert got == "answer"
    assert pacer.stats.outages == 1
    assert tally.requests == 4


def test_an_outage_past_the_limit_stops_the_sync() -> None:
    """Clerk never comes back: past ``outage_limit`` the call raises clerk_unreachable."""
    send, pacer, _ = sender(outage_limit=0.05)
    with pytest.raises(RunAbortedError) as raised:
        anyio.run(send.call, answers(DOWN))
    assert raised.value.code == "clerk_unreachable"
    assert "Clerk has been unreachable for" in str(raised.value)
    assert pacer.stats.outages == 1


def test_sync_stops_resumably_when_the_instance_goes_away(tmp_path: Path) -> None:
    """Migrated, then the instance goes away: ``sync --outage-limit 0.5`` ends with exit 1 and
    one error naming the outage (not 300 s, no traceback); its keys stay in_flight."""
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    first = write(tmp_path / "first.csv", [user(i) for i in range(1, 4)])
    newer = write(tmp_path / "newer.csv", [user(i, first=f"New{i}") for i in range(1, 4)])
    run_dir = tmp_path / "run"
    with running_sandbox(SandboxConfig.for_tests()) as handle:
        env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
        args = ["run", str(first), "--mapping", str(mapping), "--run-dir", str(run_dir), "-q"]
        assert CliRunner().invoke(main, args, env=env).exit_code == 0
        port = int(handle.url.rsplit(":", 1)[1])
    with socket.socket() as held:  # bound, not listening: refused, and no one else gets it
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", port))
        args = ["sync", str(newer), "--mapping", str(mapping), "--run-dir", str(run_dir)]
        result = CliRunner().invoke(main, [*args, "--outage-limit", "0.5"], env=env)
    assert result.exit_code == 1, result.output
    assert "Error: Clerk has been unreachable for" in result.stderr
    assert "then run the same sync again" in result.stderr
    assert "Traceback" not in result.output
    with sqlite3.connect(run_dir / "state.sqlite") as db:
        states = dict(db.execute("SELECT state, count(*) FROM sync_rows GROUP BY state"))
    assert states == {"in_flight": 3}, states
