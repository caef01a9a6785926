"""prepare() over an input read in many small pieces gives what one piece gives."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from migrate._internal.prepare import Prepared, PrepareOptions, prepare
from migrate._internal.prepare.inputs import joined
from migrate._internal.prepare.verdicts import holders_of_repeats
from migrate._internal.validation import duplicates
from migrate.errors import SourceError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BCRYPT = "$2b$04$cRNDF6i9lQEHq9UqOe0VV.N6JThovoaX4qShm12HuL4fdm5GHo7Lu"

MAPPING = """\
[source]
key = "id"

[[join]]
name = "extra"
on = "id"
right_on = "user"

[fields]
external_id = "id"
email_address = { column = "email", transform = ["strip", "lower"] }
first_name = "name"
password_digest = "hash"
password_hasher = { infer = true }
totp_secret = "extra.totp"
public_metadata = { column = "meta", parse = "json" }
"""

ROWS = [
    f'a1,one@example.com,"Multi\nLine",{BCRYPT},"{{""plan"": ""pro""}}"',
    f"a2,two@example.com,B,{BCRYPT},",
    ",,,,",
    "a3,three@example.com,C,,",
    f"a4,ONE@example.com,D,{BCRYPT},",
    "a5,not-an-email,E,,[1]",
    "",
    "a6,two@example.com,F,not-a-digest,",
    "a7,seven@example.com,G,,",
]
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """Nine lines (two empty), duplicates far apart, a quoted newline, a join with TOTP secrets."""
    csv = tmp_path / "users.csv"
    csv.write_text("id,email,name,hash,meta\n" + "\n".join(ROWS) + "\n", encoding="utf-8")
    (tmp_path / "extra.csv").write_text(f"user,totp\na2,{TOTP}\na7,{TOTP}\n", encoding="utf-8")
    mapping = tmp_path / "users.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return csv, mapping


def _prepare(files: tuple[Path, Path], piece_bytes: int, verdict_rows: int = 1) -> Prepared:
    prepared = prepare(
        files[0],
        files[1],
        PrepareOptions(now=NOW, joins={"extra": files[0].parent / "extra.csv"}),
    )
    prepared.piece_bytes = piece_bytes
    prepared.verdict_rows = verdict_rows  # 1: one verdict file per piece
    return prepared


@pytest.fixture
def whole(files: tuple[Path, Path]) -> Prepared:
    """The same input read as one piece."""
    return _prepare(files, 1 << 20)


@pytest.mark.parametrize("group", [1, 3])
@pytest.mark.parametrize("size", [1, 10, 60])
def test_plan_counts_and_errors_do_not_depend_on_pieces(
    files: tuple[Path, Path], whole: Prepared, size: int, group: int
) -> None:
    """Plan (duplicates across pieces included), counts and errors equal the one-piece result,
    whether each piece is checked alone or several are joined for one query."""
    pieced = _prepare(files, size, group)
    assert pl.concat(list(pieced.iter_plan(2))).equals(whole.plan())
    assert pieced.counts() == whole.counts()
    assert pieced.errors().equals(whole.errors())
    plan = pieced.plan()
    reasons = dict(zip(plan["_row"], plan["_errors"].to_list(), strict=True))
    assert [e["reason"] for e in reasons[6]] == ["duplicate_email"]
    assert "duplicate_email" in [e["reason"] for e in reasons[9]]


@pytest.mark.parametrize("size", [1, 10, 60])
def test_payloads_do_not_depend_on_pieces(
    files: tuple[Path, Path], whole: Prepared, size: int
) -> None:
    """Bodies of any rows, asked before or after the plan pass, equal the one-piece bodies."""
    want = list(whole.payloads(range(1, 12)))
    assert [p.row for p in want] == [2, 3, 5, 6, 7, 9, 10]
    assert want[1].body["totp_secret"] == TOTP  # the join reached the body
    before = _prepare(files, size)
    assert list(before.payloads([10, 3, 2, 99, 4])) == [want[0], want[1], want[-1]]
    after = _prepare(files, size)
    list(after.iter_plan())
    assert list(after.payloads(range(1, 12), batch_size=3)) == want
    assert list(after.payloads([7, 8])) == want[4:5]
    assert after.preview(3) == want[:3]


def test_payloads_after_the_plan_parse_only_the_pieces_holding_the_rows(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once iter_plan indexed the input, payloads of late rows skip the earlier pieces."""
    prepared = _prepare(files, 1)
    list(prepared.iter_plan())
    parsed: list[int] = []
    original = pl.read_csv

    def counting(*args: Any, **kwargs: Any) -> pl.DataFrame:
        parsed.append(kwargs["row_index_offset"])  # the first row of the piece parsed
        return original(*args, **kwargs)

    monkeypatch.setattr(pl, "read_csv", counting)
    assert [p.row for p in prepared.payloads([9, 10])] == [9, 10]
    assert parsed == [9, 10]


def test_verdict_files_hold_no_secrets(
    files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary per-piece verdict files (under TMPDIR) carry no digest and no TOTP
    secret."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    prepared = _prepare(files, 10)
    list(prepared.iter_plan())
    written = sorted((tmp_path / "tmp").glob("clerk-migrate-plan-*/*"))
    assert len(written) > 1
    for path in written:
        text = str(pl.read_parquet(path).to_dicts())
        assert BCRYPT[:20] not in text
        assert TOTP not in text
        assert path.read_bytes().find(TOTP.encode()) < 0


def test_join_files_are_read_once(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """However many pieces the input has, each join file is collected once, not per piece."""
    collected: list[int] = []
    original = pl.LazyFrame.collect

    def counting(self: pl.LazyFrame, *args: Any, **kwargs: Any) -> Any:
        frame = original(self, *args, **kwargs)
        if "totp" in frame.columns:
            collected.append(frame.height)
        return frame

    prepared = _prepare(files, 1)
    monkeypatch.setattr(pl.LazyFrame, "collect", counting)
    list(prepared.iter_plan())
    list(prepared.payloads(range(1, 12)))
    assert collected == [2]


def test_a_bad_row_in_a_late_piece_is_a_source_error(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    """A row with too many cells far into the input stops the plan pass with a SourceError."""
    lines = "".join(f"u{i},u{i}@example.com,N,,\n" for i in range(50))
    files[0].write_text(f"id,email,name,hash,meta\n{lines}bad,x,y,z,w,v,u\n", encoding="utf-8")
    prepared = _prepare(files, 64)
    with pytest.raises(SourceError, match=r"users\.csv"):
        list(prepared.iter_plan())


def _rows(batches: Iterator[pl.DataFrame]) -> list[int]:
    return [r for b in batches for r in b["_row"].to_list()]


def test_only_empty_rows_are_an_error_not_an_empty_plan(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    """An input whose rows are all empty is never an empty success: plan and counts raise."""
    files[0].write_text("id,email,name,hash,meta\n\n,,,,\n\n", encoding="utf-8")
    prepared = _prepare(files, 1)
    with pytest.raises(SourceError, match=r"no rows to migrate \(3 empty\)"):
        list(prepared.iter_plan())
    with pytest.raises(SourceError, match=r"no rows to migrate \(3 empty\)"):
        prepared.counts()
    assert list(prepared.payloads([2, 3, 4])) == []


def test_joined_frames_hold_at_least_the_rows_asked() -> None:
    """Consecutive frames are joined, in order and uncut, until they hold the rows asked;
    empty frames are dropped and the rest comes last."""
    frames = [pl.DataFrame({"_row": list(r)}) for r in ([1, 2], [], [3, 4, 5], [6], [7])]
    got = [f["_row"].to_list() for f in joined(frames, 3)]
    assert got == [[1, 2, 3, 4, 5], [6, 7]]
    assert [f.height for f in joined(frames, 1)] == [2, 3, 1, 1]


def test_holders_of_repeats_are_the_rows_duplicates_needs(tmp_path: Path) -> None:
    """Only rows holding a repeated hash (across rows, files, or twice in one list) are kept."""
    schema: dict[str, pl.DataType] = {
        "_row": pl.Int64(),
        "_dupkey_a": pl.List(pl.UInt64),
        "_dupkey_b": pl.UInt64(),
    }
    parts = [
        {"_row": [2, 3, 4], "_dupkey_a": [[1], [2, 3], [4, 4]], "_dupkey_b": [10, None, 11]},
        {"_row": [5, 6, 7], "_dupkey_a": [[3], None, []], "_dupkey_b": [12, 11, None]},
    ]
    files = []
    for i, part in enumerate(parts):
        files.append(tmp_path / f"v{i}.parquet")
        pl.DataFrame(part, schema=schema).write_parquet(files[-1])
    held = holders_of_repeats(files, ["_dupkey_a", "_dupkey_b"])
    assert held.columns == ["_row", "_dupkey_a", "_dupkey_b"]
    assert held["_row"].to_list() == [3, 4, 5, 6]
    whole = pl.concat(pl.read_parquet(f) for f in files)
    assert duplicates(held).collect().equals(duplicates(whole).collect())


def test_no_repeats_leave_no_holders(tmp_path: Path) -> None:
    """Keys that never repeat give an empty frame with the key columns."""
    path = tmp_path / "v.parquet"
    pl.DataFrame(
        {"_row": [2, 3], "_dupkey_b": [1, None]}, schema_overrides={"_dupkey_b": pl.UInt64}
    ).write_parquet(path)
    held = holders_of_repeats([path], ["_dupkey_b"])
    assert held.height == 0
    assert held.columns == ["_row", "_dupkey_b"]
