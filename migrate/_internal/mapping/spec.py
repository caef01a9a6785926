"""The parsed form of a mapping file: frozen dataclasses, checked, with secrets already masked.

``load.py`` builds a ``MappingSpec`` from TOML (reporting every problem at once); ``compile.py``
turns it into polars expressions. Nothing here reads files or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from migrate._internal.secrets import Secret
from migrate._internal.sources import Format, ShortRows, SourceOptions

if TYPE_CHECKING:
    from migrate._internal.mapping.tenants import MembershipsSpec, OrganizationsSpec, RolesSpec

__all__ = [
    "CLERK_FIELDS",
    "FLAG_FIELDS",
    "LIST_FIELDS",
    "METADATA_FIELDS",
    "STATUS_FIELDS",
    "STATUS_VALUES",
    "STRING_FIELDS",
    "BuilderArg",
    "BuilderSource",
    "ColumnSource",
    "ColumnsSource",
    "ConstantSource",
    "FieldKind",
    "FieldSpec",
    "FirstOfSource",
    "GroupsSource",
    "InferSource",
    "JoinSpec",
    "MappingSpec",
    "ObjectSource",
    "Source",
    "SourceSpec",
    "TemplateSource",
    "Transform",
    "VerifiedSource",
]

FieldKind = Literal["string", "list", "status", "metadata", "flag", "int"]

STRING_FIELDS: Final = (
    "external_id",
    "first_name",
    "last_name",
    "username",
    "password",
    "password_digest",
    "password_hasher",
    "totp_secret",
    "created_at",
    "legal_accepted_at",
    "locale",
)
LIST_FIELDS: Final = ("email_address", "phone_number", "web3_wallet", "backup_codes")
# One status per address, by position (reference/clerk-api.md §2.1): status field -> its list.
STATUS_FIELDS: Final = {
    "email_address_identification_status": "email_address",
    "phone_number_identification_status": "phone_number",
}
STATUS_VALUES: Final = ("verified", "reserved")
METADATA_FIELDS: Final = ("public_metadata", "private_metadata", "unsafe_metadata")
FLAG_FIELDS: Final = (
    "skip_password_checks",
    "skip_password_requirement",
    "skip_legal_checks",
    "skip_user_requirement",
    "delete_self_enabled",
    "create_organization_enabled",
    "banned",
    "locked",
    "bypass_client_trust",
)
INT_FIELDS: Final = ("create_organizations_limit",)

CLERK_FIELDS: Final[dict[str, FieldKind]] = {
    **dict.fromkeys(STRING_FIELDS, "string"),
    **dict.fromkeys(LIST_FIELDS, "list"),
    **dict.fromkeys(STATUS_FIELDS, "status"),
    **dict.fromkeys(METADATA_FIELDS, "metadata"),
    **dict.fromkeys(FLAG_FIELDS, "flag"),
    **dict.fromkeys(INT_FIELDS, "int"),
}


@dataclass(frozen=True)
class Transform:
    """One step of a transform chain: a registered name and its argument (None if it takes none)."""

    name: str
    arg: str | int | tuple[str, ...] | None = None


@dataclass(frozen=True)
class ColumnSource:
    """A column of the input; a dotted path reaches into a struct or a JSON-text column."""

    name: str


@dataclass(frozen=True)
class ColumnsSource:
    """Several columns: a list field takes every non-null value, a scalar the first non-null.

    ``any`` (``columns_any``): candidate names for one column; the first the input has is used.
    """

    names: tuple[str, ...]
    any: bool = False


@dataclass(frozen=True)
class FirstOfSource:
    """``first_of = [spec, spec…]``: per row, the first of these values that is set; a spec whose
    column the input lacks is skipped (a table with ``first_name``, another with only ``name``)."""

    items: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class ConstantSource:
    """The same value on every row (a string, number, boolean, list of strings, or a secret)."""

    value: str | int | bool | float | tuple[str, ...] | Secret


@dataclass(frozen=True)
class TemplateSource:
    """Text with ``{column}`` placeholders; ``names`` are the columns it refers to, in order."""

    text: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class InferSource:
    """``password_hasher = { infer = true }``: the hasher is read from the digest's shape."""


@dataclass(frozen=True)
class VerifiedSource:
    """``{ verified = "email_verified" }``: an identification status read from a verified flag.

    ``flag`` gives, per row, one flag for every address (or a list of flags, one per address);
    true gives ``verified``, false ``reserved``, no value the field's default.
    """

    flag: FieldSpec


@dataclass(frozen=True)
class GroupsSource:
    """``email_address = { verified = "...", reserved = "..." }``: addresses kept by the export in
    a verified and an unverified column; the status field is made from the groups."""

    verified: FieldSpec | None
    reserved: FieldSpec | None


@dataclass(frozen=True)
class BuilderArg:
    """One argument of a digest builder: a column (``FieldSpec``), a constant, or a secret."""

    slot: str
    spec: FieldSpec | None = None
    constant: str | int | None = None
    secret: Secret | None = None


@dataclass(frozen=True)
class BuilderSource:
    """A digest assembled by a registered builder (``firebase_scrypt``, ``keycloak`` …)."""

    name: str
    args: tuple[BuilderArg, ...]


@dataclass(frozen=True)
class ObjectSource:
    """A JSON object assembled key by key (metadata), possibly nested."""

    entries: tuple[tuple[str, FieldSpec], ...]


Source = (
    ColumnSource
    | ColumnsSource
    | FirstOfSource
    | ConstantSource
    | TemplateSource
    | InferSource
    | BuilderSource
    | ObjectSource
    | VerifiedSource
    | GroupsSource
)


@dataclass(frozen=True)
class FieldSpec:
    """Where a value comes from, the transforms applied to it, and the default when it is null.

    ``optional``: a column the input lacks leaves the value out (with a note) instead of being
    a mapping error.
    """

    source: Source
    transforms: tuple[Transform, ...] = ()
    default: str | int | bool | float | tuple[str, ...] | None = None
    path: str = ""  # the key path in the mapping file, for error messages
    optional: bool = False
    if_invalid: str | None = None  # username: "legacy_username" keeps a refused one in metadata


@dataclass(frozen=True)
class JoinSpec:
    """A second input joined on a key (left join; the first match on the right wins).

    Its columns are referred to as ``<name>.<column>`` in the mapping. ``path`` is resolved
    against the mapping file's folder; ``Path()`` when the mapping names no file (a preset: the
    file then comes from the command line). An optional join (``required = false``) may be left
    out: the fields that read its columns are then left out too.
    """

    name: str
    path: Path
    on: FieldSpec
    right_on: FieldSpec
    options: SourceOptions = field(default_factory=SourceOptions)
    required: bool = True
    description: str = ""  # what the file holds, for messages
    if_missing: str = ""  # what an optional join's absence costs, for the warning


@dataclass(frozen=True)
class SourceSpec:
    """The ``[source]`` table: how to read the main input and which value identifies a row."""

    format: Format | None = None
    key: FieldSpec | None = None
    has_header: bool = True
    delimiter: str = ","
    quote_char: str | None = '"'
    encoding: str = "utf-8"
    json_key: str | None = None
    column_names: tuple[str, ...] | None = None
    null_values: tuple[str, ...] = ()
    short_rows: ShortRows = "invalid"

    def options(self) -> SourceOptions:
        """The reading options for ``sources.read_source``."""
        return SourceOptions(
            format=self.format,
            has_header=self.has_header,
            delimiter=self.delimiter,
            quote_char=self.quote_char,
            encoding=self.encoding,
            json_key=self.json_key,
            column_names=self.column_names,
            null_values=self.null_values,
            short_rows=self.short_rows,
        )


@dataclass(frozen=True)
class MappingSpec:
    """A whole mapping: source options, one ``FieldSpec`` per CreateUser field, flags, joins,
    and the tenant tables (``mapping.tenants``) when it has them."""

    file: str
    source: SourceSpec
    fields: tuple[tuple[str, FieldSpec], ...]
    options: tuple[tuple[str, bool | int], ...] = ()
    joins: tuple[JoinSpec, ...] = ()
    status: tuple[tuple[str, FieldSpec], ...] = ()  # [status]: deleted / disabled markers
    disabled: str = "ban"  # [options] disabled: "ban" or "skip"
    organizations: OrganizationsSpec | None = None
    memberships: MembershipsSpec | None = None
    roles: RolesSpec | None = None

    def field_spec(self, name: str) -> FieldSpec | None:
        """The spec of one CreateUser field, or None when the mapping does not set it."""
        return dict(self.fields).get(name)
