"""Compile the tenant tables against their inputs (pure polars), and build organization bodies.

``compile_organizations`` gives one row per organization record: ``_row``, ``_source_error``,
``key``, ``slug`` (the mapping's, else ``derive_slug(key)``), ``slug_given`` and each
CreateOrganization field the mapping sets (absent ones null). ``compile_memberships`` gives one
row per membership: ``_row``, ``_source_error``, ``user``, ``organization``, ``role`` (the Clerk
role key) and ``role_unknown`` (the first legacy role ``[roles]`` does not map, else null).
``organization_body`` is the exact ``POST /v1/organizations`` body of a mapped row: the legacy key
rides in ``private_metadata.legacy_key`` so an organization can be traced to its record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import polars as pl

from migrate._internal.mapping.compile import compile_values
from migrate._internal.mapping.spec import FieldKind, FieldSpec
from migrate._internal.mapping.tenants import (
    MEMBERSHIP_FIELDS,
    ORGANIZATION_FIELDS,
    ROLE_KEY,
    MembershipsSpec,
    OrganizationsSpec,
    RolesSpec,
)
from migrate._internal.sources import ROW_COLUMN, SOURCE_ERROR_COLUMN

__all__ = [
    "LEGACY_KEY",
    "ORGANIZATION_COLUMNS",
    "compile_memberships",
    "compile_organizations",
    "derive_slug",
    "organization_body",
    "resolve_roles",
]

LEGACY_KEY: Final = "legacy_key"  # private_metadata key holding the organization's legacy key
ORGANIZATION_COLUMNS: Final = ("key", "slug_given", *ORGANIZATION_FIELDS)
# Clerk's rule for a slug (CreateOrganization): lowercase letters, digits and "-".
SLUG_PATTERN: Final = r"^[a-z0-9-]+$"
_ROLE_KEY: Final = f"^{ROLE_KEY}$"


def derive_slug(key: pl.Expr) -> pl.Expr:
    """A slug from a legacy key, the same every time: accents dropped (NFKD), lowercased, each
    run of other characters one ``-``, none at either end (``Café Crème`` -> ``cafe-creme``);
    empty text when the key has no letter or digit."""
    return (
        key.str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9]+", "-")
        .str.strip_chars("-")
    )


def compile_organizations(
    spec: OrganizationsSpec, frame: pl.LazyFrame, *, file: str, notes: list[str] | None = None
) -> pl.LazyFrame:
    """The organizations frame of an input frame (see the module docstring).

    Raises ``MappingError`` naming ``file`` when a spec refers to a column the input lacks.
    """
    specs: list[tuple[str, FieldSpec, FieldKind]] = [("key", spec.key, "string")]
    specs += [(name, field, ORGANIZATION_FIELDS[name]) for name, field in spec.fields]
    mapped = compile_values(specs, frame, file=file, notes=notes)
    present = mapped.collect_schema().names()
    absent = [pl.lit(None, pl.Utf8).alias(n) for n in ORGANIZATION_FIELDS if n not in present]
    key = pl.col("key").str.strip_chars()
    return mapped.with_columns(*absent).with_columns(
        pl.when(key == "").then(None).otherwise(key).alias("key"),
        pl.col("slug").is_not_null().alias("slug_given"),
        pl.coalesce(pl.col("slug"), derive_slug(key)).alias("slug"),
    )


def compile_memberships(
    spec: MembershipsSpec,
    roles: RolesSpec,
    frame: pl.LazyFrame,
    *,
    file: str,
    user_column: str | None = None,
    organization_key: FieldSpec | None = None,
    notes: list[str] | None = None,
) -> pl.LazyFrame:
    """The memberships frame of an input frame (see the module docstring).

    ``user_column`` names a column of ``frame`` holding the user's key where the mapping maps
    none (``from_users``); ``organization_key`` is the organization's key spec where it maps no
    organization (``within``, on the organizations frame exploded by the caller). An
    organization value that is a list gives one membership per item; with ``from_users`` a
    user without one has none. Raises ``MappingError`` naming ``file``.
    """
    parts: dict[str, FieldSpec | None] = {
        "user": spec.user,
        "organization": spec.organization or organization_key,
        "role": spec.role,
    }
    specs: list[tuple[str, FieldSpec, FieldKind]] = [
        (n, f, MEMBERSHIP_FIELDS[n]) for n, f in parts.items() if f is not None
    ]
    carried = user_column if spec.user is None else None
    mapped = compile_values(
        specs, frame, file=file, notes=notes, keep=(carried,) if carried else ()
    )
    if carried:
        mapped = mapped.rename({carried: "user"})
    if spec.role is None:
        mapped = mapped.with_columns(pl.lit(None, pl.List(pl.Utf8)).alias("role"))
    return _memberships_from(mapped, roles, drop_without_org=spec.from_users)


def _memberships_from(
    mapped: pl.LazyFrame, roles: RolesSpec, *, drop_without_org: bool
) -> pl.LazyFrame:
    orgs = pl.col("organization")
    out = mapped.explode("organization", empty_as_null=True)
    if drop_without_org:
        out = out.filter(orgs.is_not_null())
    role, unknown = resolve_roles(pl.col("role"), roles)
    return out.with_columns(
        _blank_to_null(pl.col("user")).alias("user"),
        _blank_to_null(orgs).alias("organization"),
        role.alias("role"),
        unknown.alias("role_unknown"),
    ).select(ROW_COLUMN, SOURCE_ERROR_COLUMN, "user", "organization", "role", "role_unknown")


def resolve_roles(given: pl.Expr, roles: RolesSpec) -> tuple[pl.Expr, pl.Expr]:
    """The Clerk role key of a list of legacy roles, and the first role nothing maps.

    Each role maps through ``[roles]``; a role that already is a Clerk key (``org:…``) is taken
    as is; of several, the one ranked highest (first in ``[roles]``, then Clerk keys in their
    order) wins; no role at all gives the default. A role neither mapped nor a Clerk key makes
    the second expression that role (the membership is invalid), else it is null.
    """
    ranks = roles.ranked()
    item = pl.element()
    rank = (
        pl.when(item.is_in(list(ranks)))
        .then(item.replace_strict(ranks, default=None, return_dtype=pl.Int64))
        .when(item.str.contains(_ROLE_KEY))
        .then(pl.lit(len(ranks), pl.Int64))
    )
    items = pl.coalesce(given, pl.lit([], pl.List(pl.Utf8)))
    best = items.list.get(items.list.eval(rank).list.arg_min(), null_on_oob=True)
    table = dict(roles.table)
    mapped = best.replace_strict(table, default=best, return_dtype=pl.Utf8) if table else best
    role = pl.when(items.list.len() == 0).then(pl.lit(roles.default)).otherwise(mapped)
    unknown = items.list.eval(item.filter(rank.is_null())).list.first()
    return role, unknown


def _blank_to_null(e: pl.Expr) -> pl.Expr:
    text = e.cast(pl.Utf8).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def organization_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """The CreateOrganization body of one mapped organization row (a valid one: its metadata
    is JSON objects and its limit a whole number). ``created_by`` is left out: it names a
    legacy user, whose Clerk id only the run knows."""
    body: dict[str, Any] = {"name": record["name"], "slug": record["slug"]}
    if record.get("created_at"):
        body["created_at"] = record["created_at"]
    limit = record.get("max_allowed_memberships")
    if limit is not None and str(limit).strip():
        body["max_allowed_memberships"] = int(str(limit).strip())
    for name in ("public_metadata", "private_metadata"):
        text = record.get(name)
        value = json.loads(text) if text and text.strip() != "null" else None
        if value:
            body[name] = value
    private = dict(body.get("private_metadata", {}))
    private[LEGACY_KEY] = record["key"]
    body["private_metadata"] = private
    return body
