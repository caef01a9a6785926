"""What to send to bring one Clerk user to a newer export's row: the next step, from the user.

Pure. ``next_step(desired, current, fields, ...)`` compares the row's CreateUser body
(``desired``, as ``run`` would send it) with the user as Clerk holds it now (``current``, the
User JSON) on the mapped fields that changed (``fields``), and returns the first write still
needed, or None when the user matches. The sender applies it, reads the user again (or takes
the User the write answered) and asks again: every step is computed from Clerk's current state,
so a write whose answer was lost is never repeated blindly, and a run resumed after a crash
sends only what is still missing. The one thing Clerk never shows back, the password, is sent
once per pass (``password_sent``).

Order: ``PATCH /users/{id}`` (names, username, external id, locale, password, a primary that
already exists), ``PATCH /users/{id}/metadata`` (keys gone from the source sent as ``null``, at
any depth), a new primary email / phone added as primary, other new addresses added, then,
with ``replace_identifiers``, addresses the row no longer has removed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = ["USER_FIELDS", "Step", "metadata_patch", "next_step"]

USER_FIELDS: Final = ("first_name", "last_name", "username", "external_id", "locale")
_METADATA: Final = ("public_metadata", "private_metadata", "unsafe_metadata")
_PASSWORD: Final = ("password_digest", "password_hasher", "password")
# CreateUser list field -> (User list key, value key, primary id key)
_ADDRESSES: Final = {
    "email_address": ("email_addresses", "email_address", "primary_email_address_id"),
    "phone_number": ("phone_numbers", "phone_number", "primary_phone_number_id"),
}

StepKind = Literal["user", "metadata", "add_email", "add_phone", "remove_email", "remove_phone"]


@dataclass(frozen=True)
class Step:
    """One write: its kind, the body (user / metadata) or the address and whether primary."""

    kind: StepKind
    body: Mapping[str, Any] = field(default_factory=dict)
    value: str = ""  # the address to add, or the id of the one to remove
    primary: bool = False

    def __repr__(self) -> str:
        # a body may hold a digest: show only which fields it sets
        return f"Step({self.kind}, fields={sorted(self.body)}, primary={self.primary})"


def metadata_patch(current: Any, desired: Any) -> dict[str, Any]:
    """The PATCH body turning ``current`` into ``desired`` under Clerk's deep merge.

    Keys ``current`` has and ``desired`` lacks are ``null``; objects on both sides are
    compared key by key; any other difference sends the desired value. Empty when equal.
    """
    have = current if isinstance(current, dict) else {}
    want = desired if isinstance(desired, dict) else {}
    patch: dict[str, Any] = {}
    for key in have.keys() - want.keys():
        patch[key] = None
    for key, value in want.items():
        old = have.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            inner = metadata_patch(old, value)
            if inner:
                patch[key] = inner
        elif old != value or key not in have:
            patch[key] = value
    return patch


def next_step(
    desired: Mapping[str, Any],
    current: Mapping[str, Any],
    fields: Collection[str],
    *,
    password_sent: bool = False,
    replace_identifiers: bool = False,
) -> Step | None:
    """The first write that ``current`` still needs to match ``desired`` on ``fields``."""
    user = _user_body(desired, current, fields, password_sent=password_sent)
    if user:
        return Step("user", user)
    metadata = {
        name: patch
        for name in _METADATA
        if name in fields and (patch := metadata_patch(current.get(name), desired.get(name)))
    }
    if metadata:
        return Step("metadata", metadata)
    for name, (listed, key, _) in _ADDRESSES.items():
        if name not in fields:
            continue
        kind = "email" if name == "email_address" else "phone"
        wanted = [str(v) for v in desired.get(name) or []]
        have = {_norm(item.get(key)): item for item in current.get(listed) or []}
        for position, value in enumerate(wanted):
            if _norm(value) not in have:
                return Step(f"add_{kind}", value=value, primary=position == 0)  # type: ignore[arg-type]
        if replace_identifiers:
            keep = {_norm(v) for v in wanted}
            for value, item in have.items():
                if value not in keep and item.get("id"):
                    return Step(f"remove_{kind}", value=str(item["id"]))  # type: ignore[arg-type]
    return None


def _user_body(
    desired: Mapping[str, Any],
    current: Mapping[str, Any],
    fields: Collection[str],
    *,
    password_sent: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name in USER_FIELDS:
        if name in fields and (current.get(name) or None) != (desired.get(name) or None):
            body[name] = desired.get(name)  # None removes it
    if not password_sent and any(name in fields for name in _PASSWORD):
        if desired.get("password_digest"):
            body["password_digest"] = desired["password_digest"]
            body["password_hasher"] = desired.get("password_hasher")
        elif desired.get("password"):
            body["password"] = desired["password"]
            if desired.get("skip_password_checks"):
                body["skip_password_checks"] = True
    for name, (listed, key, primary_key) in _ADDRESSES.items():
        wanted = desired.get(name) or []
        if name not in fields or not wanted:
            continue
        items = current.get(listed) or []
        first = _norm(str(wanted[0]))
        match = next((i for i in items if _norm(i.get(key)) == first), None)
        if match is not None and current.get(primary_key) != match.get("id"):
            body[primary_key] = match["id"]
    return body


def _norm(value: Any) -> str:
    """Addresses compare case-insensitively (Clerk stores emails lower-cased)."""
    return str(value or "").lower()
