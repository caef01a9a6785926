"""prepare(): the plan, counts, errors, payloads and fingerprints of a real input file."""

from __future__ import annotations

import gc
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from migrate._internal.mapping import compile_mapping
from migrate._internal.prepare import (
    Counts,
    Prepared,
    PrepareOptions,
    RowPayload,
    mapping_messages,
    prepare,
    with_messages,
)
from migrate._internal.sources import read_source
from migrate._internal.validation import ERROR_DTYPE, validate_frame
from migrate.errors import ConfigError, MappingError, SourceError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BCRYPT = "$2b$04$cRNDF6i9lQEHq9UqOe0VV.N6JThovoaX4qShm12HuL4fdm5GHo7Lu"

MAPPING = """\
[source]
key = "id"

[fields]
external_id = "id"
email_address = { column = "email", transform = ["strip", "lower"] }
first_name = "name"
password_digest = "hash"
password_hasher = { infer = true }
created_at = { column = "joined", parse = "timestamp" }
public_metadata = { column = "meta", parse = "json" }
"""

CSV = f"""\
id,email,name,hash,joined,meta
u1,ada@example.com,Ada,{BCRYPT},2020-01-02T03:04:05Z,"{{""plan"": ""pro""}}"
u2,not-an-email,Bob,,2020-01-02,
,,,,,
u3,ADA@example.com,Cy,{BCRYPT[:-3]},2031-01-01T00:00:00Z,[1]
u4,dee@example.com,Dee,,1600000000,
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A small CSV export (one empty row, three bad rows) and its mapping."""
    csv = tmp_path / "users.csv"
    csv.write_text(CSV, encoding="utf-8")
    mapping = tmp_path / "users.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return csv, mapping


def test_plan_has_one_row_per_non_empty_row(files: tuple[Path, Path]) -> None:
    """The plan keeps row numbers as the file shows them, skips the empty row, holds no payload."""
    plan = prepare(files[0], files[1], PrepareOptions(now=NOW)).plan()
    assert plan.columns == ["_row", "_key", "external_id", "email", "_errors", "_skip"]
    assert plan.schema["_errors"] == ERROR_DTYPE
    assert plan["_row"].to_list() == [2, 3, 5, 6]
    assert plan["_key"].to_list() == ["u1", "u2", "u3", "u4"]
    assert plan["email"].to_list() == [
        "ada@example.com",
        "not-an-email",
        "ada@example.com",
        "dee@example.com",
    ]
    reasons = [[e["reason"] for e in errors] for errors in plan["_errors"].to_list()]
    assert reasons == [
        [],
        ["invalid_email"],
        ["digest_without_hasher", "future_timestamp", "invalid_metadata", "duplicate_email"],
        [],
    ]


def test_counts(files: tuple[Path, Path]) -> None:
    """Counts give rows read (non-empty), valid, invalid and empty rows skipped."""
    prepared = prepare(files[0], files[1], PrepareOptions(now=NOW))
    assert prepared.counts() == Counts(read=4, valid=2, invalid=2, skipped_empty=1)


def test_errors_one_line_per_reason(files: tuple[Path, Path]) -> None:
    """errors() lists (row, key, email, field, reason, message, value) per reason, in file
    order."""
    errors = prepare(files[0], files[1], PrepareOptions(now=NOW)).errors()
    assert errors.columns == ["row", "key", "email", "field", "reason", "message", "value"]
    assert errors.select("row", "key", "field", "reason").rows() == [
        (3, "u2", "email_address", "invalid_email"),
        (5, "u3", "password_hasher", "digest_without_hasher"),
        (5, "u3", "created_at", "future_timestamp"),
        (5, "u3", "public_metadata", "invalid_metadata"),
        (5, "u3", "email_address", "duplicate_email"),
    ]
    assert BCRYPT[10:30] not in "".join(errors["message"].to_list())
    duplicate = errors.filter(pl.col("reason") == "duplicate_email")["message"].item()
    assert duplicate.endswith("on this one. Row 2 has it first.")


def whole_mapped(prepared: Prepared) -> pl.LazyFrame:
    """The whole input mapped in one query: what the piecewise plan pass must agree with."""
    return compile_mapping(prepared.spec, read_source(prepared.input, prepared.source_options))


def plan_folders(tmp: Path) -> list[Path]:
    """The temporary plan folders under ``tmp`` (the TMPDIR of the test)."""
    return sorted(tmp.glob("clerk-migrate-plan-*"))


def test_plan_agrees_with_validate_frame(files: tuple[Path, Path]) -> None:
    """The streaming plan reports exactly what validate_frame reports on the same mapped frame."""
    prepared = prepare(files[0], files[1], PrepareOptions(now=NOW))
    lazy = validate_frame(whole_mapped(prepared), now=NOW).select("_row", "_errors").collect()
    lazy = with_messages(lazy, mapping_messages(prepared.spec))
    assert_same_errors(prepared, prepared.plan(), lazy)


def assert_same_errors(prepared: Prepared, plan: pl.DataFrame, lazy: pl.DataFrame) -> None:
    """The plan has validate_frame's reasons and fields on every row, and errors()'s messages
    (which end a duplicate's with the row that has the value first)."""

    def reasons(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            "_row",
            pl.col("_errors").list.eval(
                pl.concat_str(
                    pl.element().struct.field("reason"),
                    pl.element().struct.field("field"),
                    separator=" ",
                )
            ),
        )

    def lines(frame: pl.DataFrame) -> list[tuple[int, str, str]]:
        flat = frame.select("_row", "_errors").explode("_errors").drop_nulls().unnest("_errors")
        return sorted(flat.select("_row", "reason", "message").iter_rows())

    assert reasons(plan.select("_row", "_errors")).equals(reasons(lazy))
    assert lines(plan) == sorted(prepared.errors().select("row", "reason", "message").iter_rows())


def test_now_is_the_cut_off(files: tuple[Path, Path]) -> None:
    """A date is in the future only relative to the ``now`` passed in."""
    later = datetime(2032, 1, 1, tzinfo=UTC)
    errors = prepare(files[0], files[1], PrepareOptions(now=later)).errors()
    assert "future_timestamp" not in errors["reason"].to_list()


def test_payloads_for_chosen_rows_in_file_order(files: tuple[Path, Path]) -> None:
    """payloads() yields the exact CreateUser bodies of the asked rows, in file order."""
    prepared = prepare(files[0], files[1], PrepareOptions(now=NOW))
    out = list(prepared.payloads([6, 2, 99], batch_size=1))
    assert [(p.row, p.key) for p in out] == [(2, "u1"), (6, "u4")]
    assert out[0].body == {
        "external_id": "u1",
        "email_address": ["ada@example.com"],
        "first_name": "Ada",
        "password_digest": BCRYPT,
        "password_hasher": "bcrypt",
        "created_at": "2020-01-02T03:04:05.000Z",
        "public_metadata": {"plan": "pro"},
    }
    assert out[1].body["created_at"] == "2020-09-13T12:26:40.000Z"


def test_payload_repr_masks_secrets(files: tuple[Path, Path]) -> None:
    """A RowPayload's repr and masked() never show the digest, only its scheme."""
    payload = prepare(files[0], files[1], PrepareOptions(now=NOW)).preview(1)[0]
    assert isinstance(payload, RowPayload)
    assert BCRYPT not in repr(payload)
    assert payload.masked()["password_digest"] == "$2b$04$…(masked)"
    assert payload.body["password_digest"] == BCRYPT


def test_preview_takes_the_first_rows(files: tuple[Path, Path]) -> None:
    """preview(n) gives the first n non-empty rows, valid or not."""
    rows = [p.row for p in prepare(files[0], files[1], PrepareOptions(now=NOW)).preview(3)]
    assert rows == [2, 3, 5]


def test_fingerprints_follow_the_files(files: tuple[Path, Path]) -> None:
    """Fingerprints are the sha256 of the input and the mapping; editing either changes them."""
    first = prepare(files[0], files[1], PrepareOptions(now=NOW)).fingerprints
    assert set(first) == {"input", "mapping"}
    files[0].write_text(CSV + "u5,eve@example.com,Eve,,,\n", encoding="utf-8")
    second = prepare(files[0], files[1], PrepareOptions(now=NOW)).fingerprints
    assert second["input"] != first["input"]
    assert second["mapping"] == first["mapping"]


def test_source_overrides_read_a_semicolon_file(tmp_path: Path, files: tuple[Path, Path]) -> None:
    """PrepareOptions.source overrides the mapping's reading options (here the delimiter)."""
    csv = tmp_path / "semi.csv"
    csv.write_text("id;email;name;hash;joined;meta\nu1;a@example.com;A;;;\n", encoding="utf-8")
    prepared = prepare(csv, files[1], PrepareOptions(now=NOW, source={"delimiter": ";"}))
    assert prepared.counts() == Counts(read=1, valid=1, invalid=0, skipped_empty=0)


def test_invalid_bytes_are_a_row_error(tmp_path: Path, files: tuple[Path, Path]) -> None:
    """A row with bytes that are not UTF-8 is reported as invalid_encoding; the others are valid."""
    csv = tmp_path / "latin.csv"
    csv.write_bytes(
        b"id,email,name,hash,joined,meta\nu1,a@example.com,Ren\xe9,,,\nu2,b@example.com,Bob,,,\n"
    )
    errors = prepare(csv, files[1], PrepareOptions(now=NOW)).errors()
    assert errors.select("row", "reason").rows() == [(2, "invalid_encoding")]


def test_missing_column_is_a_mapping_error(tmp_path: Path, files: tuple[Path, Path]) -> None:
    """A mapping naming a column the input lacks fails in prepare(), before any row is read."""
    csv = tmp_path / "short.csv"
    csv.write_text("id,email\nu1,a@example.com\n", encoding="utf-8")
    with pytest.raises(MappingError, match="name"):
        prepare(csv, files[1], PrepareOptions(now=NOW))


def test_missing_input_is_a_source_error(tmp_path: Path, files: tuple[Path, Path]) -> None:
    """An input that does not exist is a SourceError naming the file."""
    with pytest.raises(SourceError, match=r"nope\.csv: no such file"):
        prepare(tmp_path / "nope.csv", files[1], PrepareOptions(now=NOW))


JOIN_MAPPING = """\
[source]
key = "id"

[[join]]
name = "hashes"
on = "id"
right_on = "user"

[fields]
external_id = "id"
email_address = "email"
password_digest = "hashes.hash"
password_hasher = { value = "bcrypt" }
"""


def test_join_file_given_by_name(tmp_path: Path) -> None:
    """A [[join]] without a path takes its file from PrepareOptions.joins; it is fingerprinted."""
    (tmp_path / "users.csv").write_text("id,email\nu1,a@example.com\nu2,b@example.com\n")
    (tmp_path / "hashes.csv").write_text(f"user,hash\nu2,{BCRYPT}\n")
    (tmp_path / "m.toml").write_text(JOIN_MAPPING)
    options = PrepareOptions(now=NOW, joins={"hashes": tmp_path / "hashes.csv"})
    prepared = prepare(tmp_path / "users.csv", tmp_path / "m.toml", options)
    assert set(prepared.fingerprints) == {"input", "join:hashes", "mapping"}
    bodies = {p.key: p.body for p in prepared.payloads([2, 3])}
    assert "password_digest" not in bodies["u1"]
    assert bodies["u2"]["password_digest"] == BCRYPT
    # The mapping leaves the constant hasher out where the joined digest is missing.
    assert prepared.plan()["_errors"].to_list() == [[], []]


def test_join_without_a_file_is_refused(tmp_path: Path) -> None:
    """A join with no file, or a --join naming no join, is a ConfigError saying what to pass."""
    (tmp_path / "users.csv").write_text("id,email\nu1,a@example.com\n")
    (tmp_path / "m.toml").write_text(JOIN_MAPPING)
    with pytest.raises(ConfigError, match="pass --join hashes=FILE"):
        prepare(tmp_path / "users.csv", tmp_path / "m.toml", PrepareOptions(now=NOW))
    with pytest.raises(ConfigError, match="--join names other; the mapping's joins: hashes"):
        prepare(
            tmp_path / "users.csv",
            tmp_path / "m.toml",
            PrepareOptions(now=NOW, joins={"other": tmp_path / "x.csv"}),
        )


def test_plan_is_computed_once(files: tuple[Path, Path]) -> None:
    """plan() returns the same frame on every call (one pass over the input)."""
    prepared = prepare(files[0], files[1], PrepareOptions(now=NOW))
    assert prepared.plan() is prepared.plan()
    assert isinstance(prepared.plan(), pl.DataFrame)


def test_inferred_hasher_skips_no_grammar_error(tmp_path: Path) -> None:
    """With infer = true the plan (which trusts inference for the digest grammar) reports exactly
    what validate_frame (which checks the grammar) reports, across many digest shapes."""
    digests = [
        BCRYPT,
        BCRYPT[:-3],
        BCRYPT + "$pepper",
        "0123456789abcdef" * 2,
        "0123456789abcdef" * 4,
        "0123456789abcdef" * 8,
        "$wp$2y$10$" + "a" * 53,
        "!unusable",
        "sha1$salt$" + "a" * 40,
        "pbkdf2_sha256$150000$abcdEFGH1234$" + "QUJD" * 11,
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
        "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
        "$2x$10$" + "a" * 53,
        "not a digest",
        "",
    ]
    lines = ["id,email,hash"] + [f'u{i},u{i}@example.com,"{d}"' for i, d in enumerate(digests)]
    (tmp_path / "u.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "m.toml").write_text(
        '[fields]\nexternal_id = "id"\nemail_address = "email"\npassword_digest = "hash"\n'
        "password_hasher = { infer = true }\n"
    )
    prepared = prepare(tmp_path / "u.csv", tmp_path / "m.toml", PrepareOptions(now=NOW))
    lazy = validate_frame(whole_mapped(prepared), now=NOW).select("_row", "_errors").collect()
    lazy = with_messages(lazy, mapping_messages(prepared.spec))
    assert prepared.plan().select("_row", "_errors").equals(lazy)
    reasons = {r for errors in lazy["_errors"].to_list() for r in (e["reason"] for e in errors)}
    assert {"unsupported_hash", "digest_without_hasher"} <= reasons


@pytest.mark.parametrize("rows", [[2, 3, 5, 9], [9, 2, 5, 3]])
def test_duplicate_bits_reach_their_rows_in_any_order(rows: list[int]) -> None:
    """Duplicate bits are added to the right rows whether or not the rows are in file order."""
    from migrate._internal.prepare.verdicts import with_bits  # noqa: PLC0415

    frame = pl.DataFrame(
        {"_row": rows, "_mask": [1, 0, 2, 0]}, schema={"_row": pl.Int64, "_mask": pl.UInt64}
    )
    dups = pl.DataFrame(
        {"_row": [5, 9], "_dup_mask": [4, 8]}, schema={"_row": pl.Int64, "_dup_mask": pl.UInt64}
    )
    got = dict(zip(rows, with_bits(frame, dups).to_list(), strict=True))
    start = dict(zip(rows, [1, 0, 2, 0], strict=True))
    assert got == {r: start[r] | {5: 4, 9: 8}.get(r, 0) for r in rows}


DUP_CSV = f"""\
id,email,name,hash,joined,meta
a1,one@example.com,A,{BCRYPT},2020-01-02,
a2,two@example.com,B,{BCRYPT},2020-01-02,
,,,,,
a3,three@example.com,C,{BCRYPT},2020-01-02,
a4,ONE@example.com,D,{BCRYPT},2020-01-02,
a5,five@example.com,E,{BCRYPT},2020-01-02,
a6,two@example.com,F,{BCRYPT},2020-01-02,
a7,seven@example.com,G,not-a-digest,2020-01-02,
"""


@pytest.fixture
def dup_files(tmp_path: Path) -> tuple[Path, Path]:
    """Seven users with an empty row; rows 6 and 8 repeat the emails of rows 2 and 3."""
    csv = tmp_path / "dups.csv"
    csv.write_text(DUP_CSV, encoding="utf-8")
    mapping = tmp_path / "dups.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return csv, mapping


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 50_000])
def test_iter_plan_batches_concatenate_to_the_plan(
    dup_files: tuple[Path, Path], batch_size: int
) -> None:
    """iter_plan yields the plan's rows and errors in file order, batch_size rows a batch."""
    batches = list(
        prepare(dup_files[0], dup_files[1], PrepareOptions(now=NOW)).iter_plan(batch_size)
    )
    whole = prepare(dup_files[0], dup_files[1], PrepareOptions(now=NOW)).plan()
    assert [b.height for b in batches[:-1]] == [batch_size] * (len(batches) - 1)
    assert 1 <= batches[-1].height <= batch_size
    assert pl.concat(batches).equals(whole)
    assert whole["_row"].to_list() == [2, 3, 5, 6, 7, 8, 9]


def test_iter_plan_marks_duplicates_across_batches(dup_files: tuple[Path, Path]) -> None:
    """A row repeating an email of an earlier batch gets the duplicate error in its own batch."""
    prepared = prepare(dup_files[0], dup_files[1], PrepareOptions(now=NOW))
    reasons = {
        row: [e["reason"] for e in errors]
        for batch in prepared.iter_plan(2)
        for row, errors in zip(batch["_row"], batch["_errors"].to_list(), strict=True)
    }
    assert reasons[6] == ["duplicate_email"]
    assert reasons[8] == ["duplicate_email"]
    assert reasons[2] == reasons[3] == reasons[5] == reasons[7] == []
    assert reasons[9] != []
    assert prepared.counts() == Counts(read=7, valid=4, invalid=3, skipped_empty=1)


def test_iter_plan_agrees_with_validate_frame(dup_files: tuple[Path, Path]) -> None:
    """Batch by batch, the streamed plan reports what validate_frame reports on the whole input."""
    prepared = prepare(dup_files[0], dup_files[1], PrepareOptions(now=NOW))
    lazy = validate_frame(whole_mapped(prepared), now=NOW).select("_row", "_errors").collect()
    lazy = with_messages(lazy, mapping_messages(prepared.spec))
    streamed = pl.concat(list(prepared.iter_plan(3))).select("_row", "_errors")
    assert_same_errors(prepared, streamed, lazy)


def test_iter_plan_again_and_errors_after_it(dup_files: tuple[Path, Path]) -> None:
    """iter_plan walks twice to the same result; errors() after it still names the first row."""
    prepared = prepare(dup_files[0], dup_files[1], PrepareOptions(now=NOW))
    first = pl.concat(list(prepared.iter_plan(4)))
    assert pl.concat(list(prepared.iter_plan(4))).equals(first)
    message = prepared.errors().filter(pl.col("row") == 8)["message"].item()
    assert message.endswith("Row 3 has it first.")


def test_close_removes_the_temporary_plan(
    dup_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() deletes the temporary verdict files (under TMPDIR); a later iter_plan writes new
    ones."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    prepared = prepare(dup_files[0], dup_files[1], PrepareOptions(now=NOW))
    first = pl.concat(list(prepared.iter_plan()))
    (folder,) = plan_folders(tmp_path)
    assert any(folder.iterdir())
    prepared.close()
    assert plan_folders(tmp_path) == []
    assert pl.concat(list(prepared.iter_plan())).equals(first)
    prepared.close()
    assert plan_folders(tmp_path) == []


def test_temporary_plan_goes_with_the_object(
    dup_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropping the last reference to a Prepared deletes its temporary verdict files."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    prepared = prepare(dup_files[0], dup_files[1], PrepareOptions(now=NOW))
    list(prepared.iter_plan())
    assert len(plan_folders(tmp_path)) == 1
    del prepared
    gc.collect()
    assert plan_folders(tmp_path) == []


def test_iter_plan_refuses_a_batch_size_below_one(files: tuple[Path, Path]) -> None:
    """A batch size of zero is a programming error, raised before any reading."""
    with pytest.raises(ValueError, match="batch_size"):
        next(prepare(files[0], files[1], PrepareOptions(now=NOW)).iter_plan(0))


def test_iter_plan_of_an_unreadable_input_is_a_source_error(tmp_path: Path) -> None:
    """A row with more fields than the header stops iter_plan with a SourceError."""
    csv = tmp_path / "bad.csv"
    csv.write_bytes(b"id,email,name,hash,joined,meta\na1,x,A,,,,,,,,,\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    with pytest.raises(SourceError):
        list(prepare(csv, mapping, PrepareOptions(now=NOW)).iter_plan())


def test_iter_plan_of_only_empty_rows_is_an_error(tmp_path: Path) -> None:
    """An input of empty rows is never an empty success: plan, iter_plan and counts raise."""
    csv = tmp_path / "empty.csv"
    csv.write_text("id,email,name,hash,joined,meta\n,,,,,\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    prepared = prepare(csv, mapping, PrepareOptions(now=NOW))
    expected = f"{csv}: no rows to migrate (1 empty): "
    for call in (lambda: list(prepared.iter_plan()), prepared.plan, prepared.counts):
        with pytest.raises(SourceError) as err:
            call()
        assert str(err.value).startswith(expected)
