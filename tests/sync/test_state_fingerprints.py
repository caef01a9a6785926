"""The state DB's fingerprints table: stored per key, read back, and added to older files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from migrate._internal.state import SCHEMA_VERSION, Fingerprints, StateStore

FP = Fingerprints({"users.csv": "aa"}, "mm")


def test_prints_are_stored_per_key_and_read_back(tmp_path: Path) -> None:
    """put_fingerprints records the layout and each key's prints; replace=False keeps the first."""
    with StateStore.create(tmp_path / "state.sqlite", FP) as store:
        assert store.put_fingerprints(("a", "b"), [("k1", b"W1", b"F1"), ("k2", b"W2", b"F2")]) == 2
        store.put_fingerprints(("a", "b"), [("k1", b"other", b"other")], replace=False)
        assert store.fingerprint_fields() == ("a", "b")
        assert sorted(r for chunk in store.iter_fingerprints() for r in chunk) == [
            ("k1", b"W1"),
            ("k2", b"W2"),
        ]
        store.put_fingerprints(("a", "b"), [("k2", b"W3", b"F3")])
        assert store.field_prints(["k2", "k1", "absent"]) == {"k1": b"F1", "k2": b"F3"}
        assert store.count_fingerprints() == 2


def test_a_version_1_file_is_upgraded_with_an_empty_table(tmp_path: Path) -> None:
    """A state DB made before fingerprints opens as version 2 with no fingerprint stored."""
    path = tmp_path / "state.sqlite"
    StateStore.create(path, FP).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE fingerprints")
        conn.execute("UPDATE schema_version SET version = 1")
    with StateStore.open(path) as store:
        assert store.count_fingerprints() == 0
        assert store.fingerprint_fields() == ()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION,)
    assert SCHEMA_VERSION == 3


def test_the_runs_users_are_created_or_present_rows_and_syncs_less_deleted(
    tmp_path: Path,
) -> None:
    """User keys and ids: created / exists rows, users sync created, not those sync deleted."""
    from migrate._internal.state import Completed, Existed, Failed, PlanRow  # noqa: PLC0415

    with StateStore.create(tmp_path / "state.sqlite", FP) as store:
        store.plan(PlanRow(r, f"k{r}") for r in range(1, 6))
        store.claim([1, 2, 3, 4])
        store.record_many([Completed(1, "user_1"), Existed(2, "user_2"), Failed(3, "x"),
                           Completed(4, "user_4")])  # fmt: skip
        store.sync_queue([("n1", 9, "new", None), ("k4", None, "gone", "user_4")])
        store.sync_finish([("n1", "done", "user_n1", "created", None),
                           ("k4", "done", None, "deleted", None)])  # fmt: skip
        keys = sorted(k for chunk in store.iter_user_keys() for k in chunk)
        assert keys == ["k1", "k2", "n1"]
        assert store.user_ids(["k1", "k2", "k3", "k4", "k5", "n1"]) == {
            "k1": "user_1", "k2": "user_2", "n1": "user_n1",
        }  # fmt: skip
        store.put_fingerprints(("a",), [("k1", b"W" * 32, b"F"), ("k2", b"V" * 32, b"G")])
        chunks = list(store.iter_print_prefixes(8))
        pairs = sorted(
            (k, p) for keys_, prints_ in chunks for k, p in zip(keys_, prints_, strict=True)
        )
        assert pairs == [("k1", b"W" * 8), ("k2", b"V" * 8)]


def test_joined_reads_give_what_row_by_row_reads_give(tmp_path: Path) -> None:
    """Keys and print prefixes read as one string per chunk equal the row-by-row reads."""
    from migrate._internal.state import Completed, PlanRow  # noqa: PLC0415
    from migrate._internal.state import fingerprints as module  # noqa: PLC0415

    with StateStore.create(tmp_path / "state.sqlite", FP) as store:
        store.plan(PlanRow(r, f"k{r:03d}") for r in range(2, 40))
        store.claim(list(range(2, 30)))
        store.record_many([Completed(r, f"user_{r}") for r in range(2, 30)])
        store.sync_queue([("n1", 50, "new", None)])
        store.sync_finish([("n1", "done", "user_n1", "created", None)])
        store.put_fingerprints(("a",), [(f"k{r:03d}", bytes([r]) * 32, b"F") for r in range(5, 45)])
        module_chunk = module._JOINED
        try:
            module._JOINED = 7  # chunks of 7 keys
            joined_users = [
                k for text, n in store.iter_user_keys_joined() for k in text.split("\x00")
            ]
            joined_prints = [
                (k, blob[i * 8 : i * 8 + 8])
                for text, blob, n in store.iter_print_prefixes_joined(8)
                for i, k in enumerate(text.split("\x00"))
            ]
        finally:
            module._JOINED = module_chunk
        assert joined_users == [k for chunk in store.iter_user_keys() for k in chunk]
        rows = [
            (k, p)
            for keys, prefixes in store.iter_print_prefixes(8)
            for k, p in zip(keys, prefixes, strict=True)
        ]
        assert joined_prints == sorted(rows)
        assert len(joined_prints) == 40
