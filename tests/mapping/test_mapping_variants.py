"""Exports that differ from the framework's defaults: SQL nulls, typed values, optional columns
and optional joins, each pinned on a tiny literal frame or file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from migrate._internal.mapping import compile_mapping, parse_mapping
from migrate._internal.prepare import prepare
from migrate._internal.sources import SourceOptions, read_source
from migrate.errors import MappingError


def mapped(
    toml: str,
    data: dict[str, list[Any]],
    joined: dict[str, pl.LazyFrame] | None = None,
    notes: list[str] | None = None,
) -> pl.DataFrame:
    spec = parse_mapping(toml, {}, file="m.toml")
    df = pl.DataFrame(data).with_row_index("_row", offset=2)
    df = df.with_columns(pl.col("_row").cast(pl.Int64))
    return compile_mapping(spec, df.lazy(), joined, notes).collect()


# --- [source] null_values ----------------------------------------------------------------------


def test_null_values_read_as_missing_in_csv(tmp_path: Path) -> None:
    """Cells that are exactly NULL or \\N are null; 'NULLS' and 'null' stay text."""
    path = tmp_path / "users.csv"
    path.write_text("id,phone,name\n1,NULL,\\N\n2,NULLS,null\n", encoding="utf-8")
    frame = read_source(path, SourceOptions(null_values=("NULL", "\\N"))).collect()
    assert frame["phone"].to_list() == [None, "NULLS"]
    assert frame["name"].to_list() == [None, "null"]


def test_null_values_apply_to_ndjson_strings(tmp_path: Path) -> None:
    """A JSON string equal to a null value is missing too; other types are untouched."""
    path = tmp_path / "users.ndjson"
    path.write_text('{"id": 1, "phone": "NULL"}\n{"id": 2, "phone": "+15555550100"}\n')
    frame = read_source(path, SourceOptions(null_values=("NULL",))).collect()
    assert frame["phone"].to_list() == [None, "+15555550100"]
    assert frame["id"].to_list() == [1, 2]


def test_a_row_of_only_null_values_is_an_empty_row(tmp_path: Path) -> None:
    """A dump row whose every cell is NULL counts as empty, not as a user without identifier."""
    path = tmp_path / "users.csv"
    path.write_text("id,email\n1,a@example.com\nNULL,NULL\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[source]\nnull_values = ["NULL"]\n[fields]\nexternal_id = "id"\nemail_address = "email"\n'
    )
    counts = prepare(path, mapping).counts()
    assert (counts.read, counts.valid, counts.skipped_empty) == (1, 1, 1)


def test_null_values_must_be_a_list_of_texts() -> None:
    """A null_values that is not a list of non-empty texts is a mapping problem with its path."""
    with pytest.raises(MappingError, match=r"source\.null_values: must be a list of texts"):
        parse_mapping('[source]\nnull_values = "NULL"\n[fields]\nexternal_id = "id"\n', {})


def test_null_phone_is_no_phone_not_a_duplicate(tmp_path: Path) -> None:
    """Two rows with PhoneNumber NULL (SQL Server) are valid and share no phone."""
    path = tmp_path / "users.csv"
    path.write_text("Id,Email,PhoneNumber\n1,a@example.com,NULL\n2,b@example.com,NULL\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[source]\nnull_values = ["NULL"]\n[fields]\nexternal_id = "Id"\n'
        'email_address = "Email"\nphone_number = { column = "PhoneNumber", transform = "e164" }\n'
    )
    prepared = prepare(path, mapping)
    assert prepared.counts().invalid == 0
    assert [p.body.get("phone_number") for p in prepared.preview(2)] == [None, None]


# --- transform = "bool" / "number" -----------------------------------------------------------


def test_bool_and_number_reach_metadata_as_json_types() -> None:
    """t/f, 1/0, TRUE and yes become JSON booleans; "73" and "-1.5" JSON numbers."""
    toml = """
    [fields]
    external_id = "id"
    [fields.private_metadata]
    is_staff = { column = "staff", transform = "bool" }
    logins = { column = "n", transform = "number" }
    """
    df = mapped(toml, {"id": ["1", "2", "3"], "staff": ["t", "0", "TRUE"], "n": ["73", "-1.5", ""]})
    meta = [json.loads(m) for m in df["private_metadata"]]
    assert meta == [
        {"is_staff": True, "logins": 73},
        {"is_staff": False, "logins": -1.5},
        {"is_staff": True},
    ]
    assert df["_value_error"].to_list() == [False, False, False]


def test_a_value_that_is_no_boolean_or_number_makes_the_row_invalid(tmp_path: Path) -> None:
    """'maybe' under transform = "bool" and '12abc' under "number" are row errors."""
    path = tmp_path / "users.csv"
    path.write_text(
        "id,email,staff,n\n1,a@example.com,maybe,1\n2,b@example.com,f,12abc\n3,c@example.com,y,7\n"
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[fields]\nexternal_id = "id"\nemail_address = "email"\n'
        '[fields.public_metadata]\nstaff = { column = "staff", transform = "bool" }\n'
        'n = { column = "n", transform = "number" }\n'
    )
    errors = prepare(path, mapping).errors()
    assert errors.select("row", "reason").rows() == [
        (2, "invalid_typed_value"),
        (3, "invalid_typed_value"),
    ]


def test_bool_feeds_a_flag_field() -> None:
    """banned from a "yes"/"no" column through transform = "bool" is a boolean flag."""
    toml = '[fields]\nexternal_id = "id"\nbanned = { column = "b", transform = "bool" }\n'
    assert mapped(toml, {"id": ["1", "2"], "b": ["yes", "no"]})["banned"].to_list() == [True, False]


# --- optional columns --------------------------------------------------------------------------


def test_an_optional_column_the_input_lacks_is_left_out_with_one_note() -> None:
    """A missing optional column drops its field (and metadata key) and adds one note each."""
    toml = """
    [fields]
    external_id = "id"
    email_address = "email"
    first_name = { column = "first_name", optional = true }
    [fields.public_metadata]
    plan = { column = "plan", optional = true }
    id = "id"
    """
    notes: list[str] = []
    df = mapped(toml, {"id": ["1", "2"], "email": ["a@x.io", "b@x.io"]}, notes=notes)
    assert "first_name" not in df.columns
    assert [json.loads(m) for m in df["public_metadata"]] == [{"id": "1"}, {"id": "2"}]
    assert notes == [
        "fields.first_name: column 'first_name' is not in the input; left out",
        "fields.public_metadata.plan: column 'plan' is not in the input; left out",
    ]


def test_columns_any_takes_the_first_candidate_the_input_has() -> None:
    """columns_any = [first_name, firstname, given_name] reads whichever one exists."""
    toml = (
        '[fields]\nexternal_id = "id"\n'
        'first_name = { columns_any = ["first_name", "given_name"] }\n'
    )
    assert mapped(toml, {"id": ["1"], "given_name": ["Ada"]})["first_name"].to_list() == ["Ada"]


def test_columns_any_with_no_candidate_is_an_error_unless_optional() -> None:
    """No candidate present: a mapping error naming them, or a note with optional = true."""
    toml = '[fields]\nexternal_id = "id"\nfirst_name = { columns_any = ["first_name", "fn"]%s }\n'
    with pytest.raises(MappingError, match=r"column 'first_name / fn' is not in the input"):
        mapped(toml % "", {"id": ["1"]})
    notes: list[str] = []
    assert "first_name" not in mapped(toml % ", optional = true", {"id": ["1"]}, notes=notes)
    assert notes == ["fields.first_name: column 'first_name' / 'fn' is not in the input; left out"]


def test_a_missing_column_that_is_not_optional_is_still_an_error() -> None:
    """Without optional = true a typo'd column stops the mapping before any row."""
    with pytest.raises(MappingError, match=r"fields\.first_name: column 'given' is not in the"):
        mapped('[fields]\nexternal_id = "id"\nfirst_name = "given"\n', {"id": ["1"]})


def test_every_identifier_absent_is_an_error() -> None:
    """Optional identifiers that are all missing leave no usable input: a mapping error."""
    toml = '[fields]\nexternal_id = "id"\nemail_address = { column = "email", optional = true }\n'
    with pytest.raises(MappingError, match="none of the identifier fields"):
        mapped(toml, {"id": ["1"]})


def test_an_absent_verified_flag_or_digest_leaves_its_dependents_out() -> None:
    """No email_verified_at column: no status list; no digest column: no inferred hasher."""
    toml = """
    [fields]
    external_id = "id"
    email_address = "email"
    email_address_identification_status = { verified = { column = "verified_at", optional = true } }
    password_digest = { column = "password", optional = true }
    password_hasher = { infer = true }
    """
    df = mapped(toml, {"id": ["1"], "email": ["a@x.io"]})
    assert df.columns == ["_row", "_key", "_source_error", "external_id", "email_address"]


# --- optional joins ----------------------------------------------------------------------------

_JOINED = """
[fields]
external_id = "id"
email_address = "email"
password_digest = "hashes.hash"
password_hasher = { infer = true }
first_name = { column = "names.first", optional = true }

[[join]]
name = "hashes"
required = false
on = "id"
right_on = "user_id"

[[join]]
name = "names"
on = "id"
right_on = "user_id"
"""


def test_an_optional_join_left_out_drops_the_fields_it_feeds() -> None:
    """Without the optional join's frame the digest and its hasher are left out, no error."""
    names = pl.LazyFrame({"user_id": ["1"], "first": ["Ada"]})
    df = mapped(_JOINED, {"id": ["1"], "email": ["a@x.io"]}, {"names": names})
    assert df.columns == [
        "_row",
        "_key",
        "_source_error",
        "external_id",
        "email_address",
        "first_name",
    ]


def test_a_required_join_left_out_is_an_error() -> None:
    """Joins are required by default: compiling without the frame is a mapping error."""
    with pytest.raises(MappingError, match=r"join\[1\]: no input was given for 'names'"):
        mapped(_JOINED, {"id": ["1"], "email": ["a@x.io"]}, {})


def test_join_required_must_be_a_boolean() -> None:
    """required = "no" is a mapping problem at join[0].required."""
    with pytest.raises(MappingError, match=r"join\[0\]\.required: must be true or false"):
        parse_mapping(
            '[fields]\nexternal_id = "id"\n[[join]]\nname = "h"\non = "id"\nright_on = "id"\n'
            'required = "no"\n',
            {},
        )


def test_first_of_takes_the_first_value_set_among_candidates_present() -> None:
    """first_of prefers first_name, falls back to the first word of name per row, and skips a
    candidate whose column the input lacks."""
    toml = """
    [fields]
    external_id = "id"
    [fields.first_name]
    first_of = ["first_name", "fname", { column = "name", transform = "given_name" }]
    """
    data = {"id": ["1", "2"], "first_name": ["Mary Ann", ""], "name": ["M A", "Bo Li"]}
    assert mapped(toml, data)["first_name"].to_list() == ["Mary Ann", "Bo"]
    notes: list[str] = []
    assert mapped(toml, {"id": ["1"], "name": ["Ada L"]}, notes=notes)["first_name"].to_list() == [
        "Ada"
    ]
    assert notes == []


def test_first_of_with_no_candidate_present_is_an_error_unless_optional() -> None:
    """No candidate column at all: a mapping error naming them, or a note when optional."""
    toml = '[fields]\nexternal_id = "id"\nlast_name = { first_of = ["ln", "surname"]%s }\n'
    with pytest.raises(MappingError, match=r"column 'ln / surname' is not in the input"):
        mapped(toml % "", {"id": ["1"]})
    notes: list[str] = []
    assert "last_name" not in mapped(toml % ", optional = true", {"id": ["1"]}, notes=notes)
    assert len(notes) == 1


# --- usernames and account states --------------------------------------------------------------

_ACCOUNTS = """
[fields]
external_id = "id"
email_address = "email"
username = { column = "login", if_invalid = "legacy_username" }
private_metadata = { column = "meta", parse = "json", optional = true }

[status]
deleted = { column = "deleted_at", optional = true }
enabled = { column = "enabled", optional = true }
locked_until = { column = "lockout", optional = true }
"""


def test_a_username_clerk_refuses_goes_to_private_metadata_with_a_warning() -> None:
    """jane.doe (a dot) and 12345 (all digits) are kept as legacy_username; jane_doe is sent."""
    df = mapped(
        _ACCOUNTS,
        {
            "id": ["1", "2", "3", "4"],
            "email": ["a@x.io", "b@x.io", "c@x.io", "d@x.io"],
            "login": ["jane_doe", "jane.doe", "12345", None],
            "meta": [None, '{"plan": "pro"}', "{}", None],
        },
    )
    assert df["username"].to_list() == ["jane_doe", None, None, None]
    assert [json.loads(m) if m else None for m in df["private_metadata"]] == [
        None,
        {"plan": "pro", "legacy_username": "jane.doe"},
        {"legacy_username": "12345"},
        None,
    ]
    assert df["_warning"].to_list() == [
        None,
        "username_not_accepted",
        "username_not_accepted",
        None,
    ]


def test_if_invalid_is_only_for_username() -> None:
    """if_invalid on another field is a mapping problem naming what it does."""
    with pytest.raises(MappingError, match=r"fields\.first_name\.if_invalid: only username"):
        parse_mapping(
            '[fields]\nfirst_name = { column = "f", if_invalid = "legacy_username" }\n', {}
        )


def test_deleted_rows_are_skipped_and_disabled_ones_banned_by_default() -> None:
    """deleted_at set -> _skip deleted_in_source; enabled false or a lockout until 9999 ->
    banned; a lockout until 2025 (temporary) is ignored."""
    df = mapped(
        _ACCOUNTS,
        {
            "id": ["1", "2", "3", "4", "5"],
            "email": ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"],
            "login": ["aaaa", "bbbb", "cccc", "dddd", "eeee"],
            "deleted_at": ["2024-01-01 00:00:00+00", "", None, None, None],
            "enabled": ["t", "t", "f", "t", "true"],
            "lockout": [None, None, None, "9999-12-31 23:59:59.9999999 +00:00", "2025-01-01"],
        },
    )
    assert df["_skip"].to_list() == ["deleted_in_source", None, None, None, None]
    assert df["banned"].to_list() == [None, None, True, True, None]


def test_disabled_skip_option_skips_disabled_accounts() -> None:
    """[options] disabled = "skip" turns a disabled account into _skip disabled_in_source."""
    toml = _ACCOUNTS + '\n[options]\ndisabled = "skip"\n'
    df = mapped(
        toml,
        {
            "id": ["1", "2"],
            "email": ["a@x.io", "b@x.io"],
            "login": ["aaaa", "bbbb"],
            "enabled": ["false", "true"],
        },
    )
    assert df["_skip"].to_list() == ["disabled_in_source", None]
    assert "banned" not in df.columns


def test_options_disabled_must_be_ban_or_skip() -> None:
    """disabled = "delete" is a mapping problem listing the two choices."""
    with pytest.raises(MappingError, match=r"options\.disabled: must be 'ban' or 'skip'"):
        parse_mapping('[fields]\nexternal_id = "id"\n[options]\ndisabled = "delete"\n', {})


def test_skipped_rows_are_counted_apart_and_hold_no_duplicates(tmp_path: Path) -> None:
    """A deleted row is skipped, not invalid, and its e-mail does not make the live row with
    the same address a duplicate; warnings list refused usernames of rows that are created."""
    path = tmp_path / "users.csv"
    path.write_text(
        "id,email,login,deleted_at\n"
        "1,ann@example.com,ann.old,2024-01-01\n"
        "2,ann@example.com,ann.new,\n"
        "3,bob@example.com,bob_ok,\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(_ACCOUNTS, encoding="utf-8")
    prepared = prepare(path, mapping)
    counts = prepared.counts()
    assert (counts.read, counts.valid, counts.invalid, counts.skipped) == (3, 2, 0, 1)
    assert prepared.skipped().rows() == [(2, "1", "deleted_in_source")]
    assert prepared.warnings().select("row", "key", "field", "reason").rows() == [
        (3, "2", "username", "username_not_accepted")
    ]
    plan = prepared.plan()
    assert plan["_skip"].to_list() == ["deleted_in_source", None, None]


def test_struct_members_a_record_lacks_are_not_sent_as_null(tmp_path: Path) -> None:
    """NDJSON {} beside {"plan": "pro"} gives no metadata, not {"plan": null}."""
    path = tmp_path / "users.ndjson"
    path.write_text(
        '{"id": "1", "email": "a@example.com", "meta": {"plan": "pro"}}\n'
        '{"id": "2", "email": "b@example.com", "meta": {}}\n',
        encoding="utf-8",
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[fields]\nexternal_id = "id"\nemail_address = "email"\npublic_metadata = "meta"\n'
    )
    bodies = [p.body.get("public_metadata") for p in prepare(path, mapping).preview(2)]
    assert bodies == [{"plan": "pro"}, {}]


def test_an_empty_text_metadata_entry_is_no_value() -> None:
    """A quoted empty CSV cell under a metadata key leaves the key out, like an empty field."""
    toml = '[fields]\nexternal_id = "id"\n[fields.public_metadata]\nlocale = "locale"\n'
    df = mapped(toml, {"id": ["1", "2"], "locale": ["", "en"]})
    assert df["public_metadata"].to_list() == [None, '{"locale":"en"}']


def test_columns_with_optional_uses_the_columns_present() -> None:
    """columns = [alt_id, _id] with optional = true reads _id alone when alt_id is absent."""
    toml = '[fields]\nexternal_id = { columns = ["alt_id", "oid"], optional = true }\n'
    assert mapped(toml, {"oid": ["x1"]})["external_id"].to_list() == ["x1"]
