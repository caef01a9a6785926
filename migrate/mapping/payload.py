"""CreateUser bodies from mapped-frame rows, and their masked form for previews.

A body is exactly what ``POST /v1/users`` receives: every CreateUser field the row has a value for
(nulls and empty lists dropped), metadata parsed from JSON text into objects, flags kept as
booleans. An identification-status list whose every item is ``verified`` is left out: that is
Clerk's default, and the body then works on instances and API versions that predate the field.
Internal columns (``_row``, ``_key``, ``_source_error``, ``_errors``…) never enter it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

import polars as pl

from migrate.mapping.spec import CLERK_FIELDS, METADATA_FIELDS, STATUS_FIELDS
from migrate.secrets import MASK, mask_digest

__all__ = ["SECRET_FIELDS", "mask_payload", "payload_from_record", "payloads_from_frame"]

SECRET_FIELDS: Final = ("password", "password_digest", "totp_secret", "backup_codes")


def payload_from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The CreateUser body for one mapped row (a dict of column -> value).

    Metadata that is not valid JSON is kept as text: validation reports such rows, and a body is
    only built for rows that passed it.
    """
    body: dict[str, Any] = {}
    for name, value in record.items():
        if name not in CLERK_FIELDS or value is None:
            continue
        if isinstance(value, list | tuple):
            items = [v for v in value if v is not None and v != ""]
            if name in STATUS_FIELDS and all(item == "verified" for item in items):
                continue
            if items:
                body[name] = items
        elif name in METADATA_FIELDS and isinstance(value, str):
            try:
                parsed = json.loads(value)
            except ValueError:
                body[name] = value
            else:
                if parsed is not None:  # JSON null means no metadata: leave the field out
                    body[name] = parsed
        else:
            body[name] = value
    return body


def payloads_from_frame(df: pl.DataFrame) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(row, key, body)`` for each row of a collected mapped frame, in order."""
    for record in df.iter_rows(named=True):
        yield int(record["_row"]), str(record.get("_key") or ""), payload_from_record(record)


def mask_payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a body safe to print: password, TOTP secret and backup codes masked, the digest
    reduced to its scheme (``$2b$10$…(masked)``)."""
    out = dict(body)
    for name in SECRET_FIELDS:
        if name not in out:
            continue
        value = out[name]
        if name == "password_digest" and isinstance(value, str):
            out[name] = mask_digest(value)
        elif isinstance(value, list):
            out[name] = [MASK for _ in value]
        else:
            out[name] = MASK
    return out
