"""CSV cells a spreadsheet would run as a formula are neutralised (CSV injection, OWASP).

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula, and a key, an e-mail or a server message can start
with one. Such a cell gets a leading ``'``, which those programs show as text and do not run.
Only the CSV reports meant to be read by people are neutralised (``errors.csv`` of a run and of
``validate``, ``verify``'s mismatches); the files programs read back keep values exactly:
``errors.jsonl``, ``id_map.csv`` and ``rolled_back.csv`` (keys to re-key by), and
``failed_rows`` (a faithful copy of the input rows, fed back to ``retry``).
"""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = ["FORMULA_STARTS", "safe_cell", "safe_frame"]

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
_PATTERN: Final = "^[=+\\-@\\t\\r]"


def safe_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell passed through ``safe_cell`` (in one polars pass)."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.Utf8]
    return frame.with_columns(
        pl.when(pl.col(n).str.contains(_PATTERN))
        .then("'" + pl.col(n))
        .otherwise(pl.col(n))
        .alias(n)
        for n in texts
    )
