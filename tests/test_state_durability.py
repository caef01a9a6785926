"""What survives kill -9: claims and completions committed before the kill, nothing half-done.

Each test runs a real child process on a real state DB file, waits until it reports a commit,
SIGKILLs it (no cleanup, no atexit, no close), then opens the file again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from migrate._internal.state import Completed, Fingerprints, PlanRow, RowState, StateStore
from migrate.errors import StateError

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")

FP = Fingerprints({"users.csv": "0" * 64}, "1" * 64)


def planned_db(tmp_path: Path, n: int = 20) -> Path:
    """A state DB with rows 1..n pending, closed."""
    path = tmp_path / "state.sqlite"
    with StateStore.create(path, FP) as store:
        store.plan(PlanRow(r, f"k{r}", f"e{r}") for r in range(1, n + 1))
    return path


@contextmanager
def child_ready(script: str, *args: str) -> Iterator[None]:
    """Run ``script`` in a child until it prints READY; on exit, SIGKILL it while it waits."""
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        try:
            line = child.stdout.readline()
            assert line.strip() == "READY", line
            yield
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert child.returncode == -signal.SIGKILL


def run_until_then_kill(script: str, *args: str) -> None:
    """Run ``script`` until it prints READY, then SIGKILL it (no cleanup runs)."""
    with child_ready(script, *args):
        pass


def test_claimed_rows_stay_in_flight_after_kill_9(tmp_path: Path) -> None:
    """A claim that returned is on disk: after kill -9 the rows are in_flight, the rest pending."""
    path = planned_db(tmp_path)
    run_until_then_kill(
        """
        import sys
        from migrate._internal.state import StateStore
        store = StateStore.open(sys.argv[1], lock=True)
        store.claim([1, 2, 3, 4, 5])
        store.claim([9, 11])
        print("READY", flush=True)
        sys.stdin.read()  # "sending the requests" when the kill arrives
        """,
        str(path),
    )
    with StateStore.open(path) as store:
        assert [r.row for r in store.in_flight_rows()] == [1, 2, 3, 4, 5, 9, 11]
        assert store.counts()[RowState.PENDING] == 13


def test_recorded_batch_survives_and_the_next_one_is_not_half_applied(tmp_path: Path) -> None:
    """A committed batch of completions survives kill -9; rows of the next batch stay in_flight."""
    path = planned_db(tmp_path)
    run_until_then_kill(
        """
        import sys
        from migrate._internal.state import Completed, StateStore
        store = StateStore.open(sys.argv[1])
        claimed = store.claim(range(1, 7))
        store.record_many(Completed(r.row, f"user_{r.row}") for r in claimed[:4])

        def moves():
            yield Completed(5, "user_5")
            print("READY", flush=True)  # the next batch is still being assembled
            sys.stdin.read()
            yield Completed(6, "user_6")

        store.record_many(moves())
        """,
        str(path),
    )
    with StateStore.open(path) as store:
        assert [r.row for r in store.iter_rows([RowState.CREATED])] == [1, 2, 3, 4]
        assert [r.row for r in store.in_flight_rows()] == [5, 6]
        assert next(store.iter_id_map()) == ("k1", "e1", "user_1")


def test_killed_mid_plan_leaves_no_partial_plan(tmp_path: Path) -> None:
    """kill -9 during plan leaves an unplanned DB that can be planned again from scratch."""
    path = tmp_path / "state.sqlite"
    StateStore.create(path, FP).close()
    run_until_then_kill(
        """
        import sys
        from migrate._internal.state import PlanRow, StateStore
        store = StateStore.open(sys.argv[1])

        def rows():
            yield from (PlanRow(r, f"k{r}") for r in range(1, 30_000))
            print("READY", flush=True)
            sys.stdin.read()

        store.plan(rows())
        """,
        str(path),
    )
    with StateStore.open(path) as store:
        assert not store.planned
        assert sum(store.counts().values()) == 0
        store.plan([PlanRow(1, "k1")])
        assert store.counts()[RowState.PENDING] == 1


def test_a_locked_db_refuses_a_second_process_until_the_holder_dies(tmp_path: Path) -> None:
    """While one process holds the lock another cannot open it; kill -9 releases the lock."""
    path = planned_db(tmp_path)
    holder = """
        import sys
        from migrate._internal.state import StateStore
        store = StateStore.open(sys.argv[1], lock=True)
        print("READY", flush=True)
        sys.stdin.read()
        """
    with child_ready(holder, str(path)):
        with pytest.raises(StateError) as info:
            StateStore.open(path, lock=True, busy_timeout=0)
        assert str(info.value) == (
            f"{path}: the state DB is in use by another clerk-migrate process"
        )
        with pytest.raises(StateError, match="in use by another clerk-migrate process"):
            StateStore.open(path, busy_timeout=0)
    with StateStore.open(path, lock=True, busy_timeout=0) as store:
        store.claim([1])
        store.record_many([Completed(1, "user_1")])
        assert store.counts()[RowState.CREATED] == 1
