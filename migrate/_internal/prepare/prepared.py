"""``Prepared``: one input read, mapped and validated lazily, and what later stages need of it.

``prepare`` / ``prepare_input`` make one; see the package docstring for the pipeline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from migrate._internal.mapping.load import load_mapping
from migrate._internal.mapping.spec import MappingSpec
from migrate._internal.prepare import lines, lookups
from migrate._internal.prepare.inputs import MappedInput, joined, no_rows_error
from migrate._internal.prepare.model import MAP_ROWS, Counts, PrepareOptions, RowPayload
from migrate._internal.prepare.verdicts import VerdictQuery, Verdicts, write_verdicts
from migrate._internal.sources import PIECE_BYTES, ROW_COLUMN, SourceReader, reading
from migrate._internal.validation import hide_shifted_rows
from migrate.errors import ConfigError

__all__ = ["Prepared", "prepare", "prepare_input"]


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
    """A read, mapped and validated input, evaluated lazily; see the package docstring."""

    #: About how much input text one piece holds (see ``sources.SourceReader``); tests set it
    #: tiny to force many pieces.
    piece_bytes: int = PIECE_BYTES
    #: Rows checked by one query of the verdict pass (consecutive pieces are joined up to it):
    #: each query has a fixed cost of ~20 ms (the rules' expressions), so one per 2 MB piece
    #: made validate ~40 % slower. Tests set it to 1 to keep one verdict file per piece.
    verdict_rows: int = MAP_ROWS

    def __init__(self, input: Path, spec: MappingSpec, options: PrepareOptions) -> None:
        self.input = input
        self.spec = spec
        self.options = options
        self.now = options.now or datetime.now(UTC)
        self.settings = options.settings
        # Fail now, before any row is processed: unreadable files, columns the input lacks.
        self._input = MappedInput(input, spec, options)
        self.source_options = self._input.source_options
        self.join_paths = self._input.join_paths
        self.notes = self._input.notes  # optional columns the input lacks (see ``notices``)
        self.missing_joins = self._input.missing_joins  # optional joins given no file
        self._reader: SourceReader | None = None
        self._messages = lines.mapping_messages(spec)
        self._plan: pl.DataFrame | None = None
        self._tmp: weakref.finalize[..., Any] | None = None
        self._tmp_dir = Path()
        self._verdicts: Verdicts | None = None
        self._notable: tuple[pl.DataFrame, Counts] | None = None

    def notices(self, rows: int) -> list[str]:
        """What this input lacks and what it costs, one line each: a warning per optional join
        given no file (with the ``rows`` it affects), a note per optional column absent."""
        return self._input.notices(rows)

    @cached_property
    def fingerprints(self) -> dict[str, str]:
        """sha256 of the input (``input``) and each join file (``join:<name>``), and the
        mapping's ``mapping_fingerprint`` (what it does, not its file's text)."""
        return self._input.fingerprints()

    def mapped_pieces(self) -> Iterator[pl.DataFrame]:
        """The mapped frame of the non-empty rows, one collected piece of the input at a time
        (memory bounded by a piece; holds secrets: keep each piece only while it is used)."""
        for piece in self._source().pieces():
            with reading(self.input):
                mapped = self._input.map_rows(piece).filter(pl.col(ROW_COLUMN) > 0).collect()
            if mapped.height:
                yield mapped

    def mapped(self) -> pl.LazyFrame:
        """The mapped frame (docs/internals.md) of the non-empty rows, lazily (``check`` reads
        it whole)."""
        return self._input.mapped.filter(pl.col(ROW_COLUMN) > 0)

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
                else pl.DataFrame(schema=lines.plan_schema())
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
        verdicts = self._verdict_pass()
        for batch in verdicts.batches(batch_size):
            yield lines.plan_batch(batch, verdicts.firsts, self.settings, self._messages)

    def counts(self) -> Counts:
        """Rows read (non-empty), valid, invalid, empty rows skipped, and rows skipped by their
        status in the source. Raises ``SourceError``."""
        return self._notable_rows()[1]

    def skipped(self) -> pl.DataFrame:
        """One line per row the source marks deleted (or disabled, with ``disabled = "skip"``):
        ``row, key, reason``, in file order. Such rows are not created and not invalid."""
        return lines.skipped_lines(self._notable_rows()[0])

    def warnings(self) -> pl.DataFrame:
        """One line per (row, warning): ``row, key, email, field, reason, message``, in file
        order.

        A warning does not make a row invalid (a username Clerk refuses is kept in metadata).
        Rows skipped or invalid are left out: they are not created anyway.
        """
        return lines.warning_lines(self._notable_rows()[0])

    def errors(self) -> pl.DataFrame:
        """One line per (row, reason): ``row, key, email, field, reason, message, value``, in
        file order (``email``: the row's primary address; ``value``: the offending field's value
        as mapped, secrets masked and long values cut, ``validation.field_values``).

        A duplicate's message ends with the row that holds the value first. Raises
        ``SourceError``.
        """
        invalid = self._notable_rows()[0].filter(pl.col("_mask") != 0)
        found = lines.error_lines(
            invalid, self._verdict_pass().firsts, self.settings, self._messages
        )
        with_values = lookups.with_values(found, self.values(found["row"].to_list()))
        return hide_shifted_rows(with_values)

    def values(self, rows: Sequence[int]) -> pl.DataFrame:
        """``row, field, value`` of every field of ``rows`` (input row numbers) as mapped,
        secrets masked and long values cut (``validation.field_values``): what a report shows
        beside a problem. Only the pieces holding these rows are read again, and only these
        rows mapped. Raises ``SourceError``."""
        return lookups.values(self._source(), self._input, rows)

    def payloads(self, rows: Sequence[int], *, batch_size: int = 1000) -> Iterator[RowPayload]:
        """The CreateUser bodies of ``rows`` (input row numbers), in file order.

        Parses only the pieces of the input that hold rows from the lowest to the highest asked
        (all of them before the plan pass has indexed the input), mapping just the rows asked;
        rows not in the input, or empty, are skipped. Raises ``SourceError``.
        """
        return lookups.payloads(self._source(), self._input, rows, batch_size)

    def preview(self, n: int) -> list[RowPayload]:
        """The first ``n`` rows' CreateUser bodies (valid or not), for a look before sending."""
        return lookups.preview(self._source(), self._input, n)

    def close(self) -> None:
        """Remove the temporary plan files now (else they go when this object is collected)."""
        if self._tmp is not None:
            self._tmp()
            self._tmp = None
            self._verdicts = self._notable = None

    def _source(self) -> SourceReader:
        """The input as bounded pieces (opened once, so its piece index is kept)."""
        if self._reader is None:
            self._reader = SourceReader(
                self.input, self.source_options, piece_bytes=self.piece_bytes
            )
        return self._reader

    def _verdict_pass(self) -> Verdicts:
        """The verdict files (written by the first call) and the duplicates across them."""
        if self._verdicts is not None:
            return self._verdicts
        if self._tmp is None:
            # Owned by this object: removed by close(), when it is garbage collected, or at exit
            # (weakref.finalize, which unlike TemporaryDirectory warns about none of these).
            folder = tempfile.mkdtemp(prefix="clerk-migrate-plan-")
            self._tmp = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            self._tmp_dir = Path(folder)
        present = set(self._input.mapped.collect_schema().names())
        query = VerdictQuery(self.spec, present, self.now, self.settings)
        groups = joined(self._source().pieces(), self.verdict_rows)
        queries = (query.of(self._input.map_rows(group)) for group in groups)
        verdicts = write_verdicts(queries, query.key_names, self._tmp_dir, self.input)
        if not verdicts.files:
            raise no_rows_error(self.input, verdicts.empty)
        self._verdicts = verdicts
        return verdicts

    def _notable_rows(self) -> tuple[pl.DataFrame, Counts]:
        """The invalid, skipped and warned rows' verdicts and the counts (read once, kept)."""
        if self._notable is None:
            self._notable = self._verdict_pass().notable()
        return self._notable
