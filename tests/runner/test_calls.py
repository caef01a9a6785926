"""calls.until_answered: the one retry loop of lookups, verify and rollback."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from runner_fakes import limited, rejected, transient

from migrate._internal.clerk.outcomes import Counted, Rejected, Transient
from migrate._internal.runner.calls import until_answered
from migrate._internal.runner.pacing import Pacer
from migrate.errors import ClerkError, RunAbortedError

Answer = Counted | Rejected | Transient


def _answers(script: Sequence[Answer]) -> tuple[list[int], Any]:
    """A call that answers ``script`` in turn (the last one again when it runs out)."""
    calls: list[int] = []

    async def call() -> Answer:
        calls.append(1)
        return script[min(len(calls), len(script)) - 1]

    return calls, call


def _run(script: Sequence[Answer], **options: Any) -> tuple[object, int]:
    calls, call = _answers(script)

    async def main() -> object:
        pacer = Pacer(1000.0, probe_first=0.001, probe_max=0.001)
        with anyio.fail_after(5):
            return await until_answered(
                pacer, call, doing="counting users", backoff_base=0.001, **options
            )

    return anyio.run(main), len(calls)


def test_transient_failures_are_retried_until_clerk_answers() -> None:
    """Two 5xx, then an answer: the answer is returned after three calls."""
    assert _run([transient(), transient(), Counted(3)]) == (Counted(3), 3)


def test_429s_pause_and_are_not_counted_as_attempts() -> None:
    """Four 429s and then an answer fit in two attempts: a 429 is not a failure."""
    assert _run([limited(0.001)] * 4 + [Counted(1)], attempts=2) == (Counted(1), 5)


def test_running_out_of_attempts_names_what_was_being_done_and_the_advice() -> None:
    """Three 5xx with three attempts: ClerkError naming the call, the code and the advice."""
    with pytest.raises(ClerkError, match=r"counting users failed after 3 attempts.*wait a bit"):
        _run([transient(503)], attempts=3, advice="wait a bit")


def test_an_abort_code_raises_and_another_refusal_is_returned() -> None:
    """A bad key aborts the run; a row-level refusal is the caller's to judge, after one call."""
    with pytest.raises(RunAbortedError) as caught:
        _run([rejected("clerk_key_invalid")])
    assert caught.value.code == "clerk_key_invalid"
    refusal = rejected("form_param_format_invalid", "user_id")
    assert _run([refusal]) == (refusal, 1)


def test_no_connection_is_an_outage_only_when_an_outage_limit_is_given() -> None:
    """Unreachable with outage_limit: ridden out, then clerk_unreachable past the limit; without
    one it is an ordinary failed attempt."""
    down = Transient("connection", ambiguous=False)
    assert _run([down, down, Counted(2)], outage_limit=60.0, attempts=1) == (Counted(2), 3)
    with pytest.raises(RunAbortedError, match="while counting users") as caught:
        _run([down], outage_limit=0.0)
    assert caught.value.code == "clerk_unreachable"
    with pytest.raises(ClerkError, match="after 2 attempts"):
        _run([down], attempts=2)
