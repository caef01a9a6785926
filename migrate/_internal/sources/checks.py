"""What an input file really is, checked before polars parses it, and where a bad CSV row is.

Each check turns a confusing downstream symptom into the real cause: a directory or device
("no such file" before), a zero-byte file, a Parquet or gzip file under a text name, UTF-16 text
read as UTF-8, binary data (whose bytes were listed as "columns"), a header naming a column
twice (polars silently keeps the first), and a CSV row with more cells than the header
(polars names no row).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
import stat
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from migrate.errors import SourceError

__all__ = [
    "SNIFF_BYTES",
    "bad_row",
    "check_file",
    "check_header",
    "sniff",
]

SNIFF_BYTES: Final = 1 << 16
_PARQUET_MAGIC: Final = b"PAR1"
_GZIP_MAGIC: Final = b"\x1f\x8b"
_UTF16_BOMS: Final = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
                      codecs.BOM_UTF16_BE)  # fmt: skip
# Control characters that never occur in text exports (tab, newlines and form feed do).
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_DUPLICATED: Final = re.compile(r"^(.*)_duplicated_\d+$")
# A NUL, or above this share of control or undecodable characters (in a sample of at least
# _BINARY_MIN characters: a short text with one bad byte is text), and a sample is binary.
_BINARY_SHARE: Final = 0.3
_BINARY_MIN: Final = 64


def check_file(path: Path) -> None:
    """Raise ``SourceError`` with the real cause when ``path`` is not a readable regular file."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise SourceError(f"{path}: is a directory, not an input file")
    if not stat.S_ISREG(mode):
        raise SourceError(f"{path}: is not a regular file (a device, pipe or socket)")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: cannot be read: permission denied")


def sniff(path: Path, fmt: str, gz: bool, encoding: str) -> None:
    """Raise ``SourceError`` when the first bytes show the file is not what it is read as.

    Checks: empty; gzip data without ``.gz``; Parquet under a text name (or text named
    ``.parquet``); UTF-16/32 read as UTF-8; binary data read as text.
    """
    try:
        with gzip.open(path, "rb") if gz else path.open("rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"{path}: cannot be read as {fmt}: {exc}") from None
    if not head:
        raise SourceError(f"{path}: the file is empty")
    if head.startswith(_GZIP_MAGIC) and not gz:
        raise SourceError(f"{path}: is gzip-compressed; name it {path.name}.gz to read it")
    is_parquet = head.startswith(_PARQUET_MAGIC)
    if fmt == "parquet":
        if not is_parquet:
            raise SourceError(
                f"{path}: cannot be read as parquet: it is not a Parquet file (no PAR1 magic)"
            )
        return
    if is_parquet:
        raise SourceError(
            f"{path}: is a Parquet file (by its first bytes), not {fmt}; "
            "name it .parquet or pass --format parquet"
        )
    codec = codecs.lookup(encoding).name
    if codec.startswith("utf-8"):
        wide = _wide_encoding(head)
        if wide:
            raise SourceError(f"{path}: is {wide} text, not UTF-8; pass --encoding {wide.lower()}")
    text = head.decode(codec, errors="replace")
    binary = "\x00" in text or (
        len(text) >= _BINARY_MIN and len(_CONTROL.findall(text)) > _BINARY_SHARE * len(text)
    )
    if binary:
        raise SourceError(
            f"{path}: is not a text/{fmt.upper()} file (it holds binary data); "
            "check the file, or pass --encoding if it is text in another encoding"
        )


def _wide_encoding(head: bytes) -> str | None:
    """'UTF-16' / 'UTF-32' when ``head`` starts with their BOM or looks like it (NUL pairs)."""
    for bom in _UTF16_BOMS:
        if head.startswith(bom):
            return "UTF-32" if len(bom) == 4 else "UTF-16"
    sample = head[:4096]
    if len(sample) >= 8:
        nuls_even = sample[0::2].count(0)
        nuls_odd = sample[1::2].count(0)
        half = len(sample) // 2
        if max(nuls_even, nuls_odd) > 0.4 * half and min(nuls_even, nuls_odd) < 0.05 * half:
            return "UTF-16"
    return None


def check_header(origin: Path, names: Sequence[str]) -> None:
    """Raise ``SourceError`` naming a column that the header holds more than once.

    polars keeps the first and renames the others ``<name>_duplicated_<n>``; a mapping would
    then read the first silently. An empty name (a trailing comma) is not a column anyone maps.
    """
    seen = set(names)
    for position, name in enumerate(names, start=1):
        found = _DUPLICATED.match(name)
        if found and found.group(1) in seen and found.group(1) != "":
            base = found.group(1)
            first = list(names).index(base) + 1
            raise SourceError(
                f"{origin}: the header has column {base!r} twice (columns {first} and "
                f"{position}); rename one in the file, or pass column names for every column"
            )


def bad_row(
    text: bytes, *, first_row: int, delimiter: str, quote_char: str | None, columns: int
) -> str | None:
    """Where and why ``text`` cannot be parsed: a record with more cells than ``columns``, or a
    quote that never closes; None when neither is found.

    ``text`` is UTF-8 CSV without its header, ``first_row`` the number of its first record.
    Rows are numbered like ``_row``: one per record (a quoted newline does not count).
    """
    reader = csv.reader(
        io.StringIO(text.decode("utf-8", errors="replace"), newline=""),
        delimiter=delimiter,
        quotechar=quote_char or '"',
        quoting=csv.QUOTE_MINIMAL if quote_char else csv.QUOTE_NONE,
        strict=True,
    )
    number = first_row - 1
    try:
        for number, record in enumerate(reader, start=first_row):
            if len(record) > columns:
                return f"row {number} has {len(record)} cells but the header has {columns}"
    except csv.Error as exc:
        if "end of data" in str(exc):
            return f"row {number + 1}: a quote ({quote_char}) opens a value and never closes"
        return (
            f"row {number + 1}: a quoted value is not closed where it should be (a quote "
            f"({quote_char}) inside a value must be doubled)"
        )
    return None
