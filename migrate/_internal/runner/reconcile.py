"""Start-up reconciliation: settle every row an earlier process left ``in_flight``.

Such a row's POST may or may not have reached Clerk. Before anything is sent, each one is looked
up (100 external_ids per GET; rows without one by primary email): found -> ``created`` with the
Clerk id; not found -> back to ``pending``. Nothing is re-sent until every lookup has answered:
an unrecoverable lookup failure stops the run, and the rows stay ``in_flight`` for next time.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from migrate._internal.runner.jobs import Event, EventKind, Found, Reply, ReplyAction
from migrate._internal.runner.pacing import Pacer, Stopped
from migrate._internal.runner.recorder import InFlightRow, Ledger
from migrate._internal.runner.workers import UsersApi
from migrate.errors import ClerkError, RunAbortedError

__all__ = ["LOOKUP_BATCH", "ReconcileResult", "find_with_retries", "reconcile_in_flight"]

LOOKUP_BATCH = 100  # Clerk's limit on values per list filter


@dataclass
class ReconcileResult:
    """How many in_flight rows turned out created, and how many went back to pending."""

    found: int = 0
    released: int = 0


async def find_with_retries(
    api: UsersApi,
    pacer: Pacer,
    *,
    external_ids: Sequence[str] = (),
    emails: Sequence[str] = (),
    max_attempts: int = 8,
    backoff: Callable[[int], float] | None = None,
) -> list[Found]:
    """One paced lookup, retried on 429 / 5xx / timeouts; raises when Clerk will not answer.

    Raises ``RunAbortedError`` on an abort code, ``ClerkError`` after ``max_attempts`` failures.
    """
    rng = random.Random()
    wait = backoff or (lambda attempt: rng.uniform(0, min(30.0, 0.5 * 2**attempt)))
    failures = 0
    while True:
        async with pacer.gate:
            await pacer.acquire()
            result = await api.find(external_ids=external_ids, emails=emails)
        if isinstance(result, list):
            return result
        reply: Reply = result
        if reply.action is ReplyAction.ABORT:
            raise RunAbortedError(reply.code or "aborted", _abort_text(reply))
        if reply.rate_limited:
            pacer.on_rate_limited(reply.retry_after)
            continue
        failures += 1
        if reply.action is not ReplyAction.RETRY or failures >= max_attempts:
            raise ClerkError(
                f"looking users up in Clerk failed ({reply.code}, HTTP {reply.status}): "
                f"{reply.message}; nothing was sent, run the same command again later"
            )
        await anyio.sleep(wait(failures))


def _abort_text(reply: Reply) -> str:
    return f"Clerk refused the run: {reply.code}: {reply.message}"


def match_events(rows: Sequence[InFlightRow], found: Sequence[Found]) -> list[Event]:
    """Created events for rows whose user was found, released for the others."""
    by_ext = {u.external_id: u for u in found if u.external_id is not None}
    by_email: dict[str, Found] = {}
    for candidate in found:
        if candidate.external_id is None:
            for email in candidate.emails:
                by_email.setdefault(email.lower(), candidate)
    events = []
    for item in rows:
        user: Found | None = None
        if item.external_id:
            user = by_ext.get(item.external_id)
        elif item.email:
            user = by_email.get(item.email.lower())
        if user is None:
            events.append(Event(EventKind.RELEASED, item.row))
        else:
            events.append(Event(EventKind.CREATED, item.row, user.user_id, found_by_lookup=True))
    return events


async def reconcile_in_flight(api: UsersApi, pacer: Pacer, ledger: Ledger) -> ReconcileResult:
    """Look up every in_flight row and record created / pending; return the counts."""
    rows = ledger.in_flight()
    if not rows:
        return ReconcileResult()
    with_ext = [r for r in rows if r.external_id]
    with_email = [r for r in rows if not r.external_id and r.email]
    neither = [r for r in rows if not r.external_id and not r.email]
    result = ReconcileResult()
    try:
        await _look_up(api, pacer, ledger, with_ext, with_email, result=result)
    except Stopped:  # Ctrl-C: rows not looked up yet stay in_flight for the next start
        return result
    if neither:
        # no identifier to look up: such a row cannot have been accepted by Clerk anyway
        ledger.record([Event(EventKind.RELEASED, r.row) for r in neither])
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
) -> None:
    """Look the rows up, 100 a request, recording each batch and counting it in ``result``."""
    for group, by_email in ((with_ext, False), (with_email, True)):
        for start in range(0, len(group), LOOKUP_BATCH):
            chunk = group[start : start + LOOKUP_BATCH]
            if by_email:
                users = await find_with_retries(
                    api, pacer, emails=[r.email for r in chunk if r.email]
                )
            else:
                users = await find_with_retries(
                    api, pacer, external_ids=[r.external_id for r in chunk if r.external_id]
                )
            events = match_events(chunk, users)
            ledger.record(events)
            hits = sum(e.kind is EventKind.CREATED for e in events)
            result.found += hits
            result.released += len(events) - hits
