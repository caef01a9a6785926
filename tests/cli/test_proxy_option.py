"""``--proxy``: checked before any work, carried to the client, never echoed with credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from migrate._internal.api.connection import Connection, connect
from migrate.cli import main
from migrate.errors import ConfigError

MAPPING = '[source]\nkey = "id"\n\n[fields]\nexternal_id = "id"\nemail_address = "email"\n'
KEY = "sk_test_" + "k" * 40


def _files(tmp_path: Path) -> tuple[Path, Path]:
    users = tmp_path / "users.csv"
    users.write_text("id,email\nu1,ada@example.com\n", encoding="utf-8")
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return users, mapping


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        (["--sandbox", "--proxy", "http://127.0.0.1:3128"], {}, "--proxy is for the real API"),
        (
            ["--api-url", "http://127.0.0.1:9", "--proxy", "http://127.0.0.1:3128"],
            {},
            "--proxy applies to an https API URL, not http://127.0.0.1:9",
        ),
        (
            ["--proxy", "socks5://user:hunter2@127.0.0.1:1080"],
            {},
            "--proxy: the proxy URL must start with http://",
        ),
        ([], {"CLERK_MIGRATE_PROXY": "http://:3128"}, "--proxy: the proxy URL has no host"),
    ],
)
def test_an_unusable_proxy_is_a_usage_error_before_any_work(
    tmp_path: Path, extra: list[str], env: dict[str, str], message: str
) -> None:
    """--sandbox with --proxy, an http API, or a bad proxy URL: exit 2 with the reason, no run
    directory made, and no credential repeated."""
    users, mapping = _files(tmp_path)
    result = CliRunner().invoke(
        main,
        ["run", str(users), "--mapping", str(mapping), *extra],
        env={"CLERK_SECRET_KEY": KEY, "CLERK_API_URL": "", **env},
        catch_exceptions=False,
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "hunter2" not in result.output
    assert not list(tmp_path.glob("*.clerk-migrate"))


def test_the_proxy_reaches_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid --proxy becomes the target's network and every client it makes routes through it."""
    monkeypatch.setenv("CLERK_SECRET_KEY", KEY)
    with connect(
        Connection(api_url="https://api.clerk.com", proxy="http://ops:pw@proxy.corp:3128")
    ) as target:
        assert target.network.proxy == "http://ops:pw@proxy.corp:3128"
        assert "proxy" not in target.identity()  # the route, not the instance
        assert target.route() == "proxy http://***@proxy.corp:3128 (--proxy)"
        assert target.client().route.proxy == "http://ops:pw@proxy.corp:3128"


def test_https_proxy_applies_without_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --proxy, HTTPS_PROXY is the route (NO_PROXY can exempt the host); --proxy only
    applies to an https API."""
    monkeypatch.setenv("CLERK_SECRET_KEY", KEY)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    with connect(Connection(api_url="https://api.clerk.com")) as target:
        assert target.network.proxy is None
        assert target.route() == "proxy http://127.0.0.1:3128 (HTTPS_PROXY)"
    monkeypatch.setenv("NO_PROXY", "api.clerk.com")
    with connect(Connection(api_url="https://api.clerk.com")) as target:
        assert target.route() == "direct (NO_PROXY)"
    with (
        pytest.raises(ConfigError, match="https API URL"),
        connect(Connection(api_url="http://127.0.0.1:9", proxy="http://127.0.0.1:3128")),
    ):
        pass


def test_an_unreadable_ca_bundle_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    """--ca-bundle naming a file that holds no certificate: exit 2, no run directory made."""
    users, mapping = _files(tmp_path)
    junk = tmp_path / "corp.pem"
    junk.write_text("not a certificate\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["run", str(users), "--mapping", str(mapping), "--ca-bundle", str(junk)],
        env={"CLERK_SECRET_KEY": KEY, "CLERK_API_URL": ""},
        catch_exceptions=False,
    )
    assert result.exit_code == 2, result.output
    assert "corp.pem: cannot load CA certificates" in result.output
    assert not list(tmp_path.glob("*.clerk-migrate"))
