"""Offline checks of organizations and memberships (pure polars: frames in, report lines out).

``organization_lines`` and ``membership_lines`` give one line per (row, reason): ``row, key,
field, reason, message, value``, the columns ``Prepared.errors`` gives for users, so the same
report writer takes them. ``field`` says which table a line belongs to (``organization.slug``,
``membership.role``); ``row`` is a row of that table's input (a membership read from the users
input: the user's row; read from an organization's member list: the organization's row). A
membership's ``key`` is ``<organization key>/<user key>`` (the user key's ``%`` and ``/``
escaped, as ``state.kinds.membership_key`` does). Messages are fixed text that never
quotes a value; ``value`` holds the offending value.

The checks follow Clerk's CreateOrganization (reference/clerk-bapi-openapi.yml: a name of at most
256 characters, a slug of lowercase letters, digits and ``-`` unique in the instance,
``max_allowed_memberships`` a whole number, 0 for no limit) and what a membership needs: a user
and an organization that will exist, a role ``[roles]`` maps, once per pair, within the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from migrate._internal.sources import SHORT_ROW
from migrate._internal.validation.shapes import RFC3339
from migrate._internal.validation.values import HIDDEN, VALUE_LIMIT, hide_shifted_rows

__all__ = [
    "LINE_SCHEMA",
    "METADATA_MAX_BYTES",
    "NAME_MAX",
    "TenantRule",
    "membership_lines",
    "organization_lines",
    "valid_organizations",
]

NAME_MAX: Final = 256
METADATA_MAX_BYTES: Final = 8 * 1024  # Clerk's limit on each metadata object
_LEGACY_ENTRY: Final = ',"legacy_key":""'  # what organization_body adds, besides the key
LINE_SCHEMA: Final = {
    "row": pl.Int64,
    "key": pl.Utf8,
    "field": pl.Utf8,
    "reason": pl.Utf8,
    "message": pl.Utf8,
    "value": pl.Utf8,
}
_SLUG: Final = r"^[a-z0-9-]+$"
_INDEX: Final = "_index"


@dataclass(frozen=True)
class TenantRule:
    """One check: the field at fault, its reason code, the rows it catches, what it says and
    the value it shows (an expression over the checked frame)."""

    field: str
    reason: str
    bad: pl.Expr
    message: pl.Expr | str
    value: pl.Expr


def _source_rules(table: str) -> list[TenantRule]:
    """A record the reader marked: bytes the encoding rejects, a row short of fields (a line
    break in an unquoted value split it, so its cells are shifted), or otherwise unreadable."""
    error = pl.col("_source_error")
    none = pl.lit(None, pl.Utf8)
    return [
        TenantRule(
            f"{table}.row",
            "invalid_encoding",
            error == "invalid_encoding",
            "The record holds bytes that are not valid in the file's encoding. Re-export the "
            "file as UTF-8, or set the encoding it was written in.",
            none,
        ),
        TenantRule(
            f"{table}.row",
            SHORT_ROW,
            error == SHORT_ROW,
            "The record has fewer fields than the header. A line break inside an unquoted value "
            "splits a record in two (the next record then starts with the rest of it): quote "
            "that value or remove the line break, and give every record all its fields.",
            none,
        ),
        TenantRule(
            f"{table}.row",
            "unreadable_row",
            error.is_not_null() & ~error.is_in(["invalid_encoding", SHORT_ROW]),
            "The record could not be read. Check its quoting and column count in the file.",
            none,
        ),
    ]


def _first_message(text: str, first: pl.Expr) -> pl.Expr:
    return pl.lit(text + " Row ") + first.cast(pl.Utf8) + pl.lit(" has it first.")


def _compact_bytes(column: str) -> pl.Expr:
    """Bytes of the metadata as compact JSON, the form the request carries (0 when absent);
    compacting never lengthens a text, so only texts over the limit are parsed."""
    text = pl.col(column)
    over = pl.when(text.str.len_bytes() > METADATA_MAX_BYTES).then(text)
    return over.str.json_path_match("$").str.len_bytes().fill_null(0)


def _metadata_bad(column: str) -> pl.Expr:
    text = pl.col(column)
    given = text.is_not_null() & (text.str.strip_chars() != "null")
    is_object = text.str.strip_chars_start().str.starts_with("{")
    return given & ~(is_object & text.str.json_path_match("$").is_not_null()).fill_null(False)


def organization_rules(users: pl.DataFrame | None) -> list[TenantRule]:
    """The checks of a compiled organizations frame (``mapping.organizations``), in report
    order; ``users`` (``key``, ``created``) lets ``created_by`` be checked."""
    key, slug, name = pl.col("key"), pl.col("slug"), pl.col("name")
    first_key, first_slug = pl.col("_first_key"), pl.col("_first_slug")
    limit = pl.col("max_allowed_memberships").str.strip_chars()
    stamp = pl.col("created_at")
    rules = [
        *_source_rules("organization"),
        TenantRule(
            "organization.key",
            "missing_key",
            key.is_null(),
            "The organization has no key (the column organizations.key reads is empty); every "
            "organization needs one, memberships name it.",
            pl.lit(None, pl.Utf8),
        ),
        TenantRule(
            "organization.key",
            "duplicate_key",
            key.is_not_null() & (pl.col("_row") != first_key),
            _first_message("Another organization has this key; keys must be unique.", first_key),
            key,
        ),
        TenantRule(
            "organization.name",
            "missing_name",
            name.is_null() | (name.str.strip_chars() == ""),
            "Clerk requires a name for every organization.",
            pl.lit(None, pl.Utf8),
        ),
        TenantRule(
            "organization.name",
            "value_too_long",
            name.str.len_chars() > NAME_MAX,
            f"Clerk takes organization names of at most {NAME_MAX} characters.",
            name,
        ),
        TenantRule(
            "organization.slug",
            "invalid_slug",
            pl.col("slug_given") & ~slug.str.contains(_SLUG),
            "A slug may hold only lowercase letters, digits and '-' (Clerk's rule); fix the "
            'value or add transform = "lower".',
            slug,
        ),
        TenantRule(
            "organization.slug",
            "invalid_slug",
            ~pl.col("slug_given") & key.is_not_null() & (slug == ""),
            "No slug can be derived from this key (it has no letter or digit); map "
            "organizations.slug.",
            key,
        ),
        TenantRule(
            "organization.slug",
            "duplicate_slug",
            # a key given twice is reported once, not again for the slug derived from it
            (slug != "") & (pl.col("_row") != first_slug) & (pl.col("_row") == first_key),
            _first_message(
                "Another organization has this slug; Clerk needs slugs unique in the instance "
                "(a derived slug is the key lowercased, other characters made '-').",
                first_slug,
            ),
            slug,
        ),
        TenantRule(
            "organization.created_at",
            "invalid_timestamp",
            stamp.is_not_null()
            & ~(
                stamp.str.contains(RFC3339)
                & stamp.str.to_datetime("%+", time_unit="us", strict=False).is_not_null()
            ),
            'Not an RFC3339 timestamp such as 2012-10-20T07:15:20.902Z; parse = "timestamp" '
            "reads other shapes.",
            stamp,
        ),
        TenantRule(
            "organization.max_allowed_memberships",
            "invalid_limit",
            limit.is_not_null() & (limit != "") & ~limit.str.contains(r"^[0-9]{1,9}$"),
            "The membership limit must be a whole number of 0 or more (0: no limit).",
            limit,
        ),
    ]
    for column in ("public_metadata", "private_metadata"):
        # private metadata is where secrets live: its value is never shown, the row says where
        shown = pl.lit(HIDDEN) if column == "private_metadata" else pl.col(column)
        extra = pl.lit(0)
        if column == "private_metadata":  # the body adds "legacy_key": key to it
            extra = pl.col("key").fill_null("").str.len_bytes() + len(_LEGACY_ENTRY)
        rules += [
            TenantRule(
                f"organization.{column}",
                "invalid_metadata",
                _metadata_bad(column),
                "Metadata must be a JSON object.",
                shown,
            ),
            TenantRule(
                f"organization.{column}",
                "metadata_too_large",
                ~_metadata_bad(column) & (_compact_bytes(column) + extra > METADATA_MAX_BYTES),
                f"{column} is larger than Clerk's limit of {METADATA_MAX_BYTES} bytes (as compact "
                "JSON); move large data out of metadata.",
                pl.lit(HIDDEN) if column == "private_metadata" else pl.lit(None, pl.Utf8),
            ),
        ]
    if users is not None:
        by = pl.col("created_by")
        known = by.is_in(users["key"].implode())
        created = by.is_in(users.filter("created")["key"].implode())
        rules += [
            TenantRule(
                "organization.created_by",
                "unknown_user",
                by.is_not_null() & ~known,
                "created_by names no user of the users input.",
                by,
            ),
            TenantRule(
                "organization.created_by",
                "user_not_created",
                known & ~created,
                "created_by names a user whose row is invalid or skipped, so it is not created.",
                by,
            ),
        ]
    return rules


def _cut(text: pl.Expr) -> pl.Expr:
    """``text`` cut to ``VALUE_LIMIT`` characters, ending in ``…`` (as users' values are)."""
    long = text.str.len_chars() > VALUE_LIMIT
    return pl.when(long).then(text.str.slice(0, VALUE_LIMIT - 1) + pl.lit("…")).otherwise(text)


def _lines(frame: pl.DataFrame, rules: list[TenantRule], key: pl.Expr) -> pl.DataFrame:
    """Every rule's lines, ordered by row (then by the order of ``rules``)."""
    parts = []
    for order, rule in enumerate(rules):
        message = pl.lit(rule.message) if isinstance(rule.message, str) else rule.message
        parts.append(
            frame.filter(rule.bad.fill_null(False)).select(
                pl.col("_row").alias("row"),
                key.alias("key"),
                pl.lit(rule.field).alias("field"),
                pl.lit(rule.reason).alias("reason"),
                message.alias("message"),
                _cut(rule.value.cast(pl.Utf8)).alias("value"),
                pl.col(_INDEX),
                pl.lit(order).alias("_order"),
            )
        )
    if not parts:
        return pl.DataFrame(schema={**LINE_SCHEMA, _INDEX: pl.UInt32})
    lines = pl.concat(parts).sort(_INDEX, "_order").select(*LINE_SCHEMA, _INDEX)
    # a record split by a line break keeps only its short_row line, key and value hidden:
    # its cells hold whatever the split moved there (a secret, say)
    return hide_shifted_rows(lines)


def organization_lines(orgs: pl.DataFrame, users: pl.DataFrame | None = None) -> pl.DataFrame:
    """The report lines of a compiled organizations frame, in row order, plus ``_index`` (the
    record's position, 0-based) to count invalid organizations."""
    # The first holders are found before any rule filters the rows.
    frame = orgs.with_row_index(_INDEX).with_columns(
        pl.col("_row").first().over("key").alias("_first_key"),
        pl.col("_row").first().over("slug").alias("_first_slug"),
    )
    return _lines(frame, organization_rules(users), pl.col("key"))


def valid_organizations(orgs: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """``key`` and ``limit`` (0: none) of each organization that will be created: the records
    without a line (of a key given twice, the first)."""
    bad = lines[_INDEX].unique()
    good = orgs.with_row_index(_INDEX).filter(~pl.col(_INDEX).is_in(bad.implode()))
    limit = pl.col("max_allowed_memberships").str.strip_chars().cast(pl.Int64, strict=False)
    return good.select(pl.col("key"), limit.fill_null(0).alias("limit"))


def membership_lines(
    members: pl.DataFrame, orgs: pl.DataFrame, valid: pl.DataFrame, users: pl.DataFrame
) -> pl.DataFrame:
    """The report lines of a compiled memberships frame (``mapping.organizations``), in order,
    plus ``_index`` (the membership's position, 0-based).

    ``orgs`` is the compiled organizations frame, ``valid`` its ``valid_organizations``,
    ``users`` the users input's ``key`` and ``created`` (valid and not skipped). A membership
    past its organization's limit is one whose place among the otherwise valid memberships of
    that organization, in file order, is beyond ``max_allowed_memberships``.
    """
    user, org = pl.col("user"), pl.col("organization")
    frame = members.with_row_index(_INDEX).with_columns(
        user.is_in(users["key"].implode()).alias("_user_known"),
        user.is_in(users.filter("created")["key"].implode()).alias("_user_created"),
        org.is_in(orgs["key"].drop_nulls().implode()).alias("_org_known"),
        org.is_in(valid["key"].implode()).alias("_org_created"),
        pl.col("_row").first().over("user", "organization").alias("_first"),
        pl.col(_INDEX).first().over("user", "organization").alias("_first_index"),
    )
    first, first_index = pl.col("_first"), pl.col("_first_index")
    both = user.is_not_null() & org.is_not_null()
    rules = [
        *_source_rules("membership"),
        TenantRule(
            "membership.user",
            "missing_user",
            user.is_null(),
            "The membership names no user (the column memberships.user reads is empty).",
            pl.lit(None, pl.Utf8),
        ),
        TenantRule(
            "membership.organization",
            "missing_organization",
            org.is_null(),
            "The membership names no organization (the column memberships.organization reads "
            "is empty).",
            pl.lit(None, pl.Utf8),
        ),
        TenantRule(
            "membership.user",
            "unknown_user",
            user.is_not_null() & ~pl.col("_user_known"),
            "No user of the users input has this key.",
            user,
        ),
        TenantRule(
            "membership.user",
            "user_not_created",
            pl.col("_user_known") & ~pl.col("_user_created"),
            "The user's row is invalid or skipped, so the user is not created (see its line).",
            user,
        ),
        TenantRule(
            "membership.organization",
            "unknown_organization",
            org.is_not_null() & ~pl.col("_org_known"),
            "No organization of the organizations input has this key.",
            org,
        ),
        TenantRule(
            "membership.organization",
            "organization_not_created",
            pl.col("_org_known") & ~pl.col("_org_created"),
            "The organization's record is invalid, so it is not created (see its line).",
            org,
        ),
        TenantRule(
            "membership.role",
            "unknown_role",
            pl.col("role_unknown").is_not_null(),
            'This role is not in [roles]; map it there (name = "org:...") to a Clerk role key.',
            pl.col("role_unknown"),
        ),
        TenantRule(
            "membership.user",
            "duplicate_membership",
            both & (pl.col(_INDEX) != first_index),
            _first_message("The user is already a member of this organization.", first),
            user,
        ),
    ]
    lines = _lines(frame, rules, _membership_key())
    over = _over_limit(frame, lines, valid)
    return pl.concat([lines, over]).sort(_INDEX, maintain_order=True)


def _membership_key() -> pl.Expr:
    """``state.kinds.membership_key`` in polars: the user key's ``%`` and ``/`` escaped."""
    user = pl.col("user").fill_null("")
    escaped = user.str.replace_all("%", "%25", literal=True).str.replace_all(
        "/", "%2F", literal=True
    )
    return pl.concat_str(pl.col("organization").fill_null(""), pl.lit("/"), escaped)


def _over_limit(frame: pl.DataFrame, lines: pl.DataFrame, valid: pl.DataFrame) -> pl.DataFrame:
    """Lines for the otherwise valid memberships past their organization's limit."""
    fine = frame.filter(~pl.col(_INDEX).is_in(lines[_INDEX].implode()))
    fine = fine.join(
        valid.rename({"key": "organization"}), on="organization", how="left", maintain_order="left"
    )
    place = pl.col(_INDEX).cum_count().over("organization")
    rule = TenantRule(
        "membership.organization",
        "membership_limit_reached",
        (pl.col("limit") > 0) & (place > pl.col("limit")),
        "The organization allows "
        + pl.col("limit").cast(pl.Utf8)
        + " members (max_allowed_memberships) and this membership comes after them; raise the "
        "limit (0: none) or drop members.",
        pl.col("organization"),
    )
    return _lines(fine, [rule], _membership_key())
