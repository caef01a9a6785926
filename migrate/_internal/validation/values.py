"""The values of a mapped frame as the error reports show them: text, secrets masked, cut short.

``field_values(mapped)`` gives ``row, field, value`` for every field of every row, so a report
line (row, field) can show the value that broke a rule. A password, TOTP secret or backup codes
show as ``[hidden]``; a digest keeps only its scheme (``$2b$10$…(masked)``,
``pbkdf2_sha256$…(masked)``, ``…(masked)`` when it has none), so a report never holds a secret.
A value longer than ``VALUE_LIMIT`` characters is cut, ending in ``…``. List items are joined by
``, ``. Pure polars: no per-row Python.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from migrate._internal.secrets import MASK

__all__ = ["HIDDEN", "SHIFTED_REASONS", "VALUE_LIMIT", "field_values", "hide_shifted_rows"]

VALUE_LIMIT: Final = 200
HIDDEN: Final = "[hidden]"
# A row short of fields may be the tail of a row split by a line break: its cells are shifted,
# so its "key" or "email" may be the rest of a password digest or a TOTP secret.
SHIFTED_REASONS: Final = ("short_row",)
_HIDDEN_FIELDS: Final = frozenset({"password", "totp_secret", "backup_codes"})
_DIGEST: Final = "password_digest"
# The parts of a digest that say how it was made, never the salt or the hash:
# "$2b$10$", "$argon2id$", "$6$" (modular crypt, with a numeric cost) or "pbkdf2_sha256$".
_CRYPT_HEAD: Final = r"^(\$[A-Za-z0-9-]{1,20}\$(?:[0-9]{1,3}\$)?)"
_SCHEME_HEAD: Final = r"^([A-Za-z][\w:-]{1,30}\$)"


def field_values(mapped: pl.DataFrame, *, limit: int = VALUE_LIMIT) -> pl.DataFrame:
    """``row, field, value`` (``pl.Utf8``) for each field of each row of ``mapped`` (a mapped
    frame: ``_row``, ``_key`` and the Clerk fields; other ``_`` columns are left out), in row
    order. Null stays null; secrets are masked and long values cut as the module says."""
    columns = [
        _text(name, dtype, limit).alias(name)
        for name, dtype in mapped.schema.items()
        if name == "_key" or not name.startswith("_")
    ]
    frame = mapped.select(pl.col("_row").alias("row"), *columns)
    if len(frame.columns) == 1:
        return pl.DataFrame(schema={"row": pl.Int64, "field": pl.Utf8, "value": pl.Utf8})
    return frame.unpivot(index="row", variable_name="field", value_name="value")


def _text(name: str, dtype: pl.DataType, limit: int) -> pl.Expr:
    column = pl.col(name)
    if name in _HIDDEN_FIELDS:
        present = column.is_not_null()
        if isinstance(dtype, pl.List):
            present &= column.list.len() > 0  # no backup codes: nothing to hide
        return pl.when(present).then(pl.lit(HIDDEN)).otherwise(pl.lit(None, pl.Utf8))
    if name == _DIGEST:
        text = column.cast(pl.Utf8)
        head = pl.coalesce(
            text.str.extract(_CRYPT_HEAD), text.str.extract(_SCHEME_HEAD), pl.lit("")
        )
        return pl.when(text.is_not_null()).then(head + pl.lit(MASK))
    if isinstance(dtype, pl.List):
        text = column.cast(pl.List(pl.Utf8)).list.join(", ")
    elif isinstance(dtype, pl.Struct):
        text = column.struct.json_encode()
    else:
        text = column.cast(pl.Utf8)
    return (
        pl.when(text.str.len_chars() > limit)
        .then(text.str.slice(0, limit - 1) + pl.lit("…"))
        .otherwise(text)
    )


def hide_shifted_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """Report ``lines`` (``row, key, email, reason, value, …``) with each row whose fields are
    shifted (``SHIFTED_REASONS``) down to that one line, its key, email and value ``[hidden]``:
    its cells hold whatever the split moved there, and its other problems follow from it."""
    shifted = lines.filter(pl.col("reason").is_in(SHIFTED_REASONS))["row"].implode()
    broken = pl.col("row").is_in(shifted)
    hidden = [
        pl.when(broken).then(pl.lit(HIDDEN)).otherwise(pl.col(n)).alias(n)
        for n in ("key", "email", "value")
        if n in lines.columns
    ]
    keep = ~broken | pl.col("reason").is_in(SHIFTED_REASONS)
    return lines.filter(keep).with_columns(hidden)
