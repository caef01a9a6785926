"""``check`` against sandboxes configured each way, over real HTTP: findings, rows, lookups."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from check_helpers import DIGEST, TOTP, row, write
from click.testing import CliRunner, Result

import migrate
from migrate import CheckReport, Connection
from migrate._internal.secrets import Secret
from migrate._internal.state import RowState, StateStore
from migrate.cli import main
from migrate.sandbox import SandboxConfig, SandboxHandle
from migrate.sandbox.environment import config_from_environment, render_environment


def run_check(handle: SandboxHandle, path: Path, *, lookups: bool = True) -> CheckReport:
    """``check`` with the sandbox's publishable key (and its secret key for lookups)."""
    connection = Connection(api_url=handle.url, secret_key=Secret(handle.secret_key))
    return migrate.check(
        path,
        path.parent / "map.toml",
        publishable_key=handle.publishable_key,
        connection=connection if lookups else None,
        rate=5000,
    )


def rows_for(report: CheckReport, reason: str) -> set[int]:
    """Input rows with a line of ``reason``."""
    return set(report.lines.filter(report.lines["reason"] == reason)["row"].to_list())


def codes(report: CheckReport) -> dict[str, str]:
    """Finding code -> level."""
    return {f.code: f.level for f in report.findings}


# (sandbox settings, fields of the rows that break it, fields of the others, the reason);
# "{i}" in a value is the row's number (values must stay unique across rows)
CASES: list[tuple[dict[str, Any], dict[str, str], dict[str, str], str]] = [
    ({"phone_enabled": False}, {"phone": "+1415555{i:04d}"}, {}, "phone_disabled"),
    ({"email_enabled": False}, {}, {"email": "", "username": "user_{i}"}, "email_disabled"),
    ({"totp_enabled": False}, {"totp": TOTP}, {}, "totp_disabled"),
    (
        {"block_email_subaddresses": True},
        {"email": "tag+{i}@example.com"},
        {},
        "email_subaddress_blocked",
    ),
    ({"username_min_length": 8}, {"username": "shrt_{i}"}, {}, "username_length_instance"),
    (
        {"required": frozenset({"phone_number"})},
        {},
        {"phone": "+1415555{i:04d}"},
        "phone_number_required",
    ),
]


def fill(i: int, fields: dict[str, str]) -> dict[str, str]:
    """``fields`` with ``{i}`` replaced by ``i``."""
    return {k: v.format(i=i) for k, v in fields.items()}


@pytest.mark.parametrize(("config", "bad", "good", "reason"), CASES, ids=[c[3] for c in CASES])
def test_each_setting_produces_its_finding_on_the_right_rows(
    *,
    make_sandbox: Callable[..., SandboxHandle],
    tmp_path: Path,
    config: dict[str, Any],
    bad: dict[str, str],
    good: dict[str, str],
    reason: str,
) -> None:
    """A setting names exactly the rows it refuses, and a summary finding says how many."""
    handle = make_sandbox(SandboxConfig.for_tests(**config))
    special = {2, 5}
    rows = [row(i, **fill(i, bad if i in special else good)) for i in range(1, 7)]
    report = run_check(handle, write(tmp_path, rows), lookups=False)
    row_numbers = {i + 1 for i in special}  # CSV row numbers: the header is row 1
    assert report.invalid == 0
    assert rows_for(report, reason) == row_numbers
    assert codes(report)[reason] == "refuse"
    assert report.refused_rows() == row_numbers


def test_whole_file_findings(make_sandbox: Callable[..., SandboxHandle], tmp_path: Path) -> None:
    """Digests with password sign-in off, and a required field never mapped, block the run."""
    handle = make_sandbox(
        SandboxConfig.for_tests(
            password_enabled=False,
            required=frozenset({"last_name"}),
            username_enabled=False,
            allowlist=frozenset({"@example.com"}),
        )
    )
    rows = [row(1, hash=DIGEST), row(2, username="someone_y"), row(3)]
    report = run_check(handle, write(tmp_path, rows), lookups=False)
    found = codes(report)
    assert found["password_sign_in_off"] == "block"
    assert found["required_field_unmapped"] == "block"
    assert found["usernames_disabled"] == "warn"
    assert found["allowlist_on"] == "block"
    assert rows_for(report, "last_name_required") == {2, 3, 4}
    assert not report.clean


def test_a_mirrored_rehearsal_refuses_exactly_the_rows_check_predicted(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """check's predicted refusals and existing rows equal what a run then records."""
    handle = make_sandbox(
        SandboxConfig.for_tests(
            phone_enabled=False,
            totp_enabled=False,
            block_email_subaddresses=True,
            username_min_length=7,
        )
    )
    # Users already in the instance: u3 (migrated before), and someone holding user8's email.
    existing = [
        {"external_id": "u3", "email_address": ["user3@example.com"]},
        {"external_id": "other", "email_address": ["user8@example.com"]},
    ]
    for body in existing:
        response = httpx.post(
            f"{handle.url}/v1/users",
            json=body,
            headers={"Authorization": f"Bearer {handle.secret_key}"},
        )
        assert response.status_code == 200
    rows = [row(i) for i in range(1, 13)]
    rows[1]["phone"] = "+14155550123"  # row 3
    rows[3]["totp"] = TOTP  # row 5
    rows[5]["email"] = "tag+x@example.com"  # row 7
    rows[9]["username"] = "short"  # row 11
    rows[10]["username"] = "long_enough"  # row 12: fine
    path = write(tmp_path, rows)
    report = run_check(handle, path)
    predicted = report.refused_rows()
    assert predicted == {3, 5, 7, 9, 11}
    assert report.existing_rows() == {4}
    result = CliRunner().invoke(
        main,
        ["run", str(path), "--mapping", str(tmp_path / "map.toml"), "--rate", "2000", "-q"],
        env={"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url},
        catch_exceptions=False,
    )
    assert result.exit_code == 3, result.output
    with StateStore.open(tmp_path / "users.clerk-migrate" / "state.sqlite") as store:
        failed = set(store.row_numbers([RowState.FAILED]))
        exists = set(store.row_numbers([RowState.EXISTS]))
    assert failed == predicted
    assert exists == report.existing_rows()


def test_existing_user_lookups_cost_one_request_per_100_values(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """Thousands of rows: one GET per 100 distinct values per filter, no 429 from the instance."""
    handle = make_sandbox(SandboxConfig.for_tests(rate_limit=40, rate_window=0.5))
    n = 2_450
    rows = [row(i, username=f"name_{i}" if i % 2 else "") for i in range(1, n + 1)]
    path = write(tmp_path, rows)
    connection = Connection(api_url=handle.url, secret_key=Secret(handle.secret_key))
    report = migrate.check(path, tmp_path / "map.toml", connection=connection, rate=60)
    assert report.existing is not None
    values = report.existing.values
    assert values == {
        "external_id": n,
        "email_address": n,
        "phone_number": 0,
        "username": math.ceil(n / 2),
    }
    # one GET per 100 values of each filter, plus one GET /users/count (an sk_test_ key: the
    # development user cap is checked too)
    expected = sum(math.ceil(v / 100) for v in values.values()) + 1
    counters = handle.counters()
    assert report.existing.requests == expected == counters["requests"] == 64
    assert counters["rate_limited"] == 0
    assert report.refused_rows() == set()
    assert codes(report)["development_user_cap"] == "warn"


def test_without_keys_check_says_what_it_skipped(tmp_path: Path) -> None:
    """No publishable key and no secret key: only validation runs, and both skips are named."""
    path = write(tmp_path, [row(1)])
    report = migrate.check(path, tmp_path / "map.toml")
    assert len(report.skipped) == 2
    assert "no publishable key" in report.skipped[0]
    assert "no secret key" in report.skipped[1]
    assert report.clean


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """The CLI in-process without any Clerk variable from the test's environment."""
    base = {
        "CLERK_SECRET_KEY": "",
        "CLERK_PUBLISHABLE_KEY": "",
        "CLERK_FRONTEND_API_URL": "",
        "CLERK_API_URL": "",
    }
    return CliRunner().invoke(main, list(args), env={**base, **(env or {})})


def test_cli_json_exit_codes_and_saved_settings(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """--json reports findings with exit 3; --save-settings writes a secret-free mirror file."""
    handle = make_sandbox(
        SandboxConfig.for_tests(phone_enabled=False, social=frozenset({"oauth_github"}))
    )
    path = write(tmp_path, [row(1, phone="+14155550123"), row(2)])
    saved = tmp_path / "settings.json"
    env = {"CLERK_PUBLISHABLE_KEY": handle.publishable_key, "CLERK_SECRET_KEY": handle.secret_key,
           "CLERK_API_URL": handle.url}  # fmt: skip
    result = invoke("check", str(path), "-m", str(tmp_path / "map.toml"), "--json",
                    "--save-settings", str(saved), env=env)  # fmt: skip
    assert result.exit_code == 3, result.output
    data = json.loads(result.output)
    assert data["refused_rows"] == 1
    assert data["findings"][0]["code"] == "phone_disabled"
    assert data["findings"][0]["examples"] == [2]
    text = saved.read_text()
    assert handle.secret_key not in text
    mirrored = config_from_environment(json.loads(text))
    assert render_environment(mirrored) == render_environment(handle.app.config)
    clean = write(tmp_path, [row(1)])
    ok = invoke("check", str(clean), "-m", str(tmp_path / "map.toml"), env=env)
    assert ok.exit_code == 0, ok.output
    assert "Clean: the instance should accept every row." in ok.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--frontend-api-url", "http://clerk.example.com"), "must use https://"),
        (("--publishable-key", "sk_test_nope"), "must start with pk_test_ or pk_live_"),
        (("--save-settings", "x.json"), "--save-settings needs the instance's publishable key"),
    ],
)
def test_cli_bad_options_exit_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """A bad key, a remote http URL or --save-settings without a key: exit 2 before any work."""
    path = write(tmp_path, [row(1)])
    result = invoke("check", str(path), "-m", str(tmp_path / "map.toml"), *args)
    assert result.exit_code == 2
    assert message in result.output
