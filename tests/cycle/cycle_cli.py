"""Helpers for the cycle tests: a CSV export with its mapping, the CLI in-process against a
real-socket sandbox, and what the run directory and the sandbox hold."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner, Result

from migrate.cli import main
from migrate.sandbox import SandboxHandle

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = "email"
"""


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    """A CSV export with a header ``id,email`` and ``rows``; the mapping beside it."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email"])
        writer.writerows(rows)
    (path.parent / "map.toml").write_text(MAPPING)
    return path


def invoke(handle: SandboxHandle, *args: str) -> Result:
    """The CLI in-process with the sandbox's URL and key in the environment."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    return CliRunner().invoke(main, [*args, "--rate", "2000"], env=env, catch_exceptions=False)


def run(handle: SandboxHandle, path: Path) -> Result:
    """``clerk-migrate run`` with the mapping beside the input."""
    return invoke(handle, "run", str(path), "--mapping", str(path.parent / "map.toml"), "-q")


def users(handle: SandboxHandle) -> dict[str | None, tuple[str, ...]]:
    """The sandbox's users: external_id -> emails."""
    return {u.external_id: u.emails for u in handle.store}


def counts(run_dir: Path) -> dict[str, int]:
    """Rows per state in summary.json."""
    return dict(json.loads((run_dir / "summary.json").read_text())["counts"])


def read_csv(path: Path) -> list[dict[str, str]]:
    """A report's rows as dicts."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))
