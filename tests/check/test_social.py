"""Legacy social sign-ins against the instance's enabled connections."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from check_helpers import row, write

import migrate
from migrate._internal.instance.settings import InstanceSettings
from migrate._internal.instance.social import provider_strategies, social_findings
from migrate.errors import ConfigError
from migrate.sandbox import SandboxConfig, SandboxHandle
from migrate.sandbox.environment import render_environment


def test_provider_names_are_found_in_any_shape() -> None:
    """Plain names, JSON text and nested lists of structs all yield the known providers."""
    frame = pl.LazyFrame(
        {
            "_row": [2, 3, 4, 5],
            "text": [
                "google-oauth2",
                json.dumps([{"provider": "github", "user_id": "12"}]),
                "password",
                "Facebook.com, apple.com",
            ],
            "nested": [
                [{"providerId": "google.com"}],
                [{"providerId": "password"}],
                [],
                [{"providerId": "github.com"}, {"providerId": "twitter.com"}],
            ],
        }
    )
    found = provider_strategies(frame, "text")
    assert found.rows() == [
        (2, "google-oauth2"),
        (3, "github"),
        (5, "facebook.com"),
        (5, "apple.com"),
    ]
    nested = provider_strategies(frame, "nested")
    assert nested.rows() == [(2, "google.com"), (5, "github.com"), (5, "twitter.com")]


def test_only_providers_without_an_enabled_connection_are_named() -> None:
    """A provider whose strategy is enabled passes; the others are one warning each, with rows."""
    settings = InstanceSettings.from_environment(
        render_environment(SandboxConfig(social=frozenset({"oauth_google"})))
    )
    providers = pl.DataFrame(
        {"_row": [2, 3, 4, 6], "provider": ["google", "github", "github.com", "github"]}
    )
    found = social_findings(providers, settings, "identities")
    assert [(f.code, f.level, f.rows, f.examples) for f in found] == [
        ("social_provider_disabled", "warn", 2, (3, 6)),
        ("social_provider_disabled", "warn", 1, (4,)),
    ]
    assert "oauth_github is not enabled" in found[0].message


def test_check_names_rows_of_disabled_providers(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """check --providers-column reads the source column and reports disabled providers."""
    handle = make_sandbox(SandboxConfig.for_tests(social=frozenset({"oauth_google"})))
    rows = [row(1, first="google"), row(2, first="github"), row(3, first="Ann")]
    path = write(tmp_path, rows)
    report = migrate.check(
        path, tmp_path / "map.toml", publishable_key=handle.publishable_key,
        providers_column="first",
    )  # fmt: skip
    social = [f for f in report.findings if f.code == "social_provider_disabled"]
    assert [(f.rows, f.examples) for f in social] == [(1, (3,))]
    with pytest.raises(ConfigError, match="--providers-column nope: the input has no such column"):
        migrate.check(
            path, tmp_path / "map.toml", publishable_key=handle.publishable_key,
            providers_column="nope",
        )  # fmt: skip
