"""Cells of the reports people read: no live formula, no secret-shaped value.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula, and a key, an e-mail or a server message can start
with one. Such a cell gets a leading ``'``, which those programs show as text and do not run.

A cell can also hold a secret where a key or a name was expected: a stray carriage return or
quote in an export shifts a row, and its password digest or TOTP secret lands in the key
column. Digest-shaped values (``$2b$10$…``, ``pbkdf2_sha256$…``), secret keys and whole-cell
base32 TOTP secrets are masked (a modular-crypt digest keeps its scheme and cost, as
``secrets.redact`` shows it in messages). Ordinary ids (UUIDs, Firebase uids, ``auth0|…``)
are left alone.

Only the CSV reports meant to be read by people pass through here (``errors.csv`` of a run and
of ``validate``, ``warnings.csv``, ``skipped.csv``, ``verify``'s mismatches); the files programs
read back keep values exactly: ``errors.jsonl``, ``id_map.csv`` and ``rolled_back.csv`` (keys to
re-key by), and ``failed_rows`` (a faithful copy of the input rows, fed back to ``retry``).
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

from migrate._internal.secrets import MASK

__all__ = ["FORMULA_STARTS", "safe_cell", "safe_frame"]

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_PATTERN: Final = "^[=+\\-@\\t\\r]"

# The same shapes in Python's re and in polars (Rust regex, no look-around).
_STOP: Final = "\\S"
_CRYPT: Final = f"(\\$[A-Za-z0-9-]{{1,20}}\\$(?:[0-9]{{1,3}}\\$)?){_STOP}+"  # $2b$10$…, $6$…
_SCHEME: Final = f"^[A-Za-z][\\w:-]{{1,30}}\\${_STOP}{{6,}}$"  # pbkdf2_sha256$…, sha1$salt$…
_KEY: Final = "(sk_(?:live|test)_)[A-Za-z0-9_-]+"
_BASE32: Final = "^[A-Z2-7]*[2-7][A-Z2-7]*={0,6}$"  # a TOTP secret: 16+ chars, a digit in it
_SECRET_SHAPES: Final = tuple(re.compile(p) for p in (_CRYPT, _SCHEME, _KEY))
_B32: Final = re.compile(_BASE32)


def safe_cell(value: object) -> object:
    """``value`` with secret-shaped parts masked and a leading ``'`` when it is a formula."""
    if not isinstance(value, str):
        return value
    value = _masked(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _masked(value: str) -> str:
    if len(value) >= 16 and _B32.match(value):
        return MASK
    if _SECRET_SHAPES[1].match(value):
        return MASK
    value = _SECRET_SHAPES[0].sub(lambda m: m.group(1) + MASK, value)
    return _SECRET_SHAPES[2].sub(lambda m: m.group(1) + MASK, value)


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell passed through ``safe_cell`` (in one polars pass)."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.Utf8]
    return frame.with_columns(_safe_expr(pl.col(n)).alias(n) for n in texts)


def _safe_expr(col: pl.Expr) -> pl.Expr:
    masked = (
        pl.when((col.str.len_chars() >= 16) & col.str.contains(_BASE32))
        .then(pl.lit(MASK))
        .when(col.str.contains(_SCHEME))
        .then(pl.lit(MASK))
        .otherwise(col.str.replace_all(_CRYPT, "${1}" + MASK).str.replace_all(_KEY, "${1}" + MASK))
    )
    return pl.when(masked.str.contains(_PATTERN)).then("'" + masked).otherwise(masked)
