"""``plan_sync`` over a real state DB: the plan does not depend on how the export is cut."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from migrate._internal.prepare import prepare_input
from migrate._internal.runner.syncing import SYNC_PLAN, plan_sync, record_baseline
from migrate._internal.state import Completed, Failed, Fingerprints, PlanRow, StateStore

KEY = b"k" * 32
MAPPING = """[source]
key = "id"

[fields]
external_id = "id"
email_address = "email"
first_name = "first"
"""


def write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A CSV of ``id, email, first`` rows."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "email", "first"])
        out.writerows(rows)
    return path


def row(i: int, first: str = "") -> tuple[str, str, str]:
    """User ``i`` (a long key, so keys do not fit a string view inline)."""
    return (f"customer-{i:06d}-x", f"user{i}@example.com", first or f"Name{i}")


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    """A run of 60 rows: 1-50 created, 51-55 failed, 56-60 never sent; prints for 3-60."""
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    first = write(tmp_path / "first.csv", [row(i) for i in range(1, 61)])
    state = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"first.csv": "x"}, "m"))
    state.plan(PlanRow(i + 1, row(i)[0]) for i in range(1, 61))
    state.claim(list(range(2, 57)))
    state.record_many([Completed(i + 1, f"user_{i}") for i in range(1, 51)])
    state.record_many([Failed(i + 1, "x") for i in range(51, 56)])
    record_baseline(state, prepare_input(first, str(mapping)), KEY)
    with state._transaction():
        state._conn.execute("DELETE FROM fingerprints WHERE key IN (?, ?)", (row(1)[0], row(2)[0]))
    return state


def newer(tmp_path: Path) -> Path:
    """1-40 kept (every 7th renamed), 41-50 gone, 51-60 kept, 61-64 new, row 3 twice more (as
    is, renamed), a new row with a broken email, two new rows sharing an email."""
    rows = [row(i, "Renamed" if i % 7 == 0 else "") for i in range(1, 41)]
    rows += [row(i) for i in range(51, 65)] + [row(3), row(3, "Again")]
    rows += [("bad-1", "broken@", "B"), ("dup-1", "same@example.com", "D"),
             ("dup-2", "same@example.com", "E")]  # fmt: skip
    return write(tmp_path / "newer.csv", rows)


@pytest.mark.parametrize("use_baseline", [True, False])
def test_tiny_pieces_and_batches_plan_as_one_piece_does(
    store: StateStore, tmp_path: Path, use_baseline: bool
) -> None:
    """Pieces of a few rows and batches of one plan every row as one piece and one batch do."""
    mapping = str(tmp_path / "map.toml")
    whole = plan_sync(store, prepare_input(newer(tmp_path), mapping), KEY,
                      use_baseline=use_baseline)  # fmt: skip
    cut = prepare_input(newer(tmp_path), mapping)
    cut.piece_bytes = 200
    pieces = plan_sync(store, cut, KEY, use_baseline=use_baseline, batch_rows=1_000)
    assert_frame_equal(pieces.rows, whole.rows)
    assert pieces.unchanged == whole.unchanged
    counts = dict(whole.rows.group_by("action").len().iter_rows())
    if use_baseline:
        assert counts == {"changed": 6, "unknown": 2, "new": 15, "gone": 10, "invalid": 2}
        assert whole.unchanged == 34
    else:
        assert counts == {"unknown": 40, "new": 15, "gone": 10, "invalid": 4}
    gone = whole.rows.filter(pl.col("action") == "gone")
    assert gone["_key"].to_list() == [row(i)[0] for i in range(41, 51)]
    assert gone["clerk_user_id"].to_list() == [f"user_{i}" for i in range(41, 51)]


def test_a_key_holding_a_nul_is_read_one_row_at_a_time(tmp_path: Path) -> None:
    """A key with ``\\x00`` (the joined reads' separator) still reads back whole and in order."""
    from migrate._internal.runner.syncing import _baseline, _user_keys  # noqa: PLC0415

    keys = ["a", "b\x00c", "d"]
    with StateStore.create(tmp_path / "state.sqlite", Fingerprints({}, "m")) as state:
        state.plan(PlanRow(i + 2, k) for i, k in enumerate(keys))
        state.claim([2, 3, 4])
        state.record_many([Completed(i + 2, f"user_{i}") for i in range(3)])
        state.put_fingerprints(("a",), [(k, bytes([i]) * 32, b"F") for i, k in enumerate(keys)])
        assert [k for part in _user_keys(state) for k in part.to_list()] == keys
        stored = _baseline(state)
        assert stored["_key"].to_list() == sorted(keys)
        assert stored["old_whole"].to_list() == [0, 0x0101010101010101, 0x0202020202020202]


def test_an_export_of_unchanged_rows_plans_only_the_gone(store: StateStore, tmp_path: Path) -> None:
    """Every row unchanged: the plan holds the gone users alone, with the plan's columns."""
    unchanged = write(tmp_path / "same.csv", [row(i) for i in range(3, 41)])
    plan = plan_sync(store, prepare_input(unchanged, str(tmp_path / "map.toml")), KEY)
    assert plan.unchanged == 38
    assert plan.rows["action"].unique().to_list() == ["gone"]
    assert plan.rows["_key"].to_list() == [row(i)[0] for i in [1, 2, *range(41, 51)]]
    assert plan.rows.columns == list(SYNC_PLAN)
