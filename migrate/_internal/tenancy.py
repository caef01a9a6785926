"""Prepare a run's organizations and memberships: read their inputs, map and check them offline.

``prepare_tenants(spec, users, files)`` reads ``[organizations]``' input and ``[memberships]``'
(its own file, the users input, or the organizations' member lists; ``user_by``: members named
by a users-input column such as a username, matched to the users' keys), compiles them
(``mapping.organizations``) and checks them against each other and the users input
(``validation.tenants``). ``PreparedTenants`` hands out what ``validate`` reports and what a run
plans: per organization its row, key, slug, legacy creator and CreateOrganization body; per
membership its row, user key, organization key and Clerk role key. Organization inputs are small
(an organization has many members): both tables are read whole.

A file the command line gives overrides the mapping's ``input``; without either, the table is
left out with a notice (a preset names no file). ``--organizations`` with a mapping that has no
``[organizations]`` reads the generic shape (``mapping.load.generic_tenants``). A tenant input
that holds no row is a ``SourceError``, as for users.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from migrate._internal.mapping.load import generic_tenants
from migrate._internal.mapping.organizations import (
    compile_memberships,
    compile_organizations,
    organization_body,
)
from migrate._internal.mapping.spec import MappingSpec
from migrate._internal.sources import (
    EMPTY_COLUMN,
    ROW_COLUMN,
    SHORT_ROW,
    SOURCE_ERROR_COLUMN,
    SourceOptions,
    reading,
    scan_source,
)
from migrate._internal.sources.pieces import SourceReader
from migrate._internal.validation.tenants import (
    LINE_SCHEMA,
    membership_lines,
    organization_lines,
    valid_organizations,
)
from migrate._internal.validation.values import HIDDEN
from migrate.errors import ConfigError, SourceError

__all__ = [
    "KINDS",
    "PreparedTenants",
    "TenantCounts",
    "TenantFiles",
    "prepare_tenants",
    "user_keys",
]

KINDS: Final = ("organizations", "memberships")
_USER_KEY: Final = "_user_key"
_ORG_PLAN: Final = {
    "row": pl.Int64, "key": pl.Utf8, "slug": pl.Utf8, "created_by": pl.Utf8, "valid": pl.Boolean,
}  # fmt: skip
_MEMBER_PLAN: Final = {
    "row": pl.Int64, "user": pl.Utf8, "organization": pl.Utf8, "role": pl.Utf8,
    "valid": pl.Boolean,
}  # fmt: skip


@dataclass(frozen=True)
class TenantFiles:
    """Files given on the command line for the tenant tables (None: the mapping's ``input``)."""

    organizations: Path | None = None
    memberships: Path | None = None


@dataclass(frozen=True)
class TenantCounts:
    """Records of one tenant table: read, valid, invalid."""

    read: int
    valid: int
    invalid: int


@dataclass
class PreparedTenants:
    """The mapped and checked tenant tables (see the module docstring)."""

    organizations: pl.DataFrame | None = None  # mapping.organizations' columns
    memberships: pl.DataFrame | None = None
    organization_lines: pl.DataFrame | None = None
    membership_lines: pl.DataFrame | None = None
    notices: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # kind -> the file read for it

    def fingerprints(self) -> dict[str, str]:
        """sha256 of each tenant file read, keyed ``<kind>:<file name>`` (for resume checks).
        Raises ``SourceError`` when a file can no longer be read."""
        out = {}
        for kind, path in self.files.items():
            try:
                with path.open("rb") as handle:
                    out[f"{kind}:{path.name}"] = hashlib.file_digest(handle, "sha256").hexdigest()
            except OSError as exc:
                raise SourceError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
        return out

    def counts(self) -> dict[str, TenantCounts]:
        """Read, valid and invalid records per table the mapping has and the run read."""
        out: dict[str, TenantCounts] = {}
        for kind, frame, lines in (
            ("organizations", self.organizations, self.organization_lines),
            ("memberships", self.memberships, self.membership_lines),
        ):
            if frame is None or lines is None:
                continue
            invalid = lines["_index"].n_unique()
            out[kind] = TenantCounts(frame.height, frame.height - invalid, invalid)
        return out

    def errors(self) -> pl.DataFrame:
        """Every line, organizations first: ``row, key, field, reason, message, value`` (the
        columns of ``Prepared.errors``; ``field`` names the table)."""
        parts = [
            lines.drop("_index")
            for lines in (self.organization_lines, self.membership_lines)
            if lines is not None
        ]
        return pl.concat(parts) if parts else pl.DataFrame(schema=LINE_SCHEMA)

    def organization_plan(self) -> pl.DataFrame:
        """One row per organization record: ``row, key, slug, created_by, valid``."""
        if self.organizations is None or self.organization_lines is None:
            return pl.DataFrame(schema=_ORG_PLAN)
        bad = self.organization_lines["_index"].implode()
        return self.organizations.with_row_index("_index").select(
            pl.col(ROW_COLUMN).alias("row"),
            *(_unshifted(name) for name in ("key", "slug", "created_by")),
            (~pl.col("_index").is_in(bad)).alias("valid"),
        )

    def organization_payloads(self) -> Iterator[tuple[int, str, dict[str, Any]]]:
        """``(row, key, body)`` of each valid organization: the ``POST /v1/organizations``
        body (``mapping.organizations.organization_body``)."""
        if self.organizations is None or self.organization_lines is None:
            return
        bad = self.organization_lines["_index"].implode()
        good = self.organizations.with_row_index("_index").filter(~pl.col("_index").is_in(bad))
        for record in good.iter_rows(named=True):
            yield record[ROW_COLUMN], record["key"], organization_body(record)

    def membership_plan(self) -> pl.DataFrame:
        """One row per membership: ``row, user, organization, role, valid`` (``role``: the
        Clerk role key)."""
        if self.memberships is None or self.membership_lines is None:
            return pl.DataFrame(schema=_MEMBER_PLAN)
        bad = self.membership_lines["_index"].implode()
        return self.memberships.with_row_index("_index").select(
            pl.col(ROW_COLUMN).alias("row"),
            *(_unshifted(name) for name in ("user", "organization", "role")),
            (~pl.col("_index").is_in(bad)).alias("valid"),
        )


def prepare_tenants(
    spec: MappingSpec,
    users: pl.DataFrame,
    files: TenantFiles | None = None,
    *,
    users_input: Path | None = None,
    users_options: SourceOptions | None = None,
) -> PreparedTenants:
    """Read, map and check the tenant tables of ``spec`` (see the module docstring).

    ``users`` is the users input's ``_row``, ``_key`` and ``created`` (``user_keys``);
    ``users_input`` / ``users_options`` how to read it again
    for memberships kept in its columns. Raises ``SourceError`` (a tenant input cannot be read or
    holds no row), ``MappingError`` (a column it lacks), ``ConfigError`` (a memberships file
    without the organizations it names).
    """
    files = files or TenantFiles()
    out = PreparedTenants()
    if spec.organizations is None and files.organizations is not None:
        generic = generic_tenants()  # any mapping takes tenants in the documented generic shape
        spec = dataclasses.replace(
            spec,
            file="the generic tenant shape",
            organizations=generic.organizations,
            memberships=generic.memberships,
            roles=generic.roles,
        )
    orgs_spec, members_spec = spec.organizations, spec.memberships
    if orgs_spec is None:
        if files.memberships is not None:
            raise ConfigError("--memberships needs the organizations too: --organizations FILE")
        return out
    if files.memberships is not None and members_spec is None:
        raise ConfigError("--memberships was given but the mapping has no [memberships]")
    known = users.select(pl.col("_key").alias("key"), "created")
    orgs_path = files.organizations or orgs_spec.input
    if not orgs_path.name:
        out.notices.append(
            "Note: the mapping has [organizations] but no file was given for them "
            "(--organizations FILE): organizations and memberships are left out"
        )
        if files.memberships is not None:
            raise ConfigError("--memberships needs the organizations too: --organizations FILE")
        return out
    raw_orgs = _read(orgs_path, orgs_spec.options, "organizations", out.files)
    notes: list[str] = []
    orgs = compile_organizations(
        orgs_spec, raw_orgs.lazy(), file=_against(spec.file, orgs_path), notes=notes
    )
    out.organizations = orgs.collect()
    out.organization_lines = organization_lines(out.organizations, known)
    if members_spec is not None:
        roles = spec.roles
        assert roles is not None  # set by the loader whenever [memberships] is
        if members_spec.within:
            if members_spec.within not in raw_orgs.columns:
                raise SourceError(
                    f"{orgs_path}: no column {members_spec.within!r} "
                    f"(memberships.within); columns: {', '.join(_shown(raw_orgs))}"
                )
            _check_lists(raw_orgs, members_spec.within, orgs_path)
            frame = raw_orgs.lazy().explode(members_spec.within, keep_nulls=False)
            members = compile_memberships(
                members_spec,
                roles,
                frame,
                file=_against(spec.file, orgs_path),
                organization_key=orgs_spec.key,
            )
        elif members_spec.from_users:
            if users_input is None:
                raise ConfigError("memberships.from_users needs the users input")
            frame = _users_frame(users_input, users_options or SourceOptions(), users)
            members = compile_memberships(
                members_spec, roles, frame, file=spec.file, user_column=_USER_KEY
            )
        else:
            path = files.memberships or members_spec.input
            if not path.name:
                out.notices.append(
                    "Note: the mapping has [memberships] but no file was given for them "
                    "(--memberships FILE): memberships are left out"
                )
                members = None
            else:
                raw = _read(path, members_spec.options, "memberships", out.files)
                members = compile_memberships(
                    members_spec, roles, raw.lazy(), file=_against(spec.file, path), notes=notes
                )
        if members is not None:
            out.memberships = _users_by(members.collect(), members_spec.user_by, users_input,
                                        users_options, users)  # fmt: skip
            valid = valid_organizations(out.organizations, out.organization_lines)
            out.membership_lines = membership_lines(
                out.memberships, out.organizations, valid, known
            )
    out.notices += [f"Note: {note}" for note in notes]
    return out


def user_keys(plan: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """``_row``, ``_key`` and ``created`` (valid and not skipped) of each user row, from the
    batches of ``Prepared.iter_plan`` (its ``_errors`` lists are not kept)."""
    parts = []
    for batch in plan:
        created = pl.col("_errors").list.len() == 0
        if "_skip" in batch.columns:
            created = created & pl.col("_skip").is_null()
        parts.append(batch.select("_row", "_key", created.alias("created")))
    if not parts:
        return pl.DataFrame(schema={"_row": pl.Int64, "_key": pl.Utf8, "created": pl.Boolean})
    return pl.concat(parts)


def _read(path: Path, options: SourceOptions, kind: str, files: dict[str, Path]) -> pl.DataFrame:
    """A tenant input whole, empty records left out (noted in ``files`` under ``kind``); one
    without a record is a SourceError. Read through ``SourceReader``, as the users input is, so
    a CSV record split by a line break in an unquoted value is marked ``short_row``."""
    files[kind] = path
    what = kind.removesuffix("s")
    with reading(path):
        pieces = list(SourceReader(path, options).pieces())
    data = pl.concat(pieces).filter(~pl.col(EMPTY_COLUMN)) if pieces else pl.DataFrame()
    if not data.height:
        raise SourceError(
            f"{path}: no {what} records: the input holds only a header, empty rows or an "
            "empty list; check that this is the right file"
        )
    return data.drop(EMPTY_COLUMN)


def _users_frame(path: Path, options: SourceOptions, plan: pl.DataFrame) -> pl.LazyFrame:
    """The users input with each row's user key (``_user_key``), empty rows left out."""
    keys = plan.select(pl.col("_row").alias(ROW_COLUMN), pl.col("_key").alias(_USER_KEY))
    with reading(path):
        frame = scan_source(path, options).filter(~pl.col(EMPTY_COLUMN)).drop(EMPTY_COLUMN)
        data = frame.collect()
    return data.lazy().join(keys.lazy(), on=ROW_COLUMN, how="left", maintain_order="left")


def _users_by(
    members: pl.DataFrame,
    column: str,
    path: Path | None,
    options: SourceOptions | None,
    plan: pl.DataFrame,
) -> pl.DataFrame:
    """``members`` with each ``user`` that names a user by ``column`` of the users input replaced
    by that user's key (``memberships.user_by``; the first row wins a value several rows hold).
    A value no user holds stays, so validation names it as an unknown user."""
    if not column:
        return members
    if path is None:
        raise ConfigError("memberships.user_by needs the users input")
    users = _users_frame(path, options or SourceOptions(), plan).collect()
    if column not in users.columns:
        raise SourceError(
            f"{path}: no column {column!r} (memberships.user_by); columns: "
            f"{', '.join(_shown(users))}"
        )
    by = pl.col(column).cast(pl.Utf8).str.strip_chars()
    lookup = (
        users.select(by.alias("_by"), pl.col(_USER_KEY))
        .filter(pl.col("_by").is_not_null() & pl.col(_USER_KEY).is_not_null())
        .unique("_by", keep="first", maintain_order=True)
    )
    joined = members.join(
        lookup, left_on=pl.col("user").str.strip_chars(), right_on="_by", how="left",
        maintain_order="left",
    )  # fmt: skip
    return joined.with_columns(pl.coalesce(_USER_KEY, "user").alias("user")).select(members.columns)


def _against(mapping: str, path: Path) -> str:
    """How a mapping problem names where it is: the mapping, and the input it was read against
    (a column missing from a tenant file is most often the file's fault: a wrong delimiter)."""
    return f"{mapping} read against {path}"


def _check_lists(frame: pl.DataFrame, column: str, path: Path) -> None:
    """Raise ``SourceError`` unless ``column`` holds lists (of members) or nothing."""
    dtype = frame.schema[column]
    if isinstance(dtype, pl.List) or dtype == pl.Null:
        return
    rows = frame.filter(pl.col(column).is_not_null())[ROW_COLUMN]
    where = f" (first at record {rows[0]})" if rows.len() else ""
    raise SourceError(
        f"{path}: column {column!r} (memberships.within) must hold a list of members, "
        f"not {_kind_of(dtype)}{where}; check that this is the right file"
    )


def _kind_of(dtype: pl.DataType) -> str:
    if dtype == pl.Utf8:
        return "text"
    if isinstance(dtype, pl.Struct):
        return "an object"
    return "numbers" if dtype.is_numeric() else str(dtype)


def _unshifted(column: str) -> pl.Expr:
    """``column``, ``[hidden]`` on a record split by a line break (``short_row``): its cells
    hold whatever the split moved there, a secret maybe, so the state DB does not keep them."""
    shifted = pl.col(SOURCE_ERROR_COLUMN) == SHORT_ROW
    return pl.when(shifted.fill_null(False)).then(pl.lit(HIDDEN)).otherwise(column).alias(column)


def _shown(frame: pl.DataFrame, limit: int = 30) -> Sequence[str]:
    names = [c for c in frame.columns if not c.startswith("_")]
    return names[:limit]
