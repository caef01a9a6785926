"""Verification carried over: an address the export marks unverified arrives reserved in Clerk.

Each sample's valid rows are prepared with its preset and posted to an in-process sandbox; the
User object it returns says, per address, whether it is reserved and its verification status.
``samples/<system>/expected.json`` lists the users whose e-mail / phone the export marks
unverified (the generator knows, independently of the presets).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from preset_cases import Case, case_params, cases, manifest

from migrate.sandbox import SandboxConfig, in_process_sandbox

STATUS_FIELDS = ("email_address_identification_status", "phone_number_identification_status")


def _created_users(case: Case) -> dict[str, dict[str, Any]]:
    """external_id -> the sandbox's User object, for every valid row of the case."""
    prepared = case.prepared()
    plan = prepared.plan()
    rows = plan.filter(plan["_errors"].list.len() == 0)["_row"].to_list()
    bodies = [p.body for p in prepared.payloads(rows)]
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    users: dict[str, dict[str, Any]] = {}

    async def scenario() -> None:
        async with sandbox.client() as client:
            for body in bodies:
                response = await client.post("/v1/users", json=body)
                assert response.status_code == 200, (body["external_id"], response.json())
                users[body["external_id"]] = response.json()

    anyio.run(scenario)
    return users


def _addresses(user: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = user["email_addresses" if kind == "email" else "phone_numbers"]
    return items


@pytest.mark.parametrize("case", case_params())
def test_unverified_addresses_are_created_reserved(case: Case) -> None:
    """Users the export marks unverified get a reserved, unverified address; every other
    address is created verified."""
    users = _created_users(case)
    m = manifest(case.system)
    for kind in ("email", "phone"):
        reserved = set(m[f"reserved_{kind}"])
        assert reserved <= set(users), kind
        for external_id, user in users.items():
            items = _addresses(user, kind)
            assert any(i["reserved"] for i in items) is (external_id in reserved), (
                kind,
                external_id,
            )
            for item in items:
                status = "unverified" if item["reserved"] else "verified"
                assert item["verification"]["status"] == status, (kind, external_id)


def test_some_samples_exercise_both_statuses() -> None:
    """The samples hold reserved e-mails and reserved phones, so the test above can fail."""
    systems = {c.system for c in cases()}
    emails = sum(len(manifest(s)["reserved_email"]) for s in systems)
    phones = sum(len(manifest(s)["reserved_phone"]) for s in systems)
    assert emails >= 10
    assert phones >= 1


def test_presets_with_a_verified_flag_map_it() -> None:
    """Every preset whose sample has unverified users maps a status for them (a status field,
    or address groups that make it)."""
    from migrate._internal.mapping.load import load_mapping  # noqa: PLC0415
    from migrate._internal.mapping.spec import GroupsSource  # noqa: PLC0415

    for case in cases():
        m = manifest(case.system)
        spec = load_mapping(case.mapping, case.env)
        for kind, status, parent in (
            ("email", STATUS_FIELDS[0], "email_address"),
            ("phone", STATUS_FIELDS[1], "phone_number"),
        ):
            if not m[f"reserved_{kind}"]:
                continue
            addresses = spec.field_spec(parent)
            grouped = addresses is not None and isinstance(addresses.source, GroupsSource)
            assert grouped or spec.field_spec(status) is not None, (case.mapping, kind)
