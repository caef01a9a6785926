"""Legacy sign-in providers in an export, against the instance's social connections (pure).

An export says how each user signed in (Auth0 ``identities[].provider``, Firebase
``providerUserInfo[].providerId``, Supabase ``app_metadata.providers``, or a plain column).
``provider_strategies(frame, column)`` finds the known provider names in that column, whatever
its shape (text, JSON text, lists, structs), as Clerk strategies; ``social_findings`` names the
rows whose provider has no enabled connection on the instance. Unknown names are ignored:
password and email identities are not social connections.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from migrate._internal.instance.findings import Finding
from migrate._internal.instance.settings import InstanceSettings

__all__ = ["PROVIDERS", "provider_strategies", "social_findings"]

_GOOGLE = ("oauth_google",)
_MICROSOFT = ("oauth_microsoft",)
# A provider name as exports write it -> the Clerk strategies that stand for it.
PROVIDERS: Final[dict[str, tuple[str, ...]]] = {
    "google": _GOOGLE,
    "google.com": _GOOGLE,
    "google-oauth2": _GOOGLE,
    "github": ("oauth_github",),
    "github.com": ("oauth_github",),
    "facebook": ("oauth_facebook",),
    "facebook.com": ("oauth_facebook",),
    "apple": ("oauth_apple",),
    "apple.com": ("oauth_apple",),
    "microsoft": _MICROSOFT,
    "microsoft.com": _MICROSOFT,
    "windowslive": _MICROSOFT,
    "azure": _MICROSOFT,
    "twitter": ("oauth_twitter", "oauth_x"),
    "twitter.com": ("oauth_twitter", "oauth_x"),
    "gitlab": ("oauth_gitlab",),
    "bitbucket": ("oauth_bitbucket",),
    "discord": ("oauth_discord",),
    "linkedin": ("oauth_linkedin_oidc", "oauth_linkedin"),
    "slack": ("oauth_slack",),
    "twitch": ("oauth_twitch",),
    "spotify": ("oauth_spotify",),
    "dropbox": ("oauth_dropbox",),
    "notion": ("oauth_notion",),
}
_NAME_PATTERN: Final = r"[A-Za-z0-9_.\-]+"
_EXAMPLES: Final = 5


def _as_text(frame: pl.LazyFrame, column: str) -> pl.Expr:
    dtype = frame.collect_schema()[column]
    col = pl.col(column)
    if isinstance(dtype, pl.Struct):
        return col.struct.json_encode()
    if isinstance(dtype, pl.List):
        inner = dtype.inner
        if isinstance(inner, pl.Struct):
            return col.list.eval(pl.element().struct.json_encode()).list.join(" ")
        return col.cast(pl.List(pl.Utf8)).list.join(" ")
    return col.cast(pl.Utf8)


def provider_strategies(frame: pl.LazyFrame, column: str) -> pl.DataFrame:
    """``_row, provider`` (one line per row and known provider name found in ``column``)."""
    names = pl.Series(list(PROVIDERS), dtype=pl.Utf8)
    return (
        frame.select(
            "_row",
            _as_text(frame, column)
            .str.to_lowercase()
            .str.extract_all(_NAME_PATTERN)
            .alias("provider"),
        )
        .explode("provider")
        .filter(pl.col("provider").is_in(names.implode()))
        .unique(maintain_order=True)
        .collect()
    )


def social_findings(
    providers: pl.DataFrame, settings: InstanceSettings, column: str
) -> list[Finding]:
    """One ``warn`` finding per provider whose users have no enabled connection to sign in with."""
    found = []
    for (name,), group in providers.group_by("provider", maintain_order=True):
        strategies = PROVIDERS[str(name)]
        if any(s in settings.social for s in strategies):
            continue
        rows = group["_row"].unique(maintain_order=True)
        found.append(
            Finding(
                "social_provider_disabled",
                "warn",
                f"{rows.len():,} rows signed in with {name} ({column}) but {strategies[0]} is not "
                "enabled on this instance: they could not sign in with it; enable it "
                "(User & authentication → Social connections) before the cutover, or they must "
                "use another way in",
                "social." + strategies[0],
                "User & authentication → Social connections",
                rows=rows.len(),
                examples=tuple(rows.head(_EXAMPLES).to_list()),
                details={"provider": str(name)},
            )
        )
    return found
