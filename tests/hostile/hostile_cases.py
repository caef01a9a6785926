"""Hostile-input helpers: a small export with secrets in it, CLI runners, secret checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner, Result

from migrate.cli import main
from migrate.sandbox import SandboxHandle

# A real-shaped bcrypt digest, TOTP secret and secret key: none may appear in any output.
DIGEST = "$2b$04$cRNDF6i9lQEHq9UqOe0VV.N6JThovoaX4qShm12HuL4fdm5GHo7Lu"
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SECRET_KEY = "sk_live_hostileKEY0123456789abcdefXYZ"
SECRETS = (DIGEST, DIGEST[7:], TOTP, SECRET_KEY, SECRET_KEY[8:])

MAPPING = """\
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = { column = "email", transform = ["strip", "lower"] }
first_name = "first"
password_digest = "hash"
password_hasher = { value = "bcrypt" }
totp_secret = "totp"
"""
HEADER = "id,email,first,hash,totp"


def lines(n: int, start: int = 1) -> list[str]:
    """``n`` valid CSV data lines (ids ``u<start>``…), each holding the digest and TOTP secret."""
    return [f"u{i},user{i}@example.com,Name{i},{DIGEST},{TOTP}" for i in range(start, start + n)]


def csv_bytes(n: int, eol: str | Sequence[str] = "\n") -> bytes:
    """A header and ``n`` rows; ``eol`` is one line end, or a cycle of them (mixed)."""
    ends = [eol] if isinstance(eol, str) else list(eol)
    records = [HEADER, *lines(n)]
    return "".join(r + ends[i % len(ends)] for i, r in enumerate(records)).encode()


def validate(path: Path, mapping: Path, *extra: str) -> Result:
    """``clerk-migrate validate`` in-process (reports beside the input)."""
    args = ["validate", str(path), "--mapping", str(mapping), *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def run(handle: SandboxHandle, path: Path, mapping: Path, *extra: str) -> Result:
    """``clerk-migrate run`` in-process against a sandbox on a real socket."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    args = ["run", str(path), "--mapping", str(mapping), "--rate", "2000", "--quiet", *extra]
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def assert_no_secret(*texts: str) -> None:
    """None of the hostile secrets (or their secret parts) is in any of ``texts``."""
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def files_text(directory: Path) -> str:
    """Every file under ``directory`` as text (bytes decoded leniently), concatenated."""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace")
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    )
