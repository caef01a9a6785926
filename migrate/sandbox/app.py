"""The sandbox ASGI app: Clerk's Backend API for users and organizations, plus a private
``/_sandbox`` corner.

Every ``/v1`` request passes one gate, in Clerk's order: the bearer key (401), the API version
(400), the per-key rate limit (429 + ``Retry-After``), then the seeded faults (5xx, latency,
stalls). Endpoints are Starlette routes; bodies are built with ``json.dumps`` once per response.

``/_sandbox/counters`` (GET), ``/_sandbox/reset`` (POST) and ``/_sandbox/health`` (GET) need no
key, are never rate limited or faulted, and are not part of Clerk's API. The Frontend API's
``GET /v1/environment`` and ``POST /v1/dev_browser`` (what ``check`` reads through the publishable
key) need no key either and are counted apart (``fapi_requests``): they are another host at Clerk.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route, Router

from migrate.sandbox.asgi import (
    RAW_SEND,
    Message,
    NoResponse,
    Receive,
    ResponseLostError,
    Scope,
    Send,
    json_response,
    lifespan,
    send_bytes,
    send_error_status,
)
from migrate.sandbox.config import API_VERSIONS, SandboxConfig
from migrate.sandbox.counters import Counters
from migrate.sandbox.environment import render_environment
from migrate.sandbox.faults import FaultPlan, Faults
from migrate.sandbox.limits import RateLimiter
from migrate.sandbox.listing import parse_list_query, run_count, run_list
from migrate.sandbox.organizations import OrganizationEndpoints, is_org_create
from migrate.sandbox.problems import (
    TRACE_ID,
    Problem,
    error_body,
    form_problem,
    identifier_exists,
    unknown_param,
)
from migrate.sandbox.render import deleted_object, render_user
from migrate.sandbox.restrictions import restriction_problem
from migrate.sandbox.store import PLAINTEXT_HASHER, UserStore
from migrate.sandbox.updates import PLAN_KEY, UpdateEndpoints
from migrate.sandbox.validation import validate_create

__all__ = ["ResponseLostError", "SandboxApp", "create_app"]


# Clerk does not publish its body limit; 1 MiB is far above any CreateUser body (8 KB metadata x 3).
MAX_BODY_BYTES: Final = 1024 * 1024
_JSON: Final = "application/json"
_PLAN: Final = PLAN_KEY
_FAPI_PATHS: Final = frozenset({"/v1/environment", "/v1/dev_browser"})


def _is_update(method: str, path: str) -> bool:
    """A write ``sync`` sends: PATCH a user / metadata / address, add an address, ban."""
    if method == "PATCH":
        return True
    if method == "POST":
        return path.endswith("/ban") or path in ("/v1/email_addresses", "/v1/phone_numbers")
    return method == "DELETE" and path.startswith(("/v1/email_addresses/", "/v1/phone_numbers/"))


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Go's decoder, like Clerk, refuses the body.
    raise ValueError(f"{name} is not valid JSON")


def create_app(config: SandboxConfig | None = None) -> SandboxApp:
    """Build a sandbox instance (an ASGI app) from ``config`` (default: a development instance)."""
    return SandboxApp(config or SandboxConfig())


class SandboxApp(UpdateEndpoints, OrganizationEndpoints):
    """One Clerk instance in memory, served over ASGI.

    Attributes for tests: ``config`` (with the key filled in), ``secret_key``, ``store``
    (``UserStore``), ``counters`` (``Counters``), ``limiter``. ``clock`` (wall time, seconds) is
    injectable so "not in the future" rules can be tested.
    """

    def __init__(
        self,
        config: SandboxConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config.with_key()
        assert self.config.secret_key is not None
        self.secret_key: str = self.config.secret_key
        self._key_bytes = self.secret_key.encode()
        self.clock = clock
        self.store = UserStore(self.config.seed)
        self.counters = Counters()
        self.limiter = RateLimiter(
            self.config.effective_rate_limit, self.config.rate_window, monotonic
        )
        self.faults = Faults(self.config.faults, self.config.seed)
        self._router = Router(
            routes=[
                Route("/v1/users", self._create_user, methods=["POST"]),
                Route("/v1/users", self._list_users, methods=["GET"]),
                Route("/v1/users/count", self._count_users, methods=["GET"]),
                Route("/v1/users/{user_id}", self._get_user, methods=["GET"]),
                Route("/v1/users/{user_id}", self._delete_user, methods=["DELETE"]),
                Route("/v1/users/{user_id}", self._update_user, methods=["PATCH"]),
                Route("/v1/users/{user_id}/metadata", self._update_metadata, methods=["PATCH"]),
                Route("/v1/users/{user_id}/ban", self._ban_user, methods=["POST"]),
                Route("/v1/email_addresses", self._create_email, methods=["POST"]),
                Route("/v1/phone_numbers", self._create_phone, methods=["POST"]),
                Route("/v1/email_addresses/{idn}", self._update_identification, methods=["PATCH"]),
                Route("/v1/email_addresses/{idn}", self._delete_identification, methods=["DELETE"]),
                Route("/v1/phone_numbers/{idn}", self._update_identification, methods=["PATCH"]),
                Route("/v1/phone_numbers/{idn}", self._delete_identification, methods=["DELETE"]),
                Route(
                    "/v1/users/{user_id}/verify_password", self._verify_password, methods=["POST"]
                ),
                *self._org_routes(),
                Route("/v1/environment", self._environment, methods=["GET"]),
                Route("/v1/dev_browser", self._dev_browser, methods=["POST"]),
                Route("/_sandbox/counters", self._counters, methods=["GET"]),
                Route("/_sandbox/reset", self._reset, methods=["POST"]),
                Route("/_sandbox/health", self._health, methods=["GET"]),
            ],
            redirect_slashes=False,
            default=self._not_found,
        )

    # ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope["path"].startswith("/_sandbox/"):
            await self._router(scope, receive, send)
            return
        if scope["path"] in _FAPI_PATHS:
            self.counters.fapi_requests += 1
            await self._router(scope, receive, send)
            return
        counters = self.counters
        counters.requests += 1
        trace = secrets.token_hex(16)
        trace_header = (b"clerk-trace-id", trace.encode())
        token = TRACE_ID.set(trace)

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                counters.by_status[message["status"]] += 1
                message["headers"] = [*message.get("headers", ()), trace_header]
            await send(message)

        try:
            await self._serve(scope, receive, counted, send)
        finally:
            TRACE_ID.reset(token)

    async def _serve(self, scope: Scope, receive: Receive, counted: Send, send: Send) -> None:
        """Gate, faults, then the route; ``send`` is the server's own (for lost responses)."""
        counters = self.counters

        refusal = self._gate(scope)
        if refusal is not None:
            status, body, headers = refusal
            await send_bytes(counted, status, body, headers)
            return
        # creates and sync's writes (each applies, then may lose its answer)
        method, path = scope["method"], scope["path"]
        is_create = (
            (method == "POST" and path == "/v1/users")
            or _is_update(method, path)
            or is_org_create(method, path)
        )
        plan = self.faults.plan(is_create)
        if plan.delay:
            counters.faults["latency"] += 1
            await asyncio.sleep(plan.delay)
        if plan.error_status is not None:
            counters.faults["error"] += 1
            await send_error_status(counted, plan.error_status)
            return
        if plan.stall and not (is_create and self.config.faults.stall_after_store):
            counters.faults["stall"] += 1
            gone, receive = await self._hold(receive)
            if gone:
                return  # the client left; like a timed-out request, nothing was processed
            plan = FaultPlan(lose=plan.lose)
        scope[_PLAN] = plan
        scope[RAW_SEND] = send
        await self._router(scope, receive, counted)

    def _gate(self, scope: Scope) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        """Auth, version and rate limit: None to go on, else the refusal to send."""
        auth = version = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth = value
            elif name == b"clerk-api-version":
                version = value.decode("latin-1")
        if auth is None or auth[:7].lower() != b"bearer " or len(auth) <= 7:
            # UNVERIFIED: which code a missing header gets; this is the documented format error.
            return (
                401,
                self._problem_body(
                    Problem(
                        "authorization_header_format_invalid",
                        "Invalid Authorization header format",
                        "Invalid Authorization header format. Must be 'Bearer <YOUR_API_KEY>'",
                    )
                ),
                [],
            )
        if not hmac.compare_digest(auth[7:].strip(), self._key_bytes):
            return (
                401,
                self._problem_body(
                    Problem(
                        "clerk_key_invalid",
                        "Secret Key is invalid",
                        "The provided Clerk Secret Key is invalid. Make sure that your "
                        "Clerk Secret Key is correct.",
                    )
                ),
                [],
            )
        query = scope["query_string"]
        if b"__clerk_api_version" in query:
            in_query = [
                v for k, v in parse_qsl(query.decode("latin-1")) if k == "__clerk_api_version"
            ]
            if version is not None or len(in_query) > 1:
                return (
                    400,
                    self._version_problem("set it either in the header or the query, not both"),
                    [],
                )
            version = in_query[0] if in_query else ""
        if version is not None and version not in API_VERSIONS:
            return (
                400,
                self._version_problem(
                    f"unknown version, use one of {', '.join(sorted(API_VERSIONS))}"
                ),
                [],
            )
        retry_after = self.limiter.check(self.secret_key)
        if retry_after is not None:
            self.counters.rate_limited += 1
            body = self._problem_body(
                Problem(
                    "too_many_requests",
                    "Too many requests",
                    "Too many requests, retry later",
                    None,
                    {"retry_after": retry_after},
                )
            )
            return 429, body, [(b"retry-after", str(retry_after).encode())]
        return None

    def _version_problem(self, reason: str) -> bytes:
        return self._problem_body(
            Problem(
                "api_version_invalid",
                "Invalid Clerk API version",
                f"Invalid Clerk API version: {reason}",
            )
        )

    def _problem_body(self, problem: Problem) -> bytes:
        self.counters.rejections[problem.code] += 1
        return error_body([problem])

    async def _hold(self, receive: Receive) -> tuple[bool, Receive]:
        """Stall: wait for the client to leave or ``stall_seconds``; keep the body for later."""
        buffered: list[Message] = []

        async def until_gone() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                buffered.append(message)

        try:
            await asyncio.wait_for(until_gone(), self.config.faults.stall_seconds)
            gone = True
        except TimeoutError:
            gone = False

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        return gone, replay

    # endpoints ----------------------------------------------------------------------------

    async def _create_user(self, request: Request) -> Response:
        data = await self._json_body(request)
        if isinstance(data, Response):
            return data
        now_ms = int(self.clock() * 1000)
        rec, problems = validate_create(data, self.config, now_ms, self.store.plaintext_digest)
        if rec is None:
            return self._problems(422, problems)
        refused = restriction_problem(rec.emails, rec.phones, self.config)
        if refused is not None:
            return self._problems(403, [refused])
        cap = self.config.effective_user_cap
        if cap and len(self.store) >= cap:
            return self._problems(
                403,
                [
                    Problem(
                        "user_quota_exceeded",
                        "user quota exceeded",
                        f"You have reached your limit of {cap} users. "
                        "Upgrade to a production instance to create more users.",
                    )
                ],
            )
        taken = self.store.conflicts(rec)
        if taken:
            return self._problems(422, [identifier_exists(p) for p in taken])
        self.store.add(rec)
        self.counters.creates += 1
        return await self._deliver(request, json_response(render_user(self.store, rec)))

    async def _list_users(self, request: Request) -> Response:
        query = parse_list_query(request.query_params.multi_items(), paging=True)
        if isinstance(query, list):
            return self._problems(422, query)
        users = run_list(self.store, query)
        if isinstance(users, Problem):
            return self._problems(422, [users])
        return json_response([render_user(self.store, r) for r in users])

    async def _count_users(self, request: Request) -> Response:
        query = parse_list_query(request.query_params.multi_items(), paging=False)
        if isinstance(query, list):
            return self._problems(422, query)
        return json_response({"object": "total_count", "total_count": run_count(self.store, query)})

    async def _get_user(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        rec = self.store.get_by_id(user_id)
        if rec is None:
            return self._not_found_user(user_id)
        return json_response(render_user(self.store, rec))

    async def _delete_user(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        seq = self.store.seq_of(user_id)
        rec = None if seq is None else self.store.delete(seq)
        if rec is None:
            return self._not_found_user(user_id)
        self.counters.deletes += 1
        return json_response(deleted_object(user_id, rec.external_id))

    async def _verify_password(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        rec = self.store.get_by_id(user_id)
        if rec is None:
            return self._not_found_user(user_id)
        data = await self._json_body(request)
        if isinstance(data, Response):
            return data
        unknown = [unknown_param(k) for k in data if k != "password"]
        if unknown:
            return self._problems(422, unknown)
        password = data.get("password")
        if not isinstance(password, str) or not password:
            return self._problems(
                422,
                [
                    form_problem(
                        "form_param_missing", "password", "password must be included.", "is missing"
                    )
                ],
            )
        if rec.hasher is None or rec.digest is None:
            return self._problems(
                400,
                [
                    Problem(
                        "no_password_set",
                        "no password set",
                        "This user does not have a password set for their account",
                    )
                ],
            )
        self.counters.verifications += 1
        if rec.hasher == PLAINTEXT_HASHER:
            ok = self.store.check_plaintext(rec.digest, password)
        else:
            from migrate.sandbox.passwords import verify_password  # noqa: PLC0415 (heavy: argon2, cryptography)

            # Real hashing is slow (bcrypt, argon2, scrypt): keep it off the event loop.
            ok = await run_in_threadpool(verify_password, rec.hasher, rec.digest, password)
        if ok:
            return json_response({"verified": True})
        text = "Password is incorrect. Try again, or use another method."
        return self._problems(
            422, [form_problem("form_password_incorrect", "password", text, text)]
        )

    async def _environment(self, request: Request) -> Response:
        if self.config.instance == "development" and not request.query_params.get("__clerk_db_jwt"):
            # Clerk's CLI opens a dev browser first on development instances (reference §8);
            # the code Clerk answers without one is UNVERIFIED.
            return self._problems(
                401,
                [
                    Problem(
                        "dev_browser_unauthenticated",
                        "Browser unauthenticated",
                        "Unable to authenticate this browser for your development instance.",
                    )
                ],
            )
        return json_response(render_environment(self.config))

    async def _dev_browser(self, request: Request) -> Response:
        token = "dvb_" + secrets.token_hex(12)
        return json_response({"object": "dev_browser", "id": token, "token": token})

    async def _counters(self, request: Request) -> Response:
        return json_response(self.counters.snapshot(len(self.store)))

    async def _reset(self, request: Request) -> Response:
        self.store.clear()
        self.counters.reset()
        self.limiter.reset()
        return json_response({"reset": True})

    async def _health(self, request: Request) -> Response:
        return json_response({"ok": True, "instance": self.config.instance})

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = error_body([Problem("resource_not_found", "not found", "Resource not found")])
        await send_bytes(send, 404, body, [])

    # helpers ------------------------------------------------------------------------------

    async def _json_body(self, request: Request) -> dict[str, Any] | Response:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != _JSON:
            return self._problems(
                415,
                [
                    Problem(
                        "unsupported_content_type",
                        "unsupported content type",
                        f"Unsupported Content-Type: {content_type or 'none'}. "
                        "Use application/json.",
                    )
                ],
            )
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return self._too_large()
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client left before sending its body: nothing is done
            return NoResponse()
        if len(raw) > MAX_BODY_BYTES:
            return self._too_large()
        try:
            data = json.loads(raw, parse_constant=_refuse_constant)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return self._problems(
                400,
                [
                    Problem(
                        "request_body_invalid",
                        "Request body invalid",
                        "The request body is invalid. Please consult the API documentation for "
                        "more information.",
                    )
                ],
            )
        return data

    def _too_large(self) -> Response:
        return self._problems(
            413,
            [
                Problem(
                    "request_body_too_large",
                    "Request body too large",
                    f"The request body exceeds the maximum allowed size of {MAX_BODY_BYTES} bytes.",
                )
            ],
        )

    def _not_found_user(self, user_id: str) -> Response:
        return self._problems(
            404,
            [Problem("resource_not_found", "not found", f"No user was found with id {user_id}")],
        )

    def _problems(self, status: int, problems: list[Problem]) -> Response:
        self.counters.rejections[problems[0].code] += 1
        return Response(error_body(problems), status, media_type=_JSON)
