"""Adapt ``ClerkClient``'s typed outcomes to the runner's ``Reply`` / ``Found``.

The one place the runner depends on the client's outcome types and on ``clerk.retry.classify``;
workers, reconciliation and rollback speak only ``Reply`` and ``Found``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.outcomes import ClerkUser, Created, Deleted, Rejected, Transient, Users
from migrate._internal.clerk.retry import Action, classify, config_suspect
from migrate._internal.runner.jobs import Found, Reply, ReplyAction

__all__ = ["ClientApi", "found_from_user", "reply_from_outcome"]

_ACTIONS = {
    Action.RETRY: ReplyAction.RETRY,
    Action.RECONCILE: ReplyAction.RECONCILE,
    Action.FAIL_ROW: ReplyAction.FAIL_ROW,
    Action.ABORT: ReplyAction.ABORT,
}


def reply_from_outcome(outcome: object) -> Reply:
    """Reduce any client outcome to a ``Reply``; successes are ``OK``."""
    if isinstance(outcome, Created):
        return Reply(ReplyAction.OK, user_id=outcome.user_id, status=200)
    if isinstance(outcome, Deleted):
        return Reply(ReplyAction.OK, user_id=outcome.user_id, status=200)
    if isinstance(outcome, Rejected):
        return Reply(
            _ACTIONS[classify(outcome)],
            status=outcome.status,
            code=outcome.code,
            param=outcome.param,
            message=outcome.long_message or outcome.message,
            config_suspect=config_suspect(outcome),
        )
    if isinstance(outcome, Transient):
        return Reply(
            _ACTIONS[classify(outcome)],
            status=outcome.status,
            code=outcome.code or outcome.kind,
            message=_transient_message(outcome),
            retry_after=outcome.retry_after,
            rate_limited=outcome.kind == "rate_limited",
            ambiguous=outcome.ambiguous,
            unreachable=outcome.kind in ("connection", "timeout") and not outcome.ambiguous,
        )
    return Reply(ReplyAction.OK, status=200)


def _transient_message(outcome: Transient) -> str:
    if outcome.kind == "rate_limited":
        return "rate limited by Clerk (429)"
    if outcome.kind == "server_error":
        return f"Clerk answered HTTP {outcome.status}"
    if outcome.kind == "timeout":
        return "no answer from Clerk before the timeout"
    if outcome.kind == "connection":
        return "the connection to Clerk failed or was dropped"
    return "Clerk's answer could not be read"


def found_from_user(user: ClerkUser) -> Found:
    """The identity of a Clerk user, for matching rows."""
    return Found(user.id, user.external_id, user.email_addresses)


class ClientApi:
    """``UsersApi`` over a ``ClerkClient`` (which must already be open)."""

    def __init__(self, client: ClerkClient) -> None:
        self.client = client

    async def create(self, body: dict[str, Any]) -> Reply:
        """POST /v1/users."""
        return reply_from_outcome(await self.client.create_user(body))

    async def find(
        self, *, external_ids: Sequence[str] = (), emails: Sequence[str] = ()
    ) -> list[Found] | Reply:
        """GET /v1/users by external_id (``+`` prefixed by the client) or email, <= 100 values."""
        outcome = await self.client.list_users(
            external_id=list(external_ids),
            email_address=list(emails),
            limit=min(500, max(10, 2 * (len(external_ids) + len(emails)))),
        )
        if isinstance(outcome, Users):
            return [found_from_user(u) for u in outcome.users]
        return reply_from_outcome(outcome)
