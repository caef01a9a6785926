"""What a ``sync`` does with each key: pure joins of a newer export against a run.

Actions (``Action``), per key of the newer export or of the run:

- ``new``: the run has no Clerk user for it (never seen, or never created): created as ``run``
  would create it;
- ``unchanged``: its whole-row fingerprint equals the stored one: nothing is sent;
- ``changed``: the fingerprints differ: the fields that differ are updated;
- ``unknown``: the run has a user for it but no fingerprint (a run directory made before
  fingerprints existed): every mapped field is sent, as for a change of all of them;
- ``invalid``: the newer row fails validation: nothing is sent, it is reported;
- ``gone``: the run has a user whose key the newer export lacks: reported; deleted or banned
  only when asked.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import polars as pl

__all__ = ["PLAN_SCHEMA", "Action", "count_actions", "decide"]


class Action(StrEnum):
    """What ``sync`` does for one key; stored as-is in ``sync_plan.csv``."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"
    INVALID = "invalid"
    GONE = "gone"


PLAN_SCHEMA: Final = {
    "_row": pl.Int64,
    "_key": pl.Utf8,
    "action": pl.Utf8,
    "fields": pl.Utf8,
    "clerk_user_id": pl.Utf8,
}


def decide(current: pl.DataFrame, users: pl.DataFrame, *, same_layout: bool = True) -> pl.DataFrame:
    """The action of each row of the newer export.

    ``current``: ``_row, _key, valid, whole, old_whole, fields`` (``old_whole`` null when the
    run stored no fingerprint for the key; ``fields`` the changed fields, comma-separated, for
    rows whose prints differ). ``users``: ``key`` (and ``clerk_user_id`` if known; else the
    plan's is null) of the run's created or existing users. ``same_layout`` false (the
    mapping's fields differ from the stored ones) makes every row with a stored fingerprint
    compare field by field (``fields`` decides). Returns ``PLAN_SCHEMA`` rows in ``current``'s
    order.
    """
    joined = current.join(
        _marked(users).rename({"key": "_key"}), on="_key", how="left", maintain_order="left"
    )
    same = (
        pl.col("whole") == pl.col("old_whole")
        if same_layout
        else pl.col("fields").fill_null("") == ""
    )
    action = (
        pl.when(~pl.col("valid"))
        .then(pl.lit(Action.INVALID.value))
        .when(pl.col("_user").is_null())
        .then(pl.lit(Action.NEW.value))
        .when(pl.col("old_whole").is_null())
        .then(pl.lit(Action.UNKNOWN.value))
        .when(same)
        .then(pl.lit(Action.UNCHANGED.value))
        .otherwise(pl.lit(Action.CHANGED.value))
    )
    return joined.select(
        "_row",
        "_key",
        action.alias("action"),
        pl.when(action == Action.CHANGED.value).then(pl.col("fields")).alias("fields"),
        "clerk_user_id",
    )


def _marked(users: pl.DataFrame) -> pl.DataFrame:
    """``key, clerk_user_id, _user`` (true): a user id column of nulls when none is given."""
    uid = "clerk_user_id"
    return users.select(
        "key",
        pl.col(uid) if uid in users.columns else pl.lit(None, dtype=pl.Utf8).alias(uid),
        pl.lit(value=True).alias("_user"),
    )


def count_actions(plan: pl.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per action (every action present, 0 when none) and changed rows per field."""
    counts = {a.value: 0 for a in Action}
    for action, n in plan.group_by("action").len().iter_rows():
        counts[str(action)] = int(n)
    by_field = (
        plan.filter(pl.col("action") == Action.CHANGED.value)
        .select(pl.col("fields").str.split(",").explode().alias("field"))
        .group_by("field")
        .len()
        .sort("field")
    )
    return counts, {str(f): int(n) for f, n in by_field.iter_rows() if f}
