"""`run --sandbox` on each foreign export sends exactly the expected CreateUser bodies.

The sandbox is the real one (``run --sandbox`` serves it on 127.0.0.1); its create-user handler
is wrapped to keep each request body, and afterwards its ``verify_password`` endpoint (the real
hashing algorithms) is asked, in-process, whether each migrated user signs in with the
plaintext stated in the expected JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from corpus import Fixture, body_differences, normalised, params
from starlette.requests import Request
from starlette.responses import Response

from migrate.cli import main
from migrate.sandbox import InProcessSandbox
from migrate.sandbox.app import SandboxApp


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> list[tuple[SandboxApp, dict[str, Any]]]:
    """Every POST /v1/users body the sandbox receives, with the app that received it."""
    seen: list[tuple[SandboxApp, dict[str, Any]]] = []
    original = SandboxApp._create_user

    async def recording(self: SandboxApp, request: Request) -> Response:
        seen.append((self, json.loads(await request.body())))
        return await original(self, request)

    monkeypatch.setattr(SandboxApp, "_create_user", recording)
    return seen


def _check_passwords(app: SandboxApp, checks: list[tuple[str, str]]) -> None:
    """Each (user id, plaintext) verifies; the plaintext with one more character does not."""
    sandbox = InProcessSandbox(app)

    async def scenario() -> None:
        async with sandbox.client() as client:
            for user_id, password in checks:
                url = f"/v1/users/{user_id}/verify_password"
                right = await client.post(url, json={"password": password})
                assert right.status_code == 200, (user_id, right.json())
                wrong = await client.post(url, json={"password": password + "x"})
                assert wrong.status_code == 422, user_id

    anyio.run(scenario)


@pytest.mark.parametrize("fx", params("run"))
def test_run_sends_the_documented_bodies(
    fx: Fixture, tmp_path: Path, received: list[tuple[SandboxApp, dict[str, Any]]]
) -> None:
    """The sandbox receives one body per valid row, exactly as expected; passwords verify."""
    run_dir = tmp_path / "run"
    args = ["run", *fx.cli_args(), "--sandbox", "--run-dir", str(run_dir), "--quiet"]
    result = CliRunner().invoke(main, args, env=fx.env, catch_exceptions=False)
    valid = fx.rows("valid")
    assert result.exit_code == (3 if fx.rows("invalid") else 0), result.output
    bodies = {body.get("external_id"): normalised(body) for _, body in received}
    expected = {r["body"]["external_id"]: normalised(r["body"]) for r in valid}
    differences = body_differences(bodies, expected)
    assert not differences, "\n".join(differences)
    assert len(received) == len(valid)
    summary = json.loads((run_dir / "summary.json").read_text("utf-8"))
    assert summary["counts"]["created"] == len(valid)
    if any("password" in r for r in valid):
        app = received[0][0]
        ids = {rec.external_id: app.store.user_id(rec.seq) for rec in app.store}
        _check_passwords(app, [(ids[r["key"]], r["password"]) for r in valid if "password" in r])
