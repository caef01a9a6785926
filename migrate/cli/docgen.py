"""Render the CLI reference (docs/cli.md) from the commands' own ``--help``.

``uv run python -m migrate.cli.docgen > docs/cli.md`` regenerates it; a test fails when the file
and the commands disagree, so the reference cannot drift from the code.
"""

from __future__ import annotations

import click

from migrate.cli import main

__all__ = ["render_reference"]

_HEADER = """# CLI reference

Generated from each command's `--help` by `uv run python -m migrate.cli.docgen > docs/cli.md`;
a test checks that this file matches the code.
"""


def _help_text(command: click.Command, path: list[str]) -> str:
    with click.Context(
        command, info_name=" ".join(path), terminal_width=100, help_option_names=["-h", "--help"]
    ) as ctx:
        return command.get_help(ctx)


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        with click.Context(command, info_name=path[-1]) as ctx:
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None:
                    found += _walk(sub, [*path, name])
    return found


def render_reference() -> str:
    """Return the Markdown reference of every command, in command order."""
    parts = [_HEADER]
    for path, command in _walk(main, ["clerk-migrate"]):
        parts.append(f"\n## `{' '.join(path)}`\n\n```text\n{_help_text(command, path)}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    click.echo(render_reference(), nl=False)
