"""A tqdm progress bar for the recorder: created / exists / failed / retrying, rate, ETA.

The CLI decides whether to show it (a terminal and no ``--quiet``); the recorder only calls
``update`` after each batch commit, so the bar costs nothing per row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from tqdm import tqdm

from migrate.runner.recorder import RunTally

__all__ = ["BarProgress"]


class BarProgress:
    """``Progress`` drawn with tqdm on ``file`` (stderr by default)."""

    def __init__(
        self,
        total: int,
        *,
        file: IO[str] | None = None,
        rate: Callable[[], float] | None = None,
    ) -> None:
        self._bar = tqdm(
            total=total,
            unit="user",
            file=file,
            dynamic_ncols=True,
            smoothing=0.1,
            mininterval=0.5,
        )
        self._rate = rate

    def update(self, tally: RunTally, done: int) -> None:
        """Advance by ``done`` finished rows and show the counts."""
        postfix = {
            "created": tally.created,
            "exists": tally.exists,
            "failed": tally.failed,
            "retrying": tally.retrying,
        }
        if self._rate is not None:
            postfix["limit/s"] = round(self._rate())
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(done)

    def close(self) -> None:
        """Leave the final bar on screen."""
        self._bar.close()
