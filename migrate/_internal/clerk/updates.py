"""The calls ``sync`` makes beyond create / list / delete: read a user whole, update, ban.

Functions over a ``ClerkClient`` (its one ``httpx.AsyncClient`` and its outcome rules): each
returns ``Answered(data)`` (the JSON object Clerk answered), ``Rejected`` or ``Transient``, and
never raises for a status or a transport failure. Like the client, they do not pace: the
caller's limiter counts each call.

- ``read_user``: ``GET /users/{id}`` as the full JSON (names, metadata, addresses with ids);
- ``update_user``: ``PATCH /users/{id}`` (names, username, external_id, password digest,
  primary address ids; never metadata from API version 2026-05-12);
- ``update_metadata``: ``PATCH /users/{id}/metadata`` (deep merge; ``null`` removes a key);
- ``add_email`` / ``add_phone``: ``POST /email_addresses`` / ``/phone_numbers``;
- ``remove_email`` / ``remove_phone``: ``DELETE`` of an address by id;
- ``ban_user``: ``POST /users/{id}/ban``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import httpx

from migrate._internal.clerk.client import ClerkClient, _failure, _garbled, _json, _segment
from migrate._internal.clerk.outcomes import Rejected, Transient

__all__ = [
    "Answered",
    "UpdateOutcome",
    "add_email",
    "add_phone",
    "ban_user",
    "read_user",
    "remove_email",
    "remove_phone",
    "update_metadata",
    "update_user",
]


@dataclass(frozen=True, slots=True)
class Answered:
    """Clerk answered 2xx with this JSON object (a User, an EmailAddress, a DeletedObject…)."""

    data: Mapping[str, Any]

    def __repr__(self) -> str:
        # a User object may carry metadata a person should not see in a log
        return f"Answered(id={self.data.get('id')!r})"


UpdateOutcome: TypeAlias = Answered | Rejected | Transient


async def _call(
    client: ClerkClient, method: str, path: str, body: Mapping[str, Any] | None = None
) -> UpdateOutcome:
    response = await client._send(method, path, body=body)
    if not isinstance(response, httpx.Response):
        return response
    if response.is_success:
        data = _json(response)
        return Answered(data) if isinstance(data, dict) else _garbled(response)
    return _failure(response)


async def read_user(client: ClerkClient, user_id: str) -> UpdateOutcome:
    """The user as Clerk holds it; a missing user is ``Rejected(404, ...)``."""
    return await _call(client, "GET", f"/users/{_segment(user_id)}")


async def update_user(client: ClerkClient, user_id: str, body: Mapping[str, Any]) -> UpdateOutcome:
    """``PATCH /users/{id}`` with ``body`` (``null`` or ``""`` removes a name or username)."""
    return await _call(client, "PATCH", f"/users/{_segment(user_id)}", body)


async def update_metadata(
    client: ClerkClient, user_id: str, body: Mapping[str, Any]
) -> UpdateOutcome:
    """``PATCH /users/{id}/metadata``: merged into the user's metadata."""
    return await _call(client, "PATCH", f"/users/{_segment(user_id)}/metadata", body)


async def add_email(
    client: ClerkClient, user_id: str, address: str, *, primary: bool
) -> UpdateOutcome:
    """Add a verified email address to a user (``primary`` makes it the primary one)."""
    body = {"user_id": user_id, "email_address": address, "verified": True, "primary": primary}
    return await _call(client, "POST", "/email_addresses", body)


async def add_phone(
    client: ClerkClient, user_id: str, number: str, *, primary: bool
) -> UpdateOutcome:
    """Add a verified phone number to a user (``primary`` makes it the primary one)."""
    body = {"user_id": user_id, "phone_number": number, "verified": True, "primary": primary}
    return await _call(client, "POST", "/phone_numbers", body)


async def remove_email(client: ClerkClient, address_id: str) -> UpdateOutcome:
    """Delete an email address by id."""
    return await _call(client, "DELETE", f"/email_addresses/{_segment(address_id)}")


async def remove_phone(client: ClerkClient, number_id: str) -> UpdateOutcome:
    """Delete a phone number by id."""
    return await _call(client, "DELETE", f"/phone_numbers/{_segment(number_id)}")


async def ban_user(client: ClerkClient, user_id: str) -> UpdateOutcome:
    """Ban a user: their sessions end and they cannot sign in."""
    return await _call(client, "POST", f"/users/{_segment(user_id)}/ban")
