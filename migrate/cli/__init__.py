"""The ``clerk-migrate`` command line: one module per command, loaded lazily.

Commands are imported only when invoked, so ``clerk-migrate sandbox`` never pays for polars and
``--help`` stays fast. Each module exposes a click command (or group) named ``command``.
The CLI is the only layer that prints or picks an exit code (see ``migrate.cli._common``).
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Final

import click

from migrate import __version__
from migrate._internal.secrets import redact

__all__ = ["COMMANDS", "main"]

# command name -> module under migrate.cli holding ``command``
COMMANDS: Final[dict[str, str]] = {
    "validate": "validate",
    "check": "check",
    "run": "run",
    "retry": "retry",
    "report": "report",
    "verify": "verify",
    "rollback": "rollback",
    "sync": "sync",
    "mapping": "mapping",
    "sandbox": "sandbox",
}


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; click's own errors are redacted too (a key given as an argument)."""
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = redact(exc.message)  # type: ignore[misc]  # Final in the stubs only
            raise

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module = importlib.import_module(f"migrate.cli.{COMMANDS[cmd_name]}")
        command: click.Command = module.command
        return command


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"migrate.cli.{COMMANDS[name]}") is not None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clerk-migrate")
def main() -> None:
    """Move users from a legacy auth system into Clerk.

    Validate an export offline, rehearse against the built-in sandbox, then create every user in
    Clerk at the instance's rate limit with a checkpoint that survives crashes.
    """
