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
    assert SCHEMA_VERSION == 2
