"""The sandbox's users, in memory: compact records, uniqueness indexes, Clerk-looking ids.

The store also holds the instance's organizations (``orgs``, an ``OrgStore``), so clearing,
saving and restoring it covers them too.

Sized for a million users: a record is a ``__slots__`` object holding only what a request put in
(metadata as JSON text, ``None`` when empty; all flags in one int), and ids are not stored at all.
A user's id is ``user_`` + 27 base62 characters encoding its sequence number plus a per-instance
random offset, so ids look like Clerk's opaque KSUIDs, sort in creation order, and decode back to
the record without an index. Email/phone/wallet ids are derived the same way under ``idn_``.

Passwords live here only as a hasher name and a digest (a plaintext password is kept as a keyed
HMAC, never as text); nothing in this module renders, logs or returns them.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Iterator
from typing import Any, Final

from migrate.sandbox.ids import ID_DIGITS, decode_id, encode_id, id_base
from migrate.sandbox.orgstore import OrgStore

__all__ = [
    "BACKUP_CODES",
    "BANNED",
    "BYPASS_CLIENT_TRUST",
    "CREATE_ORG",
    "DELETE_SELF",
    "LOCKED",
    "PLAINTEXT_HASHER",
    "TOTP",
    "UserRecord",
    "UserStore",
    "wallet_key",
]

# Flag bits of UserRecord.flags.
TOTP: Final = 1
BACKUP_CODES: Final = 2
BANNED: Final = 4
LOCKED: Final = 8
DELETE_SELF: Final = 16
CREATE_ORG: Final = 32
BYPASS_CLIENT_TRUST: Final = 64

# Internal hasher name for passwords created from plaintext; never a Clerk hasher name.
PLAINTEXT_HASHER: Final = "_sandbox_hmac_sha256"

_IDN_STRIDE: Final = 1 << 12  # per user: 3 kinds x up to 1024 identifications
_KIND_OFFSET: Final = {"email": 0, "phone": 1024, "web3": 2048}
_DUMP_VERSION: Final = 1


def wallet_key(wallet: str) -> str:
    """Uniqueness key of a web3 wallet: EVM hex addresses are case-insensitive, base58 is not."""
    return wallet.lower() if wallet[:2] in ("0x", "0X") else wallet


class UserRecord:
    """One user as stored; ``UserStore.add`` assigns ``seq``, the caller everything else."""

    __slots__ = (
        "created_at",
        "digest",
        "email_status",
        "emails",
        "external_id",
        "first_name",
        "flags",
        "hasher",
        "last_name",
        "legal_accepted_at",
        "locale",
        "org_limit",
        "password_updated_at",
        "phone_status",
        "phones",
        "private_metadata",
        "public_metadata",
        "seq",
        "unsafe_metadata",
        "updated_at",
        "username",
        "wallets",
    )

    def __init__(self) -> None:
        self.seq = -1
        self.external_id: str | None = None
        self.username: str | None = None
        self.first_name: str | None = None
        self.last_name: str | None = None
        self.locale: str | None = None
        self.emails: tuple[str, ...] = ()
        self.phones: tuple[str, ...] = ()
        self.wallets: tuple[str, ...] = ()
        # None when every identification is verified; else "verified"/"reserved" per position.
        self.email_status: tuple[str, ...] | None = None
        self.phone_status: tuple[str, ...] | None = None
        # Metadata objects as compact JSON text (None when empty).
        self.public_metadata: str | None = None
        self.private_metadata: str | None = None
        self.unsafe_metadata: str | None = None
        self.hasher: str | None = None
        self.digest: str | None = None
        self.created_at = 0
        self.updated_at = 0
        self.legal_accepted_at: int | None = None
        self.password_updated_at: int | None = None
        self.flags = DELETE_SELF | CREATE_ORG
        self.org_limit: int | None = None

    def __repr__(self) -> str:
        # Deliberately short: the digest must never reach a log or an assertion message.
        return f"UserRecord(seq={self.seq}, external_id={self.external_id!r})"

    @property
    def password_enabled(self) -> bool:
        """Whether the user has a password (a digest, or a plaintext turned into one)."""
        return self.digest is not None


class UserStore:
    """All users of one sandbox instance, with an index per unique identifier."""

    def __init__(self, seed: int | None = None) -> None:
        rng = random.Random(seed) if seed is not None else random.SystemRandom()
        self._user_base = id_base(rng)
        self._idn_base = id_base(rng)
        self._pepper = rng.randbytes(32)
        self.orgs = OrgStore(rng)  # drawn after the user bases: seeded user ids stay as they were
        self.clear()

    def clear(self) -> None:
        """Forget every user and organization (ids keep counting up, so an old id never points
        at a new record)."""
        self.orgs.clear()
        self._users: dict[int, UserRecord] = {}
        self._next = getattr(self, "_next", 0)
        self.by_email: dict[str, int] = {}
        self.by_phone: dict[str, int] = {}
        self.by_username: dict[str, int] = {}
        self.by_wallet: dict[str, int] = {}
        self.by_external_id: dict[str, int] = {}

    # ids ----------------------------------------------------------------------------------

    def user_id(self, seq: int) -> str:
        """The public id of the user with sequence number ``seq``."""
        return "user_" + encode_id(self._user_base + seq)

    def identification_id(self, seq: int, kind: str, index: int) -> str:
        """The id of a user's ``index``-th email/phone/web3 identification."""
        return "idn_" + encode_id(self._idn_base + seq * _IDN_STRIDE + _KIND_OFFSET[kind] + index)

    def seq_of(self, user_id: str) -> int | None:
        """The sequence number a public id encodes, if it is one of ours and still exists."""
        if not user_id.startswith("user_") or len(user_id) != 5 + ID_DIGITS:
            return None
        n = decode_id(user_id[5:])
        if n is None:
            return None
        seq = n - self._user_base
        return seq if seq in self._users else None

    # passwords ----------------------------------------------------------------------------

    def plaintext_digest(self, password: str) -> str:
        """A keyed HMAC of a plaintext password, so the text itself is never kept."""
        return hmac.new(self._pepper, password.encode(), hashlib.sha256).hexdigest()

    def check_plaintext(self, digest: str, password: str) -> bool:
        """Whether ``password`` is the plaintext behind ``plaintext_digest`` output ``digest``."""
        return hmac.compare_digest(digest, self.plaintext_digest(password))

    # persistence --------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything the store holds, as JSON-ready data (digests and the pepper included:
        whoever writes it out keeps it private)."""
        return {
            "version": _DUMP_VERSION,
            "user_base": self._user_base,
            "idn_base": self._idn_base,
            "pepper": self._pepper.hex(),
            "next": self._next,
            "users": [
                {name: getattr(rec, name) for name in UserRecord.__slots__}
                for rec in self._users.values()
            ],
            "organizations": self.orgs.dump(),
        }

    @classmethod
    def restore(cls, data: dict[str, Any]) -> UserStore:
        """A store equal to the one ``dump`` saw (same ids, same users, same pepper).

        Raises ``ValueError`` when ``data`` is not a dump of this version.
        """
        if not isinstance(data, dict) or data.get("version") != _DUMP_VERSION:
            raise ValueError("not a sandbox user store (or one of another version)")
        store = cls(seed=0)
        try:
            store._user_base = int(data["user_base"])
            store._idn_base = int(data["idn_base"])
            store._pepper = bytes.fromhex(data["pepper"])
            for fields in data["users"]:
                rec = UserRecord()
                for name in UserRecord.__slots__:
                    value = fields[name]
                    setattr(rec, name, tuple(value) if isinstance(value, list) else value)
                store._next = rec.seq
                store.add(rec)
            store._next = int(data["next"])
            if "organizations" in data:  # saved before the sandbox had organizations: none
                store.orgs.restore(data["organizations"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a damaged sandbox user store ({exc})") from exc
        return store

    # records ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._users)

    def __iter__(self) -> Iterator[UserRecord]:
        """Users in creation order (oldest first)."""
        return iter(self._users.values())

    def get(self, seq: int) -> UserRecord | None:
        """The user with sequence number ``seq``, if any."""
        return self._users.get(seq)

    def get_by_id(self, user_id: str) -> UserRecord | None:
        """The user with public id ``user_id``, if any."""
        seq = self.seq_of(user_id)
        return None if seq is None else self._users[seq]

    def get_by_external_id(self, external_id: str) -> UserRecord | None:
        """The user with this ``external_id``, if any."""
        seq = self.by_external_id.get(external_id)
        return None if seq is None else self._users[seq]

    def conflicts(self, rec: UserRecord) -> list[str]:
        """The params whose value another user already holds, in Clerk's field order."""
        taken: list[str] = []
        if any(e.lower() in self.by_email for e in rec.emails):
            taken.append("email_address")
        if any(p in self.by_phone for p in rec.phones):
            taken.append("phone_number")
        if any(wallet_key(w) in self.by_wallet for w in rec.wallets):
            taken.append("web3_wallet")
        if rec.username is not None and rec.username.lower() in self.by_username:
            taken.append("username")
        if rec.external_id is not None and rec.external_id in self.by_external_id:
            taken.append("external_id")
        return taken

    def add(self, rec: UserRecord) -> str:
        """Store ``rec`` (whose identifiers must not conflict) and return its new public id."""
        seq = self._next
        self._next += 1
        rec.seq = seq
        self._users[seq] = rec
        for e in rec.emails:
            self.by_email[_lower(e)] = seq
        for p in rec.phones:
            self.by_phone[p] = seq
        for w in rec.wallets:
            self.by_wallet[wallet_key(w)] = seq
        if rec.username is not None:
            self.by_username[_lower(rec.username)] = seq
        if rec.external_id is not None:
            self.by_external_id[rec.external_id] = seq
        return self.user_id(seq)

    def identification_of(self, idn: str) -> tuple[int, str, int] | None:
        """``(seq, kind, index)`` of an identification id of an existing user, else None."""
        if not idn.startswith("idn_") or len(idn) != 4 + ID_DIGITS:
            return None
        n = decode_id(idn[4:])
        if n is None or n < self._idn_base:
            return None
        seq, rest = divmod(n - self._idn_base, _IDN_STRIDE)
        kind = next((k for k, off in _KIND_OFFSET.items() if off <= rest < off + 1024), None)
        if kind is None or seq not in self._users:
            return None
        return seq, kind, rest - _KIND_OFFSET[kind]

    def holder(self, kind: str, value: str) -> int | None:
        """The user holding an email / phone / username / external_id value, if any."""
        index = {
            "email_address": self.by_email,
            "phone_number": self.by_phone,
            "username": self.by_username,
            "external_id": self.by_external_id,
        }[kind]
        return index.get(value if kind in ("phone_number", "external_id") else value.lower())

    def unindex(self, rec: UserRecord) -> None:
        """Drop a stored user's identifiers from the indexes (before changing them)."""
        for e in rec.emails:
            self.by_email.pop(e.lower(), None)
        for p in rec.phones:
            self.by_phone.pop(p, None)
        if rec.username is not None:
            self.by_username.pop(rec.username.lower(), None)
        if rec.external_id is not None:
            self.by_external_id.pop(rec.external_id, None)

    def reindex(self, rec: UserRecord) -> None:
        """Put a stored user's (changed) identifiers back into the indexes."""
        for e in rec.emails:
            self.by_email[_lower(e)] = rec.seq
        for p in rec.phones:
            self.by_phone[p] = rec.seq
        if rec.username is not None:
            self.by_username[_lower(rec.username)] = rec.seq
        if rec.external_id is not None:
            self.by_external_id[rec.external_id] = rec.seq

    def delete(self, seq: int) -> UserRecord | None:
        """Remove a user and free its identifiers; return it, or None if it did not exist."""
        rec = self._users.pop(seq, None)
        if rec is None:
            return None
        self.orgs.drop_user(seq)
        for e in rec.emails:
            self.by_email.pop(e.lower(), None)
        for p in rec.phones:
            self.by_phone.pop(p, None)
        for w in rec.wallets:
            self.by_wallet.pop(wallet_key(w), None)
        if rec.username is not None:
            self.by_username.pop(rec.username.lower(), None)
        if rec.external_id is not None:
            self.by_external_id.pop(rec.external_id, None)
        return rec


def _lower(s: str) -> str:
    # Reuse the original object when it is already lower case: halves index memory.
    low = s.lower()
    return s if low == s else low
