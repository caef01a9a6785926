"""``retry``'s library half: requeue failed rows, and with a corrected file, invalid ones too.

Without a fixed file the failed rows are re-sent from the original input (its fingerprint must
still match); invalid rows are not touched (their data did not change). With one, each failed
or invalid row is matched **by key** to a row of the corrected file (which may be ordered
differently, or hold only the fixed rows, e.g. an edited ``failed_rows.csv``):

- a failed row whose corrected version passes validation goes back to pending, with the
  corrected external_id / email recorded (reconciliation looks for what is sent); one whose
  corrected version is invalid stays failed (counted in ``still_invalid``);
- an invalid row is validated again (``StateStore.revalidate``): valid now -> pending with its
  old errors cleared; still invalid -> invalid with the new reasons. An invalid row whose key
  several rows of the run share (a ``duplicate_key`` casualty) is left alone: sending it could
  create a user twice.

The corrected file must be validated with the run's mapping (``check_fixed``). Bodies of the
matched rows come from the corrected file, under the original row numbers; every other pending
row is read from the original input when it is still there and unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from migrate._internal.prepare import Prepared, RowPayload
from migrate._internal.runner.engine import Payload
from migrate._internal.runner.session import input_fingerprints, original_payloads, plan_rows
from migrate._internal.state import PlanRow, RowState, StateStore
from migrate.errors import ResumeMismatchError

__all__ = ["KeyedPayloads", "RequeueResult", "check_fixed", "requeue"]


@dataclass(frozen=True)
class RequeueResult:
    """What ``retry`` put back in the queue, and what it left alone and why.

    ``requeued``: failed -> pending. ``not_in_fixed`` / ``still_invalid``: failed rows left
    failed (no row with their key in the fixed file / its row there is invalid).
    ``revalidated``: invalid -> pending. ``invalid_again``: invalid rows whose corrected row is
    still invalid (new reasons recorded). ``shared_key``: invalid rows not touched because
    several rows of the run have their key. ``unmatched``: row numbers, in the corrected file,
    of rows whose key no row of the run has (not sent: ``retry`` matches by key).
    """

    requeued: int
    not_in_fixed: int = 0
    still_invalid: int = 0
    revalidated: int = 0
    invalid_again: int = 0
    shared_key: int = 0
    unmatched: tuple[int, ...] = ()


def check_fixed(store: StateStore, fixed: Prepared) -> None:
    """Refuse a corrected file prepared with another mapping than the run's.

    Raises ``ResumeMismatchError``: ``cannot retry <state>: the mapping changed since the run
    was planned; a corrected input is validated with the run's mapping``.
    """
    if input_fingerprints(fixed).mapping != store.fingerprints().mapping:
        raise ResumeMismatchError(
            f"cannot retry {store.path}: the mapping changed since the run was planned; "
            "a corrected input is validated with the run's mapping"
        )


class KeyedPayloads:
    """Bodies for original row numbers: from a corrected file's row with the same key, else
    from the original input (when given)."""

    def __init__(
        self, store: StateStore, fixed: Prepared, original: Prepared | None = None
    ) -> None:
        self.store = store
        self.fixed = fixed
        self.original = original
        self.valid: dict[str, PlanRow] = {}
        self.invalid: dict[str, PlanRow] = {}
        self.rows_of: dict[str, list[int]] = {}  # key -> the corrected file's rows with it
        for item in plan_rows(fixed.iter_plan(), fixed.values):
            self.rows_of.setdefault(item.key, []).append(item.row)
            if item.errors:
                self.invalid.setdefault(item.key, item)
            else:
                self.valid.setdefault(item.key, item)
        for key in self.valid.keys() & self.invalid.keys():
            del self.invalid[key]  # a valid version of the key wins
        self.valid_rows: dict[str, int] = {k: p.row for k, p in self.valid.items()}
        self.invalid_keys = set(self.invalid)

    def unmatched(self) -> tuple[int, ...]:
        """Row numbers (in the corrected file) of rows whose key no row of the run has."""
        known = self.store.known_keys(self.rows_of)
        return tuple(sorted(r for k, rows in self.rows_of.items() if k not in known for r in rows))

    def payloads(self, rows: Sequence[int]) -> Iterator[Payload]:
        """The bodies of ``rows`` (original row numbers): corrected ones first, then the rest
        from the original input, except rows an earlier corrected file supplied (they may be
        invalid there); a row with neither is skipped (it stays pending)."""
        wanted = set(rows)
        key_of = {r.row: r.key for r in self.store.iter_rows((RowState.PENDING,))
                  if r.row in wanted}  # fmt: skip
        original_of = {self.valid_rows[k]: row for row, k in key_of.items()
                       if k in self.valid_rows}  # fmt: skip
        for payload in self.fixed.payloads(sorted(original_of)):
            yield RowPayload(original_of[payload.row], payload.key, payload.body)
        rest = sorted(wanted - set(original_of.values()))
        if self.original is not None and rest:
            yield from original_payloads(self.store, self.original)(rest)


def requeue(
    store: StateStore,
    codes: Iterable[str] | None,
    keyed: KeyedPayloads | None = None,
    source: str = "",
    location: str = "",
) -> RequeueResult:
    """failed -> pending for the chosen codes (all when None); with ``keyed``, only fixed rows,
    and invalid rows (of the chosen codes) are validated again from ``keyed``.

    ``source`` names the corrected file in the revalidated rows' note and in the run's
    ``fixed_inputs`` history (meta); ``location`` (its path, default ``source``) is recorded
    for every row requeued from it (``StateStore.note_corrected``), so no later pass sends
    those rows from the original input.
    """
    code_set = None if codes is None else set(codes)
    if keyed is None:
        return RequeueResult(store.requeue_failed(code_set))
    chosen: list[PlanRow] = []
    missing = invalid = 0
    for record in store.iter_rows((RowState.FAILED,)):
        if code_set is not None and record.code not in code_set:
            continue
        if record.key in keyed.valid:
            chosen.append(keyed.valid[record.key]._replace(row=record.row))
        elif record.key in keyed.invalid_keys:
            invalid += 1
        else:
            missing += 1
    matched: list[PlanRow] = []
    for record in store.iter_rows((RowState.INVALID,)):
        if code_set is not None and record.code not in code_set:
            continue
        fixed = keyed.valid.get(record.key) or keyed.invalid.get(record.key)
        if fixed is not None:
            matched.append(fixed._replace(row=record.row))
    # pending rows sent from the corrected file take their data from it from now on too
    chosen_rows = [p.row for p in chosen]
    chosen_rows += [r.row for r in store.iter_rows((RowState.PENDING,)) if r.key in keyed.valid]
    shared = store.shared_keys(p.key for p in matched)
    shared_rows = [p for p in matched if p.key in shared]
    matched = [p for p in matched if p.key not in shared]
    # noted before the moves: a crash in between leaves a row that no pass sends from the
    # original input, never one sent from it with the data the corrected file replaced
    store.note_corrected(chosen_rows + [p.row for p in matched if not p.errors], location or source)
    requeued = store.requeue_corrected(chosen)
    counts = store.revalidate(matched, source)
    history = list(store.get_meta("fixed_inputs", []))
    inputs = dict(input_fingerprints(keyed.fixed).inputs)
    history.append(
        {"file": source, "fingerprints": inputs, "at": time.time(),
         "requeued": requeued, "revalidated": counts[RowState.PENDING]}
    )  # fmt: skip
    store.set_meta("fixed_inputs", history)
    return RequeueResult(
        requeued,
        missing,
        invalid,
        revalidated=counts[RowState.PENDING],
        invalid_again=counts[RowState.INVALID],
        shared_key=len(shared_rows),
        unmatched=keyed.unmatched(),
    )
