"""Calls to Clerk through the run's ``Pacer``: one attempt, or one retried until Clerk answers.

Every request a run makes (create, reconciliation lookups, the instance check's lookups,
verify, rollback) goes through ``paced``: the concurrency gate, then the shared rate limiter.
``until_answered`` adds the retry policy of the calls that are not a row's create (the
workers drive a create's retries themselves, row by row): a 429 pauses every caller for its
Retry-After and is re-sent without counting, other transient failures back off with jitter up
to ``attempts`` times, an abort code raises ``RunAbortedError``; any other refusal is returned.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import anyio

from migrate._internal.clerk.outcomes import (
    ClerkUser,
    CreateOutcome,
    ListOutcome,
    Rejected,
    Transient,
    Users,
)
from migrate._internal.clerk.retry import Action, backoff, classify
from migrate._internal.runner.pacing import Pacer, say_duration
from migrate.errors import ClerkError, RunAbortedError

__all__ = ["UsersApi", "find_users", "paced", "until_answered"]

T = TypeVar("T")


class UsersApi(Protocol):
    """The two calls the loader makes: ``ClerkClient`` itself, or a test's fake."""

    async def create_user(self, body: Mapping[str, Any]) -> CreateOutcome:
        """POST /v1/users; never raises for an HTTP status."""
        ...

    async def list_users(
        self, *, external_id: Sequence[str] = (), email_address: Sequence[str] = (), limit: int
    ) -> ListOutcome:
        """GET /v1/users filtered by exact values (at most 100 per filter)."""
        ...


async def find_users(
    api: UsersApi, *, external_ids: Sequence[str] = (), emails: Sequence[str] = ()
) -> list[ClerkUser] | Rejected | Transient:
    """The users with these external ids (``+`` prefixed by the client) or emails, one request."""
    outcome = await api.list_users(
        external_id=list(external_ids),
        email_address=list(emails),
        limit=min(500, max(10, 2 * (len(external_ids) + len(emails)))),
    )
    return list(outcome.users) if isinstance(outcome, Users) else outcome


async def paced(pacer: Pacer, call: Callable[[], Awaitable[T]]) -> T:
    """``call`` once, when the pacer lets it: a concurrency slot, then the shared limiter."""
    async with pacer.gate:
        await pacer.acquire()
        return await call()


async def until_answered(
    pacer: Pacer,
    call: Callable[[], Awaitable[T | Rejected | Transient]],
    *,
    doing: str,
    attempts: int = 6,
    advice: str = "try again later",
    outage_limit: float | None = None,
    backoff_base: float = 0.5,
) -> T | Rejected:
    """``call`` paced and retried until Clerk answers; a refusal that is not an abort is returned.

    With ``outage_limit``, no connection at all is an outage, not a failure: the pacer stops
    every request and probes until Clerk answers, and past ``outage_limit`` seconds raises
    ``RunAbortedError("clerk_unreachable")``. Raises ``RunAbortedError`` on an abort code (a bad
    key, a quota), and ``ClerkError`` naming ``doing`` and ``advice`` after ``attempts`` other
    transient failures (429s not counted), waiting ``backoff(n, base=backoff_base)`` after each.
    """
    rng = random.Random()
    failures = 0
    while True:
        outcome = await paced(pacer, call)
        if outage_limit is not None and isinstance(outcome, Transient) and outcome.unreachable:
            lasted = pacer.on_unreachable()  # the next acquire() waits for the probe's turn
            if lasted >= outage_limit:
                raise RunAbortedError(
                    "clerk_unreachable",
                    f"Clerk has been unreachable for {say_duration(lasted)} ({outcome.text}) "
                    f"while {doing}; nothing was sent: check the network, the API URL and the "
                    "proxy",
                )
            continue
        if outage_limit is not None:
            pacer.on_reachable()
        if not isinstance(outcome, Rejected | Transient):
            return outcome
        if classify(outcome) is Action.ABORT:
            raise RunAbortedError(
                outcome.error_code, f"Clerk refused the run: {outcome.error_code}: {outcome.text}"
            )
        if isinstance(outcome, Rejected):
            return outcome
        if outcome.rate_limited:
            pacer.on_rate_limited(outcome.retry_after)
            continue
        failures += 1
        if failures >= attempts:
            raise ClerkError(
                f"{doing} failed after {failures} attempts ({outcome.error_code}, HTTP "
                f"{outcome.status}): {outcome.text}; {advice}"
            )
        await anyio.sleep(backoff(failures, rng, backoff_base))
