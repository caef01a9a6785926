"""The package skeleton: CLI entry points, secrets masking, atomic writes, the error tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from migrate._internal.reports.atomic import atomic_open, atomic_write_text
from migrate._internal.secrets import MASK, Secret, mask_digest
from migrate.cli import COMMANDS, main
from migrate.cli.docgen import render_reference
from migrate.errors import MappingError, MappingProblem


def test_every_command_has_help() -> None:
    """Each registered command loads and prints a help text with a summary line."""
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(main, [name, "--help"])
        if result.exit_code == 2 and "No such command" in result.output:
            pytest.fail(f"command {name!r} is registered but its module is missing")
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_python_dash_m_runs_the_cli() -> None:
    """``python -m migrate --version`` prints the version from a real subprocess."""
    out = subprocess.run(
        [sys.executable, "-m", "migrate", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("clerk-migrate, version ")


def test_secret_never_prints_itself() -> None:
    """A Secret's repr, str and f-string show only the mask."""
    s = Secret("sk_test_supersecret")
    assert "supersecret" not in repr(s)
    assert "supersecret" not in str(s)
    assert "supersecret" not in f"{s} {s!r}"
    assert s.reveal() == "sk_test_supersecret"


@pytest.mark.parametrize(
    ("digest", "shown"),
    [
        ("$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "$2b$10$…(masked)"),
        ("$argon2id$v=19$m=64,t=4,p=8$Z2liZXJyaXNo$iGXEpMBTDYQ8G", "$argon2id$v=19$…(masked)"),
        ("pbkdf2_sha256$600000$salt$hash=", "pbkdf2_sha256$…(masked)"),
        (
            "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz$c2FsdA==$k$s$8$14",
            "…(masked)",
        ),
        ("5f4dcc3b5aa765d61d8327deb882cf99", "…(masked)"),
    ],
)
def test_mask_digest_keeps_only_the_scheme(digest: str, shown: str) -> None:
    """Masking keeps the algorithm and cost but never the salt or hash."""
    assert mask_digest(digest) == shown


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    """A failed atomic write leaves the previous file intact and no temporary behind."""
    target = tmp_path / "r.csv"
    atomic_write_text(target, "old\n")

    def write_then_fail() -> None:
        with atomic_open(target) as handle:
            handle.write("new partial")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


def test_mapping_error_lists_every_problem() -> None:
    """A MappingError names the file and each key path with its message."""
    err = MappingError(
        "m.toml", [MappingProblem("fields.x", "unknown field"), MappingProblem("a", "b")]
    )
    assert str(err) == (
        "m.toml: 2 problem(s) in the mapping\n  m.toml: fields.x: unknown field\n  m.toml: a: b"
    )


def test_cli_reference_matches_the_code() -> None:
    """docs/cli.md is exactly what the commands' --help renders (regenerate with docgen)."""
    doc = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
    assert doc.read_text(encoding="utf-8") == render_reference(), (
        "docs/cli.md is stale: run `uv run python -m migrate.cli.docgen > docs/cli.md`"
    )


def test_mask_digest_never_keeps_a_crypt_salt() -> None:
    """A SHA-crypt digest without rounds shows only its scheme, not the salt after it."""
    assert mask_digest("$6$Zx9saltsalt$hashhashhash") == "$6$" + MASK
    assert mask_digest("$6$rounds=5000$Zx9saltsalt$hash") == "$6$rounds=5000$" + MASK
