"""`mapping init` on tables no preset knows: Clerk's own names, JSON, flags, phones, dialects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bcrypt
from click.testing import CliRunner

from migrate._internal.mapping.load import parse_mapping
from migrate._internal.mapping_init import init_mapping
from migrate._internal.prepare import PrepareOptions, prepare
from migrate.cli import main

DIGEST = bcrypt.hashpw(b"s3cret-Pass", bcrypt.gensalt(4)).decode()


def _bodies(source: Path, mapping_text: str) -> dict[str, dict[str, Any]]:
    """The CreateUser bodies the draft makes of every valid row, by external_id."""
    prepared = prepare(source, parse_mapping(mapping_text, {}), PrepareOptions())
    plan = prepared.plan()
    assert plan["_errors"].list.len().max() == 0, plan["_errors"].to_list()
    rows = plan["_row"].to_list()
    return {p.body["external_id"]: p.body for p in prepared.payloads(rows)}


def _draft(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> tuple[Path, str]:
    source = tmp_path / name
    source.write_bytes(text.encode(encoding))
    result = init_mapping(source)
    assert result.recognition is None
    return source, result.text


def test_clerk_named_csv_columns_map_one_to_one(tmp_path: Path) -> None:
    """Columns named as Clerk names fields map to those fields; JSON metadata is parsed."""
    header = "external_id,email_address,first_name,username,password,totp_secret,public_metadata"
    row = 'u1,Ann@Example.com,Ann,ann_b,plain-Text-1,JBSWY3DPEHPK3PXP,"{""plan"": ""pro""}"'
    source, text = _draft(tmp_path, "users.csv", f"{header}\n{row}\n")
    assert 'key = "external_id"' in text
    assert "password = \"password\"  # column 'password' is Clerk's own field name" in text
    assert "password_digest" not in text
    assert 'public_metadata = { column = "public_metadata", parse = "json" }' in text
    assert "skip_password_checks = true  # CHECK" in text
    body = _bodies(source, text)["u1"]
    assert body["password"] == "plain-Text-1"
    assert body["public_metadata"] == {"plan": "pro"}
    assert body["email_address"] == ["ann@example.com"]
    assert (body["username"], body["totp_secret"]) == ("ann_b", "JBSWY3DPEHPK3PXP")


def test_digest_and_hasher_columns_are_used_as_they_are(tmp_path: Path) -> None:
    """password_digest and password_hasher columns map as such: no inferred hasher line."""
    source, text = _draft(
        tmp_path, "users.csv",
        f"external_id,email_address,password_digest,password_hasher\nu1,a@b.io,{DIGEST},bcrypt\n",
    )  # fmt: skip
    assert 'password_hasher = "password_hasher"' in text
    assert "infer" not in text
    body = _bodies(source, text)["u1"]
    assert (body["password_digest"], body["password_hasher"]) == (DIGEST, "bcrypt")


def test_a_password_column_of_digests_is_not_taken_for_plaintext(tmp_path: Path) -> None:
    """A `password` column whose values are all digests maps to password_digest, with a CHECK."""
    _, text = _draft(tmp_path, "users.csv", f"id,email,password\n1,a@b.io,{DIGEST}\n")
    assert "password_digest = \"password\"  # CHECK: column 'password' holds digests" in text
    assert "\npassword = " not in text


def test_a_clerk_shaped_parquet_file_needs_no_edit(tmp_path: Path) -> None:
    """Parquet with Clerk's field names and types: the draft, unedited, makes the exact bodies."""
    import polars as pl  # noqa: PLC0415 - only this test writes Parquet

    source = tmp_path / "clerk_users.parquet"
    pl.DataFrame(
        {
            "external_id": ["u1", "u2"],
            "email_address": [["ann@example.com", "ann@work.example.com"], ["bo@example.com"]],
            "phone_number": [["+14155550101"], []],
            "first_name": ["Ann", None],
            "username": ["ann_b", None],
            "password_digest": [DIGEST, None],
            "password_hasher": ["bcrypt", None],
            "backup_codes": [["a1b2c3", "d4e5f6"], None],
            "public_metadata": [{"plan": "pro"}, {"plan": "free"}],
            "private_metadata": ['{"tier": 2}', None],
            "created_at": ["2024-01-02T03:04:05.000Z", "2024-02-03T04:05:06.000Z"],
        }
    ).write_parquet(source)
    text = init_mapping(source).text
    assert "CHECK" not in text.split("[options]")[0].replace("lines marked CHECK", "")
    bodies = _bodies(source, text)
    assert bodies["u1"] == {
        "external_id": "u1",
        "email_address": ["ann@example.com", "ann@work.example.com"],
        "phone_number": ["+14155550101"],
        "first_name": "Ann",
        "username": "ann_b",
        "password_digest": DIGEST,
        "password_hasher": "bcrypt",
        "backup_codes": ["a1b2c3", "d4e5f6"],
        "public_metadata": {"plan": "pro"},
        "private_metadata": {"tier": 2},
        "created_at": "2024-01-02T03:04:05.000Z",
        "skip_password_requirement": True,
    }
    assert bodies["u2"]["email_address"] == ["bo@example.com"]
    assert "password_digest" not in bodies["u2"]


def test_json_looking_columns_are_parsed(tmp_path: Path) -> None:
    """A column of JSON text no name explains goes to metadata read with parse = "json"."""
    source, text = _draft(
        tmp_path, "members.csv",
        'member_id,mail,prefs\nm1,a@example.com,"{""theme"": ""dark""}"\n'
        'm2,b@example.com,"[1, 2]"\n',
    )  # fmt: skip
    assert 'prefs = { column = "prefs", parse = "json" }  # JSON text' in text
    bodies = _bodies(source, text)
    assert bodies["m1"]["public_metadata"] == {"prefs": {"theme": "dark"}}
    assert bodies["m2"]["public_metadata"] == {"prefs": [1, 2]}


def test_an_is_verified_flag_is_the_email_status(tmp_path: Path) -> None:
    """A bare `is_verified` flag beside e-mails becomes their identification status."""
    source, text = _draft(
        tmp_path, "members.csv",
        "member_id,email,is_verified\nm1,a@example.com,1\nm2,b@example.com,0\n",
    )  # fmt: skip
    assert 'email_address_identification_status = { verified = "is_verified" }  # CHECK' in text
    bodies = _bodies(source, text)
    assert "email_address_identification_status" not in bodies["m1"]
    assert bodies["m2"]["email_address_identification_status"] == ["reserved"]


def test_phones_without_a_country_code_are_flagged(tmp_path: Path) -> None:
    """e164 without a region gets a CHECK when sample numbers lack a country code, not otherwise."""
    _, national = _draft(tmp_path, "a.csv", "id,email,phone\n1,a@b.io,(415) 555-0101\n")
    line = next(x for x in national.splitlines() if x.startswith("phone_number"))
    assert "CHECK: 1 of 1 sample numbers have no country code and e164 has no region" in line
    _, international = _draft(tmp_path, "b.csv", "id,email,phone\n1,a@b.io,+14155550101\n")
    line = next(x for x in international.splitlines() if x.startswith("phone_number"))
    assert "CHECK" not in line
    assert "every sample number has its country code" in line


def test_dialect_encoding_and_nulls_go_into_the_draft(tmp_path: Path) -> None:
    """A cp1252, semicolon-delimited dump with NULL cells: the draft's validate runs unchanged."""
    source, text = _draft(
        tmp_path, "kunden.csv",
        "id;email;phone;first_name\n1;jose@example.es;NULL;José\n2;ana@example.es;+34612345678;Ana\n",
        encoding="cp1252",
    )  # fmt: skip
    assert 'delimiter = ";"' in text
    assert 'encoding = "cp1252"' in text
    assert 'null_values = ["NULL"]' in text
    mapping = tmp_path / "draft.toml"
    mapping.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["validate", str(source), "--mapping", str(mapping), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    bodies = _bodies(source, text)
    assert bodies["1"]["first_name"] == "José"
    assert "phone_number" not in bodies["1"]
    assert json.loads((out / "summary.json").read_text("utf-8"))["valid"] == 2


def test_a_tab_separated_mysql_batch_dump_reads_as_written(tmp_path: Path) -> None:
    """A tab-delimited dump with \\N cells gets delimiter and null_values lines."""
    _, text = _draft(
        tmp_path, "dump.txt", "id\temail\tphone\n1\ta@example.com\t\\N\n2\tb@example.com\t\\N\n"
    )
    assert 'delimiter = "\\t"' in text
    assert 'null_values = ["\\\\N"]' in text
    spec = parse_mapping(text, {})
    assert spec.source.null_values == ("\\N",)
