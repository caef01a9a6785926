"""The offline validator and the sandbox agree: a row valid offline is a user the sandbox creates.

Each tricky value goes into one row of a literal mapped frame (docs/internals.md), through
``validation.validate_frame``, and, as the body ``payload_from_record`` builds for it, to
``POST /v1/users`` on a real sandbox. Both must accept it or both refuse it. Differences that are
known and owned elsewhere are listed in ``KNOWN_DIFFERENCES`` as strict xfails, so fixing one
makes its test fail until the entry is removed. Digests of every hasher (made by the real
libraries) and their near misses are compared the same way.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import polars as pl
import pytest
from test_passwords import GENERATED

from migrate._internal.mapping.payload import payload_from_record
from migrate._internal.validation import validate_frame

_LIST_FIELDS: Final = ("email_address", "phone_number", "web3_wallet", "backup_codes")

# (field, value): every value here must get the same verdict from both sides.
CASES: Final[list[tuple[str, str]]] = [
    # Emails: IDN TLDs in punycode are on the public-suffix list, so Clerk takes them.
    *(
        ("email_address", v)
        for v in (
            "a@b.xn--p1ai",
            "a@xn--80ak6aa92e.xn--p1ai",
            "a@x.xn--a",
            "a@x.xn--",
            "A.B@Example.COM",
            "a+tag@x.io",
            "a@x.co.uk",
            "a..b@x.com",
            ".a@x.com",
            "a.@x.com",
            "a@x.test",
            "a@x.LOCAL",
            "a@x.example",
            "a@x.c",
            "a@x.c0m",
            "a@x.123",
            "a@-x.com",
            "a@x-.com",
            "é@x.com",
            "a@é.com",
            "a b@x.com",
            " a@x.com",
            "a@x.com ",
            "a" * 64 + "@x.com",
            "a" * 65 + "@x.com",
            '"q"@x.com',
            "a@[1.2.3.4]",
            "a@localhost",
        )
    ),
    # Phones: E.164 and valid per libphonenumber.
    *(
        ("phone_number", v)
        for v in (
            "+14155550123",
            "+1415555012",
            "+441632960961",
            "14155550123",
            "+1 415 555 0123",
            "+0123456789",
            "+8613800138000",
            "+4407911123456",
            "+261201234567",
            "+999123456",
        )
    ),
    # Usernames: length 4-64, [A-Za-z0-9_-], not all digits, not phone-like.
    *(
        ("username", v)
        for v in (
            "abcd",
            "abc",
            "a" * 64,
            "a" * 65,
            "1234",
            "+1234",
            "+12",
            "ab-c_d",
            "ab.cd",
            "ab cd",
            "12345a",
            "é123",
            "ＡＢＣＤ",
            "١٢٣٤",
        )
    ),
    *(
        ("web3_wallet", v)
        for v in (
            "0x" + "a" * 40,
            "0x" + "B" * 40,
            "0x" + "g" * 40,
            "0x" + "a" * 39,
            "1" * 32,
            "0" * 32,
            "So1" + "a" * 40,
        )
    ),
    # TOTP secrets: base32 (RFC 4648) in any case; spaces are not base32, on either side.
    *(
        ("totp_secret", v)
        for v in (
            "JBSWY3DPEHPK3PXP",
            "jbswy3dpehpk3pxp",
            "JBSW Y3DP EHPK 3PXP",
            " JBSWY3DP",
            "JBSWY3DP\n",
            "AB",
            "ABCD",
            "ABCDE",
            "ABCDEFG",
            "MZXW6===",
            "MZXW6YQ=",
            "MZ======",
            "ab=",
            "========",
            "JBSWY3DP1",
            "JBSWY3DP8",
        )
    ),
    *(("locale", v) for v in ("en", "en-US", "zh-Hant-TW", "EN", "e", "english", "en_US", "en-")),
    # Timestamps: RFC3339 as Go parses it, every field in range, not in the future.
    *(
        ("created_at", v)
        for v in (
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:00.123456789Z",
            "2020-01-01T00:00:00+01:00",
            "2020-01-01T00:00:00-23:59",
            "0000-01-01T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2020-04-31T00:00:00Z",
            "2020-13-01T00:00:00Z",
            "2020-01-01T24:00:00Z",
            "2020-01-01T00:00:60Z",
            "2020-01-01T00:00:00+24:00",
            "2020-01-01T00:00:00+01:60",
            "2020-01-01 00:00:00Z",
            "2020-01-01T00:00:00",
            "2020-01-01t00:00:00Z",
            "2099-01-01T00:00:00Z",
            "\u0662\u0660\u0662\u0660-01-01T00:00:00Z",  # Arabic-Indic digits
        )
    ),
    # Metadata: a JSON object of at most 8192 bytes measured as compact UTF-8 JSON.
    *(
        ("public_metadata", v)
        for v in (
            "{}",
            '{"a":{"b":[1,{"c":2}]}}',
            "[]",
            "1",
            '"x"',
            '{"a":',
            '{"a":NaN}',
            '{"a":"' + "x" * 8184 + '"}',  # 8192 bytes: at the limit
            '{"a":"' + "x" * 8185 + '"}',  # 8193 bytes
            '{ "a" : "' + "x" * 8184 + '" }',  # padded to 8194, compact 8192
            '{"é":"' + "é" * 4090 + '"}',  # 8190 UTF-8 bytes
            '{"é":"' + "é" * 4091 + '"}',  # 8192 UTF-8 bytes
            '{"é":"' + "é" * 4092 + '"}',  # 8194 UTF-8 bytes
            '{"a":"' + "\\u00e9" * 2000 + '"}',  # 12 kB of escapes, 4008 bytes as UTF-8
        )
    ),
    # Plaintext passwords (breached-password screening is Clerk's alone: see below).
    *(
        ("password", v)
        for v in ("short", "abcdefgh", "a" * 72, "a" * 73, "é" * 36, "é" * 37, "pässwörd1")
    ),
]

# Known differences, each owned elsewhere; a strict xfail fails once the difference is gone.
KNOWN_DIFFERENCES: Final[list[tuple[str, str, str]]] = []
# Values on which the two once disagreed, kept as cases so they stay in agreement.
CASES += [
    ("totp_secret", "A"),
    ("totp_secret", "ABC"),
    ("totp_secret", "ABCDEF"),
    ("totp_secret", "JBSWY3DPEHPK3PX\u017f"),
    ("totp_secret", "JBSWY3DPEHPK3PX\u212a"),
    ("email_address", "a@x.xn--abc-"),
    ("email_address", "a@c.XN--P1AI"),
    ("public_metadata", "null"),
]
# Left out on purpose: breached passwords ("password", "12345678"): Clerk (and the sandbox's
# stand-in list) screen them, which no offline check can know.


def _frame(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    columns = sorted({name for row in rows for name in row})
    schema: dict[str, pl.DataType] = {"_row": pl.Int64(), "_key": pl.Utf8()}
    for name in columns:
        schema[name] = pl.List(pl.Utf8) if name in _LIST_FIELDS else pl.Utf8()
    data = [
        {"_row": i + 2, "_key": f"k{i}", **{c: row.get(c) for c in columns}}
        for i, row in enumerate(rows)
    ]
    return pl.LazyFrame(data, schema=schema)


def _row(index: int, field: str, value: str) -> dict[str, Any]:
    row: dict[str, Any] = {"external_id": f"agree-{index}"}
    row[field] = [value] if field in _LIST_FIELDS else value
    if field != "email_address":
        row["email_address"] = [f"user{index}@example.com"]
    return row


_ALL: Final = [(f, v) for f, v in CASES] + [(f, v) for f, v, _ in KNOWN_DIFFERENCES]


@pytest.fixture(scope="module")
def offline() -> dict[tuple[str, str], tuple[dict[str, Any], list[str]]]:
    """The body and the validator's reasons for every case, from one validate_frame call."""
    rows = [_row(i, f, v) for i, (f, v) in enumerate(_ALL)]
    out = validate_frame(_frame(rows), now=datetime.now(UTC)).collect()
    verdicts = {}
    for case, record in zip(_ALL, out.iter_rows(named=True), strict=True):
        reasons = [e["reason"] for e in record["_errors"]]
        verdicts[case] = (payload_from_record(record), reasons)
    return verdicts


def _sandbox_codes(api: httpx.Client, body: dict[str, Any]) -> list[str]:
    # Sent as the loader's client sends it: compact JSON, NaN refused by the encoder.
    response = api.post(
        "/v1/users",
        content=json.dumps(body, separators=(",", ":")),
        headers={"Content-Type": "application/json"},
    )
    if response.status_code == 200:
        return []
    return [e["code"] for e in response.json()["errors"]]


def _params() -> list[Any]:
    known = {(f, v): why for f, v, why in KNOWN_DIFFERENCES}
    return [pytest.param(f, v, id=f"{f}:{v[:24]!r}") for f, v in CASES] + [
        pytest.param(f, v, id=f"{f}:{v[:24]!r}", marks=pytest.mark.xfail(strict=True, reason=why))
        for (f, v), why in known.items()
    ]


@pytest.mark.parametrize(("field", "value"), _params())
def test_validator_and_sandbox_agree(
    field: str,
    value: str,
    api: httpx.Client,
    offline: dict[tuple[str, str], tuple[dict[str, Any], list[str]]],
) -> None:
    """A value the offline validator accepts the sandbox accepts, and one it refuses is refused."""
    body, reasons = offline[(field, value)]
    codes = _sandbox_codes(api, body)
    assert (not reasons) == (not codes), f"validator: {reasons}, sandbox: {codes}"


def test_repeated_identifiers_agree(api: httpx.Client) -> None:
    """Values the validator calls duplicates of an earlier row are the ones the sandbox refuses."""
    rows = [
        {"external_id": "e1", "email_address": ["Ann@Example.com"], "username": "Ann_1"},
        {"external_id": "e2", "email_address": ["ann@example.COM"]},
        {"external_id": "e3", "email_address": ["bob@example.com"], "username": "ann_1"},
        {"external_id": "e1", "email_address": ["cy@example.com"]},
        {
            "external_id": "e5",
            "email_address": ["dee@example.com"],
            "phone_number": ["+14155550123"],
        },
        {
            "external_id": "e6",
            "email_address": ["eve@example.com"],
            "phone_number": ["+14155550123"],
        },
        {
            "external_id": "e7",
            "email_address": ["f@example.com"],
            "web3_wallet": ["0x" + "ab" * 20],
        },
        {
            "external_id": "e8",
            "email_address": ["g@example.com"],
            "web3_wallet": ["0x" + "AB" * 20],
        },
        {"external_id": "e9", "email_address": ["h@example.com", "H@example.com"]},
        {"external_id": "e10", "email_address": ["ok@example.com"], "username": "fine_user"},
    ]
    out = validate_frame(_frame(rows), now=datetime.now(UTC)).collect()
    offline = [bool(errors) for errors in out["_errors"].to_list()]
    online = [bool(_sandbox_codes(api, payload_from_record(r))) for r in out.iter_rows(named=True)]
    assert offline == online == [False, True, True, True, False, True, False, True, True, False]


def _mutations(digest: str) -> list[str]:
    """The digest, and near misses: cut short, one character too many, upper-cased, spaced."""
    return [digest, digest[:-1], digest + "a", digest.upper(), f" {digest}", digest[:12]]


@pytest.mark.parametrize("hasher", sorted(GENERATED))
def test_digest_grammar_agrees(hasher: str, api: httpx.Client) -> None:
    """For every hasher, a digest and its near misses get the same verdict offline and online."""
    digests = _mutations(GENERATED[hasher])
    rows = [
        {
            "external_id": f"d-{i}",
            "email_address": [f"d{i}@example.com"],
            "password_hasher": hasher,
            "password_digest": digest,
        }
        for i, digest in enumerate(digests)
    ]
    out = validate_frame(_frame(rows), now=datetime.now(UTC)).collect()
    offline = [not errors for errors in out["_errors"].to_list()]
    online = [not _sandbox_codes(api, payload_from_record(r)) for r in out.iter_rows(named=True)]
    assert offline == online
    assert offline[0], "the real library's digest is accepted"


def test_solana_wallets_differing_in_case_agree(api: httpx.Client) -> None:
    """Two Solana wallets that differ only in case are two wallets, offline as online."""
    wallet = "Ab1" + "c" * 40  # swapcase() is valid base58 too ("aB1CCC…")
    rows = [
        {"external_id": "s1", "email_address": ["s1@example.com"], "web3_wallet": [wallet]},
        {
            "external_id": "s2",
            "email_address": ["s2@example.com"],
            "web3_wallet": [wallet.swapcase()],
        },
    ]
    out = validate_frame(_frame(rows), now=datetime.now(UTC)).collect()
    offline = [bool(errors) for errors in out["_errors"].to_list()]
    online = [bool(_sandbox_codes(api, payload_from_record(r))) for r in out.iter_rows(named=True)]
    assert offline == online == [False, False]
