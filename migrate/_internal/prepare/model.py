"""What ``prepare`` takes and gives besides ``Prepared``: options, row counts, a body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from migrate._internal.mapping.payload import mask_payload
from migrate._internal.validation import ValidationSettings

__all__ = ["MAP_ROWS", "Counts", "PrepareOptions", "RowPayload"]

# Rows mapped by one query: bounds the mapped frame (which holds secrets in memory only) while
# keeping polars' fixed cost per query (~20 ms with the rules' expressions) small.
MAP_ROWS: Final = 50_000


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
