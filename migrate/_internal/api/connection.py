"""Which Clerk instance a command talks to: the built-in sandbox, or an API URL and a key.

``Connection`` holds what the caller chose; ``connect`` checks it before any work (a
``ConfigError`` naming the option), starts the sandbox when asked, and yields the runner's
``Target``. The secret key comes from the caller, a file or ``CLERK_SECRET_KEY``, never argv.
The runner and the HTTP client load only when a connection is made (option parsing stays light).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate._internal.secrets import Secret
from migrate.errors import ConfigError

if TYPE_CHECKING:
    from migrate._internal.clerk.network import Network
    from migrate._internal.runner.session import Target

__all__ = [
    "KEY_ENV",
    "SANDBOX_KIND",
    "Connection",
    "check_connection",
    "connect",
    "default_rate_for",
    "masked_proxy",
]

KEY_ENV = "CLERK_SECRET_KEY"
# The sandbox a rehearsal starts: production's rate limit (so the rehearsal paces like the real
# run) on a development key, and no user cap (a rehearsal of a large file must not stop at 100).
SANDBOX_LIMIT_PER_WINDOW = 1000
SANDBOX_KIND = (
    f"a development key with production's rate limit, {SANDBOX_LIMIT_PER_WINDOW} requests per "
    "10 s, and no user cap"
)


@dataclass(frozen=True)
class Connection:
    """How to reach Clerk.

    ``sandbox=True`` starts the built-in sandbox for the duration of the call (no key, no
    URL). Otherwise ``api_url`` (default Clerk's) and the key: ``secret_key`` if given, else
    the file ``secret_key_file``, else the ``CLERK_SECRET_KEY`` variable. ``proxy`` is an
    ``http://[user:password@]host:port`` HTTP proxy for an https API (without it,
    ``HTTPS_PROXY`` / ``NO_PROXY`` apply); ``ca_bundle`` a PEM file of CA certificates trusted
    besides the operating system's store and ``SSL_CERT_FILE``. ``sandbox_settings`` (an
    instance's settings as ``check --save-settings`` wrote them) makes the sandbox enforce them.
    """

    sandbox: bool = False
    api_url: str | None = None
    secret_key: Secret | None = None
    secret_key_file: Path | None = None
    proxy: str | None = None
    ca_bundle: Path | None = None
    sandbox_settings: Mapping[str, Any] | None = field(default=None, repr=False)


def check_connection(connection: Connection) -> Connection:
    """Refuse options that cannot work together, a bad API URL (another scheme, plain http to a
    non-loopback host, credentials, a query) and a missing key (``ConfigError``).

    Returns the connection with its key read: a ``secret_key_file`` (which may be a pipe or
    ``/dev/fd/N``, readable once) is read here and only here; use the result from then on.
    """
    c = connection
    if c.sandbox_settings is not None and not c.sandbox:
        raise ConfigError("--settings mirrors an instance in the sandbox: add --sandbox")
    if c.sandbox:
        if c.api_url or c.secret_key_file or c.secret_key:
            raise ConfigError("--sandbox starts its own server: drop --api-url / --secret-key-file")
        if c.proxy:
            raise ConfigError("--proxy is for the real API; the sandbox runs on this machine")
        if c.ca_bundle:
            raise ConfigError("--ca-bundle is for the real API; the sandbox runs on this machine")
        return c
    from migrate._internal.clerk.client import validate_base_url  # noqa: PLC0415 - keep parsing light

    validate_base_url(c.api_url or _default_url())  # before a run directory exists or is bound
    _network(c, c.api_url or _default_url())
    return replace(c, secret_key=read_secret_key(c), secret_key_file=None)


@contextmanager
def connect(connection: Connection, *, run_dir: Path | None = None) -> Iterator[Target]:
    """The ``Target`` to talk to; with ``sandbox``, a sandbox running for the ``with`` block,
    holding the users ``run_dir``'s sandbox file kept (saved back there when it stops), so
    every command of a rehearsal meets the same instance.

    Raises ``ConfigError`` (see ``check_connection``) or ``SandboxError``.
    """
    from migrate._internal.runner.session import SANDBOX_FILE, Target  # noqa: PLC0415 - the runner is heavy

    connection = check_connection(connection)
    if connection.sandbox:
        from migrate.sandbox import SandboxConfig, running_sandbox  # noqa: PLC0415 - heavy

        config = SandboxConfig(
            instance="development", rate_limit=SANDBOX_LIMIT_PER_WINDOW, user_cap=0
        )
        if connection.sandbox_settings is not None:
            from migrate.sandbox.environment import config_from_environment  # noqa: PLC0415

            # the instance's user settings; the rehearsal keeps its own limits and test key
            mirrored = config_from_environment(
                connection.sandbox_settings, config, where="--settings"
            )
            config = replace(mirrored, instance="development")
        state = run_dir / SANDBOX_FILE if run_dir is not None else None
        with running_sandbox(config, state=state) as handle:
            yield Target(handle.url, Secret(handle.secret_key), sandbox=True)
        return
    url = connection.api_url or _default_url()
    yield Target(url, read_secret_key(connection), network=_network(connection, url))


def read_secret_key(connection: Connection) -> Secret:
    """The key given, or read from ``secret_key_file`` or ``CLERK_SECRET_KEY``.

    Raises ``ConfigError`` when there is none or it does not look like a Clerk key
    (``sk_test_`` / ``sk_live_``); the value is never echoed.
    """
    if connection.secret_key is not None:
        value, origin = connection.secret_key.reveal().strip(), "the secret key given"
    elif connection.secret_key_file is not None:
        try:
            value = connection.secret_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read --secret-key-file {connection.secret_key_file}: {exc}"
            ) from exc
        origin = str(connection.secret_key_file)
    else:
        value, origin = os.environ.get(KEY_ENV, "").strip(), KEY_ENV
        if not value:
            raise ConfigError(
                f"no secret key: set {KEY_ENV} or pass --secret-key-file "
                "(or rehearse with --sandbox)"
            )
    if not value.startswith(("sk_test_", "sk_live_", "test_", "live_")):
        raise ConfigError(
            f"the secret key in {origin} does not look like a Clerk key (sk_test_… / sk_live_…)"
        )
    return Secret(value)


def _network(connection: Connection, api_url: str) -> Network:
    """The route and trust for ``api_url``: ``proxy`` and ``ca_bundle`` checked, and the proxy
    the environment gives; ``ConfigError`` naming the option when one cannot be used."""
    from migrate._internal.clerk.network import (  # noqa: PLC0415 - keep option parsing light
        Network,
        check_ca_bundle,
        check_proxy,
    )

    proxy = connection.proxy or None
    if proxy:
        if not api_url.lower().startswith("https://"):
            raise ConfigError(f"--proxy applies to an https API URL, not {api_url}")
        try:
            check_proxy(proxy)
        except ValueError as exc:
            raise ConfigError(f"--proxy: {exc}") from None
    network = Network(proxy=proxy, ca_bundle=connection.ca_bundle)
    try:
        if connection.ca_bundle is not None:
            check_ca_bundle(connection.ca_bundle)
        network.route(api_url)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return network


def masked_proxy(proxy: str) -> str:
    """A usable proxy URL as it may be shown: credentials replaced by ``USER:PASSWORD``."""
    from migrate._internal.clerk.network import mask  # noqa: PLC0415 - keep option parsing light

    return mask(proxy.strip()).replace("***@", "USER:PASSWORD@")


def _default_url() -> str:
    from migrate._internal.clerk.client import DEFAULT_BASE_URL  # noqa: PLC0415

    return DEFAULT_BASE_URL


def default_rate_for(target: Target) -> float:
    """90 % of the instance's limit (the rehearsal sandbox paces like production)."""
    from migrate._internal.runner.pacing import default_rate  # noqa: PLC0415

    return default_rate(target.production or target.sandbox)
