"""The terminal side of a pass: the progress bar drawn from the library's Progress snapshots."""

from __future__ import annotations

import io

from migrate._internal.api.results import Progress
from migrate.cli._shell import ProgressBar


def test_the_progress_bar_shows_counts_and_advances_by_finished_rows() -> None:
    """The bar advances to each snapshot's ``done`` and shows created/exists/failed/retrying."""
    out = io.StringIO()
    bar = ProgressBar(file=out)
    bar(Progress(total=10, done=2, created=2, exists=0, failed=0, retrying=1, rate=90.0))
    bar(Progress(total=10, done=5, created=3, exists=1, failed=1, retrying=2, rate=90.0))
    bar.close()
    text = out.getvalue()
    assert "5/10" in text
    for shown in ("created=3", "exists=1", "failed=1", "retrying=2", "limit/s=90"):
        assert shown in text
