"""Account states a source keeps beside the user's data: usernames Clerk refuses, soft-deleted
and disabled accounts. Pure polars expressions over the mapped values.

- A username kept with ``if_invalid = "legacy_username"`` that breaks Clerk's default rules
  (4-64 characters of ``A-Z a-z 0-9 _ -``, not all digits) is not sent as ``username``: it goes
  to ``private_metadata.legacy_username`` and the row gets the warning ``username_not_accepted``.
- ``[status]`` says which columns mark an account deleted or disabled: a deleted account is
  skipped (``deleted_in_source``); a disabled one is created banned, or skipped
  (``disabled_in_source``) with ``[options] disabled = "skip"``.
"""

from __future__ import annotations

import json
from typing import Final

import polars as pl

from migrate._internal.mapping.transforms import FALSE_WORDS, TRUE_WORDS

__all__ = [
    "DISABLED_MODES",
    "SKIP_COLUMN",
    "SKIP_REASONS",
    "STATUS_KEYS",
    "USERNAME_WARNING",
    "WARNING_COLUMN",
    "status_flag",
    "username_split",
    "with_metadata_entry",
]

SKIP_COLUMN: Final = "_skip"
WARNING_COLUMN: Final = "_warning"
USERNAME_WARNING: Final = "username_not_accepted"
SKIP_REASONS: Final = ("deleted_in_source", "disabled_in_source")
DISABLED_MODES: Final = ("ban", "skip")
# [status] keys: what a value of the column means.
STATUS_KEYS: Final = {
    "deleted": "deleted when set (a time, true, yes…; empty, false, 0 are not)",
    "disabled": "disabled when set (true, a time…; empty, false, 0 are not)",
    "enabled": "disabled when false (false, f, 0, no)",
    "locked_until": "disabled when a lockout date in the year 9000 or later (ASP.NET's lockout "
    "for good); an earlier, temporary lockout is ignored",
}
_USERNAME: Final = r"^[A-Za-z0-9_-]{4,64}$"


def status_flag(key: str, text: pl.Expr) -> pl.Expr:
    """Per row, whether a ``[status]`` column's text marks the account (never null)."""
    t = text.str.strip_chars().str.to_lowercase()
    given = t.is_not_null() & (t != "")
    if key == "enabled":
        return (given & t.is_in(FALSE_WORDS)).fill_null(False)
    if key == "locked_until":
        year = t.str.extract(r"^([0-9]{4,})-", 1).cast(pl.Int64, strict=False)
        return (year >= 9000).fill_null(False)
    set_ = given & (t.is_in(TRUE_WORDS) | ~t.is_in(FALSE_WORDS))
    return set_.fill_null(False)


def username_split(username: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``(accepted, refused)``: the username where Clerk's default rules accept it, else null;
    and the value where they refuse it, else null."""
    ok = username.str.contains(_USERNAME) & ~username.str.contains(r"^[0-9]+$")
    return pl.when(ok).then(username), pl.when(~ok).then(username)


def with_metadata_entry(metadata: pl.Expr | None, key: str, value: pl.Expr) -> pl.Expr:
    """JSON object text ``metadata`` with ``key: value`` added where ``value`` is set (a new
    object when the row has none)."""
    entry = pl.lit(json.dumps(key) + ":") + pl.struct(
        value.alias("v")
    ).struct.json_encode().str.slice(5).str.strip_suffix("}")
    alone = pl.lit("{") + entry + pl.lit("}")
    if metadata is None:
        return pl.when(value.is_not_null()).then(alone)
    body = metadata.str.strip_chars()
    empty = body.is_null() | (body == "") | body.str.contains(r"^\{\s*\}$")
    return (
        pl.when(value.is_null())
        .then(metadata)
        .when(empty)
        .then(alone)
        .otherwise(body.str.strip_suffix("}") + pl.lit(",") + entry + pl.lit("}"))
    )
