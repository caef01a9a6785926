"""GET /v1/users and /v1/users/count: query parsing, filters, ordering and paging.

Array filters repeat their key (``?external_id=a&external_id=b``), at most 100 values each, and
values not found are ignored. ``external_id``, ``user_id`` and ``organization_id`` take a ``+``
(include; stripped) or ``-`` (exclude) prefix. Different filters combine with AND, the values of
one filter with OR. Indexed filters pick the candidates first, so a 100-id lookup over a million
users costs 100 dictionary hits; only the fuzzy ``*query`` filters scan every user.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from migrate.sandbox.problems import Problem, form_problem
from migrate.sandbox.store import BANNED, UserRecord, UserStore, wallet_key

__all__ = ["ListQuery", "parse_list_query", "run_count", "run_list"]

_MAX_VALUES: Final = 100
_MAX_LIMIT: Final = 500
_ARRAY_PARAMS: Final = (
    "email_address",
    "phone_number",
    "external_id",
    "username",
    "web3_wallet",
    "user_id",
    "organization_id",
    "provider_user_id",
)
_SIGNED: Final = frozenset({"external_id", "user_id", "organization_id"})
_FUZZY: Final = (
    "query",
    "email_address_query",
    "phone_number_query",
    "username_query",
    "name_query",
)
_WINDOWS: Final = (
    "created_at_before",
    "created_at_after",
    "last_active_at_before",
    "last_active_at_after",
    "last_active_at_since",
    "last_sign_in_at_before",
    "last_sign_in_at_after",
)
_BY_CREATED: Final = operator.attrgetter("created_at", "seq")
_ORDER_FIELDS: Final[dict[str, Callable[[UserRecord], Any]]] = {
    "created_at": lambda r: r.created_at,
    "updated_at": lambda r: r.updated_at,
    "email_address": lambda r: r.emails[0].lower() if r.emails else None,
    "web3wallet": lambda r: r.wallets[0] if r.wallets else None,
    "first_name": lambda r: r.first_name,
    "last_name": lambda r: r.last_name,
    "phone_number": lambda r: r.phones[0] if r.phones else None,
    "username": lambda r: r.username.lower() if r.username else None,
    "last_active_at": lambda r: None,
    "last_sign_in_at": lambda r: None,
}


@dataclass
class ListQuery:
    """A parsed list/count query."""

    include: dict[str, list[str]] = field(default_factory=dict)
    exclude: dict[str, set[str]] = field(default_factory=dict)
    fuzzy: dict[str, str] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)
    banned: bool | None = None
    provider: str | None = None
    limit: int = 10
    offset: int = 0
    order_field: str = "created_at"
    descending: bool = True
    starting_after: str | None = None


def parse_list_query(pairs: Sequence[tuple[str, str]], paging: bool) -> ListQuery | list[Problem]:
    """Parse the query string of a list (``paging=True``) or count request."""
    q = ListQuery()
    first: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
        first.setdefault(key, value)
    problems: list[Problem] = []
    for param in _ARRAY_PARAMS:
        items = values.get(param)
        if not items:
            continue
        if len(items) > _MAX_VALUES:
            problems.append(
                form_problem(
                    "form_param_duplicate",
                    param,
                    f"{param} is included more than the maximum of {_MAX_VALUES} times.",
                    "is duplicate",
                )
            )
            continue
        for item in items:
            if param in _SIGNED and item[:1] == "-":
                q.exclude.setdefault(param, set()).add(item[1:])
            else:
                value = item[1:] if param in _SIGNED and item[:1] == "+" else item
                q.include.setdefault(param, []).append(value)
    q.fuzzy = {p: first[p] for p in _FUZZY if first.get(p)}
    for param in _WINDOWS:
        if param in first:
            number = _int(first[param], param, problems)
            if number is not None:
                q.windows[param] = number
    if "banned" in first:
        text = first["banned"].lower()
        if text not in ("true", "false"):
            problems.append(_invalid("banned", "banned must be true or false."))
        q.banned = text == "true"
    q.provider = first.get("provider") or None
    if "provider_user_id" in q.include and q.provider is None:
        problems.append(
            form_problem(
                "form_conditional_param_missing",
                "provider",
                "`provider` is required when `provider_user_id` is present.",
                "is missing",
            )
        )
    if paging:
        _parse_paging(q, first, problems)
    return problems or q


def _parse_paging(q: ListQuery, first: dict[str, str], problems: list[Problem]) -> None:
    if "limit" in first:
        limit = _int(first["limit"], "limit", problems)
        if limit is not None and not 1 <= limit <= _MAX_LIMIT:
            problems.append(_invalid("limit", f"limit must be between 1 and {_MAX_LIMIT}."))
        elif limit is not None:
            q.limit = limit
    if "offset" in first:
        offset = _int(first["offset"], "offset", problems)
        if offset is not None and offset < 0:
            problems.append(_invalid("offset", "offset must be greater or equal to zero."))
        elif offset is not None:
            q.offset = offset
    order = first.get("order_by")
    if order:
        descending = order[0] == "-"
        name = order[1:] if order[0] in "+-" else order
        if name not in _ORDER_FIELDS:
            allowed = ", ".join(_ORDER_FIELDS)
            problems.append(
                _invalid(
                    "order_by",
                    f"{order} does not match the allowed values for parameter order_by. "
                    f"Allowed values: {allowed}",
                )
            )
        else:
            q.order_field, q.descending = name, descending
    cursor = first.get("starting_after")
    if cursor:
        q.starting_after = cursor
        if q.order_field != "created_at":
            problems.append(_disallowed("starting_after", "order_by", "not created_at"))
        elif q.offset:
            problems.append(_disallowed("starting_after", "offset", "not zero"))


def run_count(store: UserStore, q: ListQuery) -> int:
    """How many users match ``q``."""
    if not (q.include or q.exclude or q.fuzzy or q.windows or q.banned is not None):
        return len(store)
    return sum(1 for _ in _matching(store, q))


def run_list(store: UserStore, q: ListQuery) -> list[UserRecord] | Problem:
    """The page of users ``q`` asks for, in its order (a Problem if the cursor is unknown)."""
    value = _ORDER_FIELDS[q.order_field]
    key: Callable[[UserRecord], tuple[Any, ...]]
    if q.order_field == "created_at":
        key = _BY_CREATED  # the default order; a C-level key keeps a 1 M-user page fast
    else:

        def key(r: UserRecord) -> tuple[Any, ...]:
            v = value(r)
            return (v is None, "" if v is None else v, r.seq)

    candidates: Iterable[UserRecord] = _matching(store, q)
    if q.starting_after is not None:
        cursor = store.get_by_id(q.starting_after)
        if cursor is None:
            return _invalid("starting_after", f"No user was found with id {q.starting_after}")
        mark = key(cursor)
        candidates = (
            [r for r in candidates if key(r) < mark]
            if q.descending
            else [r for r in candidates if key(r) > mark]
        )
    want = q.offset + q.limit
    pick = heapq.nlargest if q.descending else heapq.nsmallest
    return pick(want, candidates, key=key)[q.offset :]


def _matching(store: UserStore, q: ListQuery) -> Iterable[UserRecord]:
    if "provider_user_id" in q.include:
        return []  # the sandbox has no external accounts
    seqs = _indexed(store, q.include)
    users: Iterable[UserRecord]
    if seqs is None:
        users = store
    else:
        users = [r for r in (store.get(s) for s in sorted(seqs)) if r is not None]
    checks = _predicates(store, q)
    if not checks:
        return users
    return (r for r in users if all(check(r) for check in checks))


def _members(store: UserStore, org_ids: Iterable[str]) -> set[int]:
    """The users who belong to any of these organizations (unknown ids are ignored)."""
    found: set[int] = set()
    for org_id in org_ids:
        org = store.orgs.get_by_id(org_id)
        if org is not None:
            found.update(org.members)
    return found


def _indexed(store: UserStore, include: dict[str, list[str]]) -> set[int] | None:
    result: set[int] | None = None
    for param, items in include.items():
        if param == "user_id":
            found = {s for s in (store.seq_of(i) for i in items) if s is not None}
        elif param == "organization_id":
            found = _members(store, items)
        else:
            index, norm = {
                "email_address": (store.by_email, str.lower),
                "phone_number": (store.by_phone, _same),
                "username": (store.by_username, str.lower),
                "web3_wallet": (store.by_wallet, wallet_key),
                "external_id": (store.by_external_id, _same),
            }[param]
            found = {index[k] for k in (norm(i) for i in items) if k in index}
        result = found if result is None else result & found
    return result


def _predicates(store: UserStore, q: ListQuery) -> list[Callable[[UserRecord], bool]]:
    checks: list[Callable[[UserRecord], bool]] = []
    ex_ext = q.exclude.get("external_id")
    if ex_ext:
        checks.append(lambda r: r.external_id not in ex_ext)
    ex_orgs = q.exclude.get("organization_id")
    if ex_orgs:
        ex_members = _members(store, ex_orgs)
        checks.append(lambda r: r.seq not in ex_members)
    ex_ids = q.exclude.get("user_id")
    if ex_ids:
        ex_seqs = {s for s in (store.seq_of(i) for i in ex_ids) if s is not None}
        checks.append(lambda r: r.seq not in ex_seqs)
    if q.banned is not None:
        banned = q.banned
        checks.append(lambda r: bool(r.flags & BANNED) == banned)
    for name, needle in q.fuzzy.items():
        checks.append(_fuzzy(store, name, needle.lower()))
    for name, bound in q.windows.items():
        checks.append(_window(name, bound))
    return checks


def _fuzzy(store: UserStore, name: str, needle: str) -> Callable[[UserRecord], bool]:
    def fields(r: UserRecord) -> list[str]:
        if name == "email_address_query":
            return list(r.emails)
        if name == "phone_number_query":
            return list(r.phones)
        if name == "username_query":
            return [r.username or ""]
        if name == "name_query":
            return [r.first_name or "", r.last_name or "", f"{r.first_name} {r.last_name}"]
        return [
            *r.emails,
            *r.phones,
            *r.wallets,
            r.username or "",
            r.first_name or "",
            r.last_name or "",
            store.user_id(r.seq),
        ]

    return lambda r: any(needle in f.lower() for f in fields(r))


def _window(name: str, bound: int) -> Callable[[UserRecord], bool]:
    if name == "created_at_before":
        return lambda r: r.created_at < bound
    if name == "created_at_after":
        return lambda r: r.created_at > bound
    # Nobody has signed in or been active in the sandbox: those timestamps are all null.
    return lambda r: False


def _int(text: str, param: str, problems: list[Problem]) -> int | None:
    try:
        return int(text)
    except ValueError:
        problems.append(_invalid(param, f"{param} must be an integer."))
        return None


def _invalid(param: str, long_message: str) -> Problem:
    return form_problem("form_param_value_invalid", param, long_message)


def _disallowed(param: str, other: str, condition: str) -> Problem:
    return form_problem(
        "form_conditional_param_disallowed",
        param,
        f"`{param}` isn't allowed when `{other}` is {condition}.",
        "is not allowed",
    )


def _same(s: str) -> str:
    return s
