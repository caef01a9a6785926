"""``retry``'s library half: requeue failed rows, optionally with payloads from a fixed file.

Without a fixed file the rows are re-sent from the original input (its fingerprint must still
match). With one, each failed row is matched **by key** to a row of the corrected file (which
may be ordered differently, or hold only the fixed rows, e.g. an edited ``failed_rows.csv``);
only rows whose corrected version passes validation are requeued, and their bodies come from
the corrected file while their state stays under the original row number.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import polars as pl

from migrate.prepare import RowPayload
from migrate.runner.engine import Payload
from migrate.runner.session import PreparedInput
from migrate.state import RowState, StateStore

__all__ = ["KeyedPayloads", "RequeueResult", "requeue"]


@dataclass(frozen=True)
class RequeueResult:
    """How many failed rows went back to pending, and how many a fixed file left out."""

    requeued: int
    not_in_fixed: int = 0
    still_invalid: int = 0


class KeyedPayloads:
    """Bodies for original row numbers, taken from a corrected file's rows with the same key."""

    def __init__(self, store: StateStore, fixed: PreparedInput) -> None:
        self.store = store
        self.fixed = fixed
        plan = fixed.plan()
        valid = plan.filter(pl.col("_errors").list.len() == 0).unique("_key", keep="first")
        invalid = plan.filter(pl.col("_errors").list.len() > 0)
        self.valid_rows: dict[str, int] = dict(
            zip(valid["_key"].to_list(), valid["_row"].to_list(), strict=True)
        )
        self.invalid_keys = set(invalid["_key"].to_list()) - set(self.valid_rows)

    def payloads(self, rows: Sequence[int]) -> Iterator[Payload]:
        """The corrected bodies of ``rows`` (original row numbers); rows without one are skipped."""
        wanted = set(rows)
        key_of = {r.row: r.key for r in self.store.iter_rows((RowState.PENDING,))
                  if r.row in wanted}  # fmt: skip
        original_of = {self.valid_rows[k]: row for row, k in key_of.items()
                       if k in self.valid_rows}  # fmt: skip
        for payload in self.fixed.payloads(sorted(original_of)):
            yield RowPayload(original_of[payload.row], payload.key, payload.body)


def requeue(
    store: StateStore, codes: Iterable[str] | None, keyed: KeyedPayloads | None = None
) -> RequeueResult:
    """failed -> pending for the chosen codes (all when None); with ``keyed``, only fixed rows."""
    code_set = None if codes is None else set(codes)
    if keyed is None:
        return RequeueResult(store.requeue_failed(code_set))
    chosen: list[int] = []
    missing = invalid = 0
    for record in store.iter_rows((RowState.FAILED,)):
        if code_set is not None and record.code not in code_set:
            continue
        if record.key in keyed.valid_rows:
            chosen.append(record.row)
        elif record.key in keyed.invalid_keys:
            invalid += 1
        else:
            missing += 1
    requeued = store.requeue_failed(code_set, rows=chosen) if chosen else 0
    return RequeueResult(requeued, missing, invalid)
