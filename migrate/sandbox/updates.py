"""The sandbox's write endpoints beyond create and delete: what ``sync`` sends.

- ``PATCH /v1/users/{id}`` (UpdateUser): names, username, external id, locale, a password
  (digest + hasher, or plaintext), the primary email / phone by id. ``null`` or ``""`` removes a
  name, username or external id. Metadata is refused (API version 2026-05-12).
- ``PATCH /v1/users/{id}/metadata``: deep merge; a key set to ``null`` is removed.
- ``POST /v1/email_addresses`` / ``POST /v1/phone_numbers``: add one to a user (``primary``
  makes it the first); ``PATCH`` them (``primary``) and ``DELETE`` them by id.
- ``POST /v1/users/{id}/ban``: the user is banned.

A mixin of ``SandboxApp``. Each write honours the request's fault plan like a create: with a
lost response it is applied, then the connection is closed without an answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from migrate.sandbox import store as flags
from migrate.sandbox.asgi import NoResponse, json_response, lose_connection
from migrate.sandbox.faults import FaultPlan
from migrate.sandbox.formats import email_problem, phone_problem, username_problem
from migrate.sandbox.problems import Problem, form_problem, identifier_exists, unknown_param
from migrate.sandbox.render import render_user
from migrate.sandbox.store import UserRecord, UserStore
from migrate.sandbox.validation import _password

if TYPE_CHECKING:
    from migrate.sandbox.config import SandboxConfig
    from migrate.sandbox.counters import Counters

__all__ = ["UpdateEndpoints", "merge_metadata"]

PLAN_KEY: Final = "sandbox.plan"
_USER_FIELDS: Final = frozenset(
    {
        "external_id", "first_name", "last_name", "username", "locale", "password",
        "password_digest", "password_hasher", "skip_password_checks",
        "primary_email_address_id", "primary_phone_number_id", "sign_out_of_other_sessions",
        "notify_primary_email_address_changed",
    }
)  # fmt: skip
_PASSWORD_FIELDS: Final = ("password", "password_digest", "password_hasher", "skip_password_checks")
_KINDS: Final = {"email": ("email_address", "emails"), "phone": ("phone_number", "phones")}


def merge_metadata(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Clerk's deep merge: objects merge key by key, ``null`` removes, anything else replaces."""
    out = dict(current)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_metadata(out[key], value)
        else:
            out[key] = value
    return out


class UpdateEndpoints:
    """The handlers; ``SandboxApp`` provides the store, config, counters and helpers."""

    if TYPE_CHECKING:
        store: UserStore
        config: SandboxConfig
        counters: Counters
        clock: Callable[[], float]

        async def _json_body(self, request: Request) -> dict[str, Any] | Response: ...
        def _problems(self, status: int, problems: list[Problem]) -> Response: ...
        def _not_found_user(self, user_id: str) -> Response: ...
        async def _hold(self, receive: Any) -> tuple[bool, Any]: ...

    async def _answer(self, request: Request, body: Any) -> Response:
        """The update was applied: answer (``_deliver``)."""
        self.counters.updates += 1
        return await self._deliver(request, json_response(body))

    async def _deliver(self, request: Request, response: Response) -> Response:
        """A write was applied: send ``response``, or lose it / stall as the fault plan says."""
        plan: FaultPlan = request.scope.get(PLAN_KEY, FaultPlan())
        if plan.lose:
            self.counters.faults["lost"] += 1
            await lose_connection(request.scope)
            return NoResponse()
        if plan.stall:
            self.counters.faults["stall"] += 1
            await self._hold(request.receive)
        return response

    async def _user_and_body(
        self, request: Request, accepted: frozenset[str] | set[str]
    ) -> tuple[UserRecord, dict[str, Any]] | Response:
        """The path's user and the JSON body (only ``accepted`` keys), or the error answer."""
        user_id = request.path_params["user_id"]
        rec = self.store.get_by_id(user_id)
        if rec is None:
            return self._not_found_user(user_id)
        data = await self._json_body(request)
        if isinstance(data, Response):
            return data
        unknown = sorted(set(data) - accepted)
        if unknown:
            return self._problems(422, [unknown_param(unknown[0])])
        return rec, data

    async def _update_user(self, request: Request) -> Response:
        target = await self._user_and_body(request, _USER_FIELDS)
        if isinstance(target, Response):
            return target
        rec, data = target
        problems: list[Problem] = []
        changes: dict[str, Any] = {}
        for name in ("first_name", "last_name", "locale", "username", "external_id"):
            if name in data:
                value = data[name]
                if value is not None and not isinstance(value, str):
                    problems.append(
                        form_problem("form_param_format_invalid", name, f"{name} must be a string")
                    )
                changes[name] = value or None
        if changes.get("username") is not None:
            problem = username_problem(changes["username"], 4, 64)
            if problem is not None:
                problems.append(problem)
        for name in ("username", "external_id"):
            value = changes.get(name)
            if value is not None and self.store.holder(name, value) not in (None, rec.seq):
                problems.append(identifier_exists(name))
        probe = UserRecord()
        secret = {k: data[k] for k in _PASSWORD_FIELDS if data.get(k) not in (None, "")}
        if secret:
            now_ms = int(self.clock() * 1000)
            _password(secret, self.config, probe, problems, now_ms=now_ms,
                      digest_plaintext=self.store.plaintext_digest)  # fmt: skip
        primaries = {}
        for kind, field in (("email", "primary_email_address_id"),
                            ("phone", "primary_phone_number_id")):  # fmt: skip
            if data.get(field):
                found = self.store.identification_of(str(data[field]))
                if found is None or found[0] != rec.seq or found[1] != kind:
                    problems.append(form_problem("form_param_value_invalid", field,
                                                 f"{field} is not one of this user's"))  # fmt: skip
                else:
                    primaries[kind] = found[2]
        if problems:
            return self._problems(422, problems)
        self.store.unindex(rec)
        for name, value in changes.items():
            setattr(rec, name, value)
        for kind, index in primaries.items():
            _make_primary(rec, kind, index)
        self.store.reindex(rec)
        if probe.digest is not None:
            rec.hasher, rec.digest = probe.hasher, probe.digest
            rec.password_updated_at = probe.password_updated_at
        rec.updated_at = int(self.clock() * 1000)
        return await self._answer(request, render_user(self.store, rec))

    async def _update_metadata(self, request: Request) -> Response:
        names = ("public_metadata", "private_metadata", "unsafe_metadata")
        target = await self._user_and_body(request, set(names))
        if isinstance(target, Response):
            return target
        rec, data = target
        for name in names:
            patch = data.get(name)
            if patch is None:
                continue
            if not isinstance(patch, dict):
                return self._problems(422, [form_problem("form_param_format_invalid", name,
                                                         f"{name} must be an object")])  # fmt: skip
            text = getattr(rec, name)
            merged = merge_metadata(json.loads(text) if text else {}, patch)
            setattr(rec, name, json.dumps(merged, separators=(",", ":")) if merged else None)
        rec.updated_at = int(self.clock() * 1000)
        return await self._answer(request, render_user(self.store, rec))

    async def _ban_user(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        rec = self.store.get_by_id(user_id)
        if rec is None:
            return self._not_found_user(user_id)
        rec.flags |= flags.BANNED
        rec.updated_at = int(self.clock() * 1000)
        return await self._answer(request, render_user(self.store, rec))

    async def _create_email(self, request: Request) -> Response:
        return await self._create_identification(request, "email")

    async def _create_phone(self, request: Request) -> Response:
        return await self._create_identification(request, "phone")

    async def _create_identification(self, request: Request, kind: str) -> Response:
        param, attr = _KINDS[kind]
        data = await self._json_body(request)
        if isinstance(data, Response):
            return data
        user_id, value = data.get("user_id"), data.get(param)
        if not isinstance(user_id, str) or not isinstance(value, str) or not value:
            missing = "user_id" if not isinstance(user_id, str) else param
            return self._problems(422, [form_problem("form_param_missing", missing,
                                                     f"{missing} must be included.")])  # fmt: skip
        rec = self.store.get_by_id(user_id)
        if rec is None:
            return self._not_found_user(user_id)
        problem = (email_problem if kind == "email" else phone_problem)(param, value)
        if problem is not None:
            return self._problems(422, [problem])
        if self.store.holder(param, value) is not None:
            return self._problems(422, [identifier_exists(param)])
        self.store.unindex(rec)
        values = (*getattr(rec, attr), value)
        setattr(rec, attr, values)
        status = getattr(rec, f"{kind}_status")
        if status is not None:
            setattr(rec, f"{kind}_status", (*status, "verified"))
        if data.get("primary"):
            _make_primary(rec, kind, len(values) - 1)
        self.store.reindex(rec)
        rec.updated_at = int(self.clock() * 1000)
        return await self._answer(request, _identification(self.store, rec, kind, value))

    async def _update_identification(self, request: Request) -> Response:
        found = self._identification(request)
        if isinstance(found, Response):
            return found
        rec, kind, index = found
        data = await self._json_body(request)
        if isinstance(data, Response):
            return data
        value = getattr(rec, _KINDS[kind][1])[index]
        if data.get("primary"):
            _make_primary(rec, kind, index)
        rec.updated_at = int(self.clock() * 1000)
        return await self._answer(request, _identification(self.store, rec, kind, value))

    async def _delete_identification(self, request: Request) -> Response:
        found = self._identification(request)
        if isinstance(found, Response):
            return found
        rec, kind, index = found
        attr = _KINDS[kind][1]
        self.store.unindex(rec)
        values = getattr(rec, attr)
        setattr(rec, attr, values[:index] + values[index + 1 :])
        status = getattr(rec, f"{kind}_status")
        if status is not None:
            setattr(rec, f"{kind}_status", status[:index] + status[index + 1 :])
        self.store.reindex(rec)
        rec.updated_at = int(self.clock() * 1000)
        idn = request.path_params["idn"]
        return await self._answer(request, {"object": _KINDS[kind][0], "id": idn, "deleted": True})

    def _identification(self, request: Request) -> tuple[UserRecord, str, int] | Response:
        idn = request.path_params["idn"]
        kind = "email" if request.url.path.startswith("/v1/email_addresses") else "phone"
        found = self.store.identification_of(idn)
        rec = None if found is None else self.store.get(found[0])
        if (
            found is None
            or rec is None
            or found[1] != kind
            or found[2] >= len(getattr(rec, _KINDS[kind][1]))
        ):
            what = f"No {_KINDS[kind][0]} was found with id {idn}"
            return self._problems(404, [Problem("resource_not_found", "not found", what)])
        return rec, kind, found[2]


def _make_primary(rec: UserRecord, kind: str, index: int) -> None:
    """Move the ``index``-th address of ``kind`` first (Clerk's primary is listed first here)."""
    attr = _KINDS[kind][1]
    values = getattr(rec, attr)
    setattr(rec, attr, (values[index], *values[:index], *values[index + 1 :]))
    status = getattr(rec, f"{kind}_status")
    if status is not None:
        setattr(rec, f"{kind}_status", (status[index], *status[:index], *status[index + 1 :]))


def _identification(store: UserStore, rec: UserRecord, kind: str, value: str) -> dict[str, Any]:
    """The rendered EmailAddress / PhoneNumber object holding ``value``."""
    param, _ = _KINDS[kind]
    listed = render_user(store, rec)[f"{param}es" if kind == "email" else f"{param}s"]
    return next(item for item in listed if item[param] == value)
