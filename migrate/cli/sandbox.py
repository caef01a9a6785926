"""``clerk-migrate sandbox``: serve a local Clerk-compatible Backend API until Ctrl-C."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click
from click.core import ParameterSource

from migrate.cli._common import echo, echo_verbatim, handle_errors
from migrate.errors import ConfigError

if TYPE_CHECKING:
    from migrate.sandbox import SandboxConfig

__all__ = ["command", "load_settings"]

# The options a settings file replaces (the instance type and the lists are not in the file's
# user settings: --instance comes from it when it says, --allow/--block add entries).
_SETTING_OPTIONS: Final = (
    "required",
    "no_phone",
    "no_username",
    "no_email",
    "no_web3",
    "no_password",
    "no_totp",
    "no_backup_codes",
    "block_subaddresses",
    "social",
    "no_organizations",
    "org_max_memberships",
    "no_org_slugs",
)


def load_settings(path: Path, base: SandboxConfig) -> SandboxConfig:
    """``base`` with the user settings of a file saved by ``check --save-settings``.

    Raises ``ConfigError`` naming the file when it cannot be read or is not an environment.
    """
    from migrate.sandbox.environment import config_from_environment  # noqa: PLC0415

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read --settings {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise ConfigError(f"--settings {path}: not JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--settings {path}: not a Clerk environment (a JSON object)")
    return config_from_environment(data, base, where=f"--settings {path}")


_REQUIRABLE = (
    "email_address",
    "phone_number",
    "username",
    "web3_wallet",
    "first_name",
    "last_name",
    "password",
)


def _describe(handle: Any) -> str:
    config = handle.app.config
    limit = config.effective_rate_limit
    cap = config.effective_user_cap
    f = config.faults
    faults = []
    if f.error_rate:
        faults.append(f"{f.error_rate:g} 5xx")
    if f.latency_mean_ms:
        faults.append(f"latency mean {f.latency_mean_ms:g} ms (sigma {f.latency_sigma:g})")
    if f.lost_rate:
        faults.append(f"{f.lost_rate:g} lost responses")
    if f.stall_rate:
        faults.append(f"{f.stall_rate:g} stalls of up to {f.stall_seconds:g} s")
    orgs = (
        f"organizations: {', '.join(config.org_roles)}"
        if config.organizations_enabled
        else ("organizations: off")
    )
    return (
        f"rate limit: {f'{limit} requests / {config.rate_window:g} s' if limit else 'off'}; "
        f"user cap: {cap or 'none'}; {orgs}; faults: {', '.join(faults) or 'none'}"
    )


@click.command(name="sandbox")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1; 0 picks a free one.",
)
@click.option(
    "--instance",
    type=click.Choice(["development", "production"]),
    default="development",
    show_default=True,
    help="Instance type: selects the key prefix (sk_test_/sk_live_), rate limit and user cap.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for ids, the generated key and faults (same seed, same run).",
)
@click.option(
    "--rate-limit",
    type=click.IntRange(min=0),
    default=None,
    help="Requests per window per key [default: 1000 production, 100 development; 0 = off].",
)
@click.option(
    "--rate-window",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Rate-limit window in seconds.",
)
@click.option(
    "--user-cap",
    type=click.IntRange(min=0),
    default=None,
    help="Most users the instance holds [default: 100 development, none production; 0 = none].",
)
@click.option(
    "--require",
    "required",
    multiple=True,
    type=click.Choice(_REQUIRABLE),
    help="A field the instance requires (repeatable).",
)
@click.option("--no-phone", is_flag=True, help="Phone numbers disabled (phone_number is refused).")
@click.option("--no-username", is_flag=True, help="Usernames disabled.")
@click.option("--no-email", is_flag=True, help="Email addresses disabled (email_address refused).")
@click.option("--no-web3", is_flag=True, help="Web3 wallets disabled (web3_wallet refused).")
@click.option("--no-password", is_flag=True, help="Password sign-in off (digests still stored).")
@click.option("--no-totp", is_flag=True, help="Authenticator apps off (totp_secret refused).")
@click.option("--no-backup-codes", is_flag=True, help="Backup codes off (backup_codes refused).")
@click.option(
    "--block-subaddresses",
    is_flag=True,
    help="Block email subaddresses (+, = or # in the local part: 403 not_allowed_access).",
)
@click.option(
    "--allow",
    "allowlist",
    multiple=True,
    metavar="ID",
    help="Allowlist entry: an email, a phone or @domain (repeatable; turns the allowlist on).",
)
@click.option(
    "--block",
    "blocklist",
    multiple=True,
    metavar="ID",
    help="Blocklist entry: an email, a phone or @domain (repeatable).",
)
@click.option(
    "--social",
    multiple=True,
    metavar="STRATEGY",
    help="An enabled social connection, e.g. oauth_google (repeatable; shown in the settings).",
)
@click.option(
    "--no-organizations",
    is_flag=True,
    help="Organizations off: every organization endpoint is 403 "
    "organization_not_enabled_in_instance.",
)
@click.option(
    "--org-role",
    "org_roles",
    multiple=True,
    metavar="KEY",
    help="An organization role of the instance, e.g. org:admin (repeatable; replaces the "
    "default org:admin and org:member; the first is the creator's role).",
)
@click.option(
    "--org-max-memberships",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Default membership limit of a new organization (0: none).",
)
@click.option(
    "--no-org-slugs",
    is_flag=True,
    help="Organization slugs off (a create naming a slug is refused).",
)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Mirror an instance: its settings as saved by 'check --save-settings' (replaces the "
    "settings options above; --allow/--block add the list entries the file cannot hold).",
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of requests answered with a 5xx.",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Mean added latency (log-normal) in milliseconds.",
)
@click.option(
    "--latency-sigma",
    type=click.FloatRange(min=0),
    default=0.8,
    show_default=True,
    help="Shape of the latency tail (0.5 mild, 1.0 long).",
)
@click.option(
    "--lost-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of creates stored but answered by closing the connection.",
)
@click.option(
    "--stall-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Fraction of requests held until the client gives up.",
)
@click.option(
    "--stall-seconds",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Longest stall.",
)
@click.option(
    "--stall-after-store", is_flag=True, help="Stalled creates store the user before stalling."
)
def command(
    *,
    port: int,
    instance: str,
    seed: int | None,
    rate_limit: int | None,
    rate_window: float,
    user_cap: int | None,
    required: tuple[str, ...],
    no_phone: bool,
    no_username: bool,
    no_email: bool,
    no_web3: bool,
    no_password: bool,
    no_totp: bool,
    no_backup_codes: bool,
    block_subaddresses: bool,
    allowlist: tuple[str, ...],
    blocklist: tuple[str, ...],
    social: tuple[str, ...],
    no_organizations: bool,
    org_roles: tuple[str, ...],
    org_max_memberships: int,
    no_org_slugs: bool,
    settings_file: Path | None,
    error_rate: float,
    latency_ms: float,
    latency_sigma: float,
    lost_rate: float,
    stall_rate: float,
    stall_seconds: float,
    stall_after_store: bool,
) -> None:
    """Serve a local Clerk-compatible Backend API on 127.0.0.1 until Ctrl-C.

    Prints the URL, a ready-to-use secret key and the publishable key (whose Frontend API,
    /v1/environment, serves the instance's settings to 'check') as export lines. Users,
    organizations and memberships live in memory only.
    """
    with handle_errors():
        from migrate.sandbox import FaultConfig, SandboxConfig, serve_forever  # noqa: PLC0415

        roles = {"org_roles": org_roles} if org_roles else {}
        config = SandboxConfig(
            **roles,  # type: ignore[arg-type]
            instance=instance,  # type: ignore[arg-type]
            seed=seed,
            rate_limit=rate_limit,
            rate_window=rate_window,
            user_cap=user_cap,
            required=frozenset(required),
            phone_enabled=not no_phone,
            username_enabled=not no_username,
            email_enabled=not no_email,
            web3_enabled=not no_web3,
            password_enabled=not no_password,
            totp_enabled=not no_totp,
            backup_codes_enabled=not no_backup_codes,
            block_email_subaddresses=block_subaddresses,
            allowlist=frozenset(allowlist),
            blocklist=frozenset(blocklist),
            social=frozenset(social),
            organizations_enabled=not no_organizations,
            org_max_memberships=org_max_memberships,
            org_slugs_disabled=no_org_slugs,
            faults=FaultConfig(
                error_rate=error_rate,
                latency_mean_ms=latency_ms,
                latency_sigma=latency_sigma,
                lost_rate=lost_rate,
                stall_rate=stall_rate,
                stall_seconds=stall_seconds,
                stall_after_store=stall_after_store,
            ),
        )

        if settings_file is not None:
            ctx = click.get_current_context()
            mixed = [
                f"--{name.replace('_', '-')}"
                for name in _SETTING_OPTIONS
                if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
            ]
            if mixed:
                raise ConfigError(
                    f"--settings replaces {', '.join(mixed)}: drop them, or edit the file"
                )
            config = load_settings(settings_file, config)

        def ready(handle: Any) -> None:
            echo(f"# Clerk sandbox ({instance} instance) on {handle.url}")
            echo(f"export CLERK_API_URL={handle.url}")
            echo_verbatim(f"export CLERK_SECRET_KEY={handle.secret_key}")  # its own test key
            echo(f"export CLERK_PUBLISHABLE_KEY={handle.publishable_key}")
            echo(f"# {_describe(handle)}. Ctrl-C to stop.")

        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the sandbox stops
            serve_forever(config, port=port, on_ready=ready)
        echo("# sandbox stopped", err=True)
