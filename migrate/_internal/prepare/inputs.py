"""The input side of a prepared run: the source file, its joins, and the mapping over them.

``MappedInput`` checks at once what can be checked without reading rows (the input and join
files open, the mapping's columns exist, every required join has a file) and then maps any
frame of the input's rows (a piece, or some rows of it); join files are read once, on first
use, and kept (they are lookup tables).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Final

import polars as pl

from migrate._internal.mapping.compile import compile_mapping
from migrate._internal.mapping.fingerprint import mapping_fingerprint
from migrate._internal.mapping.spec import JoinSpec, MappingSpec
from migrate._internal.prepare.model import PrepareOptions
from migrate._internal.sources import EMPTY_COLUMN, ROW_COLUMN, reading, scan_source
from migrate.errors import ConfigError, SourceError

__all__ = ["MappedInput", "joined", "negate_empty", "no_rows_error"]

_CHUNK: Final = 1 << 20


class MappedInput:
    """An input file, its join files and the mapping that turns their rows into Clerk fields.

    Raises ``SourceError`` (a file cannot be read, or the input has no column at all),
    ``MappingError`` (columns the input lacks) or ``ConfigError`` (a required join given no
    file) when made.
    """

    def __init__(self, input: Path, spec: MappingSpec, options: PrepareOptions) -> None:
        self.input = input
        self.spec = spec
        self.source_options = dataclasses.replace(spec.source.options(), **options.source)
        self.join_paths = {j.name: options.joins.get(j.name, j.path) for j in spec.joins}
        self.notes: list[str] = []  # optional columns the input lacks (see ``notices``)
        self.missing_joins: tuple[JoinSpec, ...] = ()  # optional joins given no file
        self._joins: dict[str, pl.LazyFrame] = {}
        self._joins_read = False
        self.mapped = self._compile()

    def _compile(self) -> pl.LazyFrame:
        """The whole input mapped, lazily (empty rows with negative numbers)."""
        source = scan_source(self.input, self.source_options)
        if not [n for n in source.collect_schema().names() if not n.startswith("_")]:
            raise no_rows_error(self.input, 0)  # an empty JSON list, blank lines only
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
        return compile_mapping(self.spec, negate_empty(source), self._joins, self.notes)

    def map_rows(self, rows: pl.DataFrame) -> pl.LazyFrame:
        """The mapped frame of some rows of the input (a piece, or part of one), lazily; empty
        rows get negative numbers."""
        if not self._joins_read:
            for name, frame in self._joins.items():
                with reading(self.join_paths[name]):
                    self._joins[name] = frame.collect().lazy()
            self._joins_read = True
        return compile_mapping(self.spec, negate_empty(rows.lazy()), self._joins)

    def collect(self, rows: pl.DataFrame) -> pl.DataFrame:
        """``map_rows(rows)`` collected; a problem reading a value names the input."""
        with reading(self.input):
            return self.map_rows(rows).collect()

    def fingerprints(self) -> dict[str, str]:
        """sha256 of the input (``input``) and each join file (``join:<name>``), and the
        mapping's ``mapping_fingerprint`` (what it does, not its file's text)."""
        out = {"input": _sha256(self.input)}
        for name, path in self.join_paths.items():
            out[f"join:{name}"] = _sha256(path)
        out["mapping"] = mapping_fingerprint(self.spec)
        return out

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


def negate_empty(frame: pl.LazyFrame) -> pl.LazyFrame:
    """An empty row keeps its place but gets a negative row number, so one pass can both count
    the empty rows and leave them out (compile_mapping keeps only ``_row``)."""
    return frame.with_columns(
        pl.when(pl.col(EMPTY_COLUMN))
        .then(-pl.col(ROW_COLUMN))
        .otherwise(pl.col(ROW_COLUMN))
        .alias(ROW_COLUMN)
    )


def joined(frames: Iterable[pl.DataFrame], rows: int) -> Iterator[pl.DataFrame]:
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


def no_rows_error(input: Path, empty: int) -> SourceError:
    """The error for an input that holds no row to migrate (``empty`` empty rows): never a
    success."""
    note = f" ({empty:,} empty)" if empty else ""
    return SourceError(
        f"{input}: no rows to migrate{note}: the input holds only a header, empty "
        "rows or an empty list; check that this is the right file and that it is complete"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    return digest.hexdigest()
