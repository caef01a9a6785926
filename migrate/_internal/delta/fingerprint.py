"""Keyed fingerprints of mapped rows: one for the whole row, one per mapped field.

A fingerprint is HMAC-SHA256 under a key that stays in the run directory: equal payloads give
equal fingerprints, and the state DB that stores them reveals neither the payload nor a digest
without the key. Each field's value is first made a canonical text (``canonical_texts``, a polars
expression per field: lists joined, flags and numbers as text, null apart from ""), so the same
mapped value always hashes the same.

- ``whole``: 32 bytes over every field (length-prefixed, in field order): one HMAC per row, so
  a million rows cost about a second; equal ``whole`` means nothing changed.
- ``fields``: 8 bytes per field, concatenated in field order: which fields changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Final

import polars as pl

from migrate._internal.mapping.spec import CLERK_FIELDS

__all__ = [
    "FIELD_PRINT_BYTES",
    "canonical_texts",
    "changed_fields",
    "field_prints",
    "fingerprinted_fields",
    "hmac_sha256",
    "whole_prints",
    "whole_text",
]

FIELD_PRINT_BYTES: Final = 8
_NULL: Final = "\x00"
_ITEM_SEP: Final = "\x1f"
_SLICE: Final = 32_768  # rows whose texts are hashed at once


def hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 under ``key`` (RFC 2104), with the padded-key states computed once.

    Equal to ``hmac.digest(key, msg, "sha256")``, about 3x faster per call: the one-shot call
    sets up both padded-key states for every message.
    """
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    inner_copy = hashlib.sha256(bytes(b ^ 0x36 for b in block)).copy
    outer_copy = hashlib.sha256(bytes(b ^ 0x5C for b in block)).copy

    def mac(message: bytes) -> bytes:
        inner = inner_copy()
        inner.update(message)
        outer = outer_copy()
        outer.update(inner.digest())
        return outer.digest()

    return mac


def fingerprinted_fields(columns: Sequence[str]) -> tuple[str, ...]:
    """The CreateUser fields of a mapped frame's columns, in a stable (sorted) order."""
    return tuple(sorted(c for c in columns if c in CLERK_FIELDS))


def canonical_texts(schema: pl.Schema, fields: Sequence[str]) -> list[pl.Expr]:
    """One ``pl.Binary`` expression per field (named as the field): its canonical text.

    Null is ``\\x00`` (apart from ""), a list is its items joined by ``\\x1f``, a flag or a
    number its decimal text. Each text starts with the field's name, so equal values of two
    fields never hash alike.
    """
    return [_canonical(schema, name).cast(pl.Binary).alias(name) for name in fields]


def _canonical(schema: pl.Schema, name: str) -> pl.Expr:
    col = pl.col(name)
    text = col.list.join(_ITEM_SEP) if isinstance(schema[name], pl.List) else col.cast(pl.Utf8)
    return pl.concat_str([pl.lit(f"{name}="), text.fill_null(_NULL)])


def whole_text(schema: pl.Schema, fields: Sequence[str]) -> pl.Expr:
    """What ``whole`` hashes, straight from a mapped frame's columns (``pl.Binary``, named
    ``_whole``): each field's canonical text prefixed by its length in bytes and ``:``."""
    if not fields:
        return pl.repeat(pl.lit(b"", dtype=pl.Binary), pl.len()).alias("_whole")
    parts: list[pl.Expr] = []
    for name in fields:
        text = _canonical(schema, name)
        parts += [text.str.len_bytes().cast(pl.Utf8), pl.lit(":"), text]
    return pl.concat_str(parts).cast(pl.Binary).alias("_whole")


def whole_prints(texts: pl.DataFrame, fields: Sequence[str], key: bytes) -> list[bytes]:
    """The 32-byte whole-row fingerprint of each row of ``texts`` (``canonical_texts`` output)."""
    if not fields:
        return [hmac_sha256(key)(b"")] * texts.height
    parts: list[pl.Expr] = []
    for name in fields:
        col = pl.col(name).cast(pl.Utf8)
        parts += [col.str.len_bytes().cast(pl.Utf8), pl.lit(":"), col]
    mac = hmac_sha256(key)
    out: list[bytes] = []
    # a slice at a time: the row texts as Python bytes never pile up (peak memory)
    for start in range(0, texts.height, _SLICE):
        part = texts.slice(start, _SLICE).select(pl.concat_str(parts).cast(pl.Binary))
        out.extend(map(mac, part.to_series().to_list()))
    return out


def field_prints(texts: pl.DataFrame, fields: Sequence[str], key: bytes) -> list[bytes]:
    """Each row's per-field fingerprints: ``FIELD_PRINT_BYTES`` bytes per field, concatenated."""
    if not fields:
        return [b""] * texts.height
    mac = hmac_sha256(key)
    cut = itemgetter(slice(0, FIELD_PRINT_BYTES))
    columns = [list(map(cut, map(mac, texts[name].to_list()))) for name in fields]
    return list(map(b"".join, zip(*columns, strict=True)))


def changed_fields(
    new: bytes, new_fields: Sequence[str], old: bytes, old_fields: Sequence[str]
) -> list[str]:
    """The fields whose fingerprint differs, in ``new_fields`` order.

    A field the new mapping maps and the old one did not counts as changed; one only the old
    mapping mapped is left out (a field the mapping does not map is never touched).
    """
    size = FIELD_PRINT_BYTES
    before = {n: old[i * size : (i + 1) * size] for i, n in enumerate(old_fields)}
    return [
        name
        for i, name in enumerate(new_fields)
        if before.get(name) != new[i * size : (i + 1) * size]
    ]
