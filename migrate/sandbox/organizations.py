"""The sandbox's organization endpoints: organizations, memberships and the instance's roles.

- ``POST /v1/organizations``, ``GET /v1/organizations`` (``query``, ``organization_id``,
  ``user_id``, ``include_members_count``, ``order_by``, ``limit``/``offset``),
  ``GET /v1/organizations/{id or slug}``, ``DELETE /v1/organizations/{id}`` (its memberships go
  with it);
- ``POST`` / ``GET /v1/organizations/{id}/memberships`` (``user_id``, ``role``, paging) and
  ``DELETE /v1/organizations/{id}/memberships/{user_id}``;
- ``GET /v1/organization_roles``: the roles of ``SandboxConfig.org_roles``;
- ``GET /v1/instance/organization_settings``: the organization switches (``enabled``,
  ``max_allowed_memberships``, ``slug_disabled``, ...), answered whether organizations are on
  or not.

A mixin of ``SandboxApp``. With organizations disabled every other one of them answers 403
``organization_not_enabled_in_instance``. Creates honour the request's fault plan like a user
create: with a lost response the organization or membership is stored, then the connection is
closed without an answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from migrate.sandbox.asgi import json_response
from migrate.sandbox.formats import parse_rfc3339_ms
from migrate.sandbox.orgrender import (
    Paging,
    parse_paging,
    render_membership,
    render_org,
    render_org_settings,
    render_role,
)
from migrate.sandbox.orgstore import MemberRecord, OrgRecord
from migrate.sandbox.problems import Problem, form_problem, identifier_exists, type_invalid
from migrate.sandbox.problems import unknown_param as unknown

if TYPE_CHECKING:
    from migrate.sandbox.config import SandboxConfig
    from migrate.sandbox.counters import Counters
    from migrate.sandbox.store import UserStore

__all__ = ["OrganizationEndpoints", "is_org_create"]

_ORG_FIELDS: Final = frozenset(
    {
        "name",
        "slug",
        "created_by",
        "public_metadata",
        "private_metadata",
        "max_allowed_memberships",
        "created_at",
        "role_set_key",
    }
)
_MEMBER_FIELDS: Final = frozenset({"user_id", "role", "public_metadata", "private_metadata"})
_NAME_MAX: Final = 256
_METADATA_MAX_BYTES: Final = 8 * 1024
# The spec: "only lowercase alphanumeric characters and the dash".
_SLUG: Final = re.compile(r"[a-z0-9-]+")
_MEMBERSHIPS: Final = re.compile(r"/v1/organizations/[^/]+/memberships")


def is_org_create(method: str, path: str) -> bool:
    """A write that may lose its answer after it is applied: create an organization or member."""
    return method == "POST" and (path == "/v1/organizations" or bool(_MEMBERSHIPS.fullmatch(path)))


def _org_not_found() -> Problem:
    return Problem("resource_not_found", "not found", "Given organization not found.")


def _user_not_found(user_id: str, param: str | None = None) -> Problem:
    return Problem("resource_not_found", "not found", f"No user was found with id {user_id}", param)


def _slugify(name: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", name.lower())) or "organization"


class OrganizationEndpoints:
    """The handlers; ``SandboxApp`` provides the store, config, counters and helpers."""

    if TYPE_CHECKING:
        store: UserStore
        config: SandboxConfig
        counters: Counters
        clock: Callable[[], float]

        async def _json_body(self, request: Request) -> dict[str, Any] | Response: ...
        def _problems(self, status: int, problems: list[Problem]) -> Response: ...
        async def _deliver(self, request: Request, response: Response) -> Response: ...

    def _org_routes(self) -> list[Route]:
        """The routes this mixin serves."""
        return [
            Route("/v1/organizations", self._create_org, methods=["POST"]),
            Route("/v1/organizations", self._list_orgs, methods=["GET"]),
            Route("/v1/organizations/{org}", self._get_org, methods=["GET"]),
            Route("/v1/organizations/{org}", self._delete_org, methods=["DELETE"]),
            Route("/v1/organizations/{org}/memberships", self._create_member, methods=["POST"]),
            Route("/v1/organizations/{org}/memberships", self._list_members, methods=["GET"]),
            Route(
                "/v1/organizations/{org}/memberships/{user_id}",
                self._delete_member,
                methods=["DELETE"],
            ),
            Route("/v1/organization_roles", self._list_roles, methods=["GET"]),
            Route("/v1/instance/organization_settings", self._org_settings, methods=["GET"]),
        ]

    def _disabled(self) -> Response | None:
        if self.config.organizations_enabled:
            return None
        return self._problems(
            403,
            [
                Problem(
                    "organization_not_enabled_in_instance",
                    "access denied",
                    "The organizations feature is not enabled for this instance. You can "
                    "enable it at https://dashboard.clerk.com.",
                )
            ],
        )

    def _org(self, request: Request, *, by_slug: bool = False) -> OrgRecord | Response:
        """The path's organization (by id, or by id or slug), or the refusal to answer with:
        organizations disabled, or no such organization (404)."""
        refused = self._disabled()
        if refused is not None:
            return refused
        ref = request.path_params["org"]
        orgs = self.store.orgs
        rec = orgs.get_by_id_or_slug(ref) if by_slug else orgs.get_by_id(ref)
        return self._problems(404, [_org_not_found()]) if rec is None else rec

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # organizations ------------------------------------------------------------------------

    async def _create_org(self, request: Request) -> Response:
        refused = self._disabled()
        if refused is not None:
            return refused
        data = await self._json_body(request)
        if isinstance(data, Response):
            return data
        rec, status, problems = self._org_from_body(data)
        if rec is None:
            return self._problems(status, problems)
        if rec.slug in self.store.orgs.by_slug:
            return self._problems(422, [identifier_exists("slug")])
        self.store.orgs.add(rec)
        if rec.created_by is not None:  # the creator joins with the creator role
            creator = self.store.seq_of(rec.created_by)
            assert creator is not None
            self.store.orgs.add_member(
                rec, MemberRecord(creator, self.config.org_roles[0], rec.created_at)
            )
        self.counters.org_writes["organizations_created"] += 1
        return await self._deliver(request, json_response(render_org(self.store, rec)))

    def _org_from_body(self, data: dict[str, Any]) -> tuple[OrgRecord | None, int, list[Problem]]:
        """The record a CreateOrganization body describes, or the status and problems."""
        problems = [unknown(k) for k in data if k not in _ORG_FIELDS]
        if problems:
            return None, 422, problems
        v = {k: val for k, val in data.items() if val is not None}
        problems = _types(
            v,
            strings=("name", "slug", "created_by", "created_at", "role_set_key"),
            objects=("public_metadata", "private_metadata"),
            ints=("max_allowed_memberships",),
        )
        if problems:
            return None, 422, problems
        name = v.get("name", "").strip()
        if not name:
            text = "name must be included."
            problems.append(form_problem("form_param_missing", "name", text, "is missing"))
        elif len(name) > _NAME_MAX or "<" in name or "://" in name:
            text = f"The organization name {name!r} is invalid: no URLs or HTML, at most 256."
            problems.append(
                Problem("form_param_value_invalid", "invalid organization name", text, "name")
            )
        slug = v.get("slug")
        if slug is not None and not _SLUG.fullmatch(slug):
            text = "slug can contain only lowercase alphanumeric characters and the dash."
            problems.append(form_problem("form_param_format_invalid", "slug", text))
        limit = v.get("max_allowed_memberships", self.config.org_max_memberships)
        if limit < 0:
            text = "max_allowed_memberships must be 0 (no limit) or greater."
            problems.append(
                form_problem("form_param_value_invalid", "max_allowed_memberships", text)
            )
        if v.get("role_set_key"):
            text = "role_set_key does not match a role set of this instance."
            problems.append(form_problem("form_param_value_invalid", "role_set_key", text))
        now = self._now_ms()
        created_at = now
        if "created_at" in v:
            parsed = parse_rfc3339_ms(v["created_at"])
            if parsed is None or parsed > now:
                text = "created_at must be an RFC3339 datetime, not in the future."
                problems.append(form_problem("form_param_invalid_time", "created_at", text))
            else:
                created_at = parsed
        metadata = _metadata_texts(v, problems)
        if problems:
            return None, 422, problems
        if slug is not None and self.config.org_slugs_disabled:
            return (
                None,
                403,
                [
                    Problem(
                        "organization_slugs_disabled",
                        "organization slugs not enabled",
                        "This instance does not have slugs enabled for organizations.",
                    )
                ],
            )
        creator = v.get("created_by")
        if creator is not None and self.store.get_by_id(creator) is None:
            return (
                None,
                400,
                [
                    Problem(
                        "organization_creator_not_found",
                        "creator not found",
                        f"No users found with id {creator}.",
                    )
                ],
            )
        rec = OrgRecord(name, slug or self._free_slug(_slugify(name)), now)
        rec.created_at = created_at
        rec.created_by = creator
        rec.max_memberships = limit
        rec.public_metadata, rec.private_metadata = metadata
        return rec, 200, []

    def _free_slug(self, base: str) -> str:
        # UNVERIFIED: how Clerk derives a slug from the name; a counter keeps it unique here.
        taken = self.store.orgs.by_slug
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        return slug

    async def _get_org(self, request: Request) -> Response:
        rec = self._org(request, by_slug=True)
        if isinstance(rec, Response):
            return rec
        counted = request.query_params.get("include_members_count") == "true"
        return json_response(render_org(self.store, rec, members_count=counted))

    async def _delete_org(self, request: Request) -> Response:
        rec = self._org(request)
        if isinstance(rec, Response):
            return rec
        self.store.orgs.delete(rec)
        self.counters.org_writes["organizations_deleted"] += 1
        return json_response(
            {
                "object": "organization",
                "id": request.path_params["org"],
                "slug": rec.slug,
                "deleted": True,
            }
        )

    async def _list_orgs(self, request: Request) -> Response:
        refused = self._disabled()
        if refused is not None:
            return refused
        pairs = request.query_params.multi_items()
        paging = parse_paging(pairs, ("created_at", "name", "members_count"))
        if isinstance(paging, Problem):
            return self._problems(422, [paging])
        orgs = self.store.orgs
        candidates: Iterable[OrgRecord] = orgs
        ids = _signed(pairs, "organization_id")
        if ids[0]:
            candidates = [r for r in map(orgs.get_by_id, ids[0]) if r is not None]
        users = _signed(pairs, "user_id")
        wanted = {s for s in map(self.store.seq_of, users[0]) if s is not None}
        shunned = {s for s in map(self.store.seq_of, users[1]) if s is not None}
        query = request.query_params.get("query", "").lower()
        found = [
            rec
            for rec in candidates
            if orgs.org_id(rec.seq) not in ids[1]
            and (not users[0] or not wanted.isdisjoint(rec.members))
            and shunned.isdisjoint(rec.members)
            and (
                not query
                or query == orgs.org_id(rec.seq).lower()
                or query in rec.name.lower()
                or query in rec.slug
            )
        ]
        sort: dict[str, Callable[[OrgRecord], Any]] = {
            "created_at": lambda r: (r.created_at, r.seq),
            "name": lambda r: (r.name.lower(), r.seq),
            "members_count": lambda r: (len(r.members), r.seq),
        }
        found.sort(key=sort[paging.order_field], reverse=paging.descending)
        counted = request.query_params.get("include_members_count") == "true"
        page = found[paging.offset : paging.offset + paging.limit]
        return json_response(
            {
                "data": [render_org(self.store, r, members_count=counted) for r in page],
                "total_count": len(found),
            }
        )

    # memberships --------------------------------------------------------------------------

    async def _create_member(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        data = await self._json_body(request)
        if isinstance(data, Response):
            return data
        problems = [unknown(k) for k in data if k not in _MEMBER_FIELDS]
        v = {k: val for k, val in data.items() if val is not None}
        problems = problems or _types(
            v, strings=("user_id", "role"), objects=("public_metadata", "private_metadata")
        )
        for param in ("user_id", "role"):
            if not problems and not v.get(param):
                problems.append(
                    form_problem(
                        "form_param_missing", param, f"{param} must be included.", "is missing"
                    )
                )
        metadata = _metadata_texts(v, problems)
        if problems:
            return self._problems(422, problems)
        user_seq = self.store.seq_of(v["user_id"])
        if user_seq is None:
            return self._problems(404, [_user_not_found(v["user_id"], "user_id")])
        if v["role"] not in self.config.org_roles:
            # UNVERIFIED: Clerk's OrganizationRoleNotFound, naming the role param.
            return self._problems(
                404,
                [Problem("resource_not_found", "not found", "Organization role not found", "role")],
            )
        if user_seq in org.members:
            text = f"{v['user_id']} is already a member of the organization."
            return self._problems(
                400, [Problem("already_a_member_in_organization", "already a member", text)]
            )
        if org.max_memberships and len(org.members) >= org.max_memberships:
            text = (
                f"You have reached your limit of {org.max_memberships} organization "
                "memberships, including outstanding invitations."
            )
            return self._problems(
                403,
                [
                    Problem(
                        "organization_membership_quota_exceeded",
                        "organization membership quota exceeded",
                        text,
                    )
                ],
            )
        member = MemberRecord(user_seq, v["role"], self._now_ms())
        member.public_metadata, member.private_metadata = metadata
        self.store.orgs.add_member(org, member)
        self.counters.org_writes["memberships_created"] += 1
        return await self._deliver(
            request, json_response(render_membership(self.store, org, member))
        )

    async def _list_members(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        pairs = request.query_params.multi_items()
        paging = parse_paging(pairs, ("created_at",))
        if isinstance(paging, Problem):
            return self._problems(422, [paging])
        include, exclude = _signed(pairs, "user_id")
        wanted = {s for s in map(self.store.seq_of, include) if s is not None}
        shunned = {s for s in map(self.store.seq_of, exclude) if s is not None}
        roles = {v for k, v in pairs if k == "role"}
        found = [
            m
            for m in org.members.values()
            if (not include or m.user_seq in wanted)
            and m.user_seq not in shunned
            and (not roles or m.role in roles)
        ]
        found.sort(key=lambda m: (m.created_at, m.seq), reverse=paging.descending)
        page = found[paging.offset : paging.offset + paging.limit]
        return json_response(
            {
                "data": [render_membership(self.store, org, m) for m in page],
                "total_count": len(found),
            }
        )

    async def _delete_member(self, request: Request) -> Response:
        org = self._org(request)
        if isinstance(org, Response):
            return org
        user_id = request.path_params["user_id"]
        user_seq = self.store.seq_of(user_id)
        member = None if user_seq is None else org.members.get(user_seq)
        if user_seq is None or member is None:
            # UNVERIFIED: the text Clerk gives a user who is not a member.
            text = f"No organization membership was found for user {user_id}."
            return self._problems(404, [Problem("resource_not_found", "not found", text)])
        body = render_membership(self.store, org, member)
        self.store.orgs.remove_member(org, user_seq)
        self.counters.org_writes["memberships_deleted"] += 1
        return json_response(body)

    # roles --------------------------------------------------------------------------------

    async def _org_settings(self, request: Request) -> Response:
        return json_response(render_org_settings(self.config))

    async def _list_roles(self, request: Request) -> Response:
        refused = self._disabled()
        if refused is not None:
            return refused
        pairs = request.query_params.multi_items()
        paging: Paging | Problem = parse_paging(pairs, ("created_at", "name", "key"))
        if isinstance(paging, Problem):
            return self._problems(422, [paging])
        query = request.query_params.get("query", "").lower()
        roles = [
            render_role(self.store, i, key, creator=i == 0)
            for i, key in enumerate(self.config.org_roles)
        ]
        found = [
            r
            for r in roles
            if not query
            or query == r["id"].lower()
            or query in r["key"]
            or query in r["name"].lower()
        ]
        if paging.order_field != "created_at":  # all roles share one creation time
            found.sort(key=lambda r: r[paging.order_field], reverse=paging.descending)
        page = found[paging.offset : paging.offset + paging.limit]
        return json_response({"data": page, "total_count": len(found)})


def _types(
    v: dict[str, Any],
    *,
    strings: tuple[str, ...] = (),
    objects: tuple[str, ...] = (),
    ints: tuple[str, ...] = (),
) -> list[Problem]:
    """Clerk's body-parser type errors for the given keys of ``v`` (nulls already dropped)."""
    problems = []
    for key, value in v.items():
        if key in strings and not isinstance(value, str):
            problems.append(type_invalid(key, value, "string"))
        elif key in objects and not isinstance(value, dict):
            problems.append(type_invalid(key, value, "object"))
        elif key in ints and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(type_invalid(key, value, "integer"))
    return problems


def _metadata_texts(v: dict[str, Any], problems: list[Problem]) -> tuple[str | None, str | None]:
    """Public and private metadata as compact JSON text (None when empty); 8 KB each at most."""
    out: list[str | None] = []
    for param in ("public_metadata", "private_metadata"):
        value = v.get(param)
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value else None
        if text is not None and len(text.encode()) > _METADATA_MAX_BYTES:
            problems.append(
                form_problem(
                    "form_param_exceeds_allowed_size",
                    param,
                    f"{param} exceeds the maximum allowed size of 8KB.",
                )
            )
        out.append(text)
    return out[0], out[1]


def _signed(pairs: Iterable[tuple[str, str]], param: str) -> tuple[list[str], set[str]]:
    """A repeated filter's values: those to include (``+`` stripped) and those to exclude."""
    include: list[str] = []
    exclude: set[str] = set()
    for key, value in pairs:
        if key != param:
            continue
        if value[:1] == "-":
            exclude.add(value[1:])
        else:
            include.append(value.removeprefix("+"))
    return include, exclude
