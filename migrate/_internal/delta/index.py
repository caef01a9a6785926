"""The run a newer export is matched against: its users and stored prints, found by key.

Pure. ``RunIndex(prints, users)`` holds, per key of the run, the first bytes of its stored
whole-row print (a ``UInt64``, null when none) and, for a user, its place among ``users``, with
the 64-bit hashes of the keys sorted beside their places (by the keys themselves in the
unlikely case two of the run's keys share a hash). ``match(keys)`` finds each key of a piece
of the export by a binary search over numbers, then checks the key itself: no hash table over
the whole run per piece, and the run's columns are never reordered (a sort of the strings
would copy them). ``match`` marks the users it found; ``gone()`` returns the others, in the
order ``users`` gave them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import polars as pl

__all__ = ["RunIndex", "print_prefixes"]


def print_prefixes(prints: pl.Series) -> pl.Series:
    """The first 8 bytes of each ``pl.Binary`` print as one ``UInt64`` (native byte order, as
    ``memoryview.cast("Q")`` reads a blob of them)."""
    return prints.bin.slice(0, 8).bin.reinterpret(dtype=pl.UInt64, endianness=sys.byteorder)


class RunIndex:
    """The run's users and print prefixes by key; ``match`` each piece, then ``gone``."""

    def __init__(self, prints: pl.DataFrame, users: Iterable[pl.Series]) -> None:
        """``prints``: ``_key`` (each once) and ``old_whole`` (``UInt64``) of every stored print.
        ``users``: the run's user keys, in order, each once, in parts (matched a part at a
        time, so the temporaries stay the size of a part)."""
        self._table = prints.select(
            pl.col("_key").cast(pl.Utf8),
            pl.col("old_whole").cast(pl.UInt64),
            pl.lit(None, dtype=pl.UInt32).alias("_order"),
        )
        self._sort()
        extra: list[pl.DataFrame] = []
        start = 0
        for part in users:
            keys = part.cast(pl.Utf8)
            order = pl.int_range(start, start + len(keys), dtype=pl.UInt32, eager=True)
            start += len(keys)
            at, found = self._find(keys) if self._table.height else (order, order < 0)
            if found.any():
                marked = self._table["_order"].scatter(at.filter(found), order.filter(found))
                self._table = self._table.with_columns(marked)
            if not found.all():
                extra.append(
                    pl.DataFrame({"_key": keys.filter(~found), "_order": order.filter(~found)})
                )
        if extra:
            self._table = pl.concat([self._table, *extra], how="diagonal_relaxed")
            self._sort()
        self._seen = pl.repeat(value=False, n=self._table.height, dtype=pl.Boolean, eager=True)

    def _sort(self) -> None:
        """Sort the keys' hashes (``_hashes``) beside their rows (``_rows``); when two keys share
        a hash, sort the table by key instead (``_hashes`` None)."""
        hashes = _hashes(self._table["_key"])
        rows = hashes.arg_sort()
        self._hashes: pl.Series | None = hashes.gather(rows)
        self._rows = rows
        if len(rows) > 1 and (self._hashes.head(-1) == self._hashes.tail(-1)).any():
            self._table = self._table.sort("_key")
            self._hashes = None

    def _find(self, keys: pl.Series) -> tuple[pl.Series, pl.Series]:
        """Each key's row in the table (any row when absent) and whether the key is there; the
        table must not be empty."""
        size = self._table.height
        if self._hashes is None:
            at = self._table["_key"].search_sorted(keys, side="left").clip(upper_bound=size - 1)
        else:
            near = self._hashes.search_sorted(_hashes(keys), side="left")
            at = self._rows.gather(near.clip(upper_bound=size - 1))
        found = (self._table["_key"].gather(at) == keys).fill_null(value=False)
        return at, found

    def match(self, keys: pl.Series) -> pl.DataFrame:
        """``old_whole`` (null: no print stored) and ``_user`` (true, or null: not a user) of
        each of ``keys``, in their order; the users found are marked seen."""
        keys = keys.cast(pl.Utf8)
        if not self._table.height:
            return pl.DataFrame(
                {"old_whole": [None] * len(keys), "_user": [None] * len(keys)},
                schema={"old_whole": pl.UInt64, "_user": pl.Boolean},
            )
        at, found = self._find(keys)
        frame = pl.DataFrame(
            {
                "found": found,
                "old": self._table["old_whole"].gather(at),
                "user": self._table["_order"].gather(at).is_not_null(),
            }
        )
        frame = frame.select(
            pl.when("found").then("old").alias("old_whole"),
            pl.when(pl.col("found") & pl.col("user")).then(pl.lit(value=True)).alias("_user"),
        )
        users = at.filter(frame["_user"].fill_null(value=False))
        if len(users):
            self._seen = self._seen.scatter(users, True)
        return frame

    def gone(self) -> pl.Series:
        """The keys of the users no ``match`` found, in the order ``users`` gave them."""
        order = self._table["_order"]
        # positions, then a gather: a frame of the whole table would copy its keys into one chunk
        at = (order.is_not_null() & ~self._seen).arg_true()
        left = pl.DataFrame({"_key": self._table["_key"].gather(at), "_order": order.gather(at)})
        return left.sort("_order")["_key"]


def _hashes(keys: pl.Series) -> pl.Series:
    """64-bit hashes of ``keys`` (polars' own: stable within a process, never stored)."""
    return keys.hash()
