"""Start-up reconciliation: settle every row an earlier process left ``in_flight``.

Such a row's POST may or may not have reached Clerk. Before anything is sent, each one is looked
up (100 external_ids per GET; rows without one by primary email): found -> ``created`` with the
Clerk id, or ``exists`` when Clerk last changed that user well before the row went in_flight
(it was there before our POST, so a rollback must leave it); not found -> back to ``pending``.
Nothing is re-sent until every lookup has answered:
an unrecoverable lookup failure stops the run, and the rows stay ``in_flight`` for next time.

When Clerk cannot be reached at all (connection refused, connect timeout) the lookups ride the
outage as the send path does: the pacer stops every request and probes with backoff; past
``outage_limit`` seconds the pass aborts with ``clerk_unreachable`` and the outage's duration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrate._internal.clerk.outcomes import ClerkUser, Rejected, Transient
from migrate._internal.runner.calls import UsersApi, find_users, until_answered
from migrate._internal.runner.pacing import Pacer, Stopped
from migrate._internal.runner.recorder import InFlightRow, Ledger
from migrate._internal.state import Existed, Reconciled, Released
from migrate.errors import ClerkError

if TYPE_CHECKING:
    from migrate._internal.runner.kinds import Kind, Payload

__all__ = ["LOOKUP_BATCH", "ReconcileResult", "look_up", "reconcile_in_flight", "reconcile_rows"]

LOOKUP_BATCH = 100  # Clerk's limit on values per list filter


@dataclass
class ReconcileResult:
    """How many in_flight rows had their user found (created, or ``exists`` when it was there
    before the row was sent), and how many went back to pending."""

    found: int = 0
    released: int = 0


async def look_up(
    api: UsersApi,
    pacer: Pacer,
    *,
    external_ids: Sequence[str] = (),
    emails: Sequence[str] = (),
    outage_limit: float = 300.0,
) -> list[ClerkUser]:
    """One paced lookup, retried on 429 / 5xx / timeouts; raises when Clerk will not answer.

    An unreachable Clerk is an outage, not a failure: the pacer probes until it answers.
    Raises ``RunAbortedError`` on an abort code or an outage past ``outage_limit`` seconds
    (``clerk_unreachable``), ``ClerkError`` on a refusal or after 8 other failures.
    """

    async def find() -> list[ClerkUser] | Rejected | Transient:
        return await find_users(api, external_ids=external_ids, emails=emails)

    again = "nothing was sent, run the same command again later"
    found = await until_answered(
        pacer,
        find,
        doing="looking up rows left in flight",
        attempts=8,
        advice=again,
        outage_limit=outage_limit,
    )
    if isinstance(found, Rejected):
        raise ClerkError(
            f"looking users up in Clerk failed ({found.error_code}, HTTP {found.status}): "
            f"{found.text}; {again}"
        )
    return found


def match_moves(
    rows: Sequence[InFlightRow], found: Sequence[ClerkUser]
) -> list[Reconciled | Existed | Released]:
    """``Reconciled`` for rows whose user was found, ``Released`` for the others; ``Existed``
    for a found user Clerk last changed well before the row went in_flight (it was there
    before our POST: never ours to roll back)."""
    by_ext = {u.external_id: u for u in found if u.external_id is not None}
    by_email: dict[str, ClerkUser] = {}
    for candidate in found:
        if candidate.external_id is None:
            for email in candidate.email_addresses:
                by_email.setdefault(email.lower(), candidate)
    moves: list[Reconciled | Existed | Released] = []
    for item in rows:
        user: ClerkUser | None = None
        if item.external_id:
            user = by_ext.get(item.external_id)
        elif item.email:
            user = by_email.get(item.email.lower())
        if user is None:
            moves.append(Released(item.row))
        elif item.since and user.untouched_since_before(item.since):
            moves.append(Existed(item.row, user.id, attempts=0))
        else:
            moves.append(Reconciled(item.row, user.id, attempts=0))
    return moves


async def reconcile_in_flight(
    api: UsersApi, pacer: Pacer, ledger: Ledger, *, outage_limit: float = 300.0
) -> ReconcileResult:
    """Look up every in_flight row and record created / pending; return the counts.

    Raises as ``look_up`` does; rows not looked up yet stay ``in_flight``.
    """
    rows = ledger.in_flight()
    if not rows:
        return ReconcileResult()
    with_ext = [r for r in rows if r.external_id]
    with_email = [r for r in rows if not r.external_id and r.email]
    neither = [r for r in rows if not r.external_id and not r.email]
    result = ReconcileResult()
    try:
        await _look_up(
            api, pacer, ledger, with_ext, with_email, result=result, outage_limit=outage_limit
        )
    except Stopped:  # Ctrl-C: rows not looked up yet stay in_flight for the next start
        return result
    if neither:
        # no identifier to look up: such a row cannot have been accepted by Clerk anyway
        ledger.record([Released(r.row) for r in neither])
        result.released += len(neither)
    return result


async def _look_up(
    api: UsersApi,
    pacer: Pacer,
    ledger: Ledger,
    with_ext: Sequence[InFlightRow],
    with_email: Sequence[InFlightRow],
    *,
    result: ReconcileResult,
    outage_limit: float,
) -> None:
    """Look the rows up, 100 a request, recording each batch and counting it in ``result``."""
    for group, by_email in ((with_ext, False), (with_email, True)):
        for start in range(0, len(group), LOOKUP_BATCH):
            chunk = group[start : start + LOOKUP_BATCH]
            if by_email:
                users = await look_up(
                    api, pacer, emails=[r.email for r in chunk if r.email],
                    outage_limit=outage_limit,
                )  # fmt: skip
            else:
                users = await look_up(
                    api, pacer, external_ids=[r.external_id for r in chunk if r.external_id],
                    outage_limit=outage_limit,
                )  # fmt: skip
            moves = match_moves(chunk, users)
            ledger.record(moves)
            # found: the row's user is there (ours, or one that existed before it: ``exists``)
            result.released += sum(isinstance(m, Released) for m in moves)
            result.found += sum(not isinstance(m, Released) for m in moves)


async def reconcile_rows(
    kind: Kind,
    payloads: Callable[[Sequence[int]], Iterable[Payload]],
    pacer: Pacer,
    ledger: Ledger,
    *,
    outage_limit: float = 300.0,
) -> ReconcileResult:
    """Organizations and memberships left in_flight: each looked up (``Kind.find``, one paced
    request, retried as ``look_up`` is) and recorded ``created`` when found (``exists`` when
    Clerk last changed it well before the row went in_flight), else ``pending``.

    A row whose body cannot be built (a membership whose user is gone) goes back to pending.
    Raises as ``look_up`` does; rows not looked up yet stay ``in_flight``.
    """
    rows = ledger.in_flight()
    result = ReconcileResult()
    if not rows:
        return result
    jobs = {p.row: kind.job(p) for p in payloads([r.row for r in rows])}
    again = "nothing was sent, run the same command again later"
    for item in rows:
        job = jobs.get(item.row)
        move: Reconciled | Existed | Released = Released(item.row)
        if job is not None and kind.refuse(job) is None:

            async def find(job: Any = job) -> Any:
                return await kind.find(job)

            try:
                found = await until_answered(
                    pacer, find, doing=f"looking up {kind.name} left in flight", attempts=8,
                    advice=again, outage_limit=outage_limit,
                )  # fmt: skip
            except Stopped:  # Ctrl-C: the rows not looked up yet stay in_flight
                return result
            if isinstance(found, Rejected):
                raise ClerkError(
                    f"looking up {kind.name} in Clerk failed ({found.error_code}, HTTP "
                    f"{found.status}): {found.text}; {again}"
                )
            match = kind.match(job, found)
            if match is not None and item.since and match.untouched_since_before(item.since):
                move = Existed(item.row, match.id, attempts=0)  # there before our POST
            elif match is not None:
                move = Reconciled(item.row, match.id, attempts=0)
        ledger.record([move])
        if isinstance(move, Released):
            result.released += 1
        else:
            result.found += 1
    return result
