"""Messages that quote input show no secret and stay short; decoded copies outlive no process."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_cases import DIGEST, SECRET_KEY, TOTP, assert_no_secret, csv_bytes, lines, validate

from migrate._internal.secrets import LINE_LIMIT, MASK, redact
from migrate._internal.sources import copies
from migrate.cli import main
from migrate.errors import MappingError, MappingProblem, SourceError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {SECRET_KEY} here", f"key sk_live_{MASK} here"),
        (f"cells: u1, {DIGEST}, x", f"cells: u1, $2b$04${MASK}, x"),
        ("pbkdf2_sha256$600000$salt$hash=", f"pbkdf2_sha256${MASK}"),
        ("$argon2id$v=19$m=65536", f"$argon2id$v=19${MASK}"),
        (f"totp {TOTP}", f"totp {MASK}"),
        ("md5 5f4dcc3b5aa765d61d8327deb882cf99", f"md5 {MASK}"),
        ('{"password": "hunter2"}', f'{{"password": "{MASK}"}}'),
        ("scrypt hash lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAy==", f"scrypt hash {MASK}"),
    ],
)
def test_redact_masks_secret_shaped_values(text: str, expected: str) -> None:
    """Keys, digests (scheme kept), TOTP secrets, hex and base64 hashes and named passwords."""
    assert redact(text) == expected


def test_redact_keeps_ordinary_text() -> None:
    """Paths, row numbers, e-mails, ids and words pass unchanged, and redacting twice is once."""
    text = (
        "/tmp/pytest-of-me/pytest-3/test_x0/Users2024.csv row 812: user_2abcDEFghi123JKLmno456 "
        "ada@example.com column 'email_verified_at' sk_live_…(masked)"
    )
    assert redact(text) == text


def test_redact_bounds_each_line() -> None:
    """A 5 MB line comes back cut to the limit; other lines keep their own length."""
    out = redact("short\n" + "x" * 5_000_000 + "\nend")
    first, long, last = out.split("\n")
    assert (first, last) == ("short", "end")
    assert len(long) == LINE_LIMIT
    assert long.endswith("…")


def test_every_migrate_error_is_redacted() -> None:
    """The error tree redacts at construction: a digest in any message is masked."""
    assert DIGEST not in str(SourceError(f"bad {DIGEST}"))
    err = MappingError("m.toml", [MappingProblem("fields.x", f"columns: {DIGEST}")])
    assert DIGEST not in str(err)
    assert "$2b$04$" in str(err)


def test_a_headerless_file_lists_no_digest_as_columns(tmp_path: Path, mapping: Path) -> None:
    """A file without its header names its first row as "columns": the digest is masked."""
    path = tmp_path / "u.csv"
    path.write_bytes("\n".join(lines(3)).encode())
    result = validate(path, mapping)
    assert result.exit_code == 1
    assert "column 'id' is not in the input; columns: u1, user1@example.com" in result.output
    assert_no_secret(result.output)


def test_a_huge_header_prints_a_bounded_message(tmp_path: Path, mapping: Path) -> None:
    """A 5 MB first line gives a few kilobytes of message, not 5 MB per problem."""
    path = tmp_path / "u.csv"
    path.write_bytes(b"id," + b"y" * 5_000_000 + b"\n1,2\n")
    result = validate(path, mapping)
    assert result.exit_code == 1
    assert len(result.output) < 20 * LINE_LIMIT


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "u.csv", "-m", "map.toml", SECRET_KEY],
        ["validate", "u.csv", "-m", SECRET_KEY],
        ["validate", "u.csv", "-m", "map.toml", "--preview", SECRET_KEY],
        ["run", "u.csv", "-m", "map.toml", "--secret-key-file", SECRET_KEY, "--yes"],
        [SECRET_KEY],
    ],
    ids=["extra_argument", "mapping", "bad_option_value", "key_file", "command"],
)
def test_a_key_given_as_an_argument_is_never_echoed(
    tmp_path: Path, mapping: Path, args: list[str]
) -> None:
    """Wherever a key lands on the command line, the error shows ``sk_live_…(masked)``."""
    (tmp_path / "u.csv").write_bytes(csv_bytes(2))
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, args, env={"CLERK_SECRET_KEY": ""})
    finally:
        os.chdir(cwd)
    assert result.exit_code in (1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "sk_live_…(masked)" in result.output
    assert_no_secret(result.output)


_HOLDER = """
import sys, time
from migrate._internal.sources import read_source
frame = read_source(sys.argv[1]).collect()
print(frame.height, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("name", ["u.csv.gz", "latin.csv"])
def test_no_decoded_copy_is_left_in_tmpdir_after_kill_9(tmp_path: Path, name: str) -> None:
    """A process reading a gzipped or re-encoded input, killed with -9, leaves no copy behind."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    path = tmp_path / name
    data = csv_bytes(20, "\r")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data + b"caf\xe9\n")
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert int(child.stdout.readline()) >= 20  # the copy has been made and read
        assert list(tmpdir.rglob("*")) == []  # nothing named, even while it runs
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert list(tmpdir.rglob("*")) == []


def test_named_copies_are_private_and_swept_by_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without unnamed files, copies sit in a 0700 directory; a dead process's is swept."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(copies, "_proc_fd_works", lambda: False)
    monkeypatch.setattr(copies, "_private", [])
    dead = tmp_path / "clerk-migrate-999999999-old"
    dead.mkdir()
    (dead / "copy.txt").write_text(DIGEST)
    plan = tmp_path / "clerk-migrate-plan-abc"  # not a copy directory: left alone
    plan.mkdir()
    handle, path = copies.new_copy(".txt")
    handle.close()
    assert not dead.exists()
    assert plan.exists()
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.name.startswith(f"clerk-migrate-{os.getpid()}-")
