"""Clerk-looking opaque ids: a prefix and 27 base62 characters encoding a number.

The sandbox never stores an id: it encodes a record's sequence number plus a per-instance random
base (``id_base``), so ids look like Clerk's KSUIDs, sort in creation order, and decode back to
the sequence number (``decode_id``) without an index.
"""

from __future__ import annotations

import random
from typing import Final

__all__ = ["ID_DIGITS", "decode_id", "encode_id", "id_base"]

_B62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B62_INDEX: Final = {c: i for i, c in enumerate(_B62)}
ID_DIGITS: Final = 27
_ID_SPAN: Final = 62**ID_DIGITS - 62 ** (ID_DIGITS - 1)
_LOW_DIGITS: Final = 4
_LOW_SPAN: Final = 62**_LOW_DIGITS
_HIGH_CACHE: dict[int, str] = {}


def id_base(rng: random.Random) -> int:
    """A random base that keeps ids at exactly 27 base62 digits for 2**40 records."""
    base: int = 62 ** (ID_DIGITS - 1) + rng.randrange(_ID_SPAN - (1 << 60))
    return base


def _b62(n: int, width: int = 0) -> str:
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_B62[r])
    out.extend("0" * (width - len(out)))
    return "".join(reversed(out))


def encode_id(n: int) -> str:
    """``n`` as base62 (27 digits for any ``id_base(...) + seq``)."""
    # Ids share their high digits (a random offset); encode those once and only the low four
    # per call, which makes rendering a user several times cheaper.
    high, low = divmod(n, _LOW_SPAN)
    prefix = _HIGH_CACHE.get(high)
    if prefix is None:
        if len(_HIGH_CACHE) > 4096:
            _HIGH_CACHE.clear()
        prefix = _HIGH_CACHE[high] = _b62(high)
    return prefix + _b62(low, _LOW_DIGITS)


def decode_id(text: str) -> int | None:
    """The number a base62 text encodes, or None if it holds another character."""
    n = 0
    for c in text:
        d = _B62_INDEX.get(c)
        if d is None:
            return None
        n = n * 62 + d
    return n
