"""Every line the CLI prints passes through ``secrets.redact``: notices, warnings, summaries,
hints and questions, not only errors. The library's results are stuffed with a digest, a TOTP
secret and a secret key in every text they carry; none may reach stdout or stderr."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile_cases import DIGEST, SECRET_KEY, TOTP, assert_no_secret

import migrate
import migrate.cli
from migrate._internal.api.results import (
    CodeCount,
    PassFigures,
    ReportResult,
    RollbackResult,
    RunResult,
    RunSummary,
    VerifyResult,
)
from migrate._internal.api.sync import SyncResult
from migrate._internal.runner.aftercare import Mismatch, PasswordCheck
from migrate.cli import main

LEAK = f"password={DIGEST} totp {TOTP} key {SECRET_KEY} hash {DIGEST}"
CLI = Path(migrate.cli.__file__).parent
# The one module that prints; everything else calls its helpers.
PRINTER = CLI / "_common.py"


def _summary(tmp_path: Path) -> RunSummary:
    counts = {"created": 1, "failed": 2, "pending": 3, "in_flight": 4, "invalid": 0, "exists": 0}
    codes = (CodeCount("failed", LEAK, 2),)
    return RunSummary(tmp_path / LEAK, counts, codes, (tmp_path / f"{LEAK}.csv",), {"failed": 1})


def _figures() -> PassFigures:
    return PassFigures(
        created=1, exists=0, failed=2, seconds=3.0, requests=9, achieved_rate=3.0, rate=9.0,
        rate_limited=1, retries=2, reconciled_found=1, reconciled_released=1, outages=1,
        outage_seconds=2.0, upserted={LEAK: 1}, upsert_requests=2,
        upsert_failures=((LEAK, 7, LEAK, LEAK),),
    )  # fmt: skip


def _pass(tmp_path: Path) -> Callable[..., RunResult]:
    """A fake ``run`` / ``retry``: says a notice and returns a result full of secrets."""

    def fake(*args: Any, **options: Any) -> RunResult:
        options["on_notice"](f"Warning: {LEAK}")
        return RunResult(_summary(tmp_path), _figures(), False, False, LEAK, LEAK, (LEAK,))

    return fake


def _sync(tmp_path: Path) -> Callable[..., SyncResult]:
    def fake(*args: Any, **options: Any) -> SyncResult:
        counts = dict.fromkeys(("new", "changed", "unchanged", "unknown", "invalid", "gone"), 1)
        return SyncResult(
            counts, {LEAK: 1}, tmp_path / LEAK, tmp_path / "s.json", False, (LEAK,),
            {LEAK: 1}, 3, ((LEAK, 4, LEAK, LEAK, LEAK),),
        )  # fmt: skip

    return fake


def _verify(tmp_path: Path) -> Callable[..., VerifyResult]:
    def fake(*args: Any, **options: Any) -> VerifyResult:
        mismatch = Mismatch(5, LEAK, LEAK, LEAK, LEAK, LEAK)
        return VerifyResult(1, (mismatch,), (PasswordCheck(LEAK, LEAK, False, LEAK),),
                            tmp_path / LEAK)  # fmt: skip

    return fake


def _rollback(tmp_path: Path) -> Callable[..., RollbackResult]:
    def fake(*args: Any, **options: Any) -> RollbackResult:
        options["confirm"](LEAK, 3)
        return RollbackResult(3, 1, 1, ((LEAK, LEAK, LEAK),), _summary(tmp_path), LEAK)

    return fake


def _report(tmp_path: Path) -> Callable[..., ReportResult]:
    def fake(*args: Any, **options: Any) -> ReportResult:
        return ReportResult(_summary(tmp_path))

    return fake


COMMANDS: dict[str, tuple[str, Callable[[Path], Callable[..., Any]], list[str]]] = {
    "run": ("run", _pass, ["run", "in.csv", "-m", "m.toml", "--sandbox", "-q"]),
    "retry": ("retry", _pass, ["retry", "{dir}", "--sandbox", "-q"]),
    "sync": ("sync", _sync, ["sync", "in.csv", "-m", "m.toml", "--run-dir", "{dir}", "--sandbox"]),
    "verify": ("verify", _verify, ["verify", "{dir}", "--sandbox"]),
    "rollback": ("rollback", _rollback, ["rollback", "{dir}", "--sandbox", "--yes"]),
    "report": ("report", _report, ["report", "{dir}"]),
}


@pytest.mark.parametrize("name", COMMANDS)
def test_no_secret_in_anything_a_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Whatever text the library hands back (notices, codes, messages, keys, paths, questions),
    the command's stdout and stderr carry none of the secrets in it."""
    attribute, fake, args = COMMANDS[name]
    monkeypatch.setattr(migrate, attribute, fake(tmp_path))
    argv = [a.replace("{dir}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(main, argv, catch_exceptions=False)
    assert result.output.strip(), "the command printed nothing: the test would prove nothing"
    assert "(masked)" in result.output
    assert_no_secret(result.stdout, result.stderr)


def _prints(tree: ast.AST) -> list[int]:
    """Lines calling click.echo / secho / confirm / prompt, or print."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.value.id == "click" and func.attr in {"echo", "secho", "confirm", "prompt"}:
                found.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id == "print":
            found.append(node.lineno)
    return found


def test_only_the_printing_helpers_print() -> None:
    """No CLI module but ``_common`` calls click.echo / confirm / print itself, so every line
    goes through the helpers that redact it (and only they may print a verbatim document)."""
    offenders = {
        path.name: lines
        for path in sorted(CLI.glob("*.py"))
        if path != PRINTER and path.name != "docgen.py"
        for lines in [_prints(ast.parse(path.read_text()))]
        if lines
    }
    assert offenders == {}
    assert _prints(ast.parse(PRINTER.read_text()))
