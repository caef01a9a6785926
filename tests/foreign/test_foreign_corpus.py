"""The foreign corpus itself: every system has its variants, every file its provenance."""

from __future__ import annotations

import shlex
from collections import Counter

from corpus import FOREIGN, SUFFIX, fixtures

from migrate._internal.mapping.load import load_mapping
from migrate._internal.mapping_init import init_mapping

SYSTEMS = {
    "auth0", "firebase", "supabase", "cognito", "django", "wordpress", "keycloak", "laravel",
    "devise", "aspnet-identity", "clerk",
}  # fmt: skip


def test_every_system_has_at_least_three_variants() -> None:
    """Each of the eleven systems has three or more foreign exports with expected outcomes."""
    per_system = Counter(fx.system for fx in fixtures())
    assert set(per_system) == SYSTEMS
    assert min(per_system.values()) >= 3, per_system


def test_every_file_has_a_provenance_line() -> None:
    """Each data file of the corpus (exports and join files) is named in the README's table."""
    readme = (FOREIGN / "README.md").read_text("utf-8")
    files = [p for p in FOREIGN.rglob("*") if p.is_file() and p.name != "README.md"]
    missing = [
        str(p.relative_to(FOREIGN))
        for p in files
        if not p.name.endswith(SUFFIX) and f"`{p.relative_to(FOREIGN)}`" not in readme
    ]
    assert files
    assert not missing


def test_expected_files_name_a_preset_and_existing_joins() -> None:
    """Each expected.json names a preset, its join files exist, its row numbers are unique."""
    for fx in fixtures():
        load_mapping(fx.mapping, fx.env)
        for rel in fx.data["joins"].values():
            assert (FOREIGN / rel).is_file(), (fx.id, rel)
        rows = [r["row"] for r in fx.data["rows"]]
        assert len(rows) == len(set(rows)), fx.id
        assert all(r["verdict"] in {"valid", "invalid", "skipped"} for r in fx.data["rows"])


def test_mapping_init_names_each_exports_preset_and_reading_options() -> None:
    """mapping init recognises every foreign export as its preset, with the options it needs."""
    for fx in fixtures():
        result = init_mapping(fx.path)
        assert result.recognition is not None, fx.id
        assert result.recognition.preset == fx.mapping, fx.id
        suggested = shlex.split(result.summary.splitlines()[0].split("Use the preset: ")[1])
        assert suggested == ["--mapping", fx.mapping, *fx.data["args"]], fx.id
