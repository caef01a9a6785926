"""Ctrl-C during a pass, against the engine over a real SQLite state DB and a fake Clerk whose
requests take as long as the test says (no HTTP, no real waits)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from migrate._internal.clerk.outcomes import ClerkUser, Created, CreateOutcome, ListOutcome, Users
from migrate._internal.runner.engine import EngineSettings, execute
from migrate._internal.runner.ledger import StoreLedger
from migrate._internal.runner.workers import Stopper
from migrate._internal.state import Fingerprints, PlanRow, RowState, StateStore


@dataclass(frozen=True)
class P:
    """A payload as ``prepare`` yields it."""

    row: int
    key: str
    body: dict[str, Any]


def payloads(rows: Sequence[int]) -> Iterator[P]:
    """A body per row, external_id ``u<row>``."""
    for row in rows:
        yield P(row, f"u{row}", {"external_id": f"u{row}"})


def planned(tmp_path: Path, n: int) -> StateStore:
    """A state DB with rows 2..n+1 pending."""
    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    store.plan(PlanRow(r, f"u{r}", f"u{r}") for r in range(2, n + 2))
    return store


class Wire:
    """A fake Clerk: each POST is noted with whether the run was already stopping; after
    ``stop_after`` POSTs it stops the run (Ctrl-C while those are on the wire); with ``hang``
    a POST never answers."""

    def __init__(self, stopper: Stopper, stop_after: int, *, hang: bool = False) -> None:
        self.stopper = stopper
        self.stop_after = stop_after
        self.hang = hang
        self.posts: list[tuple[str, bool]] = []
        self.all_posted = anyio.Event()

    async def create_user(self, body: Mapping[str, Any]) -> CreateOutcome:
        self.posts.append((str(body["external_id"]), self.stopper.stopping))
        if len(self.posts) == self.stop_after:
            self.all_posted.set()
            if not self.hang:
                self.stopper.interrupt()
        if self.hang:
            await anyio.sleep_forever()
        await anyio.sleep(0.05)  # latency: the pacer lets several requests wait for their turn
        return Created(ClerkUser(f"user_{body['external_id']}", str(body["external_id"])))

    async def list_users(
        self, *, external_id: Sequence[str] = (), email_address: Sequence[str] = (), limit: int
    ) -> ListOutcome:
        return Users(())


def test_the_first_ctrl_c_sends_no_new_create(tmp_path: Path) -> None:
    """After the first Ctrl-C no create leaves, even from workers that held a row and waited
    for the rate limiter; the rows they held go back to pending."""
    store = planned(tmp_path, 200)
    stopper = Stopper()
    wire = Wire(stopper, stop_after=20)
    settings = EngineSettings(rate=100.0, record_interval=0.0)
    outcome = anyio.run(
        lambda: execute(wire, StoreLedger(store), payloads, settings, stopper=stopper)
    )
    assert outcome.interrupted
    assert [ext for ext, stopping in wire.posts if stopping] == []
    counts = store.counts()
    assert counts[RowState.CREATED] == len(wire.posts)
    assert counts[RowState.PENDING] == 200 - len(wire.posts)
    assert counts[RowState.IN_FLIGHT] == 0


def test_after_a_second_ctrl_c_only_rows_sent_are_unresolved(tmp_path: Path) -> None:
    """A second Ctrl-C abandons the requests on the wire: exactly those rows stay in_flight
    (reconciled next time); rows claimed but never sent go back to pending."""
    store = planned(tmp_path, 300)
    stopper = Stopper()
    wire = Wire(stopper, stop_after=4, hang=True)
    settings = EngineSettings(rate=100_000.0, concurrency=4, record_interval=0.0)

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            async def second_ctrl_c() -> None:
                await wire.all_posted.wait()
                stopper.interrupt()
                await anyio.sleep(0.01)  # the stopped workers hand their rows back
                stopper.abandon()

            tg.start_soon(second_ctrl_c)
            await execute(wire, StoreLedger(store), payloads, settings, stopper=stopper)

    anyio.run(main)
    counts = store.counts()
    assert len(wire.posts) == 4
    assert counts[RowState.IN_FLIGHT] == 4
    assert {r.key for r in store.iter_rows((RowState.IN_FLIGHT,))} == {e for e, _ in wire.posts}
    assert counts[RowState.PENDING] == 296
