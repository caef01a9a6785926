"""The vocabulary of validation: settings, the clock, and the two kinds of rule.

A ``RowRule`` looks at one row (a bad-row expression over the mapped frame's columns); a
``DuplicateRule`` names a value that must be unique in the file. The rules themselves are in
``migrate._internal.validation.rules``, the expressions they are built from in ``.shapes``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import polars as pl

from migrate._internal.mapping.spec import (
    LIST_FIELDS,
    METADATA_FIELDS,
    STATUS_VALUES,
    STRING_FIELDS,
)
from migrate._internal.mapping.spec import STATUS_FIELDS as MAPPING_STATUS_FIELDS

__all__ = [
    "IDENTIFICATION_STATUSES",
    "LIST_FIELDS",
    "METADATA_FIELDS",
    "STATUS_FIELDS",
    "STRING_FIELDS",
    "DuplicateRule",
    "RowRule",
    "Rule",
    "RuleContext",
    "ValidationSettings",
]

# The mapped frame's fields are the mapping's (one list, kept in migrate._internal.mapping.spec).
# Lists parallel to email_address / phone_number: one "verified" | "reserved" per address.
STATUS_FIELDS: Final = tuple(MAPPING_STATUS_FIELDS.values())
IDENTIFICATION_STATUSES: Final = STATUS_VALUES


@dataclass(frozen=True)
class ValidationSettings:
    """The instance-dependent limits the rules check; the defaults are Clerk's defaults."""

    min_password_length: int = 8
    # bcrypt reads at most 72 bytes; Clerk refuses longer plaintexts (form_password_size_in_bytes…)
    max_password_bytes: int = 72
    username_min_length: int = 4
    username_max_length: int = 64
    username_pattern: str = r"^[a-zA-Z0-9_-]+$"
    metadata_max_bytes: int = 8192
    max_list_items: int = 100
    # Clerk documents no length for these (it answers form_param_max_length_exceeded): bounds
    # no real value reaches, so a runaway cell (a 50 MB first_name) is refused offline.
    max_name_length: int = 256  # first_name, last_name, external_id
    max_email_length: int = 320  # RFC 5321: 64 for the local part, @, 255 for the domain
    max_value_length: int = 4096  # any other text: digest, TOTP secret, backup code, locale…


@dataclass(frozen=True)
class RuleContext:
    """What a bad-row expression may depend on besides the row: the clock and the settings."""

    now: datetime
    settings: ValidationSettings


@dataclass(frozen=True)
class RowRule:
    """A check on one row: ``bad(ctx)`` is true where the row breaks it (null counts as fine)."""

    reason: str
    field: str
    message: str  # may hold ``{setting_name}`` placeholders filled from ValidationSettings
    bad: Callable[[RuleContext], pl.Expr]
    # Columns without which the rule can never fire (default: its field); () = always applies.
    needs: tuple[str, ...] | None = None

    def applies(self, columns: Collection[str]) -> bool:
        """Whether the rule can fire on a mapped frame with these columns."""
        needs = (self.field,) if self.needs is None else self.needs
        return all(name in columns for name in needs)

    def render(self, settings: ValidationSettings) -> str:
        """The message with the settings filled in."""
        return self.message.format(**vars(settings))


@dataclass(frozen=True)
class DuplicateRule:
    """A value that must be unique in the file: rows after the first holding it are reported.

    ``key`` gives a hash of the normalised value (``pl.UInt64``, or a list of them for list fields),
    null where the row has none. Only the hashes are kept, so millions of rows stay cheap.
    """

    reason: str
    field: str
    message: str
    key: Callable[[], pl.Expr]

    def render(self, settings: ValidationSettings) -> str:
        """The message with the settings filled in."""
        return self.message.format(**vars(settings))


Rule = RowRule | DuplicateRule
