"""The one layout of the reports that list problems by row: ``errors.csv`` of ``validate`` and of
``run`` (and its ``errors.jsonl``), and ``warnings.csv``.

``row, key, email, stage, field, code, value, message, hint``: ``stage`` is ``validation`` (found
offline, the row is never sent) or ``clerk`` (Clerk refused the row, or the run gave up on it);
``field`` the Clerk field at fault (a validation rule's field, or Clerk's ``param_name``);
``code`` the reason (a validation rule's code, Clerk's error code); ``value`` the offending
value as mapped where it is known (``validate``'s lines; secrets masked,
``validation.field_values``); ``hint`` what to do next. A duplicate's message ends with
``Row N has it first.`` in both commands. Files are UTF-8 without a byte-order mark, ``\\n`` line
ends, cells made safe for spreadsheets (``reports.cells``).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from migrate._internal.secrets import EMAIL_LOCAL_PATTERN, EMAIL_LOCAL_REPLACEMENT

__all__ = [
    "CLERK_STAGE",
    "ERROR_COLUMNS",
    "RETRY_HINT",
    "VALIDATE_HINT",
    "VALIDATION_STAGE",
    "report_lines",
]

ERROR_COLUMNS: Final = ("row", "key", "email", "stage", "field", "code", "value", "message", "hint")
VALIDATION_STAGE: Final = "validation"
CLERK_STAGE: Final = "clerk"
RETRY_HINT: Final = (
    "fix the value in a copy of failed_rows (see message), then "
    "`clerk-migrate retry RUN_DIR --input FIXED_FILE`"
)
VALIDATE_HINT: Final = "fix the value in the input (see message), then validate it again"


def report_lines(frame: pl.DataFrame, *, hint: str, redact_emails: bool = False) -> pl.DataFrame:
    """``frame`` (``row, key, field, reason, message`` and, when known, ``email`` and ``value``:
    what ``Prepared.errors`` and ``Prepared.warnings`` give) in the layout ``ERROR_COLUMNS``, as
    found offline, each line with ``hint``. ``redact_emails`` masks the local part of every
    address in the key, email, value and message (``--redact-emails``)."""
    blank = pl.lit("", pl.Utf8)
    lines = frame.select(
        pl.col("row"),
        pl.col("key"),
        (pl.col("email") if "email" in frame.columns else blank).fill_null("").alias("email"),
        pl.lit(VALIDATION_STAGE).alias("stage"),
        pl.col("field"),
        pl.col("reason").alias("code"),
        (pl.col("value") if "value" in frame.columns else blank).fill_null("").alias("value"),
        pl.col("message"),
        pl.lit(hint).alias("hint"),
    )
    if redact_emails:
        text = pl.col("key", "email", "value", "message")
        lines = lines.with_columns(
            text.str.replace_all(EMAIL_LOCAL_PATTERN, EMAIL_LOCAL_REPLACEMENT)
        )
    return lines
