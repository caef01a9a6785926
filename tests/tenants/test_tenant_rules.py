"""The offline checks of organizations and memberships, each on a tiny literal frame."""

from __future__ import annotations

from typing import Any

import polars as pl

from migrate._internal.validation.tenants import (
    membership_lines,
    organization_lines,
    valid_organizations,
)

USERS = pl.DataFrame({"key": ["u1", "u2", "u3", "bad"], "created": [True, True, True, False]})


def orgs(*rows: dict[str, Any]) -> pl.DataFrame:
    """A compiled organizations frame (mapping.organizations' columns); ``_row`` from 2."""
    base = {
        "_source_error": None, "key": None, "name": "N", "slug": None, "slug_given": False,
        "created_at": None, "max_allowed_memberships": None, "public_metadata": None,
        "private_metadata": None, "created_by": None,
    }  # fmt: skip
    records = []
    for i, row in enumerate(rows):
        record = {"_row": i + 2, **base, **row}
        if record["slug"] is None and record["key"] is not None:
            record["slug"] = str(record["key"]).lower()
        record["slug_given"] = "slug" in row
        records.append(record)
    schema = dict.fromkeys(base, pl.Utf8) | {"_row": pl.Int64, "slug_given": pl.Boolean}
    return pl.DataFrame(records, schema=schema)


def reasons(lines: pl.DataFrame) -> list[tuple[int, str, str, str | None]]:
    return lines.select("row", "field", "reason", "value").rows()


def test_a_good_organization_has_no_line() -> None:
    """A keyed, named organization with a good slug, stamp, limit and metadata passes."""
    frame = orgs(
        {
            "key": "acme",
            "created_at": "2020-01-02T03:04:05Z",
            "max_allowed_memberships": "0",
            "public_metadata": '{"plan": {"tier": 2}}',
            "created_by": "u1",
        }
    )
    assert organization_lines(frame, USERS).is_empty()


def test_each_organization_rule_names_row_field_and_value() -> None:
    """Every organization rule reports its row, its field and the offending value (cut to 200
    characters as users' values are; private metadata never shown)."""
    frame = orgs(
        {"key": "acme"},
        {"key": "acme", "name": "Other"},
        {"key": None},
        {"key": "b", "name": " "},
        {"key": "c", "name": "x" * 257},
        {"key": "d", "slug": "Not OK"},
        {"key": "!!", "slug": ""},
        {"key": "e", "slug": "acme"},
        {"key": "f", "created_at": "yesterday"},
        {"key": "g", "created_at": "2021-02-30T00:00:00Z"},
        {"key": "h", "max_allowed_memberships": "-1"},
        {"key": "i", "public_metadata": "[1]", "private_metadata": "{nope"},
        {"key": "j", "created_by": "ghost"},
        {"key": "k", "created_by": "bad"},
    )
    frame = frame.with_columns(
        pl.when(pl.col("_row") == 8).then(False).otherwise(pl.col("slug_given")).alias("slug_given")
    )
    assert reasons(organization_lines(frame, USERS)) == [
        (3, "organization.key", "duplicate_key", "acme"),
        (4, "organization.key", "missing_key", None),
        (5, "organization.name", "missing_name", None),
        (6, "organization.name", "value_too_long", "x" * 199 + "…"),
        (7, "organization.slug", "invalid_slug", "Not OK"),
        (8, "organization.slug", "invalid_slug", "!!"),
        (9, "organization.slug", "duplicate_slug", "acme"),
        (10, "organization.created_at", "invalid_timestamp", "yesterday"),
        (11, "organization.created_at", "invalid_timestamp", "2021-02-30T00:00:00Z"),
        (12, "organization.max_allowed_memberships", "invalid_limit", "-1"),
        (13, "organization.public_metadata", "invalid_metadata", "[1]"),
        (13, "organization.private_metadata", "invalid_metadata", "[hidden]"),
        (14, "organization.created_by", "unknown_user", "ghost"),
        (15, "organization.created_by", "user_not_created", "bad"),
    ]


def test_a_duplicate_says_which_row_has_it_first() -> None:
    """A duplicate key's message names the first row holding the key."""
    lines = organization_lines(orgs({"key": "a"}, {"key": "b"}, {"key": "a"}), USERS)
    assert lines["message"].to_list() == [
        "Another organization has this key; keys must be unique. Row 2 has it first."
    ]


def members(*rows: tuple[str | None, str | None, str | None, str | None]) -> pl.DataFrame:
    """A compiled memberships frame of (user, organization, role, role_unknown); ``_row`` from 2."""
    return pl.DataFrame(
        [
            {
                "_row": i + 2,
                "_source_error": None,
                "user": u,
                "organization": o,
                "role": r,
                "role_unknown": x,
            }
            for i, (u, o, r, x) in enumerate(rows)
        ],
        schema={
            "_row": pl.Int64,
            "_source_error": pl.Utf8,
            "user": pl.Utf8,
            "organization": pl.Utf8,
            "role": pl.Utf8,
            "role_unknown": pl.Utf8,
        },
    )


def check(frame: pl.DataFrame, organizations: pl.DataFrame) -> pl.DataFrame:
    valid = valid_organizations(organizations, organization_lines(organizations, USERS))
    return membership_lines(frame, organizations, valid, USERS)


def test_each_membership_rule_names_row_key_field_and_value() -> None:
    """Unknown or uncreated users and organizations, missing cells, unmapped roles and
    duplicates are each reported on their row with the organization/user key."""
    organizations = orgs({"key": "acme"}, {"key": "broken", "name": None})
    frame = members(
        ("u1", "acme", "org:admin", None),
        (None, "acme", "org:member", None),
        ("u2", None, "org:member", None),
        ("ghost", "acme", "org:member", None),
        ("bad", "acme", "org:member", None),
        ("u2", "nowhere", "org:member", None),
        ("u2", "broken", "org:member", None),
        ("u3", "acme", None, "boss"),
        ("u1", "acme", "org:member", None),
    )
    lines = check(frame, organizations)
    assert lines.select("row", "key", "field", "reason", "value").rows() == [
        (3, "acme/", "membership.user", "missing_user", None),
        (4, "/u2", "membership.organization", "missing_organization", None),
        (5, "acme/ghost", "membership.user", "unknown_user", "ghost"),
        (6, "acme/bad", "membership.user", "user_not_created", "bad"),
        (7, "nowhere/u2", "membership.organization", "unknown_organization", "nowhere"),
        (8, "broken/u2", "membership.organization", "organization_not_created", "broken"),
        (9, "acme/u3", "membership.role", "unknown_role", "boss"),
        (10, "acme/u1", "membership.user", "duplicate_membership", "u1"),
    ]
    assert lines["message"][-1] == (
        "The user is already a member of this organization. Row 2 has it first."
    )


def test_memberships_past_the_limit_are_refused_in_file_order() -> None:
    """With max_allowed_memberships 2, the third valid member on is refused; an invalid one does
    not take a place; 0 means no limit."""
    organizations = orgs(
        {"key": "small", "max_allowed_memberships": "2"},
        {"key": "open", "max_allowed_memberships": "0"},
    )
    frame = members(
        ("u1", "small", "org:admin", None),
        ("ghost", "small", "org:member", None),
        ("u2", "small", "org:member", None),
        ("u3", "small", "org:member", None),
        ("u1", "open", "org:member", None),
        ("u2", "open", "org:member", None),
        ("u3", "open", "org:member", None),
    )
    lines = check(frame, organizations)
    assert reasons(lines) == [
        (3, "membership.user", "unknown_user", "ghost"),
        (5, "membership.organization", "membership_limit_reached", "small"),
    ]
    assert lines["message"][-1].startswith("The organization allows 2 members")


def test_the_first_of_a_duplicated_organization_key_takes_the_memberships() -> None:
    """Of two records with one key the first is created, so its members are fine."""
    organizations = orgs({"key": "acme"}, {"key": "acme"})
    assert check(members(("u1", "acme", "org:member", None)), organizations).is_empty()
