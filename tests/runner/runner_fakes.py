"""A scripted in-memory ``UsersApi`` for unit tests of the worker layer (no HTTP).

It answers with the client's own outcomes (``Created``, ``Users``, ``Rejected``, ``Transient``),
so the workers meet exactly what ``ClerkClient`` returns.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from migrate._internal.clerk.outcomes import (
    ClerkUser,
    Created,
    CreateOutcome,
    ListOutcome,
    Rejected,
    Transient,
    Users,
)


def transient(
    status: int = 500, *, ambiguous: bool = True, code: str = "server_error"
) -> Transient:
    """A 5xx-like retryable answer."""
    return Transient("server_error", status=status, code=code, ambiguous=ambiguous)


def limited(retry_after: float = 0.01) -> Transient:
    """A 429 with Retry-After."""
    return Transient(
        "rate_limited",
        status=429,
        code="too_many_requests",
        retry_after=retry_after,
        ambiguous=False,
    )


def rejected(code: str, param: str | None = None) -> Rejected:
    """A 422 with Clerk's ``code``: ``clerk.retry.RULES`` says what it means for the row."""
    return Rejected(status=422, code=code, param=param, message=f"{code} message")


class FakeApi:
    """Clerk in a dict. ``script[external_id]`` lists what successive POSTs of that row do:
    an outcome is answered as-is; ``"lost"`` stores the user and answers 500 (a lost response);
    when the script is exhausted the POST creates the user (or conflicts if it exists)."""

    def __init__(self, script: dict[str, list[Rejected | Transient | str]] | None = None) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.users: dict[str, ClerkUser] = {}
        self.posts: list[str] = []
        self.finds = 0
        self.find_script: list[Rejected | Transient] = []
        self._ids = itertools.count(1)

    def add_user(self, external_id: str | None, email: str | None = None) -> str:
        """Pre-existing user; returns its id."""
        uid = f"user_{next(self._ids)}"
        self.users[uid] = ClerkUser(uid, external_id, (email,) if email else ())
        return uid

    def count(self, external_id: str) -> int:
        """How many users carry ``external_id``."""
        return sum(u.external_id == external_id for u in self.users.values())

    async def create_user(self, body: Mapping[str, Any]) -> CreateOutcome:
        ext = body.get("external_id")
        email = (body.get("email_address") or [None])[0]
        self.posts.append(str(ext))
        steps = self.script.get(str(ext), [])
        if steps:
            step = steps.pop(0)
            if step == "lost":
                self.add_user(ext, email)
                return transient()
            assert isinstance(step, Rejected | Transient)
            return step
        taken = any(
            (ext and u.external_id == ext)
            or (email and email.lower() in (e.lower() for e in u.email_addresses))
            for u in self.users.values()
        )
        if taken:
            return rejected("form_identifier_exists", "email_address")
        return Created(self.users[self.add_user(ext, email)])

    async def list_users(
        self, *, external_id: Sequence[str] = (), email_address: Sequence[str] = (), limit: int
    ) -> ListOutcome:
        self.finds += 1
        if self.find_script:
            return self.find_script.pop(0)
        wanted_ext, wanted_mail = set(external_id), {e.lower() for e in email_address}
        return Users(
            tuple(
                u
                for u in self.users.values()
                if (u.external_id in wanted_ext)
                or any(e.lower() in wanted_mail for e in u.email_addresses)
            )
        )
