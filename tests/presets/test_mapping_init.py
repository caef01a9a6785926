"""`clerk-migrate mapping init`: recognise each sample's system, or draft a mapping saying why."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from preset_cases import SAMPLES, Case, case_params

from migrate._internal.mapping.load import parse_mapping, presets_dir
from migrate._internal.mapping_init import SAMPLE_ROWS, init_mapping, read_head
from migrate.cli import main

UNKNOWN_CSV = (
    "member_id,full_name,Email Address,mobile,pwd_hash,signup_date,notes\n"
    "m-001,Ada Lovelace,ada@example.org,+44 20 7946 0018,"
    "$2b$04$abcdefghijklmnopqrstuu5y0SAbDA9u1oLbA6v6rJLj0ECFzGh1.,2020-01-02,x\n"
    "m-002,Alan Turing,alan@example.org,,"
    "$2b$04$abcdefghijklmnopqrstuuKm3Gq0Q9rAvm2Kbt3dAx/iHIk9y1xw2,2021-03-04,y\n"
)


@pytest.mark.parametrize("case", case_params())
def test_each_sample_is_recognised_as_its_preset(case: Case) -> None:
    """init names the preset each sample was made for and returns that preset's text."""
    result = init_mapping(case.inputs[0])
    assert result.recognition is not None
    assert result.recognition.preset == case.mapping
    preset = (presets_dir() / f"{case.mapping}.toml").read_text("utf-8")
    assert result.text.endswith(preset)
    assert f"--mapping {case.mapping}" in result.summary


def test_the_auth0_hash_export_is_named_but_sent_to_the_join() -> None:
    """The Auth0 password-hash file is recognised and the operator is told to pass it as --join."""
    result = init_mapping(SAMPLES / "auth0" / "password-hashes.json")
    assert result.recognition is not None
    assert result.recognition.preset == "auth0_hashes"
    assert "no preset imports it directly" in result.summary
    assert "--join" in result.summary


def test_cli_prints_the_preset_and_says_which_fits() -> None:
    """The command prints the mapping on stdout and the recognised system on stderr, exit 0."""
    source = str(SAMPLES / "django" / "auth_user.csv")
    result = CliRunner().invoke(main, ["mapping", "init", source])
    assert result.exit_code == 0
    assert result.stdout.startswith("# clerk-migrate mapping init: auth_user.csv is a Django")
    expected = "Recognised: Django auth_user export. Use the preset: --mapping django\n"
    assert expected in result.stderr


def test_unknown_export_gets_a_draft_with_a_reason_on_every_field(tmp_path: Path) -> None:
    """An export no preset knows gets a parseable draft whose fields each carry a comment."""
    source = tmp_path / "members.csv"
    source.write_text(UNKNOWN_CSV, encoding="utf-8")
    result = init_mapping(source)
    assert result.recognition is None
    spec = parse_mapping(result.text, {})
    fields = dict(spec.fields)
    assert set(fields) == {
        "external_id", "email_address", "phone_number", "first_name", "last_name",
        "password_digest", "password_hasher", "created_at",
    }  # fmt: skip
    field_lines = [line for line in result.text.splitlines() if " = " in line and "{" in line]
    assert all("#" in line for line in field_lines if not line.startswith(("format", "key")))
    assert "#   notes" in result.text  # unmapped columns are listed, not dropped silently


def test_draft_never_sets_a_hasher_without_saying_so(tmp_path: Path) -> None:
    """A hasher in a draft always comes with a CHECK comment saying what the digests looked like."""
    source = tmp_path / "members.csv"
    source.write_text(UNKNOWN_CSV, encoding="utf-8")
    lines = init_mapping(source).text.splitlines()
    hasher = next(line for line in lines if line.startswith("password_hasher"))
    assert "CHECK: inferred from the shape of 2 sample digest(s): bcrypt" in hasher


def test_draft_leaves_an_unrecognised_digest_to_the_operator(tmp_path: Path) -> None:
    """Digests of no known shape leave password_hasher commented out, with the reason."""
    source = tmp_path / "legacy.csv"
    source.write_text("id,email,pwd_hash\n1,a@b.io,xyz123\n2,c@d.io,abc456\n", encoding="utf-8")
    text = init_mapping(source).text
    assert "\npassword_hasher" not in text
    assert "# password_hasher = ?  CHECK: 2 of 2 sample digest(s) match no shape" in text


def test_draft_from_ndjson_names_nested_objects_as_metadata(tmp_path: Path) -> None:
    """NDJSON keys become columns; an object-valued key named like metadata is offered as such."""
    source = tmp_path / "people.ndjson"
    lines = [
        {"uid": "u1", "mail": "a@b.io", "profile_metadata": {"plan": "pro"}},
        {"uid": "u2", "mail": "c@d.io", "profile_metadata": {"plan": "free"}},
    ]
    source.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    text = init_mapping(source).text
    assert 'external_id = "uid"' in text
    assert 'email_address = { column = "mail"' in text
    assert 'profile_metadata = "profile_metadata"' in text
    parse_mapping(text, {})


def test_out_writes_the_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    """--out writes the mapping; an existing file is kept unless --force (exit 2 otherwise)."""
    out = tmp_path / "m.toml"
    source = str(SAMPLES / "laravel" / "users.csv")
    first = CliRunner().invoke(main, ["mapping", "init", source, "--out", str(out)])
    assert first.exit_code == 0
    assert out.read_text("utf-8").endswith((presets_dir() / "laravel.toml").read_text("utf-8"))
    second = CliRunner().invoke(main, ["mapping", "init", source, "--out", str(out)])
    assert second.exit_code == 2
    assert f"Error: {out} exists; pass --force to overwrite it" in second.stderr
    third = CliRunner().invoke(main, ["mapping", "init", source, "--out", str(out), "--force"])
    assert third.exit_code == 0


def test_missing_input_is_a_run_error(tmp_path: Path) -> None:
    """A path that does not exist exits 1 with a message naming it."""
    missing = tmp_path / "nope.csv"
    result = CliRunner().invoke(main, ["mapping", "init", str(missing)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {missing}: no such file\n"


def test_head_reads_gzip_and_bom(tmp_path: Path) -> None:
    """A gzipped CSV with a BOM is sniffed like the plain file (the BOM is not in a column name)."""
    plain = (SAMPLES / "cognito" / "user-pool.csv").read_text("utf-8")
    packed = tmp_path / "pool.csv.gz"
    packed.write_bytes(gzip.compress(("\ufeff" + plain).encode("utf-8")))
    head = read_head(packed)
    assert head.columns[0] == "cognito:username"
    assert init_mapping(packed).recognition is not None


def test_head_of_a_large_json_document_reads_only_its_start(tmp_path: Path) -> None:
    """A JSON export larger than the head limit is still recognised from its first records."""
    users = json.loads((SAMPLES / "firebase" / "users.json").read_text("utf-8"))["users"]
    big = tmp_path / "users.json"
    many = users * 1200  # about 12 MB: past the 1 MiB head
    big.write_text(json.dumps({"users": many}), encoding="utf-8")
    head = read_head(big)
    assert head.container == "users"
    assert len(head.rows) == SAMPLE_ROWS
    result = init_mapping(big)
    assert result.recognition is not None
    assert result.recognition.preset == "firebase"


def test_parquet_export_is_recognised_and_told_to_pass_its_format(tmp_path: Path) -> None:
    """A Parquet auth.users is recognised as Supabase, with --format parquet for the CSV preset."""
    import polars as pl  # noqa: PLC0415 - only this test writes Parquet

    parquet = tmp_path / "auth_users.parquet"
    csv_path = SAMPLES / "supabase" / "auth_users.csv"
    pl.read_csv(csv_path, infer_schema=False).write_parquet(parquet)
    result = init_mapping(parquet)
    assert result.head.format == "parquet"
    assert result.summary == (
        "Recognised: Supabase auth.users export. "
        "Use the preset: --mapping supabase --format parquet"
    )


def test_draft_maps_a_verified_flag_beside_its_addresses(tmp_path: Path) -> None:
    """An e-mail verified flag becomes the e-mail status; a phone flag without phones is unused."""
    from migrate._internal.mapping import compile_mapping  # noqa: PLC0415
    from migrate._internal.sources import read_source  # noqa: PLC0415

    source = tmp_path / "members.csv"
    source.write_text(
        "member_id,mail,EmailConfirmed,phone_verified\n"
        "m1,a@example.com,True,false\nm2,b@example.com,False,false\n",
        encoding="utf-8",
    )
    result = init_mapping(source)
    assert 'email_address_identification_status = { verified = "EmailConfirmed" }' in result.text
    assert "#   phone_verified" in result.text
    spec = parse_mapping(result.text, {})
    mapped = compile_mapping(spec, read_source(source)).collect()
    assert mapped["email_address_identification_status"].to_list() == [["verified"], ["reserved"]]
