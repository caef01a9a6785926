"""Seeded fault injection: which request fails, how long each one waits, which one is lost.

One ``random.Random`` per sandbox, drawn in request order, so a given seed and request sequence
always yields the same faults. Latency is log-normal (median below the mean, a long right tail),
which is how real API latency looks; the mean is what the caller configures.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from migrate.sandbox.config import FaultConfig

__all__ = ["FaultPlan", "Faults"]


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What happens to one request."""

    error_status: int | None = None  # answer with this 5xx and do nothing else
    delay: float = 0.0  # seconds to wait before answering
    stall: bool = False  # hold the request until the client leaves (or stall_seconds)
    lose: bool = False  # (creates) store, then close the connection without a response


_NO_FAULT = FaultPlan()


class Faults:
    """Draws a ``FaultPlan`` per request from the configured rates."""

    def __init__(self, config: FaultConfig, seed: int | None) -> None:
        self.config = config
        self._rng = random.Random(seed)
        sigma = config.latency_sigma
        # mean of lognormal(mu, sigma) is exp(mu + sigma**2 / 2)
        self._mu = (
            math.log(config.latency_mean_ms / 1000) - sigma**2 / 2
            if config.latency_mean_ms
            else 0.0
        )

    def plan(self, is_create: bool) -> FaultPlan:
        """Draw the faults for the next request (``is_create``: a POST /v1/users)."""
        c = self.config
        if not c.active:
            return _NO_FAULT
        rng = self._rng
        # Always draw every die so one request's outcome never shifts the next one's.
        error_roll, stall_roll, lose_roll = rng.random(), rng.random(), rng.random()
        status_pick = rng.choice(c.error_statuses)
        delay = rng.lognormvariate(self._mu, c.latency_sigma) if c.latency_mean_ms else 0.0
        if error_roll < c.error_rate:
            return FaultPlan(error_status=status_pick, delay=delay)
        return FaultPlan(
            delay=delay,
            stall=stall_roll < c.stall_rate,
            lose=is_create and lose_roll < c.lost_rate,
        )
