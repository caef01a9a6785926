"""Hostile networks at the worker and engine layer: huge Retry-After, outages, Ctrl-C in a wait."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from runner_fakes import FakeApi, limited

from migrate._internal.clerk.outcomes import CreateOutcome, Transient
from migrate._internal.runner.engine import EngineSettings, RunOutcome, execute
from migrate._internal.runner.jobs import Job, Outcome
from migrate._internal.runner.ledger import StoreLedger
from migrate._internal.runner.pacing import Pacer, Stopped
from migrate._internal.runner.workers import Stopper, Worker, WorkerSettings
from migrate._internal.state import Completed, Fingerprints, PlanRow, Released, RowState, StateStore

REFUSED = Transient("connection", ambiguous=False)


def _job(ext: str = "u1") -> Job:
    body: dict[str, Any] = {"external_id": ext, "email_address": [f"{ext}@example.com"]}
    return Job(1, ext, ext, f"{ext}@example.com", body)


def _worker(api: FakeApi, pacer: Pacer, stopper: Stopper, **settings: Any) -> Worker:
    return Worker(
        api, pacer, stopper, WorkerSettings(**settings), rng=random.Random(1),
        backoff=lambda attempt, rng: 0.0,
    )  # fmt: skip


def test_a_huge_retry_after_is_capped_and_announced() -> None:
    """Retry-After: 86400 pauses at most max_retry_after, and the operator is told what was
    asked and when sending resumes."""
    notices: list[str] = []
    now = [1000.0]
    pacer = Pacer(100.0, max_retry_after=600.0, notice=notices.append, clock=lambda: now[0])
    pacer.on_rate_limited(86400.0)
    assert pacer.stats.paused_seconds == pytest.approx(600.0)  # from 1000 until 1600
    assert len(notices) == 1
    assert "Clerk asked to wait 24 h 00 min" in notices[0]
    assert "capped at 10 min 00 s" in notices[0]
    assert "sending resumes at " in notices[0]
    pacer.on_rate_limited(2.0)  # a short pause inside the long one: nothing more to say
    assert len(notices) == 1


def test_ctrl_c_ends_a_retry_after_wait_at_once() -> None:
    """A row waiting out a 10-minute Retry-After is released as soon as the run is stopped."""
    api = FakeApi({"u1": [limited(retry_after=600.0)]})

    async def main() -> tuple[Outcome, float]:
        stopper = Stopper()
        pacer = Pacer(1000.0)
        stopper.on_stop(pacer.stop)
        worker = _worker(api, pacer, stopper)
        result: list[Outcome] = []

        async def stop_soon() -> None:
            await anyio.sleep(0.05)
            stopper.interrupt()

        started = anyio.current_time()
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(stop_soon)
                result.append(await worker.process(_job(), lambda e: None))
        return result[0], anyio.current_time() - started

    event, _ = anyio.run(main)
    assert isinstance(event, Released)
    assert api.posts == ["u1"]  # never re-sent after the stop


def test_a_stopped_pacer_refuses_new_requests() -> None:
    """After stop(), acquire raises Stopped instead of letting a request out."""

    async def main() -> None:
        pacer = Pacer(1000.0)
        pacer.stop()
        with pytest.raises(Stopped):
            await pacer.acquire()

    anyio.run(main)


def test_an_outage_pauses_probes_and_resumes_without_failing_the_row() -> None:
    """Connection refused three times, then Clerk is back: the row is created, the refusals do
    not count as attempts, and the operator hears of the outage and its end."""
    api = FakeApi({"u1": [REFUSED, REFUSED, REFUSED]})
    notices: list[str] = []

    async def main() -> tuple[Outcome, Pacer]:
        pacer = Pacer(1000.0, probe_first=0.01, probe_max=0.02, notice=notices.append)
        worker = _worker(api, pacer, Stopper(), max_attempts=2)
        return await worker.process(_job(), lambda e: None), pacer

    event, pacer = anyio.run(main)
    assert isinstance(event, Completed)
    assert api.posts == ["u1"] * 4
    assert pacer.stats.outages == 1
    assert pacer.stats.outage_seconds > 0
    assert notices[0].startswith("Clerk is unreachable")
    assert notices[-1].startswith("Clerk answers again after")


def test_an_outage_past_its_limit_aborts_resumably_with_its_duration() -> None:
    """Still unreachable after outage_limit: the run aborts with clerk_unreachable and how long
    the outage lasted, and the row goes back to pending (released), not failed."""
    api = FakeApi({"u1": [REFUSED] * 1000})
    stopper = Stopper()

    async def main() -> Outcome:
        pacer = Pacer(1000.0, probe_first=0.01, probe_max=0.02)
        stopper.on_stop(pacer.stop)
        worker = _worker(api, pacer, stopper, outage_limit=0.1)
        with anyio.fail_after(5):
            return await worker.process(_job(), lambda e: None)

    event = anyio.run(main)
    assert isinstance(event, Released)
    assert stopper.abort_code == "clerk_unreachable"
    assert "Clerk has been unreachable for 0 s" in (stopper.abort_message or "")


def test_only_one_request_probes_during_an_outage() -> None:
    """While Clerk is down, the other workers wait: each probe is a single request, and every
    row is created once Clerk is back."""

    class DownFor(FakeApi):
        def __init__(self, seconds: float) -> None:
            super().__init__()
            self.until = anyio.current_time() + seconds

        async def create_user(self, body: Mapping[str, Any]) -> CreateOutcome:
            if anyio.current_time() < self.until:
                self.posts.append("refused")
                return REFUSED
            return await super().create_user(body)

    async def main() -> tuple[list[Outcome], DownFor]:
        api = DownFor(0.2)
        pacer = Pacer(1000.0, fixed_concurrency=6, probe_first=0.01, probe_max=0.05)
        stopper = Stopper()
        events: list[Outcome] = []

        async def one(i: int) -> None:
            worker = _worker(api, pacer, stopper)
            events.append(await worker.process(_job(f"u{i}"), lambda e: None))

        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                for i in range(6):
                    tg.start_soon(one, i)
        return events, api

    events, api = anyio.run(main)
    assert [type(e) for e in events] == [Completed] * 6
    refused = api.posts.count("refused")
    # the first refusal, then one probe at a time 0.01, 0.02, 0.04, 0.05, 0.05 s apart for 0.2 s
    # (workers sending on their own would refuse each row five times and fail it)
    assert 3 <= refused <= 10


def test_a_second_ctrl_c_still_returns_the_pass_outcome(tmp_path: Path) -> None:
    """abandon() (a second Ctrl-C) drops requests on the wire, yet the pass returns its outcome
    (so it is counted in the summary), and the abandoned row stays in_flight."""

    class SlowApi(FakeApi):
        async def create_user(self, body: Mapping[str, Any]) -> CreateOutcome:
            self.posts.append(str(body.get("external_id")))
            await anyio.sleep(30)
            raise AssertionError("never answered")

    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    store.plan([PlanRow(2, "u2", "u2", "u2@example.com")])
    stopper = Stopper()
    api = SlowApi()

    def payloads(rows: Sequence[int]) -> Iterator[Any]:
        for row in rows:
            yield SimpleNamespace(row=row, key=f"u{row}", body=_job(f"u{row}").body)

    async def main() -> RunOutcome:
        async def abandon_soon() -> None:
            while not api.posts:
                await anyio.sleep(0.01)
            stopper.interrupt()
            stopper.abandon()

        async with anyio.create_task_group() as tg:
            tg.start_soon(abandon_soon)
            with anyio.fail_after(5):
                return await execute(
                    api, StoreLedger(store), payloads, EngineSettings(rate=1000.0),
                    stopper=stopper,
                )  # fmt: skip

    outcome = anyio.run(main)
    assert outcome.interrupted
    assert outcome.abandoned
    assert outcome.pacing.requests == 1
    assert store.counts()[RowState.IN_FLIGHT] == 1


def test_the_pass_reports_the_rate_in_force_after_a_429(tmp_path: Path) -> None:
    """A 429 cuts the rate; the pass's outcome carries the rate in force at its end, below the
    configured one, for the summary."""
    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    store.plan([PlanRow(r, f"u{r}", f"u{r}", f"u{r}@example.com") for r in range(2, 7)])
    api = FakeApi({"u2": [limited(retry_after=0.01)]})

    def payloads(rows: Sequence[int]) -> Iterator[Any]:
        for row in rows:
            yield SimpleNamespace(row=row, key=f"u{row}", body=_job(f"u{row}").body)

    settings = EngineSettings(rate=1000.0, concurrency=1)
    outcome = anyio.run(execute, api, StoreLedger(store), payloads, settings)
    assert outcome.tally.created == 5
    assert outcome.pacing.rate_limited == 1
    assert outcome.pacing.rate_in_force == pytest.approx(700.0)  # cut by 0.7 once
