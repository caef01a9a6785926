"""Validation: every reason Clerk would refuse a mapped row, found offline as polars expressions.

Pure: no I/O, no clock (the caller passes ``now``). ``validate_frame`` adds ``_errors`` to a mapped
frame (docs/internals.md "Frames"); ``RULES`` lists each reason code with its field and message.
"""

from migrate._internal.validation.frame import (
    ERROR_DTYPE,
    duplicate_mask,
    duplicates,
    errors_from_mask,
    key_column_names,
    key_columns,
    row_mask,
    validate_frame,
    with_all_fields,
)
from migrate._internal.validation.rules import RULES, DuplicateRule, RowRule, ValidationSettings
from migrate._internal.validation.values import field_values, hide_shifted_rows

__all__ = [
    "ERROR_DTYPE",
    "RULES",
    "DuplicateRule",
    "RowRule",
    "ValidationSettings",
    "duplicate_mask",
    "duplicates",
    "errors_from_mask",
    "field_values",
    "hide_shifted_rows",
    "key_column_names",
    "key_columns",
    "row_mask",
    "validate_frame",
    "with_all_fields",
]
