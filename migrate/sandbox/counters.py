"""What the sandbox has seen, for tests and benchmarks (served at GET /_sandbox/counters)."""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["Counters"]


class Counters:
    """Running totals: requests, statuses, creates, rejections by code, 429s and faults."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero everything."""
        self.requests = 0
        self.fapi_requests = 0
        self.creates = 0
        self.deletes = 0
        self.updates = 0  # sync's writes: PATCH user / metadata, addresses, bans
        self.verifications = 0
        self.rate_limited = 0
        self.by_status: Counter[int] = Counter()
        self.rejections: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        # organizations_created / _deleted, memberships_created / _deleted
        self.org_writes: Counter[str] = Counter()

    def snapshot(self, users: int) -> dict[str, Any]:
        """A JSON-ready copy (``users``: how many users the store holds now)."""
        return {
            "requests": self.requests,
            "fapi_requests": self.fapi_requests,
            "creates": self.creates,
            "deletes": self.deletes,
            "updates": self.updates,
            "verifications": self.verifications,
            "rate_limited": self.rate_limited,
            "users": users,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "rejections": dict(sorted(self.rejections.items())),
            "faults": dict(sorted(self.faults.items())),
            "org_writes": dict(sorted(self.org_writes.items())),
        }
