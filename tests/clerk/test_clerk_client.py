"""ClerkClient on httpx.MockTransport: every outcome kind, what is sent, and no secret leaks."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from migrate._internal.clerk.client import (
    DEFAULT_API_VERSION,
    MAX_FILTER_VALUES,
    ClerkClient,
    validate_base_url,
)
from migrate._internal.clerk.outcomes import (
    Counted,
    Created,
    Deleted,
    Fetched,
    PasswordChecked,
    Rejected,
    Transient,
    Users,
)
from migrate._internal.secrets import Secret
from migrate.errors import ConfigError

KEY = "sk_test_S3cr3tKeyThatMustNeverLeak"
PASSWORD = "hunter2-plaintext"
DIGEST = "$2b$10$abcdefghijklmnopqrstuuJ6CkVJ3Y0h7a1xg6l8Xx7k5sZq3vP2m"
T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]


def user_json(user_id: str = "user_1", external_id: str | None = "ext-1") -> dict[str, Any]:
    """A minimal BAPI User object with two emails, the second one primary."""
    return {
        "id": user_id,
        "object": "user",
        "external_id": external_id,
        "username": "ada",
        "primary_email_address_id": "idn_2",
        "email_addresses": [
            {"id": "idn_1", "email_address": "old@example.com"},
            {"id": "idn_2", "email_address": "ada@example.com"},
        ],
        "phone_numbers": [{"id": "idn_3", "phone_number": "+15555550100"}],
        "created_at": 1700000000000,
        "password_enabled": True,
    }


def clerk_error(code: str, param: str | None = None, *, trace: str = "trace_9") -> dict[str, Any]:
    """A ClerkErrors body with one error."""
    meta = {"param_name": param} if param else {}
    return {
        "errors": [
            {"code": code, "message": f"m:{code}", "long_message": f"l:{code}", "meta": meta}
        ],
        "clerk_trace_id": trace,
    }


def call(handler: Handler, action: Callable[[ClerkClient], Awaitable[T]]) -> T:
    """Run ``action`` against a client whose transport is ``handler``."""

    async def main() -> T:
        async with ClerkClient(
            "https://api.clerk.com", Secret(KEY), transport=httpx.MockTransport(handler)
        ) as clerk:
            return await action(clerk)

    return asyncio.run(main())


def answer(status: int, body: Any = None, **kwargs: Any) -> Handler:
    """A handler that always answers ``status`` with a JSON ``body``."""
    return lambda request: httpx.Response(status, json=body, **kwargs)


def raising(exc: Exception) -> Handler:
    """A handler whose transport fails with ``exc``."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


# --- create_user ---------------------------------------------------------------------------


def test_create_returns_created_with_the_primary_email_first() -> None:
    """A 200 becomes Created with the Clerk id, the echoed external_id, primary email first."""
    outcome = call(answer(200, user_json()), lambda c: c.create_user({"external_id": "ext-1"}))
    assert isinstance(outcome, Created)
    assert outcome.user_id == "user_1"
    assert outcome.external_id == "ext-1"
    assert outcome.user.email_addresses == ("ada@example.com", "old@example.com")
    assert outcome.user.phone_numbers == ("+15555550100",)
    assert outcome.user.created_at == 1700000000000


def test_create_sends_headers_and_the_body_verbatim() -> None:
    """The key goes in Authorization, the version header is explicit, the body is JSON as given."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=user_json())

    body = {
        "external_id": "ext-1",
        "email_address": ["ada@example.com"],
        "skip_password_checks": True,
    }
    call(handler, lambda c: c.create_user(body))
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://api.clerk.com/v1/users"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Clerk-API-Version"] == DEFAULT_API_VERSION
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("clerk-migrate/")
    assert json.loads(request.content) == body


def test_identifier_exists_is_rejected_with_code_param_and_trace() -> None:
    """A 422 becomes Rejected carrying Clerk's code, param, both messages and the trace id."""
    outcome = call(
        answer(422, clerk_error("form_identifier_exists", "email_address")),
        lambda c: c.create_user({}),
    )
    assert isinstance(outcome, Rejected)
    assert (outcome.status, outcome.code, outcome.param) == (
        422, "form_identifier_exists", "email_address",
    )  # fmt: skip
    assert (outcome.message, outcome.long_message, outcome.trace_id) == (
        "m:form_identifier_exists", "l:form_identifier_exists", "trace_9",
    )  # fmt: skip
    assert [e.code for e in outcome.errors] == ["form_identifier_exists"]


def test_every_error_of_the_body_is_kept() -> None:
    """A body with several errors keeps all of them; the first names the outcome."""
    body = clerk_error("form_param_format_invalid", "email_address")
    body["errors"].append(
        {
            "code": "form_param_unknown",
            "message": "x",
            "long_message": "y",
            "meta": {"param_name": "phone_number"},
        }
    )
    outcome = call(answer(422, body), lambda c: c.create_user({}))
    assert isinstance(outcome, Rejected)
    assert outcome.code == "form_param_format_invalid"
    assert [(e.code, e.param) for e in outcome.errors] == [
        ("form_param_format_invalid", "email_address"),
        ("form_param_unknown", "phone_number"),
    ]


def test_quota_exceeded_is_rejected_403() -> None:
    """A 403 user_quota_exceeded is a Rejected (the retry table aborts on it)."""
    outcome = call(answer(403, clerk_error("user_quota_exceeded")), lambda c: c.create_user({}))
    assert isinstance(outcome, Rejected)
    assert (outcome.status, outcome.code) == (403, "user_quota_exceeded")


def test_a_4xx_without_clerk_errors_gets_an_http_code() -> None:
    """A 4xx whose body is not ClerkErrors (a proxy page) is Rejected with code http_<status>."""
    handler: Handler = lambda request: httpx.Response(  # noqa: E731
        403, text="<html>denied</html>", headers={"CF-Ray": "ray-1"}
    )
    outcome = call(handler, lambda c: c.create_user({}))
    assert outcome == Rejected(status=403, code="http_403", trace_id="ray-1")


def test_trace_id_falls_back_to_the_header() -> None:
    """Without clerk_trace_id in the body, the Clerk-Trace-Id header is used."""
    body = clerk_error("form_param_unknown", "x")
    del body["clerk_trace_id"]
    outcome = call(
        answer(422, body, headers={"Clerk-Trace-Id": "hdr-7"}), lambda c: c.create_user({})
    )
    assert isinstance(outcome, Rejected)
    assert outcome.trace_id == "hdr-7"


def test_429_is_transient_with_retry_after_and_not_ambiguous() -> None:
    """A 429 is a rate_limited Transient with the parsed Retry-After; Clerk did nothing."""
    outcome = call(
        answer(429, clerk_error("too_many_requests"), headers={"Retry-After": "7"}),
        lambda c: c.create_user({}),
    )
    assert outcome == Transient(
        "rate_limited", status=429, retry_after=7.0, code="too_many_requests", ambiguous=False,
        trace_id="trace_9",
    )  # fmt: skip


def test_429_with_an_http_date_retry_after_is_parsed() -> None:
    """A Retry-After given as an HTTP-date in the past means retry now (0 s)."""
    outcome = call(
        answer(429, None, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        lambda c: c.create_user({}),
    )
    assert isinstance(outcome, Transient)
    assert outcome.retry_after == 0.0


def test_429_without_retry_after_has_none() -> None:
    """A 429 with no header leaves retry_after None (the retry module picks the default)."""
    outcome = call(answer(429, None), lambda c: c.create_user({}))
    assert isinstance(outcome, Transient)
    assert outcome.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_an_ambiguous_server_error(status: int) -> None:
    """A 5xx is a server_error Transient that may have created the user (ambiguous)."""
    outcome = call(answer(status, clerk_error("internal_clerk_error")), lambda c: c.create_user({}))
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.status, outcome.ambiguous) == ("server_error", status, True)


def test_408_is_a_timeout() -> None:
    """A 408 from a proxy is an ambiguous timeout."""
    outcome = call(answer(408, None), lambda c: c.create_user({}))
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous) == ("timeout", True)


@pytest.mark.parametrize(
    ("exc", "kind", "ambiguous"),
    [
        (httpx.ReadTimeout("slow"), "timeout", True),
        (httpx.WriteTimeout("slow"), "timeout", True),
        (httpx.ConnectTimeout("slow"), "timeout", False),
        (httpx.PoolTimeout("busy"), "timeout", False),
        (httpx.ConnectError("refused"), "connection", False),
        (httpx.ReadError("reset"), "connection", True),
        (httpx.WriteError("broken pipe"), "connection", True),
        (httpx.RemoteProtocolError("server disconnected"), "protocol", True),
    ],
)
def test_transport_failures_become_transients(exc: Exception, kind: str, ambiguous: bool) -> None:
    """Transport exceptions never escape: each becomes a Transient of the right kind."""
    outcome = call(raising(exc), lambda c: c.create_user({}))
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous, outcome.status) == (kind, ambiguous, None)


def test_an_unreadable_200_is_an_ambiguous_protocol_transient() -> None:
    """A 200 whose body is not a user may still mean the user was created."""
    handler: Handler = lambda request: httpx.Response(200, text="<html>")  # noqa: E731
    outcome = call(handler, lambda c: c.create_user({}))
    assert outcome == Transient("protocol", status=200)
    outcome = call(answer(200, {"object": "user"}), lambda c: c.create_user({}))
    assert outcome == Transient("protocol", status=200)


def test_a_body_that_is_not_json_is_rejected_without_sending() -> None:
    """A non-serialisable body (NaN, an object) fails the row locally; nothing is sent."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=user_json())

    outcome = call(handler, lambda c: c.create_user({"created_at": float("nan")}))
    assert outcome == Rejected(
        status=0, code="request_body_invalid", message="the request body is not JSON-serialisable"
    )
    assert sent == []


# --- lookups -------------------------------------------------------------------------------


def test_list_users_prefixes_external_ids_and_repeats_keys() -> None:
    """external_id values go out as repeated +<id> params; other filters are sent verbatim."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[user_json("user_1", "-abc"), user_json("user_2", None)])

    outcome = call(
        handler,
        lambda c: c.list_users(
            external_id=["-abc", "+def"], email_address=["a@example.com"], limit=200, offset=5
        ),
    )
    (request,) = seen
    assert request.url.path == "/v1/users"
    assert request.url.params.multi_items() == [
        ("external_id", "+-abc"),
        ("external_id", "++def"),
        ("email_address", "a@example.com"),
        ("limit", "200"),
        ("offset", "5"),
    ]
    assert isinstance(outcome, Users)
    assert [u.id for u in outcome.users] == ["user_1", "user_2"]
    assert set(outcome.by_external_id()) == {"-abc"}


def test_list_users_refuses_more_than_100_values() -> None:
    """One call is one request: more than 100 values per filter is the caller's bug."""
    ids = [str(i) for i in range(MAX_FILTER_VALUES + 1)]
    with pytest.raises(ValueError, match="at most 100"):
        call(answer(200, []), lambda c: c.list_users(external_id=ids))


def test_list_users_refuses_a_bare_string() -> None:
    """A string is not a list of values (it would send one value per character)."""
    with pytest.raises(TypeError, match="not a string"):
        call(answer(200, []), lambda c: c.list_users(email_address="a@example.com"))


@pytest.mark.parametrize("limit", [0, 501])
def test_list_users_checks_the_limit(limit: int) -> None:
    """Clerk's limit is 1..500."""
    with pytest.raises(ValueError, match="limit"):
        call(answer(200, []), lambda c: c.list_users(limit=limit))


def test_list_users_with_a_non_list_body_is_a_protocol_transient() -> None:
    """An envelope where a bare array is expected is unreadable, not an empty result."""
    outcome = call(answer(200, {"data": []}), lambda c: c.list_users(external_id=["a"]))
    assert isinstance(outcome, Transient)
    assert outcome.kind == "protocol"


def test_list_users_failures_are_outcomes_too() -> None:
    """A 429 on a lookup is a Transient like any other."""
    outcome = call(answer(429, None, headers={"Retry-After": "1"}), lambda c: c.list_users())
    assert isinstance(outcome, Transient)
    assert outcome.retry_after == 1.0


def test_count_users() -> None:
    """The count endpoint's total_count becomes Counted; filters are sent like list_users'."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"object": "total_count", "total_count": 42})

    outcome = call(handler, lambda c: c.count_users(external_id=["x"]))
    assert outcome == Counted(42)
    assert seen[0].url.path == "/v1/users/count"
    assert seen[0].url.params.multi_items() == [("external_id", "+x")]


def test_count_users_garbled() -> None:
    """A count body without an integer total is a protocol Transient."""
    outcome = call(answer(200, {"total_count": "many"}), lambda c: c.count_users())
    assert isinstance(outcome, Transient)
    assert outcome.kind == "protocol"


def test_get_user_found_and_missing() -> None:
    """GET /users/{id} gives Fetched, or Rejected 404 resource_not_found."""
    found = call(answer(200, user_json("user_9")), lambda c: c.get_user("user_9"))
    assert isinstance(found, Fetched)
    assert found.user.id == "user_9"
    missing = call(answer(404, clerk_error("resource_not_found")), lambda c: c.get_user("user_0"))
    assert isinstance(missing, Rejected)
    assert (missing.status, missing.code) == (404, "resource_not_found")


def test_user_ids_are_quoted_as_one_path_segment() -> None:
    """An id containing '/' or '?' cannot change the route."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=user_json())

    call(handler, lambda c: c.get_user("a/b?c"))
    assert seen[0].url.raw_path == b"/v1/users/a%2Fb%3Fc"


def test_delete_user() -> None:
    """DELETE /users/{id} gives Deleted; a SCIM-managed user is Rejected 409."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        return httpx.Response(200, json={"object": "user", "id": "user_1", "deleted": True})

    assert call(handler, lambda c: c.delete_user("user_1")) == Deleted("user_1")
    assert seen == ["DELETE"]
    scim = call(answer(409, clerk_error("user_managed_by_scim")), lambda c: c.delete_user("u"))
    assert isinstance(scim, Rejected)
    assert scim.code == "user_managed_by_scim"


def test_verify_password_outcomes() -> None:
    """200 verified / 422 not verified become PasswordChecked; 400 (no password) is Rejected."""
    seen: list[httpx.Request] = []

    def ok(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"verified": True})

    assert call(ok, lambda c: c.verify_password("user_1", Secret(PASSWORD))) == PasswordChecked(
        True
    )
    assert seen[0].url.path == "/v1/users/user_1/verify_password"
    assert json.loads(seen[0].content) == {"password": PASSWORD}
    wrong = call(
        answer(422, clerk_error("form_password_incorrect")),
        lambda c: c.verify_password("user_1", Secret(PASSWORD)),
    )
    assert wrong == PasswordChecked(False, "form_password_incorrect")
    no_password = call(answer(400, None), lambda c: c.verify_password("u", Secret(PASSWORD)))
    assert isinstance(no_password, Rejected)
    assert no_password.status == 400


# --- configuration and secrets -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://api.clerk.com", "https://api.clerk.com/v1"),
        ("https://api.clerk.com/", "https://api.clerk.com/v1"),
        ("https://api.clerk.com/v1", "https://api.clerk.com/v1"),
        ("https://proxy.example.com/clerk/v1/", "https://proxy.example.com/clerk/v1"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123/v1"),
        ("http://127.9.9.9:80/v1", "http://127.9.9.9:80/v1"),
        ("http://localhost:9000", "http://localhost:9000/v1"),
        ("http://[::1]:9000", "http://[::1]:9000/v1"),
    ],
)
def test_base_url_normalised(url: str, normalised: str) -> None:
    """https anywhere and http to loopback are accepted and end in /v1."""
    assert validate_base_url(url) == normalised


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://api.clerk.com", "uses http:// to a non-loopback host"),
        ("http://10.0.0.5:8000", "uses http:// to a non-loopback host"),
        ("http://localhost.evil.com", "uses http:// to a non-loopback host"),
        ("ftp://api.clerk.com", "is not an http(s) URL"),
        ("api.clerk.com", "is not an http(s) URL"),
        ("https://user:pw@api.clerk.com", "must not carry credentials"),
        ("https://api.clerk.com/?x=1", "must not carry credentials"),
    ],
)
def test_base_url_refused(url: str, message: str) -> None:
    """Plain http to a remote host, other schemes and embedded credentials are ConfigErrors."""
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ClerkClient(url, Secret(KEY))


def test_secret_key_must_be_a_secret() -> None:
    """A bare string key is refused, so it cannot be printed by accident upstream."""
    with pytest.raises(TypeError, match="Secret"):
        ClerkClient("https://api.clerk.com", KEY)  # type: ignore[arg-type]


def test_use_outside_async_with_is_an_error_without_the_key() -> None:
    """Calling before entering the context raises a RuntimeError that names no secret."""
    clerk = ClerkClient("https://api.clerk.com", Secret(KEY))
    with pytest.raises(RuntimeError, match="async with") as info:
        asyncio.run(clerk.create_user({"password_digest": DIGEST}))
    assert KEY not in str(info.value)
    assert DIGEST not in str(info.value)


def test_no_secret_in_reprs_outcomes_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Neither the key nor a sent digest or password appears in reprs, outcomes or DEBUG logs."""
    caplog.set_level(logging.DEBUG)
    body = {"external_id": "e", "password_digest": DIGEST, "password": PASSWORD}
    outcomes: list[object] = []

    async def main() -> ClerkClient:
        for handler in (
            answer(200, user_json()),
            answer(422, clerk_error("form_password_digest_invalid_code", "password_digest")),
            answer(500, None),
            raising(httpx.ReadTimeout("timed out")),
        ):
            async with ClerkClient(
                "https://api.clerk.com", Secret(KEY), transport=httpx.MockTransport(handler)
            ) as clerk:
                outcomes.append(await clerk.create_user(body))
                outcomes.append(await clerk.verify_password("user_1", Secret(PASSWORD)))
        return clerk

    clerk = asyncio.run(main())
    texts = [repr(clerk), str(clerk), caplog.text, *map(repr, outcomes)]
    for text in texts:
        assert KEY not in text
        assert DIGEST not in text
        assert PASSWORD not in text


def test_headers_repr_masks_the_key() -> None:
    """httpx masks Authorization in a request's headers repr, so an accidental print is safe."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=user_json())

    call(handler, lambda c: c.create_user({}))
    assert KEY not in repr(seen[0].headers)
    assert KEY not in repr(seen[0])
