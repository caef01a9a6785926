"""The pacer: one limiter, a global pause on 429, multiplicative decrease, gradual recovery."""

from __future__ import annotations

import anyio
import pytest

from migrate._internal.runner.pacing import MAX_CONCURRENCY, Pacer, default_rate


class Clock:
    """A hand-driven clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_default_rate_is_90_percent_of_the_documented_limit() -> None:
    """Production 1000/10 s -> 90/s, development 100/10 s -> 9/s."""
    assert default_rate(True) == pytest.approx(90.0)
    assert default_rate(False) == pytest.approx(9.0)


def test_a_429_pauses_everyone_and_cuts_the_rate_once_per_episode() -> None:
    """Concurrent 429s of one window cut the rate once (x0.7) and pause until the latest
    Retry-After."""

    async def main() -> None:
        clock = Clock()
        pacer = Pacer(90.0, clock=clock)
        pacer.on_rate_limited(2.0)
        pacer.on_rate_limited(3.0)
        assert pacer.factor == pytest.approx(0.7)
        assert pacer.stats.pauses == 1
        assert pacer.stats.rate_limited == 2
        assert pacer.stats.paused_seconds == pytest.approx(3.0)  # paused from 0 until 3.0
        clock.now = 3.5
        pacer.on_rate_limited(1.0)  # a new episode after the pause ended
        assert pacer.factor == pytest.approx(0.49)
        assert pacer.stats.pauses == 2

    anyio.run(main)


def test_a_429_without_retry_after_waits_ten_seconds() -> None:
    """Clerk's tools wait 10 s when Retry-After is missing; so does the pacer."""

    async def main() -> None:
        clock = Clock()
        pacer = Pacer(90.0, clock=clock)
        pacer.on_rate_limited(None)
        assert pacer.stats.paused_seconds == pytest.approx(10.0)

    anyio.run(main)


def test_the_rate_recovers_a_step_per_quiet_spell_up_to_a_ceiling() -> None:
    """After a 429 the factor rises a step per quiet spell up to just below the refused rate;
    that ceiling itself creeps back to the full rate over quiet minutes."""

    async def main() -> None:
        clock = Clock()
        pacer = Pacer(90.0, clock=clock)
        pacer.on_rate_limited(1.0)
        assert pacer.ceiling == pytest.approx(0.95)
        clock.now = 2.0
        pacer.on_response(0.1)
        assert pacer.factor == pytest.approx(0.7)  # not quiet long enough
        clock.now = 4.0
        pacer.on_response(0.1)
        assert pacer.factor == pytest.approx(0.8)
        pacer.on_response(0.1)
        assert pacer.factor == pytest.approx(0.8)  # one step per spell
        for step in range(1, 10):
            clock.now = 4.0 + 3.0 * step
            pacer.on_response(0.1)
        assert pacer.factor == pytest.approx(0.95)
        for minute in range(1, 8):
            clock.now = 60.0 * minute
            pacer.on_response(0.1)
        assert pacer.ceiling == pytest.approx(1.0)
        assert pacer.factor == pytest.approx(1.0)

    anyio.run(main)


def test_concurrency_follows_rate_times_latency_within_bounds() -> None:
    """The in-flight target grows with latency and is bounded; --concurrency fixes it."""

    async def main() -> None:
        pacer = Pacer(90.0, initial_latency=0.1)
        assert pacer.gate.total_tokens == 20  # ceil(90 x 0.1 x 2) + 2 spare
        for _ in range(200):
            pacer.on_response(2.0)
        assert pacer.gate.total_tokens == MAX_CONCURRENCY
        fixed = Pacer(90.0, fixed_concurrency=7)
        for _ in range(50):
            fixed.on_response(2.0)
        assert fixed.gate.total_tokens == 7
        assert fixed.max_workers == 7

    anyio.run(main)


def test_acquire_waits_out_a_pause() -> None:
    """No request leaves while a pause is in force; once it has passed, requests flow."""

    async def main() -> None:
        clock = Clock()
        pacer = Pacer(1000.0, clock=clock)
        pacer.on_rate_limited(3600.0)
        with anyio.move_on_after(0.02):
            await pacer.acquire()
        assert pacer.stats.requests == 0
        clock.now = 3601.0
        await pacer.acquire()
        assert pacer.stats.requests == 1

    anyio.run(main)


def test_a_429_that_arrives_while_a_request_waits_for_capacity_is_honoured() -> None:
    """A request queued in the limiter when a 429 comes in does not leave until the pause ends."""

    async def main() -> None:
        clock = Clock()
        pacer = Pacer(40.0, clock=clock)  # a bucket of 4 requests
        for _ in range(4):
            await pacer.acquire()
        async with anyio.create_task_group() as tg:
            tg.start_soon(pacer.acquire)
            await anyio.sleep(0)  # the fifth request now waits for capacity
            pacer.on_rate_limited(3600.0)
            await anyio.sleep(0.1)  # capacity came back after ~25 ms; the pause still holds
            assert pacer.stats.requests == 4
            tg.cancel_scope.cancel()

    anyio.run(main)
