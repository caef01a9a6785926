"""The Clerk Backend API client: the one place an HTTP status or body becomes a typed outcome.

``ClerkClient`` sends every request through one ``httpx.AsyncClient`` (HTTP/1.1, a keep-alive
pool sized by the caller's concurrency, the route and TLS trust of ``network.Network``). Tests
give it an httpx transport (``httpx.MockTransport``, the sandbox's ASGI transport) and so take
the same path. Every method returns an outcome (``clerk.outcomes``) and never raises for
an HTTP status or a transport failure; only misuse raises (a client used outside
``async with``, more than 100 values in one filter). It does not pace or retry: the caller's
limiter counts every call, and ``retry.classify`` decides what an outcome means.

Secrets: the key is only put in the ``Authorization`` header (httpx masks that header in its
``repr``); request bodies, which carry digests and passwords, are never logged, stored in an
outcome or put in an exception message.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, urlsplit

import httpx

from migrate import __version__
from migrate._internal.clerk.connections import Connections, CookielessClient
from migrate._internal.clerk.network import Network
from migrate._internal.clerk.outcomes import (
    ClerkUser,
    Counted,
    CountOutcome,
    Created,
    CreateOutcome,
    Deleted,
    DeleteOutcome,
    ErrorDetail,
    Fetched,
    GetOutcome,
    ListOutcome,
    PasswordChecked,
    Rejected,
    Transient,
    Users,
    VerifyOutcome,
)
from migrate._internal.clerk.retry import parse_retry_after
from migrate._internal.secrets import Secret
from migrate.errors import ConfigError

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_TIMEOUT",
    "MAX_FILTER_VALUES",
    "TLS_CODE",
    "ClerkClient",
    "certificate_problem",
    "validate_base_url",
]

DEFAULT_BASE_URL: Final = "https://api.clerk.com"
# The newest BAPI version, the one @clerk/backend and clerk-sdk-go v3 send. CreateUser, the user
# list/count/get/delete and verify_password are identical in 2025-11-10; the one difference
# (PATCH /users/{id} no longer takes metadata) concerns a call this tool never makes.
DEFAULT_API_VERSION: Final = "2026-05-12"
# Connect fast or fail; a create may legitimately take seconds under load.
DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0, pool=None)
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=256, max_keepalive_connections=256)
# Clerk's list filters take at most 100 values each (clerk-api.md §6).
MAX_FILTER_VALUES: Final = 100
MAX_LIST_LIMIT: Final = 500
# A certificate refused by our TLS check: not Clerk's code; it aborts the run (retry.RULES).
TLS_CODE: Final = "tls_certificate_invalid"
_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def validate_base_url(base_url: str) -> str:
    """Check a Backend API URL and return it normalised to end in ``/v1``.

    ``https://`` is required, except ``http://`` to a loopback host (127.0.0.0/8, ::1,
    localhost) for the sandbox. ``https://api.clerk.com`` and ``https://api.clerk.com/v1``
    both give ``https://api.clerk.com/v1``. Raises ``ConfigError`` otherwise.
    """
    parts = urlsplit(base_url.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"API URL {base_url!r} is not an http(s) URL; expected e.g. {DEFAULT_BASE_URL}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigError(f"API URL {base_url!r} must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"API URL {base_url!r} uses http:// to a non-loopback host; only https:// is "
            "allowed, or http:// to 127.0.0.1, ::1 or localhost"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/v1"):
        path += "/v1"
    netloc = parts.netloc
    return f"{parts.scheme}://{netloc}{path}"


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ClerkClient:
    """An async Backend API client. Use as ``async with ClerkClient(...) as clerk:``.

    ``limits`` caps the connections (the caller sizes it to its concurrency), ``timeout`` bounds
    connect / read / pool waits, ``network`` chooses the proxy and the CA certificates trusted.
    ``transport`` replaces the network (the test seam: ``httpx.MockTransport``,
    ``httpx.ASGITransport``); the request path and outcomes are the same.
    Raises ``ConfigError`` for a base URL that is not https (or http to loopback), and
    ``ValueError`` for an unusable proxy URL or CA file.
    """

    def __init__(
        self,
        base_url: str,
        secret_key: Secret,
        *,
        api_version: str = DEFAULT_API_VERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        user_agent: str = f"clerk-migrate/{__version__}",
        network: Network | None = None,
    ) -> None:
        if not isinstance(secret_key, Secret):
            raise TypeError("secret_key must be a migrate._internal.secrets.Secret")
        self.base_url = validate_base_url(base_url)
        self.api_version = api_version
        self.network = network or Network()
        self.route = self.network.route(self.base_url)
        self._secret_key = secret_key
        self._transport = transport
        self._timeout = timeout
        self._limits = limits
        self._user_agent = user_agent
        self._http: httpx.AsyncClient | None = None
        self._json_headers = httpx.Headers()
        self._timeout_dict = timeout.as_dict()
        self._urls: dict[str, httpx.URL] = {}

    def __repr__(self) -> str:
        return f"ClerkClient({self.base_url!r}, secret_key=Secret('…(masked)'))"

    async def __aenter__(self) -> Self:
        headers = {
            "Authorization": f"Bearer {self._secret_key.reveal()}",
            "Clerk-API-Version": self.api_version,
            "User-Agent": self._user_agent,
            "Accept": "application/json",
            # Clerk's answers are small JSON: compressing them costs more CPU than it saves.
            "Accept-Encoding": "identity",
        }
        self._http = CookielessClient(
            base_url=self.base_url,
            headers=headers,
            timeout=self._timeout,
            transport=self._transport or self._connections(),
            follow_redirects=False,
            trust_env=False,  # the route is resolved by Network, once, and shown in the banner
        )
        self._json_headers = self._http.headers.copy()
        self._json_headers["Content-Type"] = "application/json"
        return self

    def _connections(self) -> Connections:
        """One-connection httpx transports, at most ``limits.max_connections`` of them."""
        # One TLS context for all (building one loads the CA store). Over http (loopback only,
        # never proxied) no TLS is spoken: a context that verifies and trusts nothing suffices.
        if self.base_url.startswith("https://"):
            verify = self.network.tls_context()
        else:
            verify = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        one = httpx.Limits(
            max_connections=1,
            max_keepalive_connections=1,
            keepalive_expiry=self._limits.keepalive_expiry,
        )

        def make() -> httpx.AsyncHTTPTransport:
            return httpx.AsyncHTTPTransport(
                verify=verify, http1=True, http2=False, limits=one, proxy=self.route.proxy,
                trust_env=False,
            )  # fmt: skip

        return Connections(make, self._limits.max_connections or 256)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (idempotent)."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    # --- calls -------------------------------------------------------------------------

    async def create_user(self, body: Mapping[str, Any]) -> CreateOutcome:
        """``POST /users`` with ``body`` exactly as given → ``Created | Rejected | Transient``."""
        response = await self._send("POST", "/users", body=body)
        if not isinstance(response, httpx.Response):
            return response
        if response.is_success:
            user = _user_from(response)
            return Created(user) if user is not None else _garbled(response)
        return _failure(response)

    async def list_users(
        self,
        *,
        external_id: Sequence[str] = (),
        email_address: Sequence[str] = (),
        phone_number: Sequence[str] = (),
        username: Sequence[str] = (),
        user_id: Sequence[str] = (),
        limit: int = MAX_LIST_LIMIT,
        offset: int = 0,
    ) -> ListOutcome:
        """``GET /users`` filtered by exact values → ``Users | Rejected | Transient``.

        One call is one request: at most ``MAX_FILTER_VALUES`` (100) values per filter, so the
        caller batches (and its limiter counts each batch). ``external_id`` values are sent
        with a ``+`` prefix so an id starting with ``-`` is not read as "exclude". Clerk ignores
        values it does not find. Raises ``ValueError`` for more than 100 values or a bad limit.
        """
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}")
        if offset < 0:
            raise ValueError("offset must be >= 0")
        params = _filters(external_id, email_address, phone_number, username, user_id)
        params += [("limit", str(limit)), ("offset", str(offset))]
        response = await self._send("GET", "/users", params=params)
        if not isinstance(response, httpx.Response):
            return response
        if not response.is_success:
            return _failure(response)
        data = _json(response)
        if not isinstance(data, list):
            return _garbled(response)
        try:
            users = tuple(ClerkUser.from_json(item) for item in data)
        except (KeyError, TypeError, ValueError):
            return _garbled(response)
        return Users(users)

    async def count_users(
        self,
        *,
        external_id: Sequence[str] = (),
        email_address: Sequence[str] = (),
        phone_number: Sequence[str] = (),
        username: Sequence[str] = (),
        user_id: Sequence[str] = (),
    ) -> CountOutcome:
        """``GET /users/count`` with the same filters as ``list_users`` (none: every user)."""
        params = _filters(external_id, email_address, phone_number, username, user_id)
        response = await self._send("GET", "/users/count", params=params)
        if not isinstance(response, httpx.Response):
            return response
        if not response.is_success:
            return _failure(response)
        data = _json(response)
        total = data.get("total_count") if isinstance(data, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            return _garbled(response)
        return Counted(total)

    async def get_user(self, user_id: str) -> GetOutcome:
        """``GET /users/{id}`` → ``Fetched``; a missing user is ``Rejected(404, ...)``."""
        response = await self._send("GET", f"/users/{_segment(user_id)}")
        if not isinstance(response, httpx.Response):
            return response
        if response.is_success:
            user = _user_from(response)
            return Fetched(user) if user is not None else _garbled(response)
        return _failure(response)

    async def delete_user(self, user_id: str) -> DeleteOutcome:
        """``DELETE /users/{id}`` → ``Deleted``; a missing user is ``Rejected(404, ...)``."""
        response = await self._send("DELETE", f"/users/{_segment(user_id)}")
        if not isinstance(response, httpx.Response):
            return response
        if response.is_success:
            return Deleted(user_id)
        return _failure(response)

    async def verify_password(self, user_id: str, password: Secret) -> VerifyOutcome:
        """``POST /users/{id}/verify_password`` → ``PasswordChecked(verified)``.

        A 422 means "incorrect password" (``verified=False``); a 400 (the user has no password)
        or 404 is ``Rejected``.
        """
        response = await self._send(
            "POST",
            f"/users/{_segment(user_id)}/verify_password",
            body={"password": password.reveal()},
        )
        if not isinstance(response, httpx.Response):
            return response
        if response.is_success:
            data = _json(response)
            verified = data.get("verified") if isinstance(data, dict) else None
            if not isinstance(verified, bool):
                return _garbled(response)
            return PasswordChecked(verified)
        if response.status_code == 422:
            failure = _failure(response)
            code = failure.code if isinstance(failure, Rejected) else None
            return PasswordChecked(False, code)
        return _failure(response)

    # --- transport ---------------------------------------------------------------------

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of ``path``; the fixed ones (``/users``...) are parsed once."""
        url = self._urls.get(path)
        if url is None:
            url = httpx.URL(self.base_url + path)
            if "/users/" not in path or path == "/users/count":
                self._urls[path] = url
        return url

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: list[tuple[str, str | int | float | bool | None]] | None = None,
    ) -> httpx.Response | Rejected | Transient:
        """Send one request and read its whole body; a transport failure is an outcome."""
        http = self._http
        if http is None:
            raise RuntimeError("ClerkClient must be used inside 'async with'")
        content: bytes | None = None
        if body is not None:
            try:
                content = json.dumps(body, allow_nan=False, separators=(",", ":")).encode()
            except (TypeError, ValueError):
                # The exception text could quote a value; say only what kind of problem it is.
                return Rejected(
                    status=0,
                    code="request_body_invalid",
                    message="the request body is not JSON-serialisable",
                )
        # Built here rather than by AsyncClient.request, which re-parses and re-joins the base
        # URL and re-merges the default headers on every call.
        request = httpx.Request(
            method,
            httpx.URL(self.base_url + path, params=params) if params else self._url(path),
            headers=http.headers if content is None else self._json_headers,
            content=content,
            extensions={"timeout": self._timeout_dict},
        )
        try:
            response = await http.send(request)
            await response.aread()
        except httpx.ConnectTimeout:
            return Transient("timeout", ambiguous=False)
        except httpx.PoolTimeout:
            return Transient("timeout", ambiguous=False)
        except httpx.TimeoutException:
            return Transient("timeout")
        except httpx.ConnectError as exc:
            refused = certificate_problem(exc)
            if refused is not None:
                return Rejected(status=0, code=TLS_CODE, message=self._tls_message(refused))
            return Transient("connection", ambiguous=False)
        except httpx.ProxyError:  # the proxy refused the tunnel: nothing reached Clerk
            return Transient("connection", ambiguous=False)
        except (httpx.RemoteProtocolError, httpx.LocalProtocolError, httpx.DecodingError):
            return Transient("protocol")
        except httpx.TransportError:
            return Transient("connection")
        return response

    def _tls_message(self, problem: str) -> str:
        host = urlsplit(self.base_url).hostname
        route = self.route.describe()
        return (
            f"the TLS certificate of {host} was not accepted ({problem}); nothing was sent. "
            "If a corporate proxy or firewall inspects TLS, pass its CA certificate with "
            f"--ca-bundle FILE (or SSL_CERT_FILE); check the route too (--proxy; now: {route})"
        )


def certificate_problem(exc: BaseException) -> str | None:
    """The certificate problem behind a connect error, or None when it is not one.

    httpx wraps the ``ssl`` error (``__cause__`` / ``__context__``); a verification failure
    carries OpenSSL's reason (a self-signed certificate, an unknown issuer, the wrong host).
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or "certificate verify failed"
        if isinstance(seen, ssl.SSLError):
            return seen.reason or "TLS handshake failed"
        seen = seen.__cause__ or seen.__context__
    return None


def _filters(
    external_id: Sequence[str],
    email_address: Sequence[str],
    phone_number: Sequence[str],
    username: Sequence[str],
    user_id: Sequence[str],
) -> list[tuple[str, str | int | float | bool | None]]:
    """Build repeated-key query params (``external_id=+a&external_id=+b``)."""
    params: list[tuple[str, str | int | float | bool | None]] = []
    named: Iterable[tuple[str, Sequence[str]]] = (
        ("external_id", external_id),
        ("email_address", email_address),
        ("phone_number", phone_number),
        ("username", username),
        ("user_id", user_id),
    )
    for name, values in named:
        if isinstance(values, str):
            raise TypeError(f"{name} must be a sequence of strings, not a string")
        if len(values) > MAX_FILTER_VALUES:
            raise ValueError(
                f"{name}: {len(values)} values; Clerk takes at most {MAX_FILTER_VALUES} per call"
            )
        prefix = "+" if name == "external_id" else ""
        params += [(name, prefix + value) for value in values]
    return params


def _segment(user_id: str) -> str:
    """Quote a user id as one path segment (an id with ``/`` must not change the route)."""
    if not user_id:
        raise ValueError("user_id must not be empty")
    return quote(user_id, safe="")


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _user_from(response: httpx.Response) -> ClerkUser | None:
    data = _json(response)
    if not isinstance(data, dict):
        return None
    try:
        return ClerkUser.from_json(data)
    except (KeyError, TypeError, ValueError):
        return None


def _trace_id(response: httpx.Response, body: Any = None) -> str | None:
    if isinstance(body, dict):
        trace = body.get("clerk_trace_id")
        if isinstance(trace, str) and trace:
            return trace
    header: str | None = response.headers.get("clerk-trace-id") or response.headers.get("cf-ray")
    return header


def _garbled(response: httpx.Response) -> Transient:
    """A success status whose body we cannot read: the call may have worked (ambiguous)."""
    return Transient(
        "protocol", status=response.status_code, trace_id=_trace_id(response, _json(response))
    )


def _errors(body: Any) -> tuple[ErrorDetail, ...]:
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return ()
    details: list[ErrorDetail] = []
    for item in body["errors"]:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            continue
        raw_meta = item.get("meta")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        param = meta.get("param_name")
        details.append(
            ErrorDetail(
                code=item["code"],
                message=str(item.get("message") or ""),
                long_message=str(item.get("long_message") or ""),
                param=param if isinstance(param, str) else None,
                meta=meta,
            )
        )
    return tuple(details)


def _failure(response: httpx.Response, now: datetime | None = None) -> Rejected | Transient:
    """Turn a non-success response into ``Transient`` (429, 408, 5xx) or ``Rejected``."""
    status = response.status_code
    body = _json(response)
    errors = _errors(body)
    trace_id = _trace_id(response, body)
    code = errors[0].code if errors else None
    if status == 429:
        retry_after = parse_retry_after(
            response.headers.get("retry-after"), now or datetime.now(UTC)
        )
        return Transient(
            "rate_limited",
            status=status,
            retry_after=retry_after,
            code=code,
            ambiguous=False,
            trace_id=trace_id,
        )
    if status == 408 or status >= 500:
        retry_after = parse_retry_after(
            response.headers.get("retry-after"), now or datetime.now(UTC)
        )
        return Transient(
            "timeout" if status == 408 else "server_error",
            status=status,
            retry_after=retry_after,
            code=code,
            trace_id=trace_id,
        )
    if not errors:
        return Rejected(status=status, code=f"http_{status}", trace_id=trace_id)
    first = errors[0]
    return Rejected(
        status=status,
        code=first.code,
        param=first.param,
        message=first.message,
        long_message=first.long_message,
        trace_id=trace_id,
        errors=errors,
    )
