"""The run index a newer export is matched against: prints and users by key, and the gone."""

from __future__ import annotations

import polars as pl
import pytest

from migrate._internal.delta import index as index_module
from migrate._internal.delta.index import RunIndex, print_prefixes


def prints(pairs: dict[str, int]) -> pl.DataFrame:
    """A ``_key, old_whole`` frame of stored print prefixes."""
    return pl.DataFrame(
        {"_key": list(pairs), "old_whole": list(pairs.values())},
        schema={"_key": pl.Utf8, "old_whole": pl.UInt64},
    )


def build() -> RunIndex:
    """Users b, z (no print), a, e (in that order, in two parts); prints for a, b, c (not a
    user), e."""
    users = [pl.Series(["b", "z"]), pl.Series(["a", "e"])]
    return RunIndex(prints({"a": 1, "b": 2, "c": 3, "e": 5}), users)


def test_each_key_gets_its_print_and_whether_it_is_a_user() -> None:
    """A key with a print and a user, a print only, a user only, neither; a repeat; a null key."""
    found = build().match(pl.Series(["a", "c", "z", "nope", "a", None], dtype=pl.Utf8))
    assert found["old_whole"].to_list() == [1, 3, None, None, 1, None]
    assert found["_user"].to_list() == [True, None, True, None, True, None]


def test_gone_are_the_users_never_matched_in_the_order_given() -> None:
    """Users missing from every piece are gone, in the users' order; prints-only keys never are."""
    index = build()
    index.match(pl.Series(["a"]))
    index.match(pl.Series(["c", "q"]))
    assert index.gone().to_list() == ["b", "z", "e"]
    index.match(pl.Series(["e", "b"]))
    assert index.gone().to_list() == ["z"]


def test_an_empty_run_finds_nothing() -> None:
    """No users and no prints: every key is unknown to the run and nothing is gone."""
    index = RunIndex(prints({}), [])
    found = index.match(pl.Series(["a", "b"]))
    assert found["old_whole"].to_list() == [None, None]
    assert found["_user"].to_list() == [None, None]
    assert index.gone().to_list() == []


def test_keys_sharing_a_hash_are_matched_by_the_key_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When two of the run's keys hash alike the index searches the keys, with the same answers."""
    monkeypatch.setattr(
        index_module, "_hashes", lambda keys: pl.Series([7] * len(keys), dtype=pl.UInt64)
    )
    index = build()
    found = index.match(pl.Series(["a", "c", "z", "nope", "e"]))
    assert found["old_whole"].to_list() == [1, 3, None, None, 5]
    assert found["_user"].to_list() == [True, None, True, None, True]
    assert index.gone().to_list() == ["b"]


def test_print_prefixes_read_the_first_eight_bytes_as_sqlite_blobs_are_read() -> None:
    """The newer prints' prefixes equal the stored ones read from one concatenated blob."""
    whole = [bytes(range(i, i + 32)) for i in range(3)]
    blob = b"".join(w[:8] for w in whole)
    stored = pl.Series(memoryview(blob).cast("Q"), dtype=pl.UInt64)
    assert print_prefixes(pl.Series(whole, dtype=pl.Binary)).to_list() == stored.to_list()
