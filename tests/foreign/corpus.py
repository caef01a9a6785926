"""The foreign-export corpus: each fixture in tests/fixtures/foreign/ and its expected outcome.

A fixture ``<system>/<file>`` has a sibling ``<file>.expected.json`` written from the source
system's documented export semantics (see tests/fixtures/foreign/README.md): the preset, extra
CLI options, join files, environment, and per row the verdict (valid with the exact CreateUser
body and, when the user had one, the plaintext password; invalid with reasons; skipped with a
reason), plus the per-row warnings. ``xfail`` names, per test, the engine feature a case still
waits for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

FOREIGN = Path(__file__).resolve().parents[1] / "fixtures" / "foreign"
SUFFIX = ".expected.json"


@dataclass(frozen=True)
class Fixture:
    """One foreign export, the preset it is read with, and what must come of each row."""

    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.path.relative_to(FOREIGN))

    @property
    def system(self) -> str:
        return str(self.data["system"])

    @property
    def mapping(self) -> str:
        return str(self.data["mapping"])

    @property
    def env(self) -> dict[str, str]:
        return dict(self.data["env"])

    def cli_args(self) -> list[str]:
        """The input, the preset, the join files and any extra options (encoding, delimiter)."""
        args = [str(self.path), "--mapping", self.mapping, *self.data["args"]]
        for name, rel in self.data["joins"].items():
            args += ["--join", f"{name}={FOREIGN / rel}"]
        return args

    def rows(self, verdict: str) -> list[dict[str, Any]]:
        return [r for r in self.data["rows"] if r["verdict"] == verdict]

    def xfail(self, test: str) -> str | None:
        reason = self.data.get("xfail", {}).get(test)
        return str(reason) if reason else None


def fixtures() -> list[Fixture]:
    """Every fixture of the corpus, in path order."""
    found = []
    for expected in sorted(FOREIGN.rglob(f"*{SUFFIX}")):
        data = json.loads(expected.read_text("utf-8"))
        found.append(Fixture(expected.with_name(expected.name.removesuffix(SUFFIX)), data))
    return found


def params(test: str) -> list[Any]:
    """The fixtures as pytest params; a case waiting for an engine feature is a strict xfail."""
    out = []
    for fx in fixtures():
        reason = fx.xfail(test)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(fx, id=fx.id, marks=marks))
    return out


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def normalised(body: dict[str, Any]) -> dict[str, Any]:
    """A CreateUser body with equivalent spellings made equal.

    Clerk reads these the same way, so the corpus does not pin one spelling: ``created_at`` as
    an instant to the millisecond (Clerk keeps milliseconds), an identification-status list of
    only ``verified`` as no list (every address is verified by default), an empty metadata
    object as none (Clerk's default), and ``skip_password_requirement`` when the body carries a
    password anyway.
    """
    out = dict(body)
    for field in ("created_at", "legal_accepted_at"):
        if isinstance(out.get(field), str):
            instant = _instant(out[field])
            out[field] = instant.replace(microsecond=instant.microsecond // 1000 * 1000)
    for field in ("public_metadata", "private_metadata", "unsafe_metadata"):
        if out.get(field) == {}:
            del out[field]
    for field in ("email_address_identification_status", "phone_number_identification_status"):
        if out.get(field) is not None and set(out[field]) <= {"verified"}:
            del out[field]
    if "password_digest" in out or "password" in out:
        out.pop("skip_password_requirement", None)
    return out


def body_differences(got: dict[Any, dict[str, Any]], want: dict[Any, dict[str, Any]]) -> list[str]:
    """One line per user or field that differs (digests are named, never printed)."""
    lines = [f"{k}: not sent" for k in want.keys() - got.keys()]
    lines += [f"{k}: sent but not expected" for k in got.keys() - want.keys()]
    for k in sorted(want.keys() & got.keys(), key=str):
        for field in sorted(want[k].keys() | got[k].keys()):
            a, b = got[k].get(field, "<absent>"), want[k].get(field, "<absent>")
            if a != b:
                shown = ("<digest>", "<digest>") if field == "password_digest" else (a, b)
                lines.append(f"{k}: {field}: sent {shown[0]!r}, expected {shown[1]!r}")
    return lines
