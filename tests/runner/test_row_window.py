"""RowWindow: which pending rows a pass sends (--rows, --limit, --sample)."""

from __future__ import annotations

from array import array

import pytest

from migrate._internal.runner.engine import RowWindow


def test_a_sample_takes_the_middle_row_of_equal_stretches() -> None:
    """N of M rows: the middle of each of N equal stretches, in file order."""
    rows = array("q", range(2, 102))  # rows 2..101
    assert list(RowWindow(sample=4).choose(rows)) == [14, 39, 64, 89]
    assert list(RowWindow(sample=1).choose(rows)) == [52]


@pytest.mark.parametrize("n", [5, 6, 100])
def test_a_sample_of_at_least_every_row_is_every_row(n: int) -> None:
    """A sample as large as what is pending sends all of it."""
    rows = array("q", [3, 7, 9, 10, 40])
    assert list(RowWindow(sample=n).choose(rows)) == [3, 7, 9, 10, 40]


def test_without_a_sample_the_rows_pass_unchanged() -> None:
    """--limit and --rows are applied by the ledger; choose() leaves their rows alone."""
    rows = array("q", [1, 2, 3])
    assert RowWindow(limit=2).choose(rows) is rows


@pytest.mark.parametrize(
    ("window", "pending", "sent"),
    [
        (RowWindow(), 50, 50),
        (RowWindow(limit=10), 50, 10),
        (RowWindow(sample=10), 5, 5),
        (RowWindow(first=3, last=9, sample=4), 50, 4),
    ],
)
def test_cap_is_what_the_pass_sends(window: RowWindow, pending: int, sent: int) -> None:
    """cap() is the count the progress bar and the production question show."""
    assert window.cap(pending) == sent


def test_holds_is_the_rows_range() -> None:
    """holds() is inclusive at both ends; an open end holds everything on that side."""
    assert [r for r in range(1, 12) if RowWindow(first=3, last=5).holds(r)] == [3, 4, 5]
    assert [r for r in range(1, 6) if RowWindow(last=2).holds(r)] == [1, 2]
    assert RowWindow().holds(10**9)
