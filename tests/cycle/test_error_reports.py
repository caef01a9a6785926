"""validate's and run's errors.csv agree: the duplicate pointer and the encoding."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from cycle_cli import read_csv, run, write_csv

from migrate.cli import main
from migrate.sandbox import SandboxHandle


def test_run_and_validate_name_the_row_that_has_it_first(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A duplicate's line in run's errors.csv, like validate's, ends with the row holding the
    value first; neither file starts with a byte-order mark."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"], ["u2", "a@example.com"]])
    run(sandbox, path)
    validated = CliRunner().invoke(
        main, ["validate", str(path), "--mapping", str(tmp_path / "map.toml"),
               "--out", str(tmp_path / "v")],
    )  # fmt: skip
    assert validated.exit_code == 3, validated.output
    ran = read_csv(tmp_path / "users.clerk-migrate" / "errors.csv")
    checked = read_csv(tmp_path / "v" / "errors.csv")
    assert ran[0]["message"] == checked[0]["message"]
    assert ran[0]["message"].endswith("Row 2 has it first.")
    for report in (tmp_path / "users.clerk-migrate" / "errors.csv", tmp_path / "v" / "errors.csv"):
        assert not report.read_bytes().startswith(b"\xef\xbb\xbf"), report


def test_validate_and_run_write_one_layout(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """validate's and run's errors.csv have the same header, and an invalid row's line reads
    the same in both (value and duplicate pointer included) but for the next step (hint)."""
    path = write_csv(
        tmp_path / "users.csv", [["u1", "a@example.com"], ["u2", "a@example.com"], ["u3", "bad"]]
    )
    run(sandbox, path)
    validated = CliRunner().invoke(
        main, ["validate", str(path), "--mapping", str(tmp_path / "map.toml"),
               "--out", str(tmp_path / "v")],
    )  # fmt: skip
    assert validated.exit_code == 3, validated.output
    ran_file = tmp_path / "users.clerk-migrate" / "errors.csv"
    checked_file = tmp_path / "v" / "errors.csv"
    header = "row,key,email,stage,field,code,value,message,hint\n"
    assert ran_file.read_text().splitlines(keepends=True)[0] == header
    assert checked_file.read_text().splitlines(keepends=True)[0] == header
    ran, checked = read_csv(ran_file), read_csv(checked_file)
    same = ("row", "key", "email", "stage", "field", "code", "value", "message")
    assert [[line[c] for c in same] for line in ran] == [
        [line[c] for c in same] for line in checked
    ]
    assert [(line["row"], line["code"]) for line in checked] == [
        ("3", "duplicate_email"), ("4", "invalid_email"),
    ]  # fmt: skip
    assert checked[0]["stage"] == "validation"
    assert checked[0]["message"].endswith("Row 2 has it first.")
    assert [line["value"] for line in checked] == ["a@example.com", "bad"]
    assert "validate it again" in checked[0]["hint"]
    assert "clerk-migrate retry RUN_DIR --input FIXED_FILE" in ran[0]["hint"]


def test_validate_shows_the_offending_value_masked_when_secret(tmp_path: Path) -> None:
    """validate's errors.csv shows each offending value as mapped: a password shows as
    [hidden], a digest keeps only its scheme, a long value is cut at 200 characters, and
    --redact-emails masks the addresses in it."""
    long_name = "x" * 300
    (tmp_path / "users.csv").write_text(
        "id,email,hash,pw,first\n"
        "u1,not-an-email,,,\n"
        "u2,b@example.com,$2b$10$abcdefghijklmnopqrstu,,\n"
        "u3,c@example.com,,hunter2,\n"
        f"u4,d@example.com,,,{long_name}\n"
        "u5,b@example.com,,,\n"
    )
    (tmp_path / "map.toml").write_text(
        '[source]\nformat = "csv"\nkey = "id"\n[fields]\nexternal_id = "id"\n'
        'email_address = "email"\npassword_digest = "hash"\n'
        'password_hasher = { value = "bcrypt" }\npassword = "pw"\nfirst_name = "first"\n'
    )

    def validate(out: str, *extra: str) -> dict[tuple[str, str], str]:
        result = CliRunner().invoke(
            main, ["validate", str(tmp_path / "users.csv"), "--mapping",
                   str(tmp_path / "map.toml"), "--out", str(tmp_path / out), *extra],
        )  # fmt: skip
        assert result.exit_code == 3, result.output
        text = (tmp_path / out / "errors.csv").read_text()
        assert "abcdefghijklmnop" not in text
        assert "hunter2" not in text
        return {(r["row"], r["field"]): r["value"] for r in read_csv(tmp_path / out / "errors.csv")}

    values = validate("v")
    assert values[("2", "email_address")] == "not-an-email"
    assert values[("3", "password_digest")] == "$2b$10$…(masked)"
    assert values[("4", "password")] == "[hidden]"
    assert values[("5", "first_name")] == "x" * 199 + "…"
    assert values[("6", "email_address")] == "b@example.com"
    redacted = validate("r", "--redact-emails")
    assert redacted[("6", "email_address")] == "b…@example.com"
