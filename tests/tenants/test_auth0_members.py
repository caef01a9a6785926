"""The auth0 preset reads organizations and members in the Management API's documented shapes.

Shapes (Auth0 Management API v2 reference, auth0.com/docs/api/management/v2/organizations/):
``get-organizations`` answers an array of ``{id, name, display_name, branding, metadata,
token_quota}``, or with ``include_totals=true`` an object ``{start, limit, total,
organizations}``; ``get-organization-members`` answers ``{user_id, picture, name, email, roles}``
per member, ``roles`` (``[{id, name}]``) only when ``fields`` asks for them. The preset expects
each organization record to carry its members (the second call's answer) under ``members``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from migrate._internal.api.validating import read_tenants
from migrate._internal.prepare import prepare_input

USERS = [
    {"user_id": "auth0|6500a1", "email": "ada@example.com", "email_verified": True},
    {"user_id": "google-oauth2|1090", "email": "bob@example.com", "email_verified": True},
]


def organization(members: list[dict[str, Any]]) -> dict[str, Any]:
    """One organization as get-organizations answers it, with ``members`` added."""
    return {
        "id": "org_W7d2Jk1", "name": "acme_corp", "display_name": "Acme Corp",
        "branding": {"logo_url": "https://example.com/l.png",
                     "colors": {"primary": "#0059d6", "page_background": "#ffffff"}},
        "metadata": {"tier": "gold"},
        "token_quota": {"client_credentials": {"enforce": True, "per_day": 100, "per_hour": 10}},
        "members": members,
    }  # fmt: skip


MEMBERS = [
    {"user_id": "auth0|6500a1", "picture": "https://example.com/a.png", "name": "Ada",
     "email": "ada@example.com",
     "roles": [{"id": "rol_1", "name": "member"}, {"id": "rol_2", "name": "admin"}]},
    {"user_id": "google-oauth2|1090", "picture": "https://example.com/b.png", "name": "Bob",
     "email": "bob@example.com"},
]  # fmt: skip


@pytest.mark.parametrize("wrapped", [False, True], ids=["array", "include_totals"])
def test_documented_shapes_give_the_memberships(tmp_path: Path, *, wrapped: bool) -> None:
    """Both list shapes read; the highest-ranked role wins, a member without roles (fields
    without roles) is org:member; the slug comes from the name with _ as -."""
    users = tmp_path / "users.json"
    users.write_text("".join(json.dumps(u) + "\n" for u in USERS), encoding="utf-8")
    orgs: Any = [organization(MEMBERS)]
    if wrapped:
        orgs = {"start": 0, "limit": 50, "total": 1, "organizations": orgs}
    path = tmp_path / "organizations.json"
    path.write_text(json.dumps(orgs), encoding="utf-8")
    prepared = prepare_input(users, "auth0", {}, ())
    tenants = read_tenants(prepared, users, path, None)
    assert tenants.organization_plan().select("key", "slug", "valid").rows() == [
        ("org_W7d2Jk1", "acme-corp", True)
    ]
    assert tenants.membership_plan().select("user", "role", "valid").rows() == [
        ("auth0|6500a1", "org:admin", True),
        ("google-oauth2|1090", "org:member", True),
    ]
