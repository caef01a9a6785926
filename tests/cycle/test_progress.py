"""The progress bar tells the truth: its total, the rows retrying now, the rate in force."""

from __future__ import annotations

from pathlib import Path

from cycle_cli import MAPPING

import migrate
from migrate._internal.api.results import Progress
from migrate._internal.runner.engine import RowWindow
from migrate._internal.runner.jobs import Retrying
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.progress import LiveRate, bar_total
from migrate._internal.runner.recorder import RunTally
from migrate._internal.state import Completed, Failed, Fingerprints, PlanRow, StateStore
from migrate.sandbox import FaultConfig, SandboxConfig, running_sandbox


def test_retrying_counts_the_rows_retrying_now() -> None:
    """A row that retried and then settled no longer counts as retrying."""
    tally = RunTally()
    for update in (Retrying(2), Retrying(2), Retrying(3), Completed(2, "u")):
        tally.note(update)
    assert (tally.retrying_now, tally.retrying) == (1, 3)
    tally.note(Failed(3, "x"))
    assert tally.retrying_now == 0


def test_a_pass_reports_what_it_is_doing_now(tmp_path: Path) -> None:
    """Through the library against a sandbox that answers 5xx and 429s: every snapshot's
    retrying is the rows retrying at that moment (none at the end), and the rate shown is the
    pacer's (below the configured rate after a 429)."""
    rows = "".join(f"u{n},u{n}@example.com\n" for n in range(40))
    (tmp_path / "users.csv").write_text("id,email\n" + rows)
    (tmp_path / "map.toml").write_text(MAPPING)
    seen: list[Progress] = []
    config = SandboxConfig.for_tests(faults=FaultConfig(error_rate=0.2), rate_limit=4,
                                     rate_window=0.2)  # fmt: skip
    with running_sandbox(config) as handle:
        connection = migrate.Connection(api_url=handle.url,
                                        secret_key=migrate.Secret(handle.secret_key))  # fmt: skip
        migrate.run(tmp_path / "users.csv", tmp_path / "map.toml", connection=connection,
                    rate=500.0, on_progress=seen.append)  # fmt: skip
    assert seen[-1].total == 40
    assert seen[-1].retrying == 0
    assert min(p.rate for p in seen) < 500.0


def test_limit_shows_the_rate_in_force_after_a_429() -> None:
    """limit/s is the pacer's rate once the pass started, cut after a 429."""
    live = LiveRate(100.0)
    assert live() == 100.0
    pacer = Pacer(100.0)
    live.started(pacer)
    pacer.on_rate_limited(1.0)
    assert live() < 100.0
    assert live() == pacer.current_rate


def test_the_total_counts_rows_reconciliation_may_send_again(tmp_path: Path) -> None:
    """Rows left in_flight are looked up first and re-sent when missing: the bar's total
    includes them (within the window's cap)."""
    store = StateStore.create(tmp_path / "s.sqlite", Fingerprints({"a": "1"}, "m"))
    with store:
        store.plan([PlanRow(r, f"k{r}", f"k{r}") for r in range(2, 7)])
        store.claim([2, 3])
        assert bar_total(store, RowWindow()) == 5
        assert bar_total(store, RowWindow(limit=4)) == 4
        assert bar_total(store, RowWindow(first=3)) == 4
