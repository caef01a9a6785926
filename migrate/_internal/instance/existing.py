"""Which of the input's users the instance already holds: ``GET /v1/users``, 100 values a request.

The valid rows' external ids, email addresses, phone numbers and usernames are looked up one
filter at a time, at most ``MAX_FILTER_VALUES`` (100) distinct values per request, every request
through the run's ``Pacer`` (so the lookups obey the same rate and 429 pauses as the creates).
A row is then predicted as the runner will record it (``runner.workers._match``):

- ``already_migrated``: a user with the row's external id (or, for a row without one, a user
  without one holding its primary email) is there: the run records ``exists``;
- ``identifier_taken``: another user holds one of its identifiers: Clerk refuses the create
  (``form_identifier_exists``) and the row fails as a conflict naming that user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final

import polars as pl

from migrate._internal.clerk.client import MAX_FILTER_VALUES, MAX_LIST_LIMIT, ClerkClient
from migrate._internal.clerk.outcomes import ClerkUser, Counted, Rejected
from migrate._internal.runner.calls import paced, until_answered
from migrate._internal.runner.pacing import Pacer
from migrate.errors import ClerkError

__all__ = ["FILTERS", "ExistingUsers", "claims_frame", "lookup_existing", "match_existing"]

# filter name -> how a value is compared (Clerk matches emails and usernames in any case)
FILTERS: Final = ("external_id", "email_address", "phone_number", "username")
_FOLDED: Final = frozenset({"email_address", "username"})
_MAX_ATTEMPTS: Final = 8


@dataclass(frozen=True)
class ExistingUsers:
    """What the lookups found: per-row lines, and what they cost."""

    lines: pl.DataFrame  # row, key, field, reason, message
    requests: int
    values: dict[str, int] = field(default_factory=dict)  # distinct values looked up per filter
    users_found: int = 0
    total_users: int | None = None  # GET /users/count, when asked


def claims_frame(mapped: pl.LazyFrame, rows: Sequence[int] | None = None) -> pl.DataFrame:
    """``_row, _key, external_id, email_address, phone_number, username`` of the rows to look up
    (``rows``: only those input rows; columns the mapping lacks come out empty)."""
    names = mapped.collect_schema().names()
    lists = {"email_address", "phone_number"}
    frame = mapped.select(
        "_row",
        "_key",
        *(
            pl.col(c)
            if c in names
            else (
                pl.lit([], dtype=pl.List(pl.Utf8)) if c in lists else pl.lit(None, pl.Utf8)
            ).alias(c)
            for c in FILTERS
        ),
    )
    if rows is not None:
        frame = frame.filter(pl.col("_row").is_in(pl.Series(rows, dtype=pl.Int64)))
    return frame.collect()


def _distinct(claims: pl.DataFrame, name: str) -> list[str]:
    column = claims[name]
    if column.dtype == pl.List(pl.Utf8):
        column = column.explode()
    values = column.drop_nulls().filter(column.drop_nulls() != "")
    if name in _FOLDED:
        values = values.str.to_lowercase()
    return values.unique(maintain_order=True).to_list()


async def _list(client: ClerkClient, pacer: Pacer, name: str, values: list[str]) -> list[ClerkUser]:
    """One paced ``GET /users`` for ``values`` of filter ``name``, retried on 429 / 5xx."""
    again = "nothing was sent, run check again later"
    outcome = await until_answered(
        pacer,
        partial(client.list_users, **{name: values}, limit=MAX_LIST_LIMIT),  # type: ignore[arg-type]
        doing="looking up existing users",
        attempts=_MAX_ATTEMPTS,
        advice=again,
    )
    if isinstance(outcome, Rejected):
        raise ClerkError(
            f"looking up existing users failed ({outcome.code}, HTTP {outcome.status}); {again}"
        )
    return list(outcome.users)


async def lookup_existing(
    client: ClerkClient, pacer: Pacer, claims: pl.DataFrame, *, count: bool = False
) -> ExistingUsers:
    """Look every claimed value up (one request per 100 distinct values of a filter) and
    predict each row's fate; with ``count``, also ``GET /users/count``.

    Raises ``ClerkError`` when Clerk refuses or keeps failing.
    """
    users: dict[str, ClerkUser] = {}
    values: dict[str, int] = {}
    requests = 0
    for name in FILTERS:
        distinct = _distinct(claims, name)
        values[name] = len(distinct)
        for start in range(0, len(distinct), MAX_FILTER_VALUES):
            found = await _list(client, pacer, name, distinct[start : start + MAX_FILTER_VALUES])
            requests += 1
            users.update((u.id, u) for u in found)
    total = None
    if count:
        counted = await paced(pacer, client.count_users)
        requests += 1
        total = counted.total if isinstance(counted, Counted) else None
    return ExistingUsers(
        match_existing(claims, list(users.values())), requests, values, len(users), total
    )


def match_existing(claims: pl.DataFrame, users: Sequence[ClerkUser]) -> pl.DataFrame:
    """Per-row ``already_migrated`` / ``identifier_taken`` lines: ``claims`` against ``users``."""
    by_ext = {u.external_id: u for u in users if u.external_id}
    owners: dict[tuple[str, str], ClerkUser] = {}
    for u in users:
        for email in u.email_addresses:
            owners[("email_address", email.lower())] = u
        for phone in u.phone_numbers:
            owners[("phone_number", phone)] = u
        if u.username:
            owners[("username", u.username.lower())] = u
    out: list[tuple[int, str, str, str, str]] = []
    for row in claims.iter_rows(named=True):
        ext = row["external_id"] or None
        emails = [e.lower() for e in row["email_address"] or []]
        mine = by_ext.get(ext) if ext else None
        if mine is None and not ext and emails:
            holder = owners.get(("email_address", emails[0]))
            mine = holder if holder is not None and not holder.external_id else None
        if mine is not None:
            out.append(
                (
                    row["_row"],
                    row["_key"],
                    "external_id" if ext else "email_address",
                    "already_migrated",
                    f"already in Clerk as {mine.id}: the run will record it as exists",
                )
            )
            continue
        claimed = [("email_address", e) for e in emails]
        claimed += [("phone_number", p) for p in row["phone_number"] or []]
        if row["username"]:
            claimed.append(("username", row["username"].lower()))
        for name, value in claimed:
            holder = owners.get((name, value))
            if holder is not None:
                held_as = f" (external_id {holder.external_id})" if holder.external_id else ""
                out.append(
                    (
                        row["_row"],
                        row["_key"],
                        name,
                        "identifier_taken",
                        f"{name} {value} is held by Clerk user {holder.id}{held_as}: Clerk "
                        "will refuse the row (form_identifier_exists); merge or drop it",
                    )
                )
                break
    return pl.DataFrame(
        out,
        schema={
            "row": pl.Int64,
            "key": pl.Utf8,
            "field": pl.Utf8,
            "reason": pl.Utf8,
            "message": pl.Utf8,
        },
        orient="row",
    )
