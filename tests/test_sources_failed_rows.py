"""failed_rows.<ext> picks its rows from the input piece by piece, in every input format."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl
import pytest

from migrate._internal.reports.run import write_failed_rows
from migrate._internal.state import RowState


class Rows:
    """The one thing write_failed_rows asks of the state DB: the failed and invalid row numbers."""

    def __init__(self, rows: Iterable[int]) -> None:
        self.rows = list(rows)
        self.asked: list[RowState] = []

    def row_numbers(self, states: Iterable[RowState]) -> Iterator[int]:
        """The rows given, whatever the states (remembered, to check what was asked)."""
        self.asked = list(states)
        return iter(self.rows)


CSV = b'id,note\nu1,plain\nu2,"two\nlines"\n\nu3,x\nu4,"say ""hi"""\n'


@pytest.mark.parametrize("gz", [False, True])
def test_csv_failed_rows_are_the_original_rows(tmp_path: Path, gz: bool) -> None:
    """Rows 3 and 6 (one with a quoted newline) come back as they were, header first."""
    name = "users.csv.gz" if gz else "users.csv"
    source = tmp_path / name
    source.write_bytes(gzip.compress(CSV) if gz else CSV)
    store = Rows([6, 3])
    target = write_failed_rows(store, tmp_path, source)  # type: ignore[arg-type]
    assert target == tmp_path / "failed_rows.csv"
    assert set(store.asked) == {RowState.FAILED, RowState.INVALID}
    assert pl.read_csv(target).to_dicts() == [
        {"id": "u2", "note": "two\nlines"},
        {"id": "u4", "note": 'say "hi"'},
    ]


def test_an_empty_row_number_gives_nothing(tmp_path: Path) -> None:
    """A row number that is an empty line, or past the end, adds no row."""
    source = tmp_path / "users.csv"
    source.write_bytes(CSV)
    target = write_failed_rows(Rows([4, 99, 2]), tmp_path, source)  # type: ignore[arg-type]
    assert target is not None
    assert pl.read_csv(target)["id"].to_list() == ["u1"]


def test_ndjson_parquet_and_json_keep_their_format(tmp_path: Path) -> None:
    """Record 2 of an NDJSON (blank lines skipped), Parquet and JSON input, in that format."""
    records = [{"id": "a", "n": 1}, {"id": "b", "n": 2}, {"id": "c", "n": 3}]
    nd = tmp_path / "nd" / "users.ndjson"
    nd.parent.mkdir()
    nd.write_text("\n".join(json.dumps(r) for r in records).replace("\n", "\n\n"))
    out = write_failed_rows(Rows([2]), nd.parent, nd)  # type: ignore[arg-type]
    assert out is not None
    assert [json.loads(line) for line in out.read_text().splitlines()] == [records[1]]
    pq = tmp_path / "pq" / "users.parquet"
    pq.parent.mkdir()
    pl.DataFrame(records).write_parquet(pq)
    out = write_failed_rows(Rows([2]), pq.parent, pq)  # type: ignore[arg-type]
    assert out is not None
    assert pl.read_parquet(out).to_dicts() == [records[1]]
    js = tmp_path / "js" / "users.json"
    js.parent.mkdir()
    js.write_text(json.dumps(records))
    out = write_failed_rows(Rows([2, 3]), js.parent, js)  # type: ignore[arg-type]
    assert out is not None
    assert json.loads(out.read_text()) == records[1:]
