"""Prepare a run: read, map and validate an input lazily, and hand out what later stages need.

One pipeline, shared by ``validate`` and ``run``: sources (the input as bounded pieces) ->
mapping (``compile_mapping`` per piece) -> validation (a rule mask per row, then duplicates
across the whole input) -> the plan. ``prepare(input, mapping, options)`` (or
``prepare_input``, as the commands call it) loads the mapping and sets up the read (so a bad
mapping or an unreadable file fails here, before any row is processed). ``Prepared`` gives:

- ``iter_plan(batch_size)``: one row per non-empty input row (``_row, _key, external_id, email,
  _errors``), no payloads and no secrets, in file order and in batches; what the state DB is
  planned from. ``plan()`` is the same rows as one frame (for callers that want it whole);
- ``counts()`` and ``errors()`` (one line per reason): ``validate``'s report, from the same pass;
- ``payloads(rows)`` / ``preview(n)``: CreateUser bodies, re-read from the input a piece at a
  time (only the pieces holding the rows asked for), never all in memory;
- ``fingerprints``: sha256 of each input file and of the mapping file, for resume checks.

Memory stays flat as the input grows. The input is read as bounded pieces
(``sources.SourceReader``: polars reads a lazy scan's whole file ahead of a slow consumer, so a
scan would not do), mapped and validated up to 50,000 rows per query (join files are read
once and kept). The one verdict pass writes, per row, its number, key, contacts, a 64-bit rule
mask and the 64-bit hashes of the values that must be unique to temporary Parquet files (one per
query); duplicates across the whole input are found from one key column's hashes at a time, sorted;
``iter_plan``, ``counts`` and ``errors`` read the files back one at a time. The files live in
a private temporary directory (``TMPDIR``) owned by the ``Prepared``: removed by ``close()``,
when the object is garbage collected, or at interpreter exit. They hold no secrets (no
passwords, digests, TOTP secrets or backup codes). The pass also records where each piece
lies, so ``payloads(rows)`` for a run of consecutive rows parses only the pieces holding them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import polars as pl

from migrate._internal.mapping.accounts import SKIP_COLUMN, USERNAME_WARNING, WARNING_COLUMN
from migrate._internal.mapping.compile import compile_mapping
from migrate._internal.mapping.fingerprint import mapping_fingerprint
from migrate._internal.mapping.load import load_mapping
from migrate._internal.mapping.payload import mask_payload, payloads_from_frame
from migrate._internal.mapping.spec import InferSource, JoinSpec, MappingSpec
from migrate._internal.sources import (
    EMPTY_COLUMN,
    PIECE_BYTES,
    ROW_COLUMN,
    SourceReader,
    reading,
    scan_source,
)
from migrate._internal.validation import (
    ERROR_DTYPE,
    ValidationSettings,
    duplicate_mask,
    duplicates,
    errors_from_mask,
    field_values,
    hide_shifted_rows,
    key_column_names,
    key_columns,
    row_mask,
    with_all_fields,
)
from migrate.errors import ConfigError, SourceError

__all__ = ["Counts", "PrepareOptions", "Prepared", "RowPayload", "prepare", "prepare_input"]

_PLAN_COLUMNS: Final = ("_row", "_key", "external_id", "email", "_errors", SKIP_COLUMN)
_CHUNK: Final = 1 << 20
# Rows mapped at once when bodies are made: bounds the mapped frame (which holds secrets in
# memory only) while keeping polars' per-query cost small.
_MAP_ROWS: Final = 50_000
_VERDICT_COLUMNS: Final = (
    ROW_COLUMN, "_key", "external_id", "email", "_mask", SKIP_COLUMN, WARNING_COLUMN,
)  # fmt: skip
_WARNING_FIELDS: Final = {USERNAME_WARNING: "username"}
_WARNING_MESSAGES: Final = {
    USERNAME_WARNING: "Clerk refuses this username (4-64 characters of letters, digits, _ "
    "and -, not all digits): the user is created without one and the value is kept in "
    "private_metadata.legacy_username.",
}


@dataclass(frozen=True)
class PrepareOptions:
    """How to read and check the input, beyond what the mapping file says.

    ``source`` overrides single reading options of the mapping's ``[source]`` table (keys are
    ``SourceOptions`` fields: ``format``, ``encoding``, ``delimiter``, ``has_header`` …).
    ``joins`` gives the file of a ``[[join]]`` by name, overriding the mapping's ``path``.
    ``env`` supplies ``env:NAME`` values. ``now`` is the cut-off for future dates (default: the
    clock when ``prepare`` is called).
    """

    source: Mapping[str, Any] = field(default_factory=dict)
    joins: Mapping[str, Path] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    settings: ValidationSettings = field(default_factory=ValidationSettings)
    now: datetime | None = None


@dataclass(frozen=True)
class Counts:
    """Row counts of one input: non-empty rows read, valid, invalid, empty rows skipped, and
    rows skipped because the source marks the account deleted (or disabled, when asked)."""

    read: int
    valid: int
    invalid: int
    skipped_empty: int
    skipped: int = 0


@dataclass(frozen=True)
class RowPayload:
    """A CreateUser body as it will be sent, for input row ``row``; its repr masks secrets."""

    row: int
    key: str
    body: dict[str, Any]

    def masked(self) -> dict[str, Any]:
        """The body with passwords, digests, TOTP secrets and backup codes masked."""
        return mask_payload(self.body)

    def __repr__(self) -> str:
        return f"RowPayload(row={self.row}, key={self.key!r}, body={self.masked()!r})"


def prepare(
    input: str | Path,
    mapping: str | Path | MappingSpec,
    options: PrepareOptions | None = None,
) -> Prepared:
    """Load the mapping and set up the lazy read, mapping and validation of ``input``.

    ``mapping`` is a mapping file, a preset name, or an already loaded spec. Raises
    ``MappingError`` (bad mapping, or columns the input lacks), ``SourceError`` (the input or a
    join file cannot be read), ``ConfigError`` (a join override names no join).
    """
    options = options or PrepareOptions()
    spec = mapping if isinstance(mapping, MappingSpec) else load_mapping(mapping, options.env)
    unknown = set(options.joins) - {j.name for j in spec.joins}
    if unknown:
        names = ", ".join(j.name for j in spec.joins) or "none"
        raise ConfigError(
            f"--join names {', '.join(sorted(unknown))}; the mapping's joins: {names}"
        )
    return Prepared(Path(input), spec, options)


def prepare_input(
    input: str | Path,
    mapping: str | Path,
    source: Mapping[str, Any] | None = None,
    joins: Mapping[str, Path] | Sequence[Path] = (),
) -> Prepared:
    """``prepare`` as the commands call it: the mapping read from a file or a preset name,
    ``env:NAME`` values from the environment, ``source`` overriding the mapping's [source],
    and ``joins`` giving the files of its ``[[join]]`` tables by name or in order.

    Raises ``SourceError`` / ``MappingError`` / ``ConfigError`` when the input, the mapping or
    the joins cannot be used.
    """
    env = dict(os.environ)
    spec = load_mapping(mapping, env)
    if isinstance(joins, Mapping):
        named = {name: Path(path) for name, path in joins.items()}
    else:
        if len(joins) > len(spec.joins):
            raise ConfigError(
                f"--join was given {len(joins)} file(s) but the mapping has "
                f"{len(spec.joins)} join(s)"
            )
        named = {j.name: Path(path) for j, path in zip(spec.joins, joins, strict=False)}
    return prepare(input, spec, PrepareOptions(source=dict(source or {}), env=env, joins=named))


class Prepared:
    """A read, mapped and validated input, evaluated lazily; see the module docstring."""

    #: About how much input text one piece holds (see ``sources.SourceReader``); tests set it
    #: tiny to force many pieces.
    piece_bytes: int = PIECE_BYTES
    #: Rows checked by one query of the verdict pass (consecutive pieces are joined up to it):
    #: each query has a fixed cost of ~20 ms (the rules' expressions), so one per 2 MB piece
    #: made validate ~40 % slower. Tests set it to 1 to keep one verdict file per piece.
    verdict_rows: int = _MAP_ROWS

    def __init__(self, input: Path, spec: MappingSpec, options: PrepareOptions) -> None:
        self.input = input
        self.spec = spec
        self.options = options
        self.now = options.now or datetime.now(UTC)
        self.settings = options.settings
        self.source_options = dataclasses.replace(spec.source.options(), **options.source)
        self.join_paths = {j.name: options.joins.get(j.name, j.path) for j in spec.joins}
        self.notes: list[str] = []  # optional columns the input lacks (see ``notices``)
        self.missing_joins: tuple[JoinSpec, ...] = ()  # optional joins given no file
        self._joins: dict[str, pl.LazyFrame] = {}
        self._joins_read = False
        # Fail now, before any row is processed: unreadable files, columns the input lacks.
        self._mapped = self._compile()
        self._reader: SourceReader | None = None
        self._firsts = pl.DataFrame(
            schema={ROW_COLUMN: pl.Int64, "reason": pl.Utf8, "_first": pl.Int64}
        )
        self._plan: pl.DataFrame | None = None
        self._tmp: weakref.finalize[..., Any] | None = None
        self._tmp_dir = Path()
        self._plan_files: list[Path] | None = None
        self._dups: pl.DataFrame | None = None
        self._skipped = 0
        self._notable: tuple[pl.DataFrame, Counts] | None = None
        self._messages = mapping_messages(spec)

    def _compile(self) -> pl.LazyFrame:
        source = scan_source(self.input, self.source_options)
        if not [n for n in source.collect_schema().names() if not n.startswith("_")]:
            raise self._no_rows()  # no column at all: an empty JSON list, blank lines only
        frame = _negate_empty(source)
        missing = []
        for join in self.spec.joins:
            path = self.join_paths[join.name]
            if path == Path() or not path.name:
                if not join.required:
                    missing.append(join)
                    del self.join_paths[join.name]
                    continue
                what = f" ({join.description})" if join.description else ""
                raise ConfigError(
                    f"the mapping joins {join.name!r}{what} but no file was given for it; "
                    f"pass --join {join.name}=FILE"
                )
            right = scan_source(path, join.options)
            self._joins[join.name] = right.filter(~pl.col(EMPTY_COLUMN)).drop(EMPTY_COLUMN)
        self.missing_joins = tuple(missing)
        return compile_mapping(self.spec, frame, self._joins, self.notes)

    def notices(self, rows: int) -> list[str]:
        """What this input lacks and what it costs, one line each: a warning per optional join
        given no file (with the ``rows`` it affects), a note per optional column absent."""
        out = []
        for join in self.missing_joins:
            what = f" ({join.description})" if join.description else ""
            cost = join.if_missing or f"the fields read from {join.name}.* are left out"
            out.append(
                f"Warning: no file for join {join.name!r}{what} (--join {join.name}=FILE): "
                f"{rows:,} row(s) affected: {cost}"
            )
        return out + [f"Note: {note}" for note in self.notes]

    def _source(self) -> SourceReader:
        """The input as bounded pieces (opened once, so its piece index is kept)."""
        if self._reader is None:
            self._reader = SourceReader(
                self.input, self.source_options, piece_bytes=self.piece_bytes
            )
        return self._reader

    def _map_piece(self, piece: pl.DataFrame) -> pl.LazyFrame:
        """The mapped frame of one piece of the input (empty rows with negative numbers)."""
        if not self._joins_read:
            # Read each join file once, not once per piece (they are lookup tables).
            for name, frame in self._joins.items():
                with reading(self.join_paths[name]):
                    self._joins[name] = frame.collect().lazy()
            self._joins_read = True
        return compile_mapping(self.spec, _negate_empty(piece.lazy()), self._joins)

    @cached_property
    def fingerprints(self) -> dict[str, str]:
        """sha256 of the input (``input``) and each join file (``join:<name>``), and the
        mapping's ``mapping_fingerprint`` (what it does, not its file's text)."""
        out = {"input": _sha256(self.input)}
        for name, path in self.join_paths.items():
            out[f"join:{name}"] = _sha256(path)
        out["mapping"] = mapping_fingerprint(self.spec)
        return out

    def mapped_pieces(self) -> Iterator[pl.DataFrame]:
        """The mapped frame of the non-empty rows, one collected piece of the input at a time
        (memory bounded by a piece; holds secrets: keep each piece only while it is used)."""
        for piece in self._source().pieces():
            with reading(self.input):
                mapped = self._map_piece(piece).filter(pl.col(ROW_COLUMN) > 0).collect()
            if mapped.height:
                yield mapped

    def mapped(self) -> pl.LazyFrame:
        """The mapped frame (docs/internals.md) of the non-empty rows, lazily (``check`` reads
        it whole)."""
        return self._mapped.filter(pl.col(ROW_COLUMN) > 0)

    def plan(self) -> pl.DataFrame:
        """One row per non-empty input row: ``_row, _key, external_id, email, _errors``.

        ``email`` is the primary (first) address; ``_errors`` is empty for a valid row. The whole
        plan in one frame (built from ``iter_plan``, kept once built); a caller that only walks
        it should use ``iter_plan``, whose memory does not grow with the input. Raises
        ``SourceError``.
        """
        if self._plan is None:
            batches = list(self.iter_plan())
            self._plan = (
                pl.concat(batches, rechunk=True)
                if batches
                else pl.DataFrame(schema=self._plan_schema())
            )
        return self._plan

    def iter_plan(self, batch_size: int = 50_000) -> Iterator[pl.DataFrame]:
        """The rows of ``plan()``, in file order, ``batch_size`` rows a frame (the last fewer).

        The first call makes one pass over the input, a piece at a time, that writes each row's
        verdict to temporary Parquet files and finds the duplicates from the 64-bit key hashes
        alone; every call then reads those files back one at a time, adding the duplicate bits
        and decoding the errors per batch. So only one key column's hashes (while duplicates
        are looked for) and the duplicates found are held for the whole input. Raises
        ``SourceError``, also when the input holds no row (only a header or empty rows).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        files, dups = self._plan_file()
        pending: list[pl.DataFrame] = []
        held = 0
        for file in files:
            pending.append(pl.read_parquet(file, columns=list(_VERDICT_COLUMNS)))
            held += pending[-1].height
            # The pieces are not of the size asked; regroup them exactly.
            while held >= batch_size:
                whole = pl.concat(pending, rechunk=True)
                yield self._finish(whole.head(batch_size), dups)
                rest = whole.slice(batch_size)
                pending, held = ([rest], rest.height) if rest.height else ([], 0)
        if held:
            yield self._finish(pl.concat(pending, rechunk=True), dups)

    def close(self) -> None:
        """Remove the temporary plan files now (else they go when this object is collected)."""
        if self._tmp is not None:
            self._tmp()
            self._tmp = None
            self._plan_files = self._dups = self._notable = None

    def _plan_schema(self) -> dict[str, pl.DataType]:
        return {
            ROW_COLUMN: pl.Int64(),
            "_key": pl.Utf8(),
            "external_id": pl.Utf8(),
            "email": pl.Utf8(),
            "_errors": ERROR_DTYPE,
            SKIP_COLUMN: pl.Utf8(),
        }

    def _finish(self, batch: pl.DataFrame, dups: pl.DataFrame) -> pl.DataFrame:
        """``batch`` (verdicts of consecutive rows) with its duplicate bits and decoded errors."""
        batch = _with_duplicates(batch, dups)
        table = _decode_table(batch["_mask"], self.settings, self._messages)
        # Each row's errors are gathered from the table of distinct masks (a handful), so no
        # per-row decoding and no copy of the other columns.
        index = batch["_mask"].replace_strict(
            table["_mask"], pl.Series(range(table.height), dtype=pl.UInt32)
        )
        errors = table["_errors"].gather(index)
        if self._firsts.height:
            firsts = self._firsts.filter(pl.col(ROW_COLUMN).is_in(batch[ROW_COLUMN].implode()))
            if firsts.height:
                errors = _with_firsts(batch[ROW_COLUMN], errors, firsts)
        return batch.with_columns(errors).select(_PLAN_COLUMNS)

    def _plan_file(self) -> tuple[list[Path], pl.DataFrame]:
        """The temporary Parquet files of verdicts (written once) and ``_row, _dup_mask``."""
        if self._plan_files is not None and self._dups is not None:
            return self._plan_files, self._dups
        if self._tmp is None:
            # Owned by this object: removed by close(), when it is garbage collected, or at exit
            # (weakref.finalize, which unlike TemporaryDirectory warns about none of these).
            folder = tempfile.mkdtemp(prefix="clerk-migrate-plan-")
            self._tmp = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            self._tmp_dir = Path(folder)
        key_names = [n for n in key_column_names() if n in self._verdict_names]
        files: list[Path] = []
        skipped = 0
        for group in _joined(self._source().pieces(), self.verdict_rows):
            with reading(self.input):
                verdicts = self._verdict_query(self._map_piece(group)).collect()
            empty = verdicts[ROW_COLUMN] < 0
            skipped += int(empty.sum())
            verdicts = verdicts.filter(~empty)
            if verdicts.height:
                files.append(self._tmp_dir / f"verdicts-{len(files):06d}.parquet")
                # lz4: half zstd's CPU for files read back once or twice (and ~1.5x the size)
                verdicts.select(*_VERDICT_COLUMNS, *key_names).write_parquet(
                    files[-1], compression="lz4"
                )
            del verdicts
        self._skipped = skipped
        if not files:
            raise self._no_rows()
        dups = pl.DataFrame(schema={ROW_COLUMN: pl.Int64, "_dup_mask": pl.UInt64})
        if key_names and files:
            found = duplicates(_holders_of_repeats(files, key_names)).collect()
            self._firsts = found.select(ROW_COLUMN, "reason", "_first")
            dups = duplicate_mask(found.lazy()).collect().sort(ROW_COLUMN)
        self._plan_files, self._dups = files, dups
        return files, dups

    def counts(self) -> Counts:
        """Rows read (non-empty), valid, invalid, empty rows skipped, and rows skipped by their
        status in the source. Raises ``SourceError``."""
        return self._notable_rows()[1]

    def skipped(self) -> pl.DataFrame:
        """One line per row the source marks deleted (or disabled, with ``disabled = "skip"``):
        ``row, key, reason``, in file order. Such rows are not created and not invalid."""
        return (
            self._notable_rows()[0]
            .filter(pl.col(SKIP_COLUMN).is_not_null())
            .select(
                pl.col(ROW_COLUMN).alias("row"),
                pl.col("_key").alias("key"),
                pl.col(SKIP_COLUMN).alias("reason"),
            )
        )

    def warnings(self) -> pl.DataFrame:
        """One line per (row, warning): ``row, key, email, field, reason, message``, in file
        order.

        A warning does not make a row invalid (a username Clerk refuses is kept in metadata).
        Rows skipped or invalid are left out: they are not created anyway.
        """
        found = self._notable_rows()[0].filter(
            pl.col(WARNING_COLUMN).is_not_null()
            & (pl.col("_mask") == 0)
            & pl.col(SKIP_COLUMN).is_null()
        )
        reason = pl.col(WARNING_COLUMN)
        return found.select(
            pl.col(ROW_COLUMN).alias("row"),
            pl.col("_key").alias("key"),
            "email",
            reason.replace_strict(_WARNING_FIELDS, return_dtype=pl.Utf8).alias("field"),
            reason.alias("reason"),
            reason.replace_strict(_WARNING_MESSAGES, return_dtype=pl.Utf8).alias("message"),
        )

    def errors(self) -> pl.DataFrame:
        """One line per (row, reason): ``row, key, email, field, reason, message, value``, in
        file order (``email``: the row's primary address; ``value``: the offending field's value
        as mapped, secrets masked and long values cut, ``validation.field_values``).

        A duplicate's message ends with the row that holds the value first.
        """
        invalid = self._notable_rows()[0].filter(pl.col("_mask") != 0)
        table = _decode_table(invalid["_mask"], self.settings, self._messages)
        lines = (
            invalid.join(table, on="_mask", how="left", maintain_order="left")
            .select(
                pl.col(ROW_COLUMN).alias("row"), pl.col("_key").alias("key"), "email", "_errors"
            )
            .explode("_errors")
            .unnest("_errors")
        )
        # A duplicate says which row holds the value first, so the pair can be looked at.
        firsts = self._firsts.rename({ROW_COLUMN: "row"})
        return (
            lines.join(firsts, on=["row", "reason"], how="left", maintain_order="left")
            .with_columns(
                pl.when(pl.col("_first").is_not_null())
                .then(pl.format("{} Row {} has it first.", "message", "_first"))
                .otherwise("message")
                .alias("message")
            )
            .drop("_first")
            .pipe(self._with_values)
            .pipe(hide_shifted_rows)
        )

    def values(self, rows: Sequence[int]) -> pl.DataFrame:
        """``row, field, value`` of every field of ``rows`` (input row numbers) as mapped,
        secrets masked and long values cut (``validation.field_values``): what a report shows
        beside a problem. Only the pieces holding these rows are read again, and only these
        rows mapped. Raises ``SourceError``."""
        found: list[pl.DataFrame] = []
        wanted = sorted(set(rows))
        if wanted:
            series = pl.Series(wanted, dtype=pl.Int64).implode()
            mine = (
                piece.filter(pl.col(ROW_COLUMN).is_in(series) & ~pl.col(EMPTY_COLUMN))
                for piece in self._source().pieces(wanted[0], wanted[-1])
            )
            # The rows of many pieces mapped in one query: each query has a fixed cost.
            for group in _joined(mine, _MAP_ROWS):
                with reading(self.input):
                    found.append(field_values(self._map_piece(group).collect()))
        if found:
            return pl.concat(found)
        return pl.DataFrame(schema={"row": pl.Int64, "field": pl.Utf8, "value": pl.Utf8})

    def _with_values(self, lines: pl.DataFrame) -> pl.DataFrame:
        """``lines`` (``row, field, …``) with ``value``: each line's field as ``values`` gives
        it (empty when the field has none)."""
        values = self.values(lines["row"].to_list())
        return lines.join(
            values, on=["row", "field"], how="left", maintain_order="left"
        ).with_columns(pl.col("value").fill_null(""))

    def payloads(self, rows: Sequence[int], *, batch_size: int = 1000) -> Iterator[RowPayload]:
        """The CreateUser bodies of ``rows`` (input row numbers), in file order.

        Parses only the pieces of the input that hold rows from the lowest to the highest asked
        (all of them before the plan pass has indexed the input), mapping just the rows asked;
        rows not in the input, or empty, are skipped. Raises ``SourceError``.
        """
        wanted = sorted(set(rows))
        if not wanted:
            return
        series = pl.Series(wanted, dtype=pl.Int64).implode()
        for piece in self._source().pieces(wanted[0], wanted[-1]):
            mine = piece.filter(pl.col(ROW_COLUMN).is_in(series) & ~pl.col(EMPTY_COLUMN))
            if mine.height:
                yield from self._bodies(mine, batch_size)

    def preview(self, n: int) -> list[RowPayload]:
        """The first ``n`` rows' CreateUser bodies (valid or not), for a look before sending."""
        out: list[RowPayload] = []
        if n < 1:
            return out
        for piece in self._source().pieces():
            mine = piece.filter(~pl.col(EMPTY_COLUMN)).head(n - len(out))
            out.extend(self._bodies(mine, n))
            if len(out) >= n:
                break
        return out

    def _bodies(self, piece: pl.DataFrame, batch_size: int) -> Iterator[RowPayload]:
        """The bodies of the (non-empty) rows of a piece: mapped in one query (up to
        ``_MAP_ROWS`` rows: a piece is small, and each query has a fixed cost), turned into
        dicts ``batch_size`` rows at a time."""
        for part in piece.iter_slices(max(batch_size, _MAP_ROWS)):
            with reading(self.input):
                mapped = self._map_piece(part).collect()
            for batch in mapped.iter_slices(batch_size):
                for row, key, body in payloads_from_frame(batch):
                    yield RowPayload(row, key, body)

    def _notable_rows(self) -> tuple[pl.DataFrame, Counts]:
        """``_row, _key, email, _mask`` (duplicate bits included), ``_skip`` and ``_warning`` of
        the rows that are invalid, skipped or warned about, and the counts: what ``counts``,
        ``errors``, ``skipped`` and ``warnings`` read, from one read of the verdict files (kept)."""
        if self._notable is not None:
            return self._notable
        files, dups = self._plan_file()
        columns = [ROW_COLUMN, "_key", "email", "_mask", SKIP_COLUMN, WARNING_COLUMN]
        notable = (
            (pl.col("_mask") != 0)
            | pl.col(SKIP_COLUMN).is_not_null()
            | pl.col(WARNING_COLUMN).is_not_null()
        )
        parts: list[pl.DataFrame] = []
        read = invalid = skipped = 0
        for file in files:
            verdicts = _with_duplicates(pl.read_parquet(file, columns=columns), dups)
            read += verdicts.height
            invalid += int((verdicts["_mask"] != 0).sum())
            skipped += int(verdicts[SKIP_COLUMN].is_not_null().sum())
            parts.append(verdicts.filter(notable))
        counts = Counts(read, read - invalid - skipped, invalid, self._skipped, skipped)
        self._notable = (pl.concat(parts), counts)
        return self._notable

    def _no_rows(self) -> SourceError:
        """The error for an input that holds no row to migrate: never a success."""
        skipped = getattr(self, "_skipped", 0)  # not set yet when the input has no column
        empty = f" ({skipped:,} empty)" if skipped else ""
        return SourceError(
            f"{self.input}: no rows to migrate{empty}: the input holds only a header, empty "
            "rows or an empty list; check that this is the right file and that it is complete"
        )

    def _verdict_query(self, mapped: pl.LazyFrame) -> pl.LazyFrame:
        """``_row, _key, external_id, email, _mask`` and the duplicate-key hashes of a mapped
        piece, lazily."""
        hasher = self.spec.field_spec("password_hasher")
        inferred = hasher is not None and isinstance(hasher.source, InferSource)
        return with_all_fields(mapped, hasher_inferred=inferred).select(self._verdict_columns)

    @cached_property
    def _verdict_columns(self) -> list[pl.Expr | str]:
        """What ``_verdict_query`` selects, built once (the rules' expressions take ~10 ms)."""
        present = set(self._mapped.collect_schema().names())
        # A row skipped by its status is neither checked nor a holder of unique values: a deleted
        # account does not make the live one with its address a duplicate.
        skip = pl.col(SKIP_COLUMN) if SKIP_COLUMN in present else pl.lit(None, pl.Utf8)
        warning = pl.col(WARNING_COLUMN) if WARNING_COLUMN in present else pl.lit(None, pl.Utf8)
        live = skip.is_null()
        mask = row_mask(self.now, self.settings, present)
        return [
            ROW_COLUMN,
            "_key",
            pl.col("external_id"),
            pl.col("email_address").list.first().alias("email"),
            pl.when(live).then(mask).otherwise(pl.lit(0, pl.UInt64)).alias("_mask"),
            skip.alias(SKIP_COLUMN),
            warning.alias(WARNING_COLUMN),
            *(pl.when(live).then(k).alias(k.meta.output_name()) for k in key_columns(present)),
        ]

    @cached_property
    def _verdict_names(self) -> list[str]:
        """The columns of a verdict query's result."""
        return self._verdict_query(self._mapped).collect_schema().names()


def _negate_empty(frame: pl.LazyFrame) -> pl.LazyFrame:
    """An empty row keeps its place but gets a negative row number, so one pass can both count
    the empty rows and leave them out (compile_mapping keeps only ``_row``)."""
    return frame.with_columns(
        pl.when(pl.col(EMPTY_COLUMN))
        .then(-pl.col(ROW_COLUMN))
        .otherwise(pl.col(ROW_COLUMN))
        .alias(ROW_COLUMN)
    )


def _joined(frames: Iterable[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
    """``frames`` (of one schema) joined into frames of at least ``rows`` rows (the last may
    hold fewer); a frame is never cut, empty ones are dropped."""
    held: list[pl.DataFrame] = []
    count = 0
    for frame in frames:
        if frame.height:
            held.append(frame)
            count += frame.height
        if count >= rows:
            yield pl.concat(held)
            held, count = [], 0
    if held:
        yield pl.concat(held)


def _holders_of_repeats(files: Sequence[Path], key_names: Sequence[str]) -> pl.DataFrame:
    """``_row`` and the key hashes of the rows (in the verdict ``files``) that hold, in some key
    column, a value another row (or the same row, twice) holds too: all ``duplicates`` needs,
    since the other rows give nothing.

    Memory is what matters here: the hashes of one key column are read and sorted at a time
    (repeated values are neighbours once sorted), and the holders are then picked file by file;
    ``duplicates`` on every row would hold each row's number and hashes and build hash tables
    over all of them, several times the size of one sorted column.
    """
    schema = pl.read_parquet_schema(files[0])
    repeated: dict[str, pl.Series] = {}
    for name in key_names:
        values = pl.scan_parquet(list(files)).select(pl.col(name)).collect().to_series()
        if isinstance(values.dtype, pl.List):
            values = values.explode()
        ordered = values.drop_nulls().sort()
        del values
        found = ordered.filter(ordered == ordered.shift(1)).unique()
        if not found.is_empty():
            repeated[name] = found.implode()
    columns = [ROW_COLUMN, *key_names]
    if not repeated:
        return pl.read_parquet(files[0], columns=columns).clear()
    hits = [
        pl.col(name).list.eval(pl.element().is_in(values)).list.any()
        if isinstance(schema[name], pl.List)
        else pl.col(name).is_in(values)
        for name, values in repeated.items()
    ]
    held = pl.any_horizontal(hits).fill_null(False)
    return pl.concat(pl.read_parquet(f, columns=columns).filter(held) for f in files)


def _with_duplicates(frame: pl.DataFrame, dups: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (verdicts of consecutive rows) with the duplicate bits of its rows added."""
    if dups.height:
        mine = dups.filter(pl.col(ROW_COLUMN).is_in(frame[ROW_COLUMN].implode()))
        if mine.height:
            return frame.with_columns(_with_bits(frame, mine))
    return frame


def _with_bits(frame: pl.DataFrame, dups: pl.DataFrame) -> pl.Series:
    """``frame``'s ``_mask`` with each row's duplicate bits (``dups``: ``_row, _dup_mask``) added.

    Rows come in file order, so the few rows to change are found by binary search (5 M rows:
    ~0.02 s, against ~0.2 s for a lookup of every row); any other order takes the lookup.
    """
    rows, mask = frame[ROW_COLUMN], frame["_mask"]
    if not rows.is_sorted():
        bits = rows.replace_strict(
            dups[ROW_COLUMN], dups["_dup_mask"], default=0, return_dtype=pl.UInt64
        )
        return mask | bits
    at = rows.search_sorted(dups[ROW_COLUMN])
    return mask.scatter(at, mask.gather(at) | dups["_dup_mask"])


def _with_firsts(rows: pl.Series, errors: pl.Series, firsts: pl.DataFrame) -> pl.Series:
    """``errors`` (one list per row of ``rows``) with each duplicate's message ending in the
    row that holds the value first, as ``errors()`` says it (``firsts``: ``_row, reason,
    _first`` of the few duplicates among ``rows``)."""
    first_of = {(r, reason): f for r, reason, f in firsts.iter_rows()}
    # plain Python over the batch: only batches holding a duplicate come here (few)
    values = errors.to_list()
    for i, row in enumerate(rows.to_list()):
        for e in values[i]:
            first = first_of.get((row, e["reason"]))
            if first is not None:
                e["message"] = f"{e['message']} Row {first} has it first."
    return pl.Series(errors.name, values, dtype=ERROR_DTYPE)


def _decode_table(
    masks: pl.Series, settings: ValidationSettings, messages: Mapping[tuple[str, str], str]
) -> pl.DataFrame:
    """``_mask, _errors`` for each distinct mask value (rows with the same mask share errors),
    with ``messages`` (by reason and field) replacing the rules' own."""
    distinct = masks.unique().to_frame("_mask")
    table = distinct.with_columns(errors_from_mask(pl.col("_mask"), settings))
    return with_messages(table, messages)


def with_messages(frame: pl.DataFrame, messages: Mapping[tuple[str, str], str]) -> pl.DataFrame:
    """``frame`` with the messages of its ``_errors`` replaced by ``messages`` (by reason and
    field, from ``mapping_messages``) where one applies."""
    if not messages or not frame.height:
        return frame
    # used on a handful of distinct masks: plain Python is cheaper than an expression here
    errors = [
        [e | {"message": messages.get((e["reason"], e["field"]), e["message"])} for e in row]
        for row in frame["_errors"].to_list()
    ]
    return frame.with_columns(pl.Series("_errors", errors, dtype=ERROR_DTYPE))


def mapping_messages(spec: MappingSpec) -> dict[tuple[str, str], str]:
    """Messages that depend on the mapping, by (reason, field): advice the rule gives in
    general but that this mapping already follows, or that would hurt here."""
    found: dict[tuple[str, str], str] = {}
    for column in ("created_at", "legal_accepted_at"):
        field = spec.field_spec(column)
        if field is not None and any(t.name == "timestamp" for t in field.transforms):
            found["invalid_timestamp", column] = (
                f"{column} is a value the mapping's timestamp transform cannot read (an "
                "impossible date such as 2021-02-30, or a shape it does not know). Correct the "
                "value in the input, or give the transform a format."
            )
    hasher = spec.field_spec("password_hasher")
    if hasher is not None and isinstance(hasher.source, InferSource):
        found["digest_without_hasher", "password_hasher"] = (
            "password_digest has the shape of no hasher, so its hasher cannot be inferred (a "
            "truncated or damaged digest?). Correct the digest in the input; one "
            "password_hasher for every row would mislabel the other rows' digests."
        )
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    return digest.hexdigest()
