"""What a sandbox instance is: its instance type, key, limits, user settings and fault knobs.

Everything that changes how the sandbox answers lives in one frozen ``SandboxConfig`` so a test,
a benchmark and ``clerk-migrate sandbox`` describe an instance the same way. ``None`` on a limit
means "the documented default for the instance type"; ``0`` switches it off.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from migrate.errors import ConfigError

__all__ = [
    "API_VERSIONS",
    "DEFAULT_ORG_ROLES",
    "DEV_RATE_LIMIT",
    "DEV_USER_CAP",
    "IDENTIFIERS",
    "PROD_RATE_LIMIT",
    "REQUIRABLE",
    "FaultConfig",
    "Instance",
    "SandboxConfig",
]

Instance = Literal["development", "production"]

# reference/clerk-api.md §5: per instance, counted over 10 s, every endpoint included.
PROD_RATE_LIMIT: Final = 1000
DEV_RATE_LIMIT: Final = 100
RATE_WINDOW_SECONDS: Final = 10.0
# reference/clerk-api.md §8: development instances hold at most 100 users.
DEV_USER_CAP: Final = 100

API_VERSIONS: Final = frozenset(
    {"2021-02-05", "2024-10-01", "2025-04-10", "2025-11-10", "2026-05-12"}
)

# Every instance starts with these two organization roles; the first is the creator's role.
DEFAULT_ORG_ROLES: Final = ("org:admin", "org:member")
_ROLE_KEY: Final = re.compile(r"org:[a-z0-9_]+")

IDENTIFIERS: Final = ("email_address", "phone_number", "username", "web3_wallet")
REQUIRABLE: Final = (*IDENTIFIERS, "first_name", "last_name", "password")

_KEY_ALPHABET: Final = string.ascii_letters + string.digits


@dataclass(frozen=True)
class FaultConfig:
    """Seeded fault injection; every rate is a fraction of eligible requests in [0, 1].

    - ``error_rate``: /v1 requests answered with a 5xx (chosen from ``error_statuses``) before
      anything is done, so nothing is stored.
    - ``latency_mean_ms`` / ``latency_sigma``: every /v1 request waits a log-normal delay with
      that mean; ``sigma`` is the shape (0.5 a mild tail, 1.0 a long one). 0 means no delay.
    - ``lost_rate``: creates (and sync's writes: PATCH user / metadata, addresses, bans) that
      ARE applied but whose connection is then closed without a response (in-process: the
      transport raises ``httpx.RemoteProtocolError``).
    - ``stall_rate`` / ``stall_seconds`` / ``stall_after_store``: /v1 requests held until the
      client gives up (disconnects) or ``stall_seconds`` pass; with ``stall_after_store`` a
      create stores the user before stalling, otherwise a stalled request whose client left is
      dropped unprocessed.
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    latency_mean_ms: float = 0.0
    latency_sigma: float = 0.8
    lost_rate: float = 0.0
    stall_rate: float = 0.0
    stall_seconds: float = 30.0
    stall_after_store: bool = False

    def __post_init__(self) -> None:
        for name in ("error_rate", "lost_rate", "stall_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"fault {name} must be between 0 and 1, got {value}")
        if self.latency_mean_ms < 0 or self.latency_sigma < 0 or self.stall_seconds < 0:
            raise ConfigError("fault latency and stall durations must not be negative")
        if any(not 500 <= s <= 599 for s in self.error_statuses) or not self.error_statuses:
            raise ConfigError("fault error_statuses must be one or more 5xx statuses")

    @property
    def active(self) -> bool:
        """Whether any fault can fire at all (lets the hot path skip the dice)."""
        return bool(self.error_rate or self.latency_mean_ms or self.lost_rate or self.stall_rate)


@dataclass(frozen=True)
class SandboxConfig:
    """One sandbox instance.

    ``secret_key`` is generated (``sk_test_…`` or ``sk_live_…`` after ``instance``) unless given;
    a given key's prefix must agree with ``instance``. ``rate_limit`` / ``user_cap``: ``None`` is
    the instance default (1000 or 100 requests per ``rate_window`` seconds; 100 users on
    development, none on production), ``0`` is off. ``required`` lists the fields the instance
    requires (``REQUIRABLE``); ``email_enabled``, ``phone_enabled``, ``username_enabled``,
    ``web3_enabled``, ``password_enabled``, ``totp_enabled`` (authenticator app),
    ``backup_codes_enabled``, ``social`` (enabled strategies such as ``oauth_google``),
    ``block_email_subaddresses``, ``allowlist`` / ``blocklist`` (identifiers: an email address,
    a phone number, or a domain as ``@example.com``) mirror the dashboard's settings (see
    ``migrate.sandbox.environment`` for the ``/v1/environment`` they serve). Organizations:
    ``organizations_enabled``, the instance's role keys ``org_roles`` (``org:`` + lowercase
    letters, digits and ``_``; the first is the creator's role), the default membership limit
    ``org_max_memberships`` (0: none) and ``org_slugs_disabled``. ``seed`` drives ids,
    generated keys and faults, so a run can be replayed.
    """

    instance: Instance = "development"
    secret_key: str | None = field(default=None, repr=False)
    seed: int | None = None
    rate_limit: int | None = None
    rate_window: float = RATE_WINDOW_SECONDS
    user_cap: int | None = None
    required: frozenset[str] = frozenset()
    email_enabled: bool = True
    phone_enabled: bool = True
    username_enabled: bool = True
    web3_enabled: bool = True
    password_enabled: bool = True
    totp_enabled: bool = True
    backup_codes_enabled: bool = True
    social: frozenset[str] = frozenset()
    block_email_subaddresses: bool = False
    allowlist: frozenset[str] = frozenset()
    blocklist: frozenset[str] = frozenset()
    username_min_length: int = 4
    username_max_length: int = 64
    password_min_length: int = 8
    organizations_enabled: bool = True
    org_roles: tuple[str, ...] = DEFAULT_ORG_ROLES
    org_max_memberships: int = 0
    org_slugs_disabled: bool = False
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        if self.instance not in ("development", "production"):
            raise ConfigError(
                f"instance must be 'development' or 'production', got {self.instance!r}"
            )
        unknown = set(self.required) - set(REQUIRABLE)
        if unknown:
            raise ConfigError(
                f"cannot require {', '.join(sorted(unknown))}; allowed: {', '.join(REQUIRABLE)}"
            )
        self._check_switches()
        if self.secret_key is not None:
            want = "sk_live_" if self.instance == "production" else "sk_test_"
            if not self.secret_key.startswith(want) or len(self.secret_key) <= len(want):
                # Never echo the key itself.
                raise ConfigError(f"a {self.instance} sandbox needs a secret key starting {want}")
        if self.rate_limit is not None and self.rate_limit < 0:
            raise ConfigError("rate_limit must be 0 (off) or positive")
        if self.rate_window <= 0:
            raise ConfigError("rate_window must be positive")
        if self.user_cap is not None and self.user_cap < 0:
            raise ConfigError("user_cap must be 0 (off) or positive")
        if not 1 <= self.username_min_length <= self.username_max_length:
            raise ConfigError("username lengths must satisfy 1 <= min <= max")
        bad = [k for k in self.org_roles if not _ROLE_KEY.fullmatch(k)]
        if bad or not self.org_roles or len(set(self.org_roles)) != len(self.org_roles):
            raise ConfigError(
                "org_roles must be one or more distinct keys like org:admin "
                "(org: then lowercase letters, digits and _)" + (f"; not {bad[0]!r}" if bad else "")
            )
        if self.org_max_memberships < 0:
            raise ConfigError("org_max_memberships must be 0 (no limit) or positive")

    def enabled(self, attribute: str) -> bool:
        """Whether an identifier or password attribute is switched on (names always are)."""
        return {
            "email_address": self.email_enabled,
            "phone_number": self.phone_enabled,
            "username": self.username_enabled,
            "web3_wallet": self.web3_enabled,
            "password": self.password_enabled,
        }.get(attribute, True)

    def _check_switches(self) -> None:
        for name in REQUIRABLE:
            if name in self.required and not self.enabled(name):
                raise ConfigError(f"{name} cannot be both required and disabled")

    @classmethod
    def for_tests(cls, **overrides: object) -> SandboxConfig:
        """A development instance with limits and the user cap off, seeded: out of a test's way."""
        base = cls(rate_limit=0, user_cap=0, seed=0)
        return replace(base, **overrides)  # type: ignore[arg-type]

    def with_key(self) -> SandboxConfig:
        """This config with ``secret_key`` filled in (deterministic when ``seed`` is set)."""
        self._check_switches()
        if self.secret_key is not None:
            return self
        rng = random.Random(self.seed) if self.seed is not None else random.SystemRandom()
        body = "".join(rng.choice(_KEY_ALPHABET) for _ in range(40))
        prefix = "sk_live_" if self.instance == "production" else "sk_test_"
        return replace(self, secret_key=prefix + body)

    @property
    def effective_rate_limit(self) -> int:
        """Requests allowed per window; 0 means unlimited."""
        if self.rate_limit is not None:
            return self.rate_limit
        return PROD_RATE_LIMIT if self.instance == "production" else DEV_RATE_LIMIT

    @property
    def effective_user_cap(self) -> int:
        """Most users the instance holds; 0 means no cap."""
        if self.user_cap is not None:
            return self.user_cap
        return DEV_USER_CAP if self.instance == "development" else 0
