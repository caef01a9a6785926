"""The README's examples stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from migrate._internal.mapping import parse_mapping
from migrate.cli import COMMANDS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_mapping_example_parses() -> None:
    """The TOML example in the README is a valid mapping."""
    block = re.search(r"```toml\n(.*?)```", README, re.S)
    assert block is not None
    spec = parse_mapping(block.group(1), {}, file="README.md")
    assert spec.field_spec("email_address") is not None
    assert spec.field_spec("private_metadata") is not None


def test_readme_quick_start_is_two_commands() -> None:
    """The quick start shows exactly two commands: a sandbox migration and the tests."""
    section = README.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = re.search(r"```sh\n(.*?)```", section, re.S)
    assert commands is not None
    lines = commands.group(1).strip().splitlines()
    assert len(lines) == 2
    assert "--sandbox" in lines[0]
    assert lines[1] == "uv run pytest"


def test_readme_commands_exist() -> None:
    """Every ``clerk-migrate <command>`` the README mentions is a real command."""
    named = set(re.findall(r"clerk-migrate ([a-z]+)", README))
    assert named <= set(COMMANDS), named - set(COMMANDS)
