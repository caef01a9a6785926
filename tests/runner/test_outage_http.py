"""Reconciliation over a real socket while the sandbox is down: rows left in_flight are looked
up once it is back (the outage ridden out, nothing sent twice), or, past the outage limit, the
pass aborts resumably with the outage's duration and a later pass finishes exactly once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.outcomes import ListOutcome, Transient
from migrate._internal.runner.engine import EngineSettings, RunOutcome, execute
from migrate._internal.runner.ledger import StoreLedger
from migrate._internal.runner.workers import WorkerSettings
from migrate._internal.secrets import Secret
from migrate._internal.state import Fingerprints, PlanRow, RowState, StateStore
from migrate.sandbox import SandboxConfig, SandboxHandle, running_sandbox

CONFIG = SandboxConfig.for_tests(seed=3)  # seeded: the same key every time it starts
ROWS = range(2, 42)  # 40 rows
CLAIMED = range(2, 32)  # 30 of them claimed by a process that died ...
LANDED = range(2, 17)  # ... after 15 of its creates reached Clerk


class P:
    """A payload as ``prepare`` yields it."""

    def __init__(self, row: int) -> None:
        self.row, self.key = row, f"u{row}"
        self.body: dict[str, Any] = {"external_id": f"u{row}", "email_address": [f"u{row}@x.io"]}


def payloads(rows: Sequence[int]) -> Iterator[P]:
    """Every row's CreateUser body."""
    return (P(r) for r in rows)


class Sandbox:
    """A sandbox on a fixed port whose users outlive its restarts (a state file).

    While it is down, a socket bound to the port without listening keeps it: connections are
    refused, and no other test's server can take the port meanwhile.
    """

    def __init__(self, tmp_path: Path) -> None:
        self.hold = socket.socket()
        self.hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.hold.bind(("127.0.0.1", 0))
        self.port: int = self.hold.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.state = tmp_path / "sandbox.json"
        self.go, self.up, self.done = threading.Event(), threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None

    @contextmanager
    def serving(self) -> Iterator[SandboxHandle]:
        """Serve on the port for the ``with`` block, then hold it again."""
        self.hold.close()
        try:
            with running_sandbox(CONFIG, port=self.port, state=self.state) as handle:
                yield handle
        finally:
            self.hold = socket.socket()
            self.hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.hold.bind(("127.0.0.1", self.port))

    def start_when_told(self) -> None:
        """Serve from when ``go`` is set until ``done`` is (in a thread)."""

        def serve() -> None:
            self.go.wait()
            with self.serving():
                self.up.set()
                self.done.wait()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving (saving the users) and wait for it."""
        self.go.set()
        self.done.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None


def crashed_run(tmp_path: Path, sandbox: Sandbox) -> StateStore:
    """A state DB as a dead process left it: 30 rows in_flight, 15 of them created in Clerk."""
    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    store.plan(PlanRow(r, f"u{r}", f"u{r}", f"u{r}@x.io") for r in ROWS)
    store.claim(list(CLAIMED))
    with (
        sandbox.serving() as handle,
        httpx.Client(base_url=handle.url) as http,
    ):
        for r in LANDED:
            sent = http.post(
                "/v1/users",
                json=P(r).body,
                headers={"Authorization": f"Bearer {handle.secret_key}"},
            )
            sent.raise_for_status()
    return store


class CountingApi:
    """``ClerkClient`` that counts lookups refused for want of a connection, and says when."""

    def __init__(self, client: ClerkClient, after: int, then: threading.Event) -> None:
        self.client = client
        self.create_user = client.create_user
        self.refused, self.after, self.then = 0, after, then

    async def list_users(
        self, *, external_id: Sequence[str] = (), email_address: Sequence[str] = (), limit: int
    ) -> ListOutcome:
        """The lookup; the ``after``-th refusal sets ``then``."""
        found = await self.client.list_users(
            external_id=external_id, email_address=email_address, limit=limit
        )
        if isinstance(found, Transient) and found.unreachable:
            self.refused += 1
            if self.refused >= self.after:
                self.then.set()
        return found


def one_pass(
    store: StateStore, sandbox: Sandbox, *, outage_limit: float, back_after: int
) -> tuple[RunOutcome, int, list[str]]:
    """One engine pass against ``sandbox.url``; the sandbox starts after ``back_after`` refused
    lookups. The outcome, the refusals seen and the notices."""
    notices: list[str] = []
    settings = EngineSettings(
        rate=1000.0,
        record_interval=0.0,
        probe_first=0.01,
        probe_max=0.05,
        worker=WorkerSettings(backoff_base=0.001, backoff_cap=0.01, outage_limit=outage_limit),
    )

    async def main() -> tuple[RunOutcome, int]:
        client = ClerkClient(sandbox.url, Secret(CONFIG.with_key().secret_key or ""))
        async with client:
            api = CountingApi(client, back_after, sandbox.go)
            with anyio.fail_after(30):
                outcome = await execute(
                    api, StoreLedger(store), payloads, settings, notice=notices.append
                )
            return outcome, api.refused

    outcome, refused = anyio.run(main)
    return outcome, refused, notices


def assert_exactly_once(sandbox: Sandbox, store: StateStore) -> None:
    """Every row is one user in the sandbox, and the state DB holds their ids."""
    with sandbox.serving() as handle:
        users = {u.external_id: handle.store.user_id(u.seq) for u in handle.store}
        ids = [u.external_id for u in handle.store]
    assert len(ids) == len(set(ids)), "a row was created twice"
    assert sorted(ids) == sorted(f"u{r}" for r in ROWS)
    assert store.counts()[RowState.CREATED] == len(ROWS)
    assert {ext: uid for _, ext, uid in store.iter_id_map()} == users


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A restartable sandbox, stopped at the end of the test."""
    handle = Sandbox(tmp_path)
    try:
        yield handle
    finally:
        handle.stop()
        handle.hold.close()


def test_reconciliation_rides_out_an_outage_then_finishes_exactly_once(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """The API is down when the pass starts: the lookups of the in_flight rows wait out the
    outage (well past 8 refusals), and once Clerk answers the 15 found are created, the rest
    sent once."""
    store = crashed_run(tmp_path, sandbox)
    sandbox.start_when_told()
    outcome, refused, notices = one_pass(store, sandbox, outage_limit=60.0, back_after=12)
    sandbox.stop()
    assert refused >= 12  # the sandbox was down for at least that many probes
    assert outcome.abort_code is None
    assert outcome.reconciled.found == len(LANDED)
    assert outcome.reconciled.released == len(CLAIMED) - len(LANDED)
    assert outcome.pacing.outages == 1
    assert notices[0].startswith("Clerk is unreachable")
    assert any(n.startswith("Clerk answers again after") for n in notices)
    assert_exactly_once(sandbox, store)


def test_an_outage_past_the_limit_while_reconciling_aborts_resumably(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    """Still down after outage_limit: the pass aborts with clerk_unreachable and the outage's
    duration, sends nothing, leaves the rows in_flight, and the next pass finishes once."""
    store = crashed_run(tmp_path, sandbox)
    outcome, refused, _ = one_pass(store, sandbox, outage_limit=0.3, back_after=10**6)
    assert refused >= 2
    assert outcome.abort_code == "clerk_unreachable"
    assert "Clerk has been unreachable for 0 s" in (outcome.abort_message or "")
    assert "rows left in flight" in (outcome.abort_message or "")
    assert outcome.pacing.requests == refused  # only the lookups: nothing was sent
    assert store.counts()[RowState.IN_FLIGHT] == len(CLAIMED)
    sandbox.start_when_told()
    sandbox.go.set()
    assert sandbox.up.wait(10)
    again, _, _ = one_pass(store, sandbox, outage_limit=0.3, back_after=10**6)
    sandbox.stop()
    assert again.abort_code is None
    assert again.reconciled.found == len(LANDED)
    assert_exactly_once(sandbox, store)
