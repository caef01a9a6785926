"""The sandbox's organizations and memberships, in memory (the user store holds one).

Ids are derived like users' (``migrate.sandbox.ids``): ``org_`` + 27 base62 characters for an
organization, ``orgmem_`` for a membership, ``role_`` for an instance role. A membership belongs
to one organization and names its user by the user's sequence number; deleting a user drops its
memberships (``drop_user``), deleting an organization drops all of its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any, Final

from migrate.sandbox.ids import ID_DIGITS, decode_id, encode_id, id_base

__all__ = ["MemberRecord", "OrgRecord", "OrgStore"]

_DUMP_VERSION: Final = 1


class MemberRecord:
    """One user's membership in one organization."""

    __slots__ = (
        "created_at",
        "private_metadata",
        "public_metadata",
        "role",
        "seq",
        "updated_at",
        "user_seq",
    )

    def __init__(self, user_seq: int, role: str, now_ms: int) -> None:
        self.seq = -1
        self.user_seq = user_seq
        self.role = role
        self.public_metadata: str | None = None  # compact JSON text, None when empty
        self.private_metadata: str | None = None
        self.created_at = now_ms
        self.updated_at = now_ms

    def __repr__(self) -> str:
        return f"MemberRecord(user_seq={self.user_seq}, role={self.role!r})"


class OrgRecord:
    """One organization as stored; ``OrgStore.add`` assigns ``seq``."""

    __slots__ = (
        "created_at",
        "created_by",
        "max_memberships",
        "members",
        "name",
        "private_metadata",
        "public_metadata",
        "seq",
        "slug",
        "updated_at",
    )

    def __init__(self, name: str, slug: str, now_ms: int) -> None:
        self.seq = -1
        self.name = name
        self.slug = slug
        self.created_by: str | None = None  # a user id
        self.max_memberships = 0  # 0: no limit
        self.public_metadata: str | None = None
        self.private_metadata: str | None = None
        self.created_at = now_ms
        self.updated_at = now_ms
        self.members: dict[int, MemberRecord] = {}  # by user seq, in joining order

    def __repr__(self) -> str:
        return f"OrgRecord(seq={self.seq}, slug={self.slug!r})"


_ORG_FIELDS: Final = tuple(name for name in OrgRecord.__slots__ if name != "members")


class OrgStore:
    """All organizations of one sandbox instance, indexed by slug and by member."""

    def __init__(self, rng: random.Random) -> None:
        self._org_base = id_base(rng)
        self._member_base = id_base(rng)
        self._role_base = id_base(rng)
        self._next = 0
        self._next_member = 0
        self.clear()

    def clear(self) -> None:
        """Forget every organization (ids keep counting up)."""
        self._orgs: dict[int, OrgRecord] = {}
        self.by_slug: dict[str, int] = {}
        self._of_user: dict[int, set[int]] = {}

    # ids ----------------------------------------------------------------------------------

    def org_id(self, seq: int) -> str:
        """The public id of the organization with sequence number ``seq``."""
        return "org_" + encode_id(self._org_base + seq)

    def membership_id(self, seq: int) -> str:
        """The public id of the membership with sequence number ``seq``."""
        return "orgmem_" + encode_id(self._member_base + seq)

    def role_id(self, index: int) -> str:
        """The public id of the instance's ``index``-th role."""
        return "role_" + encode_id(self._role_base + index)

    def get_by_id(self, org_id: str) -> OrgRecord | None:
        """The organization with public id ``org_id``, if it exists."""
        if not org_id.startswith("org_") or len(org_id) != 4 + ID_DIGITS:
            return None
        n = decode_id(org_id[4:])
        return None if n is None else self._orgs.get(n - self._org_base)

    def get_by_id_or_slug(self, key: str) -> OrgRecord | None:
        """The organization whose id or slug is ``key``, if any."""
        rec = self.get_by_id(key)
        if rec is not None:
            return rec
        seq = self.by_slug.get(key)
        return None if seq is None else self._orgs[seq]

    # records ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._orgs)

    def __iter__(self) -> Iterator[OrgRecord]:
        """Organizations in creation order (oldest first)."""
        return iter(self._orgs.values())

    def memberships(self) -> int:
        """How many memberships all organizations hold."""
        return sum(len(rec.members) for rec in self._orgs.values())

    def add(self, rec: OrgRecord) -> str:
        """Store ``rec`` (its slug must be free) and return its new public id."""
        rec.seq = self._next
        self._next += 1
        self._orgs[rec.seq] = rec
        self.by_slug[rec.slug] = rec.seq
        for user_seq in rec.members:
            self._of_user.setdefault(user_seq, set()).add(rec.seq)
        return self.org_id(rec.seq)

    def delete(self, rec: OrgRecord) -> None:
        """Remove an organization and all its memberships."""
        self._orgs.pop(rec.seq, None)
        self.by_slug.pop(rec.slug, None)
        for user_seq in rec.members:
            self._unlink(user_seq, rec.seq)

    def add_member(self, rec: OrgRecord, member: MemberRecord) -> None:
        """Make ``member`` (not yet a member) part of ``rec``; assigns its ``seq``."""
        member.seq = self._next_member
        self._next_member += 1
        rec.members[member.user_seq] = member
        self._of_user.setdefault(member.user_seq, set()).add(rec.seq)

    def remove_member(self, rec: OrgRecord, user_seq: int) -> MemberRecord | None:
        """Drop a user's membership of ``rec``; return it, or None if there was none."""
        member = rec.members.pop(user_seq, None)
        if member is not None:
            self._unlink(user_seq, rec.seq)
        return member

    def orgs_of(self, user_seq: int) -> set[int]:
        """Sequence numbers of the organizations a user belongs to."""
        return self._of_user.get(user_seq, set())

    def get(self, seq: int) -> OrgRecord | None:
        """The organization with sequence number ``seq``, if any."""
        return self._orgs.get(seq)

    def drop_user(self, user_seq: int) -> None:
        """A user was deleted: remove it from every organization."""
        for org_seq in self._of_user.pop(user_seq, set()):
            self._orgs[org_seq].members.pop(user_seq, None)

    def _unlink(self, user_seq: int, org_seq: int) -> None:
        orgs = self._of_user.get(user_seq)
        if orgs is not None:
            orgs.discard(org_seq)
            if not orgs:
                del self._of_user[user_seq]

    # persistence --------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything held, as JSON-ready data."""
        return {
            "version": _DUMP_VERSION,
            "bases": [self._org_base, self._member_base, self._role_base],
            "next": [self._next, self._next_member],
            "organizations": [
                {
                    **{
                        name: getattr(rec, name)
                        for name in OrgRecord.__slots__
                        if name != "members"
                    },
                    "members": [
                        {name: getattr(m, name) for name in MemberRecord.__slots__}
                        for m in rec.members.values()
                    ],
                }
                for rec in self._orgs.values()
            ],
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace what this store holds with a ``dump``.

        Raises ``ValueError`` when ``data`` is not a dump of this version (or is damaged).
        """
        if not isinstance(data, dict) or data.get("version") != _DUMP_VERSION:
            raise ValueError("not a sandbox organization store (or one of another version)")
        try:
            self._org_base, self._member_base, self._role_base = map(int, data["bases"])
            self.clear()
            for fields in data["organizations"]:
                rec = OrgRecord(fields["name"], fields["slug"], 0)
                for name in _ORG_FIELDS:
                    setattr(rec, name, fields[name])
                for item in fields["members"]:
                    member = MemberRecord(item["user_seq"], item["role"], 0)
                    for name in MemberRecord.__slots__:
                        setattr(member, name, item[name])
                    rec.members[member.user_seq] = member
                self._next = rec.seq
                self.add(rec)
            self._next, self._next_member = map(int, data["next"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a damaged sandbox organization store ({exc})") from exc
