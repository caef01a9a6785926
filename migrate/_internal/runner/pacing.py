"""Pacing: one rate limiter for every call, a global pause on 429 and on an outage, and the
derived concurrency.

``Pacer`` wraps a single ``aiolimiter.AsyncLimiter`` shared by every request of a run (creates,
lookups, deletes). It never replaces the limiter: a reduced rate is applied by charging each
request more capacity (``1 / factor`` units), so the limiter object stays the one source of truth.

- ``acquire()``: wait out any global pause or outage, then take capacity from the limiter.
- ``on_rate_limited(retry_after)``: every worker pauses until ``now + retry_after``, capped at
  ``max_retry_after`` (an instance asking for a day gets the cap, and the operator is told);
  the rate factor is cut (multiplicative decrease) once per pause episode.
- ``on_unreachable()`` / ``on_reachable()``: Clerk could not be reached (connection refused):
  sending stops; one request at a time probes, with backoff, until one gets an answer.
- ``on_response(latency)``: after a quiet spell the factor creeps back up (additive increase)
  to a ceiling just below the factor that was refused (which itself recovers by 1 % a minute),
  and the latency estimate feeds the concurrency target.
- ``stop()``: every wait ends at once with ``Stopped`` (Ctrl-C, an abort).

Concurrency: enough requests in flight to reach the rate whatever the latency,
``ceil(rate * latency * headroom) + spare``, bounded; ``fixed_concurrency`` overrides it. The
target is applied to an ``anyio.CapacityLimiter`` (``gate``) whose size can change at run time;
requests hold one of its tokens with ``async with pacer.gate``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
from aiolimiter import AsyncLimiter

__all__ = ["Pacer", "PacingStats", "Stopped", "default_rate", "say_duration"]

# The documented per-instance limits (reference/clerk-api.md §5), in requests per second.
PRODUCTION_LIMIT = 100.0
DEVELOPMENT_LIMIT = 10.0
DEFAULT_SHARE = 0.9  # leave the live application 10 % headroom

_MIN_FACTOR = 0.1
_DECREASE = 0.7
_INCREASE = 0.1
_QUIET_SPELL = 3.0  # seconds without a 429 before the rate creeps back up
# After a 429 the rate recovers only to just below where it was refused (the instance's real
# headroom: the live application shares the limit); that ceiling creeps back up slowly.
_CEILING_MARGIN = 0.95
_CEILING_STEP = 0.01
_CEILING_SPELL = 60.0
_LATENCY_ALPHA = 0.1
_HEADROOM = 2.0  # in-flight requests per (rate x mean latency): absorbs the latency tail
_SPARE = 2
_MIN_CONCURRENCY = 1
# httpcore 1.0's pool checks every idle connection (a socket poll through anyio) and compares
# every connection with every other one each time a request starts or ends (encode/httpcore
# #1035, #1110), so its CPU per request grows with the connections open. A 1,500-user run at
# 90/s against the sandbox (150 ms mean latency; load average 12-17 on 2 cores) used 2.3-2.7 ms
# of CPU per user with at most 16 in flight, 3.6-4.9 ms with 24, 4.9 ms with 32 and 6.0 ms with
# 64. 24 in flight still carry 90/s up to a mean latency of ~260 ms.
MAX_CONCURRENCY = 24
MAX_RETRY_AFTER = 600.0  # the longest Retry-After honoured, in seconds
_NOTICE_PAUSE = 30.0  # pauses at least this long are announced
_PROBE_FIRST = 1.0  # seconds before the first probe of an unreachable API
_PROBE_MAX = 30.0  # the probes' backoff stops growing here


class Stopped(Exception):  # noqa: N818 - a signal, not an error
    """The run is stopping (Ctrl-C, an abort): a wait in the pacer ended early."""


def say_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``2 h 10 min``: a duration for a message."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def default_rate(secret_key_is_production: bool) -> float:
    """90 % of the documented instance limit: 90 req/s on production, 9 req/s on development."""
    limit = PRODUCTION_LIMIT if secret_key_is_production else DEVELOPMENT_LIMIT
    return limit * DEFAULT_SHARE


@dataclass
class PacingStats:
    """What the pacer saw: for the summary and the progress bar."""

    requests: int = 0
    rate_limited: int = 0
    pauses: int = 0
    paused_seconds: float = 0.0
    first_request_at: float | None = None
    last_request_at: float | None = None
    max_latency: float = 0.0
    outages: int = 0
    outage_seconds: float = 0.0
    rate_in_force: float = 0.0  # the rate when the pass ended (a 429 cuts it)

    @property
    def sending_rate(self) -> float:
        """Requests per second between the first and the last request let through."""
        if self.first_request_at is None or self.last_request_at is None:
            return 0.0
        span = self.last_request_at - self.first_request_at
        return (self.requests - 1) / span if span > 0 else 0.0


class Pacer:
    """The run's single limiter, its 429 pause, and its concurrency target."""

    def __init__(
        self,
        rate: float,
        *,
        fixed_concurrency: int | None = None,
        max_concurrency: int = MAX_CONCURRENCY,
        initial_latency: float = 0.15,
        max_retry_after: float = MAX_RETRY_AFTER,
        probe_first: float = _PROBE_FIRST,
        probe_max: float = _PROBE_MAX,
        notice: Callable[[str], None] | None = None,
        # asyncio's loop clock is time.monotonic (the engine's started_at relies on it too);
        # read directly it costs a C call instead of anyio's backend lookup, twice per request
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._clock = clock
        # A small bucket: a burst of at most ~0.1 s worth of requests (at least 4, so the
        # factor can drop to 1/4 even on a development instance), never a burst of a whole window.
        self._burst = max(rate * 0.1, 4.0)
        self.limiter = AsyncLimiter(self._burst, self._burst / rate)
        self._min_factor = max(_MIN_FACTOR, 1.0 / self._burst)
        self.factor = 1.0
        self.ceiling = 1.0
        self.max_retry_after = max_retry_after
        self._notice = notice
        self._paused_until = 0.0
        self._last_429 = -math.inf
        self._last_increase = -math.inf
        self._last_ceiling = -math.inf
        self.latency = initial_latency
        self._fixed = fixed_concurrency
        self._max_concurrency = max(fixed_concurrency or 0, max_concurrency)
        self.gate = anyio.CapacityLimiter(self._target_concurrency())
        self.stats = PacingStats(rate_in_force=rate)
        self._stopped = False
        self._wake: anyio.Event | None = None  # set when a wait should look again
        self._probe_first, self._probe_max = probe_first, probe_max
        self._outage_since: float | None = None
        self._probe_delay = probe_first
        self._probe_at = 0.0
        self._probe_taken = False

    # -- rate -------------------------------------------------------------------------------

    @property
    def current_rate(self) -> float:
        """The rate in force now, in requests per second."""
        return self.rate * self.factor

    @property
    def max_workers(self) -> int:
        """How many worker tasks the runner should start (the concurrency ceiling)."""
        return self._fixed or self._max_concurrency

    async def acquire(self) -> None:
        """Wait for any pause or outage to end, then for capacity in the shared limiter.

        Raises ``Stopped`` when the run stops meanwhile.
        """
        if self._stopped:
            raise Stopped
        if self._outage_since is not None:
            await self._wait_outage()
        if self._paused_until > self._clock():
            await self._wait_pause()
        paused_until = self._paused_until
        await self.limiter.acquire(min(1.0 / self.factor, self._burst))
        if self._paused_until != paused_until:
            # a 429 arrived while this request waited for capacity: honour it too
            await self._wait_pause()
        now = self._clock()
        if self.stats.first_request_at is None:
            self.stats.first_request_at = now
        self.stats.last_request_at = now
        self.stats.requests += 1

    def stop(self) -> None:
        """End every wait at once (``Stopped``); later ``acquire`` calls raise it too."""
        self._stopped = True
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    async def _sleep(self, delay: float) -> None:
        """Sleep up to ``delay`` seconds, less if poked; ``Stopped`` once the run stops."""
        if self._wake is None:
            self._wake = anyio.Event()
        with anyio.move_on_after(delay):
            await self._wake.wait()
        if self._stopped:
            raise Stopped

    async def _wait_pause(self) -> None:
        while (delay := self._paused_until - self._clock()) > 0:
            await self._sleep(delay)

    async def _wait_outage(self) -> None:
        """Wait while Clerk is unreachable; the first caller after each probe time probes."""
        while self._outage_since is not None:
            now = self._clock()
            if not self._probe_taken and now >= self._probe_at:
                self._probe_taken = True
                return
            await self._sleep(max(self._probe_at - now, 0.0) if not self._probe_taken else 3600)

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Pause every worker for ``retry_after`` seconds (at most ``max_retry_after``) and cut
        the rate (once per episode)."""
        now = self._clock()
        self.stats.rate_limited += 1
        asked = retry_after if retry_after is not None and retry_after >= 0 else 10.0
        wait = min(asked, self.max_retry_after)
        if now >= self._paused_until:
            # a new episode: concurrent 429s from the same window count as one decrease
            self.stats.pauses += 1
            self.ceiling = max(self._min_factor, self.factor * _CEILING_MARGIN)
            self.factor = max(self._min_factor, self.factor * _DECREASE)
            self.stats.rate_in_force = self.current_rate
            self.gate.total_tokens = self._target_concurrency()
        until = now + wait
        if until > self._paused_until:
            self.stats.paused_seconds += until - max(now, self._paused_until)
            self._paused_until = until
            if wait >= _NOTICE_PAUSE or wait < asked:
                capped = f" (capped at {say_duration(wait)})" if wait < asked else ""
                self._say(
                    f"Clerk asked to wait {say_duration(asked)} (429, Retry-After){capped}; "
                    f"sending resumes at {_wall_clock(wait)} (Ctrl-C stops the run now)"
                )
        self._last_429 = now

    def on_unreachable(self) -> float:
        """Clerk could not be reached: stop sending, schedule the next probe; return how long
        the outage has lasted (seconds)."""
        now = self._clock()
        if self._outage_since is None:
            self._outage_since = now
            self._probe_delay = self._probe_first
            self.stats.outages += 1
            self._say(
                "Clerk is unreachable (the connection failed); sending paused, retrying with "
                "backoff (Ctrl-C stops the run now)"
            )
        elif now < self._probe_at:
            return now - self._outage_since  # a request sent before the outage was seen
        else:
            self._probe_delay = min(self._probe_delay * 2, self._probe_max)
        self._probe_at = now + self._probe_delay
        self._probe_taken = False
        self._poke()
        return now - self._outage_since

    def on_reachable(self) -> None:
        """Clerk answered (whatever the answer): an outage, if any, is over."""
        if self._outage_since is None:
            return
        lasted = self._clock() - self._outage_since
        self.stats.outage_seconds += lasted
        self._outage_since = None
        self._say(f"Clerk answers again after {say_duration(lasted)}; sending resumes")
        self._poke()

    def _say(self, message: str) -> None:
        if self._notice is not None:
            self._notice(message)

    def on_response(self, latency: float) -> None:
        """Feed a response's latency; after a quiet spell without 429s raise the rate a step."""
        self.latency += _LATENCY_ALPHA * (latency - self.latency)
        self.stats.max_latency = max(self.stats.max_latency, latency)
        if self.factor >= 1.0 and self._fixed is not None:
            return  # nothing to recover, nothing to resize: the common case, kept cheap
        now = self._clock()
        quiet = now - self._last_429
        if (
            self.ceiling < 1.0
            and quiet >= _CEILING_SPELL
            and now - self._last_ceiling >= _CEILING_SPELL
        ):
            self.ceiling = min(1.0, self.ceiling + _CEILING_STEP)
            self._last_ceiling = now
        if (
            self.factor < self.ceiling
            and quiet >= _QUIET_SPELL
            and now - self._last_increase >= _QUIET_SPELL
        ):
            self.factor = min(self.ceiling, self.factor + _INCREASE)
            self.stats.rate_in_force = self.current_rate
            self._last_increase = now
        target = self._target_concurrency()
        if target != self.gate.total_tokens:
            self.gate.total_tokens = target

    def _target_concurrency(self) -> int:
        if self._fixed is not None:
            return self._fixed
        wanted = math.ceil(self.current_rate * self.latency * _HEADROOM) + _SPARE
        return max(_MIN_CONCURRENCY, min(self._max_concurrency, wanted))


def _wall_clock(seconds_from_now: float) -> str:
    """The UTC time ``seconds_from_now`` from now, as ``HH:MM:SS UTC``."""
    return (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).strftime("%H:%M:%S UTC")
