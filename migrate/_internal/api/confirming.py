"""What a sending pass may send and the question before it writes to production.

``row_window`` checks ``--rows`` / ``--limit`` / ``--sample``; ``to_send`` counts the pending rows
a window lets through; ``confirm_production`` asks before a production instance is written to
(users, and the organizations and memberships the pass sends).
"""

from __future__ import annotations

from collections.abc import Callable

from migrate._internal.api.results import Confirmation
from migrate._internal.runner.engine import RowWindow
from migrate._internal.runner.phases import TENANT_KINDS
from migrate._internal.runner.session import RunPlan, Target
from migrate._internal.state import RowState
from migrate.errors import ConfigError, MigrateError

__all__ = ["confirm_production", "row_window", "to_send"]


def row_window(
    rows: tuple[int | None, int | None] | None, limit: int | None, sample: int | None
) -> RowWindow:
    """The rows a pass may send. Raises ``ConfigError`` for a bad range or count, or both
    ``limit`` and ``sample``."""
    first, last = rows or (None, None)
    if (
        (first is not None and first < 1)
        or (last is not None and last < 1)
        or (first is not None and last is not None and last < first)
    ):
        raise ConfigError(f"--rows {first or ''}-{last or ''}: expected A-B with 1 <= A <= B")
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1")
    if sample is not None and sample < 1:
        raise ConfigError("--sample must be at least 1")
    if limit is not None and sample is not None:
        raise ConfigError(
            "--limit and --sample both pick rows for a canary; give one (--limit N: the first "
            "N pending rows; --sample N: N rows spread over the file)"
        )
    return RowWindow(first, last, limit, sample)


def confirm_production(
    target: Target,
    plan: RunPlan,
    window: RowWindow,
    rate: float,
    confirm: Callable[[Confirmation], bool] | None,
    *,
    yes: bool = False,
    tenants: bool = False,
) -> None:
    """Ask ``confirm`` before writing to a production instance; without it, ``yes`` must be
    set (``ConfigError``); a "no" raises ``MigrateError``. ``tenants``: the pass sends the
    run's organizations and memberships too (counted in the question)."""
    if not target.production or target.sandbox:
        return
    counts = plan.counts()
    pending = to_send(plan, window) + counts[RowState.IN_FLIGHT]
    others: dict[str, int] = {}
    if tenants and window == RowWindow():
        for kind in TENANT_KINDS:
            if (view := plan.store.kind(kind)).planned:
                left = view.counts()
                others[kind] = left[RowState.PENDING] + left[RowState.IN_FLIGHT]
    question = Confirmation(
        base_url=target.base_url,
        rows=sum(counts.values()),
        to_send=pending,
        window=_window_note(window),
        invalid=counts[RowState.INVALID],
        done=counts[RowState.CREATED] + counts[RowState.EXISTS],
        rate=rate,
        seconds=(pending + sum(others.values())) / rate if rate else 0,
        tenants=others,
    )
    if confirm is not None:
        if not confirm(question):
            raise MigrateError("not confirmed: nothing was sent")
        return
    if not yes:
        raise ConfigError(
            "refusing to write to a production instance without confirmation: "
            "pass yes=True or a confirm callback"
        )


def to_send(plan: RunPlan, window: RowWindow) -> int:
    """How many pending rows this pass will send (within ``rows``, capped by the window)."""
    if window.first is None and window.last is None:
        pending = plan.counts()[RowState.PENDING]
    else:
        pending = sum(1 for r in plan.store.row_numbers([RowState.PENDING]) if window.holds(r))
    return window.cap(pending)


def _window_note(window: RowWindow) -> str:
    parts = [f"rows {window.first or 1}-{window.last or ''}"] if window.first or window.last else []
    if window.limit is not None:
        parts.append(f"the first {window.limit:,}")
    if window.sample is not None:
        parts.append(f"{window.sample:,} spread over the file")
    return f" ({', '.join(parts)})" if parts else ""
