"""``clerk-migrate sandbox --settings FILE``: a served sandbox behaving like the saved instance."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from click.testing import CliRunner

from migrate._internal.instance.fapi import fetch_settings
from migrate._internal.instance.settings import frontend_api_url
from migrate.cli import main
from migrate.cli.sandbox import load_settings
from migrate.errors import ConfigError
from migrate.sandbox import SandboxConfig
from migrate.sandbox.environment import render_environment


def saved(tmp_path: Path, config: SandboxConfig) -> Path:
    """A settings file as ``check --save-settings`` writes it, for ``config``."""
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(render_environment(config)), encoding="utf-8")
    return path


def test_the_served_sandbox_mirrors_the_file_and_prints_a_publishable_key(
    tmp_path: Path,
) -> None:
    """The sandbox started from a file serves the same settings through its publishable key."""
    config = SandboxConfig(
        phone_enabled=False,
        totp_enabled=False,
        block_email_subaddresses=True,
        required=frozenset({"first_name"}),
        social=frozenset({"oauth_google"}),
        instance="production",
    )
    path = saved(tmp_path, config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrate", "sandbox", "--settings", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        exports = dict(
            line.removeprefix("export ").strip().split("=", 1)
            for line in lines
            if line.startswith("export ")
        )
        assert exports["CLERK_SECRET_KEY"].startswith("sk_live_")  # the file's instance type
        url = frontend_api_url(exports["CLERK_PUBLISHABLE_KEY"], None)
        assert url == exports["CLERK_API_URL"]
        assert url is not None
        settings = anyio.run(lambda: fetch_settings(url, development=False))
        assert render_environment(config) == dict(settings.document)
        refused = httpx.post(
            f"{url}/v1/users",
            json={"email_address": ["a+b@example.com"], "first_name": "A"},
            headers={"Authorization": f"Bearer {exports['CLERK_SECRET_KEY']}"},
        )
        assert refused.status_code == 403
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err


def test_settings_and_setting_options_do_not_mix(tmp_path: Path) -> None:
    """--settings with --no-phone (or another setting option) is a usage error naming it."""
    path = saved(tmp_path, SandboxConfig())
    result = CliRunner().invoke(main, ["sandbox", "--settings", str(path), "--no-phone"])
    assert result.exit_code == 2
    assert "--settings replaces --no-phone" in result.output


def test_organization_options_are_checked_and_the_file_replaces_them(tmp_path: Path) -> None:
    """A malformed --org-role is exit 2 naming it; --settings replaces --no-organizations."""
    bad = CliRunner().invoke(main, ["sandbox", "--org-role", "admin"])
    assert bad.exit_code == 2
    assert "org_roles" in bad.output
    assert "'admin'" in bad.output
    path = saved(tmp_path, SandboxConfig())
    mixed = CliRunner().invoke(main, ["sandbox", "--settings", str(path), "--no-organizations"])
    assert mixed.exit_code == 2
    assert "--settings replaces --no-organizations" in mixed.output


@pytest.mark.parametrize(
    ("text", "message"),
    [("{", "not JSON"), ("[]", "not a Clerk environment"), ("{}", "not a Clerk environment")],
)
def test_a_bad_settings_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    """A settings file that is not an environment document is refused with its name."""
    path = tmp_path / "s.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path, SandboxConfig())
    assert "s.json" in str(info.value)
