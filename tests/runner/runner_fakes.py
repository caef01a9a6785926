"""A scripted in-memory ``UsersApi`` for unit tests of the worker layer (no HTTP)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from migrate._internal.runner.jobs import Found, Reply, ReplyAction

OK = ReplyAction.OK


def transient(status: int = 500, *, ambiguous: bool = True, code: str = "server_error") -> Reply:
    """A 5xx-like retryable reply."""
    return Reply(ReplyAction.RETRY, status=status, code=code, ambiguous=ambiguous)


def limited(retry_after: float = 0.01) -> Reply:
    """A 429 with Retry-After."""
    return Reply(
        ReplyAction.RETRY,
        status=429,
        code="too_many_requests",
        retry_after=retry_after,
        rate_limited=True,
        ambiguous=False,
    )


def rejected(
    code: str,
    param: str | None = None,
    *,
    action: ReplyAction = ReplyAction.FAIL_ROW,
    suspect: bool = False,
) -> Reply:
    """A 4xx reply."""
    return Reply(
        action,
        status=422,
        code=code,
        param=param,
        message=f"{code} message",
        config_suspect=suspect,
    )


class FakeApi:
    """Clerk in a dict. ``script[external_id]`` lists what successive POSTs of that row do:
    a ``Reply`` is answered as-is; ``"lost"`` stores the user and answers 500 (a lost response);
    when the script is exhausted the POST creates the user (or conflicts if it exists)."""

    def __init__(self, script: dict[str, list[Reply | str]] | None = None) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.users: dict[str, Found] = {}
        self.posts: list[str] = []
        self.finds = 0
        self.find_script: list[Reply] = []
        self._ids = itertools.count(1)

    def add_user(self, external_id: str | None, email: str | None = None) -> str:
        """Pre-existing user; returns its id."""
        uid = f"user_{next(self._ids)}"
        self.users[uid] = Found(uid, external_id, (email,) if email else ())
        return uid

    def count(self, external_id: str) -> int:
        """How many users carry ``external_id``."""
        return sum(u.external_id == external_id for u in self.users.values())

    async def create(self, body: dict[str, Any]) -> Reply:
        ext = body.get("external_id")
        email = (body.get("email_address") or [None])[0]
        self.posts.append(str(ext))
        steps = self.script.get(str(ext), [])
        if steps:
            step = steps.pop(0)
            if step == "lost":
                self.add_user(ext, email)
                return transient()
            assert isinstance(step, Reply)
            return step
        taken = any(
            (ext and u.external_id == ext)
            or (email and email.lower() in (e.lower() for e in u.emails))
            for u in self.users.values()
        )
        if taken:
            return rejected("form_identifier_exists", "email_address", action=ReplyAction.RECONCILE)
        return Reply(OK, user_id=self.add_user(ext, email), status=200)

    async def find(
        self, *, external_ids: Sequence[str] = (), emails: Sequence[str] = ()
    ) -> list[Found] | Reply:
        self.finds += 1
        if self.find_script:
            return self.find_script.pop(0)
        wanted_ext, wanted_mail = set(external_ids), {e.lower() for e in emails}
        return [
            u
            for u in self.users.values()
            if (u.external_id in wanted_ext) or any(e.lower() in wanted_mail for e in u.emails)
        ]
