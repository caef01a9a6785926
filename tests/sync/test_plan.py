"""The sync plan's joins: each newer row's action, the gone keys, the counts."""

from __future__ import annotations

import polars as pl

from migrate._internal.delta.plan import PLAN_SCHEMA, Action, count_actions, decide


def current() -> pl.DataFrame:
    """Five newer rows: unchanged, changed, no fingerprint, never created, invalid."""
    return pl.DataFrame(
        {
            "_row": [2, 3, 4, 5, 6],
            "_key": ["same", "edit", "old", "fresh", "bad"],
            "valid": [True, True, True, True, False],
            "whole": [b"A", b"B2", b"C", b"D", b"E"],
            "old_whole": [b"A", b"B1", None, None, b"E0"],
            "fields": [None, "first_name", None, None, None],
        },
        schema_overrides={"whole": pl.Binary, "old_whole": pl.Binary},
    )


USERS = pl.DataFrame(
    {"key": ["same", "edit", "old", "bad", "left"], "clerk_user_id": ["u1", "u2", "u3", "u4", "u5"]}
)


def test_each_row_gets_its_action_and_changed_rows_their_fields() -> None:
    """unchanged / changed (with fields) / unknown / new / invalid, in the export's order."""
    plan = decide(current(), USERS)
    assert plan["action"].to_list() == ["unchanged", "changed", "unknown", "new", "invalid"]
    assert plan["fields"].to_list() == [None, "first_name", None, None, None]
    assert plan["clerk_user_id"].to_list() == ["u1", "u2", "u3", None, "u4"]


def test_another_field_layout_compares_field_by_field() -> None:
    """When the mapping's fields differ from the stored ones, only changed fields count."""
    frame = current().with_columns(pl.Series("fields", ["", "first_name", None, None, None]))
    plan = decide(frame.with_columns(pl.lit(b"X", dtype=pl.Binary).alias("whole")), USERS,
                  same_layout=False)  # fmt: skip
    assert plan["action"].to_list()[:2] == ["unchanged", "changed"]


def test_counts_cover_every_action_and_field() -> None:
    """Counts cover every action (a gone row, as the plan adds it, included) and field."""
    plan = decide(current(), USERS)
    gone = pl.DataFrame(
        {"_row": [None], "_key": ["left"], "action": ["gone"], "fields": [None],
         "clerk_user_id": ["u5"]},
        schema=PLAN_SCHEMA,
    )  # fmt: skip
    counts, by_field = count_actions(pl.concat([plan, gone]))
    assert counts == {
        Action.NEW: 1, Action.CHANGED: 1, Action.UNCHANGED: 1, Action.UNKNOWN: 1,
        Action.INVALID: 1, Action.GONE: 1,
    }  # fmt: skip
    assert by_field == {"first_name": 1}
