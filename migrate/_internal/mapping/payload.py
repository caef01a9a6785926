"""CreateUser bodies from mapped-frame rows, and their masked form for previews.

A body is exactly what ``POST /v1/users`` receives: every CreateUser field the row has a value for
(nulls and empty lists dropped), metadata parsed from JSON text into objects, flags kept as
booleans. An identification-status list whose every item is ``verified`` is left out: that is
Clerk's default, and the body then works on instances and API versions that predate the field.
Internal columns (``_row``, ``_key``, ``_source_error``, ``_errors``…) never enter it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import polars as pl

from migrate._internal.mapping.spec import CLERK_FIELDS, METADATA_FIELDS, STATUS_FIELDS
from migrate._internal.secrets import MASK, mask_digest

__all__ = ["SECRET_FIELDS", "mask_payload", "payload_from_record", "payloads_from_frame"]

SECRET_FIELDS: Final = ("password", "password_digest", "totp_secret", "backup_codes")


def payload_from_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The CreateUser body for one mapped row (a dict of column -> value).

    Metadata that is not valid JSON is kept as text: validation reports such rows, and a body is
    only built for rows that passed it.
    """
    return _body((name, value) for name, value in record.items() if name in CLERK_FIELDS)


def payloads_from_frame(df: pl.DataFrame) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """Yield ``(row, key, body)`` for each row of a collected mapped frame, in order."""
    # Columns null in every row of the frame add nothing to any body: leave them out before
    # walking the rows (a mapping names many fields; an export often fills few of them).
    names = [n for n in df.columns if n in CLERK_FIELDS and df[n].null_count() < df.height]
    rows = df["_row"].to_list()
    keys = df["_key"].to_list() if "_key" in df.columns else [None] * df.height
    # a frame of no columns has no rows: without fields each row's values are just ()
    tuples = df.select(names).iter_rows() if names else [()] * df.height
    for row, key, values in zip(rows, keys, tuples, strict=True):
        yield int(row), str(key or ""), _body(zip(names, values, strict=True))


def _body(fields: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The body from (CreateUser field, value) pairs: see ``payload_from_record``."""
    body: dict[str, Any] = {}
    for name, value in fields:
        if value is None:
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
