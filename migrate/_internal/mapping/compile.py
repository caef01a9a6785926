"""Compile a ``MappingSpec`` against an input frame's schema into the mapped frame (pure polars).

The mapped frame (docs/internals.md "Frames") holds ``_row``, ``_key``, ``_source_error`` and one
column per mapped CreateUser field, named and typed as Clerk names it: text fields ``pl.Utf8``,
list fields ``pl.List(pl.Utf8)`` (first = primary, empty = none), metadata ``pl.Utf8`` JSON text
of an object, flags ``pl.Boolean``, ``create_organizations_limit`` ``pl.Int64``.

Every problem that can be known from the schema alone (a column the input lacks, a join without
an input) is raised at once as ``MappingError`` before any row is read. Text that is empty after
the transforms counts as no value (then ``default`` applies).
"""

from __future__ import annotations

import dataclasses
import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, cast

import polars as pl

from migrate._internal.hashers import infer_hasher_expr
from migrate._internal.mapping.accounts import (
    SKIP_COLUMN,
    USERNAME_WARNING,
    WARNING_COLUMN,
    status_flag,
    username_split,
    with_metadata_entry,
)
from migrate._internal.mapping.builders import BUILDERS
from migrate._internal.mapping.spec import (
    CLERK_FIELDS,
    STATUS_FIELDS,
    BuilderSource,
    ColumnSource,
    ColumnsSource,
    ConstantSource,
    FieldKind,
    FieldSpec,
    FirstOfSource,
    GroupsSource,
    InferSource,
    MappingSpec,
    ObjectSource,
    TemplateSource,
    VerifiedSource,
)
from migrate._internal.mapping.transforms import (
    FALSE_WORDS,
    RFC3339_LOCAL,
    TRANSFORMS,
    TRUE_WORDS,
    bool_text,
    number_text,
)
from migrate._internal.secrets import Secret
from migrate._internal.sources import ROW_COLUMN, SOURCE_ERROR_COLUMN
from migrate.errors import MappingError, MappingProblem

__all__ = [
    "FIELD_DTYPES",
    "IDENTIFIER_FIELDS",
    "KEY_COLUMN",
    "VALUE_ERROR_COLUMN",
    "compile_mapping",
    "compile_values",
]

KEY_COLUMN: Final = "_key"
_JOIN_KEY: Final = "_join_key"
_SELECTOR: Final = re.compile(r"(?P<name>.+)\[(?P<field>[^=\]]+)=(?P<value>[^\]]*)\]")
FIELD_DTYPES: Final[dict[FieldKind, pl.DataType]] = {
    "string": pl.Utf8(),
    "list": pl.List(pl.Utf8),
    "status": pl.List(pl.Utf8),
    "metadata": pl.Utf8(),
    "flag": pl.Boolean(),
    "int": pl.Int64(),
}
_TRUE: Final = TRUE_WORDS
_FALSE: Final = FALSE_WORDS
VALUE_ERROR_COLUMN: Final = "_value_error"
IDENTIFIER_FIELDS: Final = ("email_address", "phone_number", "username", "web3_wallet")

# "jsonpath": text picked out of a JSON-text column, raw JSON when it is an array or object.
Shape = Literal["text", "json", "jsonpath", "list", "struct", "datetime", "number", "bool"]


@dataclass(frozen=True)
class _Value:
    """An expression and what it holds, so each step knows how to treat it."""

    expr: pl.Expr
    shape: Shape
    inner: Shape = "text"  # what a list's items hold


def compile_mapping(
    spec: MappingSpec,
    frame: pl.LazyFrame,
    joined: Mapping[str, pl.LazyFrame] | None = None,
    notes: list[str] | None = None,
) -> pl.LazyFrame:
    """Map an input frame (from ``sources.read_source``) to Clerk-shaped columns, lazily.

    ``joined`` gives the frame of each ``[[join]]`` by its name (the caller reads them, e.g.
    ``read_source(j.path, j.options)``); an optional join left out of it leaves out the values
    read from its columns. A field whose ``optional`` column the input lacks is left out, and a
    line saying so is appended to ``notes``. Raises ``MappingError`` when the mapping refers to
    columns the input lacks (not optional), a required join has no frame, or no identifier
    field is left.
    """
    problems: list[MappingProblem] = []
    if SOURCE_ERROR_COLUMN not in frame.collect_schema():
        frame = frame.with_columns(pl.lit(None, pl.Utf8).alias(SOURCE_ERROR_COLUMN))
    frame, absent = _join(spec, frame, joined or {}, problems)
    schema = frame.collect_schema()
    ctx = _Context(schema, problems, absent)
    columns: dict[str, pl.Expr] = {}
    builder_hasher: pl.Expr | None = None
    for name, field in spec.fields:
        kind = CLERK_FIELDS[name]
        if isinstance(field.source, InferSource) or kind == "status":
            continue  # needs password_digest / the address list first
        if isinstance(field.source, GroupsSource):
            _groups(name, field.source, ctx, columns)
            continue
        value = ctx.value(field, scalar=kind in ("string", "flag", "int"))
        if isinstance(field.source, BuilderSource) and value is not None:
            builder_hasher = ctx.builder_hasher
        if value is not None:
            columns[name] = _finish(value, kind, field.default)
    hasher = spec.field_spec("password_hasher")
    if hasher is not None and isinstance(hasher.source, InferSource):
        digest = columns.get("password_digest")
        if digest is None and spec.field_spec("password_digest") is not None:
            pass  # the digest's column is absent (optional), so there is no hasher either
        elif digest is None:
            problems.append(
                MappingProblem(hasher.path, "infer needs fields.password_digest to be mapped")
            )
        else:
            columns["password_hasher"] = infer_hasher_expr(digest)
    elif hasher is None and builder_hasher is not None:
        columns["password_hasher"] = builder_hasher
    _hasher_needs_digest(spec, columns, problems)
    marks = _accounts(spec, ctx, columns)
    per_row = _statuses(spec, ctx, columns, problems)
    key = _key(spec, ctx, columns)
    _identifiers_left(spec, columns, problems)
    if problems:
        raise MappingError(spec.file, problems)
    if notes is not None:
        notes.extend(ctx.notes)
    flags = [pl.lit(v, FIELD_DTYPES[CLERK_FIELDS[n]]).alias(n) for n, v in spec.options]
    typed = (
        [pl.any_horizontal(ctx.typed_bad).fill_null(False).alias(VALUE_ERROR_COLUMN)]
        if ctx.typed_bad
        else []
    )
    mapped = frame.select(
        pl.col(ROW_COLUMN),
        key.alias(KEY_COLUMN),
        pl.col(SOURCE_ERROR_COLUMN),
        *typed,
        *marks,
        *(expr.alias(name) for name, expr in columns.items()),
        *flags,
    )
    if not per_row:
        return mapped
    # A status given once per row is repeated per address here, reading the address column
    # already computed (referring to its expression would compute the addresses twice).
    return mapped.with_columns(
        pl.col(name)
        .fill_null("")
        .repeat_by(pl.when(pl.col(name).is_null()).then(0).otherwise(pl.col(parent).list.len()))
        .alias(name)
        for name, parent in per_row.items()
    )


def compile_values(
    specs: Sequence[tuple[str, FieldSpec, FieldKind]],
    frame: pl.LazyFrame,
    *,
    file: str,
    notes: list[str] | None = None,
    keep: Sequence[str] = (),
) -> pl.LazyFrame:
    """``_row``, ``_source_error``, the ``keep`` columns as they are, and one column per ``(name,
    spec, kind)`` of ``frame``, each compiled and typed as a field of that kind is (a table other
    than ``[fields]``: the tenant tables). Raises ``MappingError`` naming ``file`` when a spec
    refers to a column the frame lacks; a spec whose optional column is absent is left out, with
    a line in ``notes``."""
    problems: list[MappingProblem] = []
    if SOURCE_ERROR_COLUMN not in frame.collect_schema():
        frame = frame.with_columns(pl.lit(None, pl.Utf8).alias(SOURCE_ERROR_COLUMN))
    ctx = _Context(frame.collect_schema(), problems)
    columns: list[pl.Expr] = []
    for name, field, kind in specs:
        value = ctx.value(field, scalar=kind in ("string", "flag", "int"))
        if value is not None:
            columns.append(_finish(value, kind, field.default).alias(name))
    if problems:
        raise MappingError(file, problems)
    if notes is not None:
        notes.extend(ctx.notes)
    return frame.select(pl.col(ROW_COLUMN), pl.col(SOURCE_ERROR_COLUMN), *keep, *columns)


def _accounts(spec: MappingSpec, ctx: _Context, columns: dict[str, pl.Expr]) -> list[pl.Expr]:
    """Refused usernames to metadata (with a warning), deleted / disabled accounts to skipped or
    banned (see ``accounts``); returns the ``_warning`` / ``_skip`` columns to add."""
    out: list[pl.Expr] = []
    field = spec.field_spec("username")
    if field is not None and field.if_invalid and "username" in columns:
        accepted, refused = username_split(columns["username"])
        columns["username"] = accepted
        columns["private_metadata"] = with_metadata_entry(
            columns.get("private_metadata"), "legacy_username", refused
        )
        out.append(
            pl.when(refused.is_not_null()).then(pl.lit(USERNAME_WARNING)).alias(WARNING_COLUMN)
        )
    deleted: list[pl.Expr] = []
    disabled: list[pl.Expr] = []
    for key, status in spec.status:
        value = ctx.value(status, scalar=True)
        if value is not None:
            (deleted if key == "deleted" else disabled).append(status_flag(key, _text(value)))
    if not deleted and not disabled:
        return out
    is_deleted = pl.any_horizontal(deleted) if deleted else pl.lit(False)
    is_disabled = pl.any_horizontal(disabled) if disabled else pl.lit(False)
    skip_disabled = is_disabled if spec.disabled == "skip" else pl.lit(False)
    if spec.disabled == "ban" and disabled:
        banned = columns.get("banned", pl.lit(None, pl.Boolean))
        columns["banned"] = pl.when(is_disabled).then(pl.lit(True)).otherwise(banned)
    skip = (
        pl.when(is_deleted)
        .then(pl.lit("deleted_in_source"))
        .when(skip_disabled)
        .then(pl.lit("disabled_in_source"))
        .otherwise(pl.lit(None, pl.Utf8))
    )
    out.append(skip.alias(SKIP_COLUMN))
    return out


def _identifiers_left(
    spec: MappingSpec, columns: Mapping[str, pl.Expr], problems: list[MappingProblem]
) -> None:
    """A mapping that maps identifiers must keep one: all of them absent is no usable input."""
    mapped = [name for name in IDENTIFIER_FIELDS if spec.field_spec(name) is not None]
    if mapped and not any(name in columns for name in mapped) and not problems:
        problems.append(
            MappingProblem(
                "fields",
                f"none of the identifier fields ({', '.join(mapped)}) has its column in the "
                "input; Clerk needs an email address, phone number, username or web3 wallet",
            )
        )


def _hasher_needs_digest(
    spec: MappingSpec, columns: dict[str, pl.Expr], problems: list[MappingProblem]
) -> None:
    """Give a row a hasher only where it has a digest.

    Clerk refuses ``password_hasher`` without ``password_digest``, so a constant (or column)
    hasher would turn every passwordless row (a social login, a user who never set one) into a
    ``hasher_without_digest`` error. Masking it keeps those rows valid: they are created without
    a password. Inferred and builder hashers are null there already; masking them is harmless.
    """
    hasher = spec.field_spec("password_hasher")
    if "password_hasher" not in columns:
        return
    digest = columns.get("password_digest")
    if digest is None and spec.field_spec("password_digest") is not None:
        del columns["password_hasher"]  # the digest's column is absent (optional): no password
        return
    if digest is None:
        if hasher is not None and not isinstance(hasher.source, InferSource):
            problems.append(
                MappingProblem(
                    hasher.path,
                    "needs fields.password_digest to be mapped "
                    "(Clerk takes a hasher only with a digest)",
                )
            )
        return
    columns["password_hasher"] = pl.when(digest.is_not_null()).then(columns["password_hasher"])


def _statuses(
    spec: MappingSpec, ctx: _Context, columns: dict[str, pl.Expr], problems: list[MappingProblem]
) -> dict[str, str]:
    """Compile the ``*_identification_status`` fields: one status per address, by position.

    A value that is one per row (a flag, a constant, a text column) is repeated for every address
    of the row, so the list always has the address list's length (none when it has no address);
    a list value (a list column, ``split``) is taken item by item as the export gives it.
    Returns the fields given once per row (status field -> address field): ``columns`` holds
    their per-row text, repeated per address once the addresses are computed.
    """
    per_row: dict[str, str] = {}
    for name, parent in STATUS_FIELDS.items():
        field = spec.field_spec(name)
        if field is None:
            continue
        parent_spec = spec.field_spec(parent)
        if parent_spec is not None and isinstance(parent_spec.source, GroupsSource):
            problems.append(
                MappingProblem(
                    field.path, f"fields.{parent} sets it already (verified / reserved groups)"
                )
            )
            continue
        if parent not in columns and parent_spec is not None:
            continue  # the addresses' column is absent (optional): no statuses either
        if parent not in columns:
            problems.append(
                MappingProblem(field.path, f"needs fields.{parent} to be mapped (one per address)")
            )
            continue
        verified = isinstance(field.source, VerifiedSource)
        source = field.source.flag if isinstance(field.source, VerifiedSource) else None
        value = ctx.value(
            FieldSpec(
                source.source,
                source.transforms + field.transforms,
                path=field.path,
                optional=source.optional or field.optional,
            )
            if source is not None
            else field
        )
        if value is None:
            continue
        default = field.default if field.default is not None else ("reserved" if verified else None)
        columns[name] = _status(value, verified=verified, default=default)
        if value.shape != "list":
            per_row[name] = parent
    return per_row


def _groups(name: str, src: GroupsSource, ctx: _Context, columns: dict[str, pl.Expr]) -> None:
    """Addresses = the verified group then the reserved one; statuses follow by position."""
    lists: list[pl.Expr] = []
    statuses: list[pl.Expr] = []
    for group, status in ((src.verified, "verified"), (src.reserved, "reserved")):
        if group is None:
            continue
        value = ctx.value(group)
        if value is None:
            return
        items = _finish(value, "list", group.default)
        lists.append(items)
        statuses.append(pl.lit(status, pl.Utf8).repeat_by(items.list.len()))
    columns[name] = pl.concat_list(lists)
    status_name = next(s for s, parent in STATUS_FIELDS.items() if parent == name)
    columns[status_name] = pl.concat_list(statuses)


def _status_word(text: pl.Expr, default: object) -> pl.Expr:
    """A verified flag as a status: false words give reserved, no value the default, any other
    value (true words, a confirmation timestamp) verified."""
    t = text.str.strip_chars().str.to_lowercase()
    fallback = pl.lit(default, pl.Utf8)
    return (
        pl.when(t.is_null() | (t == ""))
        .then(fallback)
        .when(t.is_in(_FALSE))
        .then(pl.lit("reserved"))
        .otherwise(pl.lit("verified"))
    )


def _status(v: _Value, *, verified: bool, default: object) -> pl.Expr:
    """A list value as a list of statuses; any other value as one status text (or null)."""
    fallback = pl.lit(default, pl.Utf8)
    if v.shape == "list":
        items = pl.element().cast(pl.Utf8)
        word = _status_word(items, default) if verified else items.fill_null(fallback)
        return pl.coalesce(v.expr.list.eval(word), pl.lit([], pl.List(pl.Utf8)))
    text = _text(v)
    status = _status_word(text, default) if verified else text.fill_null(fallback)
    return pl.when(status == "").then(fallback).otherwise(status)


def _join(
    spec: MappingSpec,
    frame: pl.LazyFrame,
    joined: Mapping[str, pl.LazyFrame],
    problems: list[MappingProblem],
) -> tuple[pl.LazyFrame, frozenset[str]]:
    """The input with each join's columns; also the names of the optional joins left out."""
    absent: set[str] = set()
    for i, join in enumerate(spec.joins):
        right = joined.get(join.name)
        if right is None and not join.required:
            absent.add(join.name)
            continue
        if right is None:
            problems.append(MappingProblem(f"join[{i}]", f"no input was given for {join.name!r}"))
            continue
        right_ctx = _Context(right.collect_schema(), problems)
        left_ctx = _Context(frame.collect_schema(), problems)
        right_key = right_ctx.value(join.right_on, scalar=True)
        left_key = left_ctx.value(join.on, scalar=True)
        if right_key is None or left_key is None:
            continue
        right_schema = right.collect_schema()
        names = [c for c in right_schema.names() if not c.startswith("_")]
        right_error = (
            pl.col(SOURCE_ERROR_COLUMN)
            if SOURCE_ERROR_COLUMN in right_schema
            else pl.lit(None, pl.Utf8)
        )
        right = right.select(
            _finish(right_key, "string", None).alias(_JOIN_KEY),
            *(pl.col(c).alias(f"{join.name}.{c}") for c in names),
            right_error.alias("_right_error"),
        ).unique(_JOIN_KEY, keep="first", maintain_order=True)
        frame = (
            frame.with_columns(_finish(left_key, "string", None).alias(_JOIN_KEY))
            .join(right, on=_JOIN_KEY, how="left", maintain_order="left")
            .with_columns(
                pl.coalesce(SOURCE_ERROR_COLUMN, "_right_error").alias(SOURCE_ERROR_COLUMN)
            )
            .drop(_JOIN_KEY, "_right_error")
        )
    return frame, frozenset(absent)


def _key(spec: MappingSpec, ctx: _Context, columns: Mapping[str, pl.Expr]) -> pl.Expr:
    """The row's identity: [source].key, else external_id, else primary email, else its row."""
    if spec.source.key is not None:
        value = ctx.value(spec.source.key, scalar=True)
        if value is not None:
            return _finish(value, "string", None)
    key: pl.Expr = pl.lit(None, pl.Utf8)
    if "external_id" in columns:
        key = columns["external_id"]
    if "email_address" in columns:
        # Masking rows that already have a key keeps the fallbacks nearly free on them.
        email = pl.when(key.is_null()).then(columns["email_address"].list.first())
        key = pl.coalesce(key, email.str.to_lowercase())
    row = pl.when(key.is_null()).then(pl.col(ROW_COLUMN))
    return pl.coalesce(key, pl.lit("row:") + row.cast(pl.Utf8))


class _Context:
    """Resolves column references against one schema and compiles field specs."""

    def __init__(
        self,
        schema: pl.Schema,
        problems: list[MappingProblem],
        absent_joins: frozenset[str] = frozenset(),
    ) -> None:
        self.schema = schema
        self.problems = problems
        self.absent_joins = absent_joins
        self.builder_hasher: pl.Expr | None = None
        self.notes: list[str] = []
        self.typed_bad: list[pl.Expr] = []  # per row: a bool/number value that is neither

    def absent(self, path: str, names: tuple[str, ...], *, optional: bool) -> bool:
        """Whether a reference to ``names`` is absent by design (an optional column the input
        lacks, or a column of an optional join left out); notes the first kind once per path."""
        if all(n.split(".", 1)[0] in self.absent_joins for n in names):
            return True
        if not optional:
            return False
        note = f"{path}: column {' / '.join(repr(n) for n in names)} is not in the input; left out"
        if note not in self.notes:
            self.notes.append(note)
        return True

    def missing(self, path: str, name: str) -> None:
        cols = [c for c in self.schema.names() if not c.startswith("_")]
        shown = ", ".join(cols[:30]) + (", …" if len(cols) > 30 else "")
        self.problems.append(
            MappingProblem(path, f"column {name!r} is not in the input; columns: {shown}")
        )

    def column(self, path: str, name: str, *, optional: bool = False) -> _Value | None:
        resolved = self.resolve(name)
        if resolved is None:
            if not self.absent(path, (name,), optional=optional):
                self.missing(path, name)
            return None
        expr, dtype = resolved
        picked = name not in self.schema and dtype == pl.Utf8
        inner = _shape(_fields_dtype(dtype.inner)) if isinstance(dtype, pl.List) else "text"
        return _Value(expr, "jsonpath" if picked else _shape(dtype), inner)

    def resolve(self, name: str) -> tuple[pl.Expr, pl.DataType] | None:
        """A column, or a dotted path into a struct / list of structs / JSON-text column."""
        if name in self.schema:
            return pl.col(name), self.schema[name]
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            head, selector = _selector(".".join(parts[:cut]))
            if head in self.schema:
                found = _select(pl.col(head), self.schema[head], selector)
                return _navigate(*found, parts[cut:]) if found else None
        return None

    def value(self, field: FieldSpec, *, scalar: bool = False) -> _Value | None:
        """Compile one spec; ``scalar`` makes ``columns`` the first non-null instead of a list."""
        value = self.origin(field, scalar=scalar)
        if value is None:
            return None
        for step in field.transforms:
            if step.name in ("bool", "number") and value.shape != "list":
                value = self.typed(value, step.name)
            else:
                value = _apply(value, step.name, step.arg)
        return _first(value) if scalar else value

    def typed(self, v: _Value, name: str) -> _Value:
        """A JSON boolean or number from text; a value that is neither marks the row."""
        if v.shape == ("bool" if name == "bool" else "number"):
            return v
        text = _text(v)
        out = bool_text(text) if name == "bool" else number_text(text)
        given = text.is_not_null() & (text.str.strip_chars() != "")
        self.typed_bad.append(given & out.is_null())
        if name == "bool":
            return _Value(out == "true", "bool")
        return _Value(out, "number")

    def origin(self, field: FieldSpec, *, scalar: bool) -> _Value | None:
        src = field.source
        if isinstance(src, ColumnSource):
            return self.column(field.path, src.name, optional=field.optional)
        if isinstance(src, ColumnsSource):
            names = src.names
            if src.any or field.optional:
                names = tuple(n for n in names if self.resolve(n) is not None)[
                    : 1 if src.any else None
                ]
                if not names:
                    if not self.absent(field.path, src.names, optional=field.optional):
                        self.missing(field.path, " / ".join(src.names))
                    return None
            values = [self.column(field.path, n) for n in names]
            if any(v is None for v in values):
                return None
            if scalar:
                return _Value(pl.coalesce([_text(_first(v)) for v in values if v]), "text")
            texts = [_text(v) for v in values if v is not None]
            return _Value(pl.concat_list(texts).list.drop_nulls(), "list")
        if isinstance(src, FirstOfSource):
            return self.first_of(field, src)
        if isinstance(src, ConstantSource):
            return _constant(src.value)
        if isinstance(src, TemplateSource):
            return self.template(field.path, src, optional=field.optional)
        if isinstance(src, ObjectSource):
            return self.object(src)
        if isinstance(src, BuilderSource):
            return self.builder(field.path, src)
        raise AssertionError(f"unhandled source {src!r}")  # InferSource is handled by the caller

    def first_of(self, field: FieldSpec, src: FirstOfSource) -> _Value | None:
        texts: list[pl.Expr] = []
        names: list[str] = []
        for item in src.items:
            before, noted = len(self.problems), len(self.notes)
            # Each candidate is optional: one whose column is absent is skipped, unnoted.
            value = self.value(dataclasses.replace(item, optional=True), scalar=True)
            del self.notes[noted:]
            if value is None and len(self.problems) > before:
                return None
            if value is None:
                names += _column_names(item.source)
            else:
                text = _text(value)
                texts.append(pl.when(text == "").then(pl.lit(None, pl.Utf8)).otherwise(text))
        if not texts:
            if not self.absent(field.path, tuple(names), optional=field.optional):
                self.missing(field.path, " / ".join(names))
            return None
        return _Value(pl.coalesce(texts), "text")

    def template(self, path: str, src: TemplateSource, *, optional: bool) -> _Value | None:
        pieces: list[pl.Expr] = []
        missing: list[pl.Expr] = []
        for literal, name, _spec, _conv in string.Formatter().parse(src.text):
            if literal:
                pieces.append(pl.lit(literal))
            if name is not None:
                before = len(self.problems)
                value = self.column(path, name, optional=optional)
                if value is None and len(self.problems) > before:
                    return None
                if value is None:
                    missing.append(pl.lit(True))
                    continue
                text = _text(value)
                pieces.append(text.fill_null(""))
                missing.append(text.is_null() | (text == ""))
        # A template whose every placeholder is empty is no value, not its bare punctuation.
        filled = pl.concat_str(pieces).str.strip_chars()
        return _Value(pl.when(pl.all_horizontal(missing)).then(None).otherwise(filled), "text")

    def object(self, src: ObjectSource) -> _Value | None:
        pieces: list[pl.Expr] = []
        for key, entry in src.entries:
            before = len(self.problems)
            value = self.value(entry)
            if value is None and len(self.problems) == before:
                continue  # absent by design: the key is left out
            if value is None:
                return None
            if value.shape in ("text", "jsonpath"):
                # Empty text is no value here as in a field (a quoted "" cell in a CSV).
                empty = value.expr.cast(pl.Utf8) == ""
                value = _Value(pl.when(empty).then(None).otherwise(value.expr), value.shape)
            if entry.default is not None:
                value = _Value(value.expr.fill_null(_json_lit(entry.default)), value.shape)
            pieces.append(pl.lit(json.dumps(key) + ":") + _json_fragment(value))
        if not pieces:
            return None
        inner = pl.concat_str(pieces, separator=",", ignore_nulls=True)
        body = pl.when(inner == "").then(pl.lit(None, pl.Utf8)).otherwise(pl.lit("{") + inner + "}")
        return _Value(body, "json")

    def builder(self, path: str, src: BuilderSource) -> _Value | None:
        args: dict[str, pl.Expr] = {}
        for arg in src.args:
            if arg.secret is not None:
                args[arg.slot] = pl.lit(arg.secret.reveal(), pl.Utf8)
            elif arg.constant is not None:
                args[arg.slot] = pl.lit(str(arg.constant), pl.Utf8)
            elif arg.spec is not None:
                value = self.value(arg.spec, scalar=True)
                if value is None:
                    return None
                args[arg.slot] = _finish(value, "string", arg.spec.default)
        digest, hasher = BUILDERS[src.name].build(args)
        self.builder_hasher = pl.when(digest.is_not_null()).then(hasher)
        return _Value(digest, "text")


def _column_names(src: object) -> list[str]:
    """The column names a source refers to (for messages)."""
    if isinstance(src, ColumnSource):
        return [src.name]
    if isinstance(src, ColumnsSource | TemplateSource):
        return list(src.names)
    return []


def _navigate(
    expr: pl.Expr, dtype: pl.DataType, parts: list[str]
) -> tuple[pl.Expr, pl.DataType] | None:
    for i, step in enumerate(parts):
        part, selector = _selector(step)
        if isinstance(dtype, pl.Struct):
            fields = _fields(dtype)
            if part not in fields:
                return None
            expr, dtype = expr.struct.field(part), fields[part]
        elif isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
            fields = _fields(dtype.inner)
            if part not in fields:
                return None
            expr = expr.list.eval(pl.element().struct.field(part))
            dtype = pl.List(fields[part])
        elif dtype == pl.Utf8 and selector is None:
            path = "$" + "".join(f"[{json.dumps(p)}]" for p in parts[i:])
            return expr.str.json_path_match(path), pl.Utf8()
        else:
            return None
        found = _select(expr, dtype, selector)
        if found is None:
            return None
        expr, dtype = found
    return expr, dtype


def _first(v: _Value) -> _Value:
    # Where one value is wanted, a list (credentials.secretData) gives its first item.
    return _Value(v.expr.list.first(), v.inner) if v.shape == "list" else v


def _selector(part: str) -> tuple[str, tuple[str, str] | None]:
    """Split ``credentials[type=password]`` into the name and its (field, value) selector."""
    match = _SELECTOR.fullmatch(part)
    if match is None:
        return part, None
    return match["name"], (match["field"], match["value"])


def _select(
    expr: pl.Expr, dtype: pl.DataType, selector: tuple[str, str] | None
) -> tuple[pl.Expr, pl.DataType] | None:
    """Keep the items of a list of objects whose field equals the selector's value."""
    if selector is None:
        return expr, dtype
    if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)):
        return None
    key, wanted = selector
    if key not in _fields(dtype.inner):
        return None
    item = pl.element().struct.field(key).cast(pl.Utf8)
    return expr.list.eval(pl.element().filter(item == wanted)), dtype


def _fields_dtype(dtype: object) -> pl.DataType:
    # polars may hand back a data type class (pl.Utf8) where an instance (pl.Utf8()) is meant.
    if isinstance(dtype, pl.DataType):
        return dtype
    return cast("pl.DataType", dtype())  # type: ignore[operator]


def _fields(dtype: pl.Struct) -> dict[str, pl.DataType]:
    return {f.name: _fields_dtype(f.dtype) for f in dtype.fields}


def _shape(dtype: pl.DataType) -> Shape:
    if dtype in (pl.Utf8, pl.Null):
        return "text"
    if isinstance(dtype, pl.List | pl.Array):
        return "list"
    if isinstance(dtype, pl.Struct):
        return "struct"
    if isinstance(dtype, pl.Datetime | pl.Date):
        return "datetime"
    if dtype == pl.Boolean:
        return "bool"
    return "number"


def _constant(value: object) -> _Value:
    if isinstance(value, Secret):
        return _Value(pl.lit(value.reveal(), pl.Utf8), "text")
    if isinstance(value, tuple):
        return _Value(pl.lit(list(value), pl.List(pl.Utf8)), "list")
    if isinstance(value, bool):
        return _Value(pl.lit(value, pl.Boolean), "bool")
    if isinstance(value, int | float):
        return _Value(pl.lit(value), "number")
    return _Value(pl.lit(str(value), pl.Utf8), "text")


def _text(v: _Value) -> pl.Expr:
    """The value as text: numbers and booleans cast, timestamps RFC3339, structs and lists JSON."""
    if v.shape in ("text", "json", "jsonpath"):
        return v.expr.cast(pl.Utf8)
    if v.shape == "datetime":
        return _utc(v.expr).dt.strftime(RFC3339_LOCAL) + "Z"
    if v.shape in ("struct", "list"):
        return _json_encode(v.expr)
    return v.expr.cast(pl.Utf8)


def _utc(expr: pl.Expr) -> pl.Expr:
    # A tz-aware column is converted; a naive one is taken as UTC already. Dates become midnight.
    return expr.cast(pl.Datetime("us", "UTC")).dt.replace_time_zone(None)


# An object member whose value is null: polars gives a struct every field any record has, so a
# record without the key (Auth0's empty user_metadata {}) would be sent as {"plan": null}.
_NULL_MEMBER: Final = r'"(?:[^"\\]|\\.)*":null'


def _json_encode(expr: pl.Expr) -> pl.Expr:
    """JSON text of any value; object members that are null are left out (see _NULL_MEMBER)."""
    wrapped = pl.struct(expr.alias("v")).struct.json_encode()
    encoded = (
        wrapped.str.strip_prefix('{"v":')
        .str.strip_suffix("}")
        .str.replace_all("," + _NULL_MEMBER, "")
        .str.replace_all(r"\{" + _NULL_MEMBER + ",", "{")
        .str.replace_all(r"\{" + _NULL_MEMBER + r"\}", "{}")
    )
    return pl.when(expr.is_null()).then(pl.lit(None, pl.Utf8)).otherwise(encoded)


def _json_fragment(v: _Value) -> pl.Expr:
    if v.shape == "json":
        return v.expr
    if v.shape == "jsonpath":
        raw = v.expr.str.starts_with("[") | v.expr.str.starts_with("{")
        return pl.when(raw).then(v.expr).otherwise(_json_encode(v.expr))
    if v.shape in ("number", "bool"):
        return v.expr.cast(pl.Utf8)
    if v.shape == "datetime":
        return _json_encode(_text(v))
    return _json_encode(v.expr)


def _json_lit(value: object) -> str:
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def _apply(v: _Value, name: str, arg: object) -> _Value:
    tdef = TRANSFORMS[name]
    if name == "json":
        if v.shape in ("struct", "list"):
            return _Value(_json_encode(v.expr), "json")
        return _Value(_text(v), "json")
    if v.shape == "list":
        element = pl.element().cast(pl.Utf8)
        return _Value(v.expr.list.eval(tdef.fn(element, arg)), "list", "text")
    if name == "timestamp" and v.shape == "datetime":
        return _Value(_text(v), "text")
    out = tdef.fn(_text(v), arg)
    return _Value(out, "list" if tdef.makes_list else "text")


def _finish(v: _Value, kind: FieldKind, default: object) -> pl.Expr:
    """Cast a value to its field's dtype, turn empty text into null, then apply the default."""
    if kind == "list":
        if v.shape == "list":
            items = v.expr.list.eval(pl.element().cast(pl.Utf8))
        else:
            items = pl.concat_list(_text(v))
        items = items.list.eval(
            pl.element().filter(pl.element().is_not_null() & (pl.element() != ""))
        )
        items = pl.coalesce(items, pl.lit([], pl.List(pl.Utf8)))
        if default is not None:
            fallback = pl.lit(
                list(default) if isinstance(default, tuple) else [default], pl.List(pl.Utf8)
            )
            items = pl.when(items.list.len() == 0).then(fallback).otherwise(items)
        return items
    if kind == "flag":
        if v.shape == "bool":
            out = v.expr
        elif v.shape == "number":
            out = _text(v).cast(pl.Float64, strict=False) != 0
        else:
            t = _text(v).str.strip_chars().str.to_lowercase()
            out = pl.when(t.is_in(_TRUE)).then(True).when(t.is_in(_FALSE)).then(False)
        return (
            out.cast(pl.Boolean).fill_null(default) if default is not None else out.cast(pl.Boolean)
        )
    if kind == "int":
        out = _text(v).str.strip_chars().cast(pl.Int64, strict=False)
        return out.fill_null(default) if default is not None else out
    text = _text(v) if kind == "string" or v.shape != "struct" else _json_encode(v.expr)
    text = pl.when(text == "").then(pl.lit(None, pl.Utf8)).otherwise(text)
    return text.fill_null(pl.lit(default, pl.Utf8)) if default is not None else text
