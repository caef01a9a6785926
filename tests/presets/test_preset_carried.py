"""What docs/presets.md says is carried over arrives in the CreateUser bodies, value for value.

The expected values are read from the sample exports with the standard library, independently
of the mapping code: metadata, custom claims / attributes, and creation times.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from typing import Any

from preset_cases import SAMPLES, Case, cases


def _bodies(system: str, mapping: str) -> dict[str, dict[str, Any]]:
    case: Case = next(c for c in cases() if c.system == system and c.mapping == mapping)
    prepared = case.prepared()
    plan = prepared.plan()
    rows = plan.filter(plan["_errors"].list.len() == 0)["_row"].to_list()
    return {p.body["external_id"]: p.body for p in prepared.payloads(rows)}


def _ms(epoch_ms: str | int) -> str:
    moment = datetime.fromtimestamp(int(epoch_ms) / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def test_auth0_metadata_and_creation_time() -> None:
    """user_metadata -> public, app_metadata -> private, created_at kept to the millisecond."""
    bodies = _bodies("auth0", "auth0")
    lines = (SAMPLES / "auth0" / "acme-prod.json").read_text("utf-8").splitlines()
    users = [json.loads(line) for line in lines if line.strip()]
    checked = 0
    for user in users:
        body = bodies.get(user["user_id"])
        if body is None:
            continue  # a deliberately bad row
        assert body.get("public_metadata") == user.get("user_metadata"), user["user_id"]
        assert body.get("private_metadata") == user.get("app_metadata"), user["user_id"]
        assert body["created_at"] == user["created_at"]
        checked += 1
    assert checked == len(bodies)


def test_firebase_custom_claims_and_epoch_ms() -> None:
    """customAttributes (custom claims) -> public_metadata; createdAt epoch ms -> RFC3339."""
    bodies = _bodies("firebase", "firebase")
    users = json.loads((SAMPLES / "firebase" / "users.json").read_text("utf-8"))["users"]
    claims = 0
    for user in users:
        body = bodies.get(user["localId"])
        if body is None:
            continue
        expected = json.loads(user["customAttributes"]) if user.get("customAttributes") else None
        assert body.get("public_metadata") == expected, user["localId"]
        assert body["created_at"] == _ms(user["createdAt"]), user["localId"]
        claims += expected is not None
    assert claims >= 3


def test_supabase_raw_metadata() -> None:
    """raw_user_meta_data -> public_metadata, raw_app_meta_data -> private_metadata."""
    bodies = _bodies("supabase", "supabase")
    with (SAMPLES / "supabase" / "auth_users.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        body = bodies.get(row["id"])
        if body is None:
            continue
        user_meta = json.loads(row["raw_user_meta_data"])
        assert body.get("public_metadata") == (user_meta or None), row["id"]
        assert body["private_metadata"] == json.loads(row["raw_app_meta_data"]), row["id"]


def test_cognito_custom_attributes() -> None:
    """custom:tenant_id, custom:plan and locale -> public_metadata."""
    bodies = _bodies("cognito", "cognito")
    with (SAMPLES / "cognito" / "user-pool.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        body = bodies.get(row["cognito:username"])
        if body is None:
            continue
        assert body["public_metadata"] == {
            "tenant_id": row["custom:tenant_id"],
            "plan": row["custom:plan"],
            "locale": row["locale"],
        }
