"""The samples are generated, deterministic, documented, and hold real hashes."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

from preset_cases import SAMPLES, SYSTEMS, manifest, passwords


def test_generator_reproduces_every_sample_byte_for_byte(tmp_path: Path) -> None:
    """Running samples/generate.py again writes exactly the committed files (seeded, no clock)."""
    subprocess.run(
        [sys.executable, str(SAMPLES / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    produced = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    # every committed sample file is produced (reports that validate/run leave beside an input,
    # such as *.validation/, are not samples and are ignored)
    for system in SYSTEMS:
        for name in [*manifest(system)["inputs"], "expected.json", "passwords.csv"]:
            assert Path(system, name) in produced
    for rel in produced:
        assert filecmp.cmp(tmp_path / rel, SAMPLES / rel, shallow=False), rel


def test_readme_lists_every_plaintext_password() -> None:
    """samples/README.md shows each sample user's password (| escaped as in a Markdown table)."""
    readme = (SAMPLES / "README.md").read_text("utf-8")
    for system in SYSTEMS:
        for key, password in passwords(system).items():
            assert f"| `{key.replace('|', chr(92) + '|')}` | `{password}` |" in readme


def test_every_bad_row_is_explained() -> None:
    """Each deliberately bad row has a reason code and a sentence saying why it is there."""
    for system in SYSTEMS:
        bad = manifest(system)["bad_rows"]
        assert len(bad) >= 3, system
        assert all(row["reasons"] and row["why"] for row in bad), system


def test_samples_are_realistically_sized() -> None:
    """Every sample holds 20 to 60 users, most of them with a password."""
    for system in SYSTEMS:
        m = manifest(system)
        assert 20 <= m["total_rows"] <= 60, system
        assert len(m["created_with_password"]) > len(m["created_without_password"]), system


def test_docs_hash_config_snippet_exports_the_firebase_parameters() -> None:
    """The shell snippet in docs/presets.md turns hash_config.txt into the four variables."""
    doc = (SAMPLES.parent / "docs" / "presets.md").read_text("utf-8")
    block = doc.split("<!-- hash-config-snippet -->\n```sh\n", 1)[1].split("```", 1)[0]
    script = block + 'printf "%s\\n" "$FIREBASE_SIGNER_KEY" "$FIREBASE_SALT_SEPARATOR" '
    script += '"$FIREBASE_ROUNDS" "$FIREBASE_MEM_COST"\n'
    out = subprocess.run(
        ["bash", "-c", script],
        cwd=SAMPLES / "firebase",
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.split()
    env = manifest("firebase")["env"]
    assert out == [
        env["FIREBASE_SIGNER_KEY"],
        env["FIREBASE_SALT_SEPARATOR"],
        env["FIREBASE_ROUNDS"],
        env["FIREBASE_MEM_COST"],
    ]
