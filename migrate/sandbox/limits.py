"""Clerk's Backend API rate limit: N requests per window per secret key, else 429 + Retry-After.

A fixed window per key, opened by the key's first request and counting every request that is
let through (a 429 does not extend the block, so a client that honours ``Retry-After`` gets in).
The clock is injectable so tests move time instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """Allow ``limit`` requests per ``window`` seconds per key; ``limit == 0`` allows everything."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, requests)

    def check(self, key: str) -> int | None:
        """Count a request for ``key``: None if allowed, else the ``Retry-After`` seconds (>= 1)."""
        if not self.limit:
            return None
        now = self._clock()
        start, used = self._windows.get(key, (now, 0))
        if now - start >= self.window:
            start, used = now, 0
        if used >= self.limit:
            return max(1, math.ceil(start + self.window - now))
        self._windows[key] = (start, used + 1)
        return None

    def reset(self) -> None:
        """Forget every window."""
        self._windows.clear()
