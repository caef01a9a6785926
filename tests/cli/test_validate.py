"""``clerk-migrate validate``: summary text, report files and exit codes, run in-process."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from migrate.cli import main

BCRYPT = "$2b$04$cRNDF6i9lQEHq9UqOe0VV.N6JThovoaX4qShm12HuL4fdm5GHo7Lu"
PLAINTEXT = "correct horse battery"

MAPPING = """\
[source]
key = "id"

[fields]
external_id = "id"
email_address = { column = "email", transform = ["strip", "lower"] }
password_digest = "hash"
password_hasher = { value = "bcrypt" }
created_at = { column = "joined", parse = "timestamp" }
"""

GOOD = f"""\
id,email,hash,joined
u1,ada@example.com,{BCRYPT},2020-01-02T03:04:05Z
u2,bob@example.com,{BCRYPT},2021-05-06T07:08:09Z
"""

BAD = f"""\
id,email,hash,joined
u1,ada@example.com,{BCRYPT},2020-01-02T03:04:05Z
u2,nope,{BCRYPT},2021-05-06T07:08:09Z

u3,ADA@example.com,{BCRYPT[:-2]},2099-01-01T00:00:00Z
u4,cy@example.com,{BCRYPT},soon
"""


def _write(tmp_path: Path, data: str, mapping: str = MAPPING) -> tuple[Path, Path]:
    users = tmp_path / "users.csv"
    users.write_text(data, encoding="utf-8")
    toml = tmp_path / "map.toml"
    toml.write_text(mapping, encoding="utf-8")
    return users, toml


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["validate", *map(str, args)], catch_exceptions=False)


def test_all_valid_exits_0_with_summary(tmp_path: Path) -> None:
    """A clean file prints the counts, no reason table, the report paths, and exits 0."""
    users, toml = _write(tmp_path, GOOD)
    result = _run(users, "--mapping", toml, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Validated {users} with mapping {toml} in ")
    assert lines[1:5] == [
        "  rows read                 2",
        "  valid                     2",
        "  invalid                   0",
        "  skipped (empty)           0",
    ]
    assert (
        lines[-1]
        == f"Reports: {tmp_path / 'out' / 'errors.csv'}, {tmp_path / 'out' / 'summary.json'}"
    )
    errors = (tmp_path / "out" / "errors.csv").read_text(encoding="utf-8-sig")
    assert errors == "row,key,email,stage,field,code,value,message,hint\n"


def test_invalid_rows_exit_3_with_reason_table(tmp_path: Path) -> None:
    """Invalid rows give a reason table (most frequent first, example rows) and exit 3."""
    users, toml = _write(tmp_path, BAD)
    result = _run(users, "--mapping", toml, "--out", tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "  invalid                   3" in result.stdout
    assert "  skipped (empty)           1" in result.stdout


def test_reason_table_is_aligned(tmp_path: Path) -> None:
    """The reason table's columns line up under their headers."""
    users, toml = _write(tmp_path, BAD)
    table = _run(users, "--mapping", toml, "--out", tmp_path / "o").stdout.split("\n\n")[1]
    assert table.splitlines() == [
        "  reason             field                rows  example rows",
        "  duplicate_email    email_address           1  5",
        "  future_timestamp   created_at              1  5",
        "  invalid_email      email_address           1  3",
        "  invalid_timestamp  created_at              1  6",
        "  malformed_digest   password_digest         1  5",
    ]


def test_errors_csv_and_summary_json(tmp_path: Path) -> None:
    """errors.csv has one line per (row, reason) in UTF-8; summary.json has the counts."""
    users, toml = _write(tmp_path, BAD)
    _run(users, "--mapping", toml, "--out", tmp_path / "out")
    with (tmp_path / "out" / "errors.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["row"], r["key"], r["field"], r["code"]) for r in rows] == [
        ("3", "u2", "email_address", "invalid_email"),
        ("5", "u3", "password_digest", "malformed_digest"),
        ("5", "u3", "created_at", "future_timestamp"),
        ("5", "u3", "email_address", "duplicate_email"),
        ("6", "u4", "created_at", "invalid_timestamp"),
    ]
    assert rows[0]["message"].startswith("email_address is not a valid, routable email address")
    assert not (tmp_path / "out" / "errors.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["read"] == 4
    assert (summary["valid"], summary["invalid"], summary["skipped_empty"]) == (1, 3, 1)
    assert summary["reasons"][0] == {
        "reason": "duplicate_email",
        "field": "email_address",
        "rows": 1,
        "examples": [5],
    }


def test_json_flag_prints_the_summary(tmp_path: Path) -> None:
    """--json prints the summary (and where the reports are) as JSON and nothing else."""
    users, toml = _write(tmp_path, BAD)
    result = _run(users, "--mapping", toml, "--out", tmp_path / "out", "--json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["invalid"] == 3
    assert data["reports"]["errors"] == str(tmp_path / "out" / "errors.csv")
    assert [r["reason"] for r in data["reasons"]][:2] == ["duplicate_email", "future_timestamp"]


def test_preview_masks_secrets(tmp_path: Path) -> None:
    """--preview prints the bodies as they would be sent, with the digest masked."""
    users, toml = _write(tmp_path, GOOD)
    result = _run(users, "--mapping", toml, "--out", tmp_path / "out", "--preview", "1")
    assert result.exit_code == 0
    head = result.stdout.split("\n\n")[0]
    assert head.splitlines()[0] == "row 2 (key u1):"
    body = json.loads(head.split("\n", 1)[1])
    assert body == {
        "external_id": "u1",
        "email_address": ["ada@example.com"],
        "password_digest": "$2b$04$…(masked)",
        "password_hasher": "bcrypt",
        "created_at": "2020-01-02T03:04:05.000Z",
    }
    assert BCRYPT not in result.stdout


def test_no_secret_reaches_any_output(tmp_path: Path) -> None:
    """Plaintext passwords and digests appear in no report and nowhere on the terminal."""
    mapping = MAPPING.replace(
        'password_hasher = { value = "bcrypt" }',
        'password_hasher = { value = "bcrypt" }\npassword = "pw"',
    )
    data = f"id,email,hash,joined,pw\nu1,a@example.com,{BCRYPT},2020-01-01T00:00:00Z,{PLAINTEXT}\n"
    users, toml = _write(tmp_path, data, mapping)
    result = _run(users, "--mapping", toml, "--out", tmp_path / "out", "--preview", "1", "--json")
    assert result.exit_code == 3  # password and digest together
    texts = [result.output] + [
        p.read_text(encoding="utf-8-sig") for p in (tmp_path / "out").iterdir()
    ]
    for text in texts:
        assert BCRYPT[7:] not in text
        assert PLAINTEXT not in text


def test_default_out_dir_is_beside_the_input(tmp_path: Path) -> None:
    """Without --out the reports go to <input stem>.validation/ next to the input."""
    users, toml = _write(tmp_path, GOOD)
    assert _run(users, "--mapping", toml).exit_code == 0
    assert (tmp_path / "users.validation" / "summary.json").is_file()


def test_missing_input_exits_1(tmp_path: Path) -> None:
    """An input that does not exist is an error naming it, exit 1, no traceback."""
    _, toml = _write(tmp_path, GOOD)
    result = _run(tmp_path / "missing.csv", "--mapping", toml)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'missing.csv'}: no such file\n"


def test_bad_mapping_exits_1_listing_every_problem(tmp_path: Path) -> None:
    """A mapping with problems is refused before reading, every problem listed, exit 1."""
    bad = '[fields]\nemail_adress = "email"\nexternal_id = { colum = "id" }\n'
    users, toml = _write(tmp_path, GOOD, bad)
    result = _run(users, "--mapping", toml)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {toml}: 3 problem(s) in the mapping"
    assert lines[1].startswith(f"  {toml}: fields.email_adress: unknown CreateUser field")
    assert lines[2].startswith(f"  {toml}: fields.external_id.colum: unknown key; allowed:")
    assert "Traceback" not in result.output


def test_unreadable_out_dir_exits_1(tmp_path: Path) -> None:
    """When the report directory cannot be written the command says so and exits 1."""
    users, toml = _write(tmp_path, GOOD)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _run(users, "--mapping", toml, "--out", blocker / "sub")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {blocker / 'sub'}: cannot write the reports")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Missing option '--mapping'"),
        (("--mapping", "x", "--preview", "-1"), "Invalid value for '--preview'"),
        (("--mapping", "x", "--delimiter", ";;"), "--delimiter must be a single character"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """Wrong options exit 2 with click's or our message."""
    users, _ = _write(tmp_path, GOOD)
    result = _run(users, *args)
    assert result.exit_code == 2
    assert message in result.stderr


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


def test_join_by_name_or_bare_path(tmp_path: Path) -> None:
    """--join NAME=FILE and a bare --join FILE both feed the join; a wrong name is usage."""
    users, toml = _write(tmp_path, "id,email\nu1,a@example.com\n", JOIN_MAPPING)
    hashes = tmp_path / "hashes.csv"
    hashes.write_text(f"user,hash\nu1,{BCRYPT}\n")
    assert _run(users, "-m", toml, "--join", f"hashes={hashes}").exit_code == 0
    assert _run(users, "-m", toml, "--join", hashes).exit_code == 0
    wrong = _run(users, "-m", toml, "--join", f"pw={hashes}")
    assert wrong.exit_code == 2
    assert wrong.stderr == "Error: --join names pw; the mapping's joins: hashes\n"
    missing = _run(users, "-m", toml)
    assert missing.exit_code == 2
    assert "pass --join hashes=FILE" in missing.stderr


def test_ctrl_c_exits_130_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during validation prints one line and exits 130, leaving no half-written report."""
    from migrate._internal.api import validating  # noqa: PLC0415

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(validating, "prepare_input", interrupted)
    users, toml = _write(tmp_path, GOOD)
    result = _run(users, "--mapping", toml, "--out", tmp_path / "out")
    assert result.exit_code == 130
    assert result.stderr == "Error: interrupted; no report was written\n"
    assert not (tmp_path / "out").exists()


def test_cli_formats_match_the_readers() -> None:
    """The --format choices (kept apart so that loading a command skips polars) are the readers'."""
    from migrate._internal.sources import FORMATS  # noqa: PLC0415
    from migrate.cli import _options  # noqa: PLC0415

    assert _options.FORMATS == FORMATS


def test_validate_does_not_load_the_runner() -> None:
    """Loading the validate command imports neither the runner nor httpx (start-up cost)."""
    code = (
        "import sys, migrate.cli.validate; "
        "print(sorted(m for m in ('migrate._internal.runner', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_redact_emails_masks_keys_that_are_addresses(tmp_path: Path) -> None:
    """With --redact-emails, errors.csv shows p…@domain for keys that are email addresses."""
    users, toml = _write(tmp_path, BAD, MAPPING.replace('key = "id"', 'key = "email"'))
    result = _run(users, "-m", toml, "--redact-emails")
    assert result.exit_code == 3
    text = (tmp_path / "users.validation" / "errors.csv").read_text(encoding="utf-8-sig")
    keys = [r["key"] for r in csv.DictReader(text.splitlines())]
    assert set(keys) == {"nope", "A…@example.com", "c…@example.com"}
    assert "ADA@" not in text
    assert "cy@" not in text
    plain = _run(users, "-m", toml)
    assert "ADA@example.com" in (tmp_path / "users.validation" / "errors.csv").read_text()
    assert plain.exit_code == 3
