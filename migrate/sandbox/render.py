"""Clerk's JSON for a stored user: the full ``User`` object (SPEC ``components.schemas.User``).

Every required key is present, timestamps are epoch milliseconds, identifications carry derived
ids and an admin verification (BAPI-created addresses are verified by default; ``reserved`` ones
report an unverified OTP verification). The password digest and hasher are never rendered:
only ``password_enabled``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from migrate.sandbox import store as flags
from migrate.sandbox.store import UserRecord, UserStore

__all__ = ["deleted_object", "render_user"]

# Clerk serves a generated default avatar; the sandbox only names one (nothing fetches it).
_IMAGE_URL: Final = "https://img.clerk.com/sandbox-default-avatar"


def _verification(strategy_reserved: str, reserved: bool) -> dict[str, Any]:
    if reserved:
        return {
            "object": "verification_otp",
            "status": "unverified",
            "strategy": strategy_reserved,
            "attempts": None,
            "expire_at": None,
        }
    return {
        "object": "verification_admin",
        "status": "verified",
        "strategy": "admin",
        "attempts": None,
        "expire_at": None,
    }


def render_user(store: UserStore, rec: UserRecord) -> dict[str, Any]:
    """The ``User`` object for ``rec``, ready for ``json.dumps``."""
    seq, ts = rec.seq, rec.updated_at
    emails = []
    for i, address in enumerate(rec.emails):
        reserved = rec.email_status is not None and rec.email_status[i] == "reserved"
        emails.append(
            {
                "id": store.identification_id(seq, "email", i),
                "object": "email_address",
                "email_address": address,
                "reserved": reserved,
                "verification": _verification("email_code", reserved),
                "linked_to": [],
                "matches_sso_connection": False,
                "created_at": ts,
                "updated_at": ts,
            }
        )
    phones = []
    for i, number in enumerate(rec.phones):
        reserved = rec.phone_status is not None and rec.phone_status[i] == "reserved"
        phones.append(
            {
                "id": store.identification_id(seq, "phone", i),
                "object": "phone_number",
                "phone_number": number,
                "reserved_for_second_factor": False,
                "default_second_factor": False,
                "reserved": reserved,
                "verification": _verification("phone_code", reserved),
                "linked_to": [],
                "backup_codes": None,
                "created_at": ts,
                "updated_at": ts,
            }
        )
    wallets = [
        {
            "id": store.identification_id(seq, "web3", i),
            "object": "web3_wallet",
            "web3_wallet": wallet,
            "verification": _verification("", False),
            "created_at": ts,
            "updated_at": ts,
        }
        for i, wallet in enumerate(rec.wallets)
    ]
    f = rec.flags
    totp = bool(f & flags.TOTP)
    backup = bool(f & flags.BACKUP_CODES)
    return {
        "id": store.user_id(seq),
        "object": "user",
        "external_id": rec.external_id,
        "primary_email_address_id": emails[0]["id"] if emails else None,
        "primary_phone_number_id": phones[0]["id"] if phones else None,
        "primary_web3_wallet_id": wallets[0]["id"] if wallets else None,
        "username": rec.username,
        "first_name": rec.first_name,
        "last_name": rec.last_name,
        "locale": rec.locale,
        "profile_image_url": _IMAGE_URL,
        "image_url": _IMAGE_URL,
        "has_image": False,
        "public_metadata": json.loads(rec.public_metadata) if rec.public_metadata else {},
        "private_metadata": json.loads(rec.private_metadata) if rec.private_metadata else {},
        "unsafe_metadata": json.loads(rec.unsafe_metadata) if rec.unsafe_metadata else {},
        "email_addresses": emails,
        "phone_numbers": phones,
        "web3_wallets": wallets,
        "passkeys": [],
        "password_enabled": rec.digest is not None,
        "two_factor_enabled": totp or backup,
        "totp_enabled": totp,
        "backup_code_enabled": backup,
        "mfa_enabled_at": ts if totp or backup else None,
        "mfa_disabled_at": None,
        "password_last_updated_at": rec.password_updated_at,
        "external_accounts": [],
        "saml_accounts": [],
        "enterprise_accounts": [],
        "organization_memberships": [],
        "last_sign_in_at": None,
        "banned": bool(f & flags.BANNED),
        "locked": bool(f & flags.LOCKED),
        "deprovisioned": False,
        "lockout_expires_in_seconds": None,
        "verification_attempts_remaining": None,
        "updated_at": ts,
        "created_at": rec.created_at,
        "delete_self_enabled": bool(f & flags.DELETE_SELF),
        "create_organization_enabled": bool(f & flags.CREATE_ORG),
        "create_organizations_limit": rec.org_limit,
        "last_active_at": None,
        "legal_accepted_at": rec.legal_accepted_at,
        "bypass_client_trust": bool(f & flags.BYPASS_CLIENT_TRUST),
    }


def deleted_object(user_id: str, external_id: str | None) -> dict[str, Any]:
    """The ``DeletedObject`` DELETE /v1/users/{id} answers with."""
    body: dict[str, Any] = {"object": "user", "id": user_id, "deleted": True}
    if external_id is not None:
        body["external_id"] = external_id
    return body
