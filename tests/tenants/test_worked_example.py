"""docs/mapping.md's worked example of the generic tenant shape is what the tool does."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import migrate
from migrate._internal.api.validating import read_tenants
from migrate._internal.prepare import prepare_input

DOC = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"


def section() -> str:
    """The worked example's text, up to the next heading."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("### A worked example: the generic shape")
    end = text.index("\n## ", start)
    return text[start:end]


def files(tmp_path: Path) -> Path:
    """The example's four files, each the code block after its name; the users file's path."""
    text = section()
    for name in ("users.csv", "organizations.csv", "memberships.csv", "mapping.toml"):
        found = re.search(rf"`{re.escape(name)}`[^\n]*\n```[a-z]*\n(.*?)```", text, re.DOTALL)
        assert found, name
        (tmp_path / name).write_text(found.group(1), encoding="utf-8")
    return tmp_path / "users.csv"


def test_validate_reports_what_the_example_shows(tmp_path: Path) -> None:
    """The counts and the two error lines the example prints are validate's."""
    path = files(tmp_path)
    result = migrate.validate(path, tmp_path / "mapping.toml", out_dir=tmp_path / "out")
    assert result.summary["organizations"] == {"read": 3, "valid": 3, "invalid": 0}
    assert result.summary["memberships"] == {"read": 6, "valid": 4, "invalid": 2}
    with result.errors_csv.open(encoding="utf-8", newline="") as handle:
        lines = [(r["row"], r["key"], r["field"], r["code"], r["message"])
                 for r in csv.DictReader(handle)]  # fmt: skip
    text = section()
    for row, key, field, code, message in lines:
        assert f"| {row} | `{key}` | `{field}` | `{code}` | {message} |" in text


def test_the_organization_body_is_the_one_shown(tmp_path: Path) -> None:
    """acme's POST /v1/organizations body in the example is the one the run sends."""
    path = files(tmp_path)
    prepared = prepare_input(path, tmp_path / "mapping.toml", {}, ())
    bodies = {key: body for _, key, body in read_tenants(prepared, path, None, None)
              .organization_payloads()}  # fmt: skip
    shown = re.search(r"```json\n(.*?)```", section(), re.DOTALL)
    assert shown
    assert bodies["acme"] == json.loads(shown.group(1))
    assert bodies["globex"]["private_metadata"] == {"crm_id": 4411, "legacy_key": "globex"}
    assert [b["slug"] for b in bodies.values()] == ["acme", "globex-corp", "initech"]
    assert all("created_by" not in b for b in bodies.values())
