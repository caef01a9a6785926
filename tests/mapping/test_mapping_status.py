"""email_address / phone_number identification status: one status per address, by position."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from migrate._internal.mapping import (
    FIELD_DTYPES,
    compile_mapping,
    parse_mapping,
    payload_from_record,
)
from migrate._internal.mapping.spec import CLERK_FIELDS
from migrate.errors import MappingError

STATUS = "email_address_identification_status"
PHONE_STATUS = "phone_number_identification_status"


def mapped(toml: str, data: dict[str, list[Any]]) -> pl.DataFrame:
    spec = parse_mapping(toml, {}, file="m.toml")
    df = pl.DataFrame(data, strict=False).with_row_index("_row", offset=2)
    return compile_mapping(spec, df.with_columns(pl.col("_row").cast(pl.Int64)).lazy()).collect()


def problems(toml: str, data: dict[str, list[Any]] | None = None) -> list[str]:
    with pytest.raises(MappingError) as err:
        mapped(toml, data) if data is not None else parse_mapping(toml, {}, file="m.toml")
    return [str(p) for p in err.value.problems]


def test_a_verified_flag_gives_each_address_of_the_row_its_status() -> None:
    """true -> verified, false -> reserved, repeated for every address; no address, no status."""
    toml = (
        '[fields]\nemail_address = { columns = ["e1", "e2"] }\n'
        f'{STATUS} = {{ verified = "ok" }}\n'
    )
    df = mapped(
        toml,
        {
            "e1": ["a@x.io", "c@x.io", None],
            "e2": ["b@x.io", None, None],
            "ok": [True, False, True],
        },
    )
    assert df.schema[STATUS] == FIELD_DTYPES[CLERK_FIELDS[STATUS]] == pl.List(pl.Utf8)
    assert df[STATUS].to_list() == [["verified", "verified"], ["reserved"], []]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("true", "verified"),
        ("TRUE", "verified"),
        ("1", "verified"),
        ("yes", "verified"),
        ("false", "reserved"),
        (" False ", "reserved"),
        ("0", "reserved"),
        ("n", "reserved"),
        ("2022-01-25 00:06:55.864000+00", "verified"),
        ("", "reserved"),
        (None, "reserved"),
    ],
)
def test_verified_reads_text_flags_and_confirmation_timestamps(
    flag: str | None, expected: str
) -> None:
    """Flag words in any case, and a set confirmation time (Supabase's email_confirmed_at) count
    as verified; false words are reserved; no value is reserved (never claimed verified)."""
    toml = f'[fields]\nemail_address = "e"\n{STATUS} = {{ verified = "ok" }}\n'
    df = mapped(toml, {"e": ["a@x.io"], "ok": pl.Series([flag], dtype=pl.Utf8)})
    assert df[STATUS].to_list() == [[expected]]


def test_default_applies_where_the_flag_has_no_value() -> None:
    """``default = "verified"`` is what an address without a flag gets."""
    toml = (
        '[fields]\nphone_number = "p"\n'
        f'{PHONE_STATUS} = {{ verified = "ok", default = "verified" }}\n'
    )
    df = mapped(toml, {"p": ["+14155550100", "+14155550101"], "ok": [None, "false"]})
    assert df[PHONE_STATUS].to_list() == [["verified"], ["reserved"]]


def test_transforms_apply_to_the_flag_before_it_is_read() -> None:
    """A transform chain on the field (``null_if``) works on the flag's text."""
    toml = (
        '[fields]\nemail_address = "e"\n'
        f'{STATUS} = {{ verified = "ok", transform = {{ null_if = ["unknown"] }} }}\n'
    )
    df = mapped(toml, {"e": ["a@x.io", "b@x.io"], "ok": ["unknown", "true"]})
    assert df[STATUS].to_list() == [["reserved"], ["verified"]]


def test_a_list_of_flags_gives_one_status_per_item() -> None:
    """Addresses and flags from the same list of objects stay paired by position."""
    toml = (
        '[fields]\nemail_address = "emails.address"\n'
        f'{STATUS} = {{ verified = "emails.verified" }}\n'
    )
    emails = [
        [{"address": "a@x.io", "verified": True}, {"address": "b@x.io", "verified": False}],
        [],
    ]
    df = mapped(toml, {"emails": emails})
    assert df["email_address"].to_list() == [["a@x.io", "b@x.io"], []]
    assert df[STATUS].to_list() == [["verified", "reserved"], []]


def test_a_constant_or_a_text_column_is_repeated_per_address() -> None:
    """``{ value = "reserved" }`` and a column of status words give every address that status."""
    toml = (
        '[fields]\nemail_address = { column = "e", split = ";" }\n'
        f'{STATUS} = {{ value = "reserved" }}\n'
        'phone_number = "p"\n'
        f'{PHONE_STATUS} = "ps"\n'
    )
    df = mapped(
        toml, {"e": ["a@x.io;b@x.io", None], "p": ["+14155550100", "+1"], "ps": ["reserved", None]}
    )
    assert df[STATUS].to_list() == [["reserved", "reserved"], []]
    assert df[PHONE_STATUS].to_list() == [["reserved"], []]


def test_the_status_reaches_the_createuser_body() -> None:
    """The body carries the status list beside the addresses; a row without one has neither."""
    toml = f'[fields]\nemail_address = "e"\n{STATUS} = {{ verified = "ok" }}\n'
    df = mapped(toml, {"e": ["a@x.io", None], "ok": [False, True]})
    bodies = [payload_from_record(r) for r in df.iter_rows(named=True)]
    assert bodies == [{"email_address": ["a@x.io"], STATUS: ["reserved"]}, {}]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[fields]\nfirst_name = { verified = "x" }\n',
            [
                "fields.first_name.verified: only email_address_identification_status, "
                "phone_number_identification_status are read from a verified flag"
            ],
        ),
        (
            f'[fields]\n{STATUS} = {{ value = "pending" }}\n',
            [f"fields.{STATUS}.value: must be verified or reserved, or a list of them"],
        ),
        (
            f'[fields]\n{STATUS} = {{ verified = "ok", default = true }}\n',
            [f"fields.{STATUS}.default: must be verified or reserved, not a boolean"],
        ),
        (
            f'[fields]\n{STATUS} = {{ verified = "" }}\n',
            [f"fields.{STATUS}.verified: must name a column"],
        ),
    ],
)
def test_status_mapping_errors(toml: str, expected: list[str]) -> None:
    """Each misuse of the status fields is reported with its key path and what is allowed."""
    assert problems(toml) == expected


def test_a_status_without_its_address_field_is_a_mapping_error() -> None:
    """A status list needs the addresses it is parallel to."""
    toml = f'[fields]\nexternal_id = "id"\n{PHONE_STATUS} = {{ verified = "ok" }}\n'
    assert problems(toml, {"id": ["1"], "ok": [True]}) == [
        f"fields.{PHONE_STATUS}: needs fields.phone_number to be mapped (one per address)"
    ]


def test_address_groups_make_the_addresses_and_their_statuses() -> None:
    """Verified then reserved addresses, with split and transforms applied to both groups."""
    toml = (
        '[fields]\nemail_address = { verified = "v", reserved = "u", split = "|", '
        'transform = ["strip", "lower"] }\n'
        'phone_number = { reserved = { column = "pu", split = "|" } }\n'
    )
    df = mapped(
        toml,
        {
            "v": ["A@x.io| b@x.io", None, ""],
            "u": ["c@x.io", "d@x.io", None],
            "pu": ["+14155550100", None, None],
        },
    )
    assert df["email_address"].to_list() == [["a@x.io", "b@x.io", "c@x.io"], ["d@x.io"], []]
    assert df[STATUS].to_list() == [["verified", "verified", "reserved"], ["reserved"], []]
    assert df["phone_number"].to_list() == [["+14155550100"], [], []]
    assert df[PHONE_STATUS].to_list() == [["reserved"], [], []]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            '[fields]\nemail_address = { verified = "v", reserved = "u", colour = "red" }\n',
            [
                "fields.email_address.colour: unknown key; allowed: verified, reserved, split, "
                "transform"
            ],
        ),
        (
            '[fields]\nemail_address = { verified = { column = "v", split = ";" }, split = "|" }\n',
            ["fields.email_address.verified: sets split again; set it in one place"],
        ),
    ],
)
def test_address_group_errors(toml: str, expected: list[str]) -> None:
    """Unknown keys and modifiers set twice in address groups are reported with their path."""
    assert problems(toml) == expected


def test_groups_and_a_status_field_together_are_refused() -> None:
    """With address groups the status is made for you; mapping it as well is an error."""
    toml = f'[fields]\nemail_address = {{ verified = "v" }}\n{STATUS} = {{ value = "reserved" }}\n'
    assert problems(toml, {"v": ["a@x.io"]}) == [
        f"fields.{STATUS}: fields.email_address sets it already (verified / reserved groups)"
    ]
