"""Users migrated with a preset can still sign in: the sandbox verifies their original password.

Each sample's valid rows are prepared with its preset and posted to an in-process sandbox (a real
Clerk-compatible API: its verify_password endpoint runs each hasher's real algorithm). Then every
user who had a password is checked with the plaintext from samples/<system>/passwords.csv, and
with a wrong one.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from preset_cases import Case, case_params, cases, manifest, passwords

from migrate.sandbox import SandboxConfig, in_process_sandbox


async def _create_all(client: httpx.AsyncClient, bodies: list[dict[str, Any]]) -> dict[str, str]:
    created: dict[str, str] = {}
    for body in bodies:
        response = await client.post("/v1/users", json=body)
        # the error body names the code and param only, never the digest
        assert response.status_code == 200, (body["external_id"], response.json()["errors"][0])
        created[body["external_id"]] = response.json()["id"]
    return created


async def _verify(client: httpx.AsyncClient, user_id: str, password: str) -> httpx.Response:
    return await client.post(f"/v1/users/{user_id}/verify_password", json={"password": password})


@pytest.mark.parametrize("case", case_params())
def test_migrated_users_sign_in_with_their_old_password(case: Case) -> None:
    """Every valid row is accepted; each migrated password verifies and a wrong one does not."""
    prepared = case.prepared()
    plan = prepared.plan()
    rows = plan.filter(plan["_errors"].list.len() == 0)["_row"].to_list()
    bodies = [p.body for p in prepared.payloads(rows)]
    m = manifest(case.system)
    plaintext = passwords(case.system)
    sandbox = in_process_sandbox(SandboxConfig.for_tests())

    async def check_password(client: httpx.AsyncClient, external_id: str, user_id: str) -> None:
        right = await _verify(client, user_id, plaintext[external_id])
        wrong = await _verify(client, user_id, plaintext[external_id] + "x")
        assert wrong.status_code == 422, external_id
        if m["verifiable"]:
            assert right.status_code == 200, external_id
            assert right.json() == {"verified": True}

    async def check_no_password(client: httpx.AsyncClient, external_id: str, user_id: str) -> None:
        response = await _verify(client, user_id, "anything-at-all")
        assert response.status_code == 400, external_id
        assert response.json()["errors"][0]["code"] == "no_password_set"

    async def scenario() -> None:
        async with sandbox.client() as client:
            created = await _create_all(client, bodies)
            assert set(created) == set(m["created_with_password"]) | set(
                m["created_without_password"]
            )
            # the sandbox hashes in worker threads: checking users concurrently keeps this quick
            async with anyio.create_task_group() as tg:
                for external_id in m["created_with_password"]:
                    tg.start_soon(check_password, client, external_id, created[external_id])
                for external_id in m["created_without_password"]:
                    tg.start_soon(check_no_password, client, external_id, created[external_id])

    anyio.run(scenario)


def test_cognito_users_get_a_lazy_migration_reference() -> None:
    """Cognito users get an awscognito digest naming the pool, the client and their username."""
    case = next(c for c in cases(variants=False) if c.system == "cognito")
    prepared = case.prepared()
    plan = prepared.plan()
    rows = plan.filter(plan["_errors"].list.len() == 0)["_row"].to_list()
    pool, client = case.env["COGNITO_USER_POOL_ID"], case.env["COGNITO_CLIENT_ID"]
    for payload in prepared.payloads(rows):
        body = payload.body
        assert body["password_hasher"] == "awscognito"
        assert body["password_digest"] == f"awscognito#{pool}#{client}#{body['external_id']}"
