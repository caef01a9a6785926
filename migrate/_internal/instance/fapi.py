"""Reading an instance's settings from its Frontend API (``GET /v1/environment``).

The publishable key is not a secret and no secret key is sent. A development instance first
gets a dev browser (``POST /v1/dev_browser``, whose ``id`` — ``token`` in older clerk-js — goes
along as ``__clerk_db_jwt``), as Clerk's CLI and clerk-js do; a production one is read directly.
The route and TLS trust are the run's (``clerk.network.Network``: proxy, CA bundle), as for
the Backend API. httpx failures and bad answers become one ``ClerkError`` line naming the host.
"""

from __future__ import annotations

import ssl
from typing import Any, Final

import httpx

from migrate._internal.clerk.network import Network
from migrate._internal.instance.settings import InstanceSettings
from migrate.errors import ClerkError

__all__ = ["CLERK_JS_VERSION", "fetch_environment", "fetch_settings"]

CLERK_JS_VERSION: Final = "6"  # what Clerk's CLI sends (reference/clerk-api.md §8)
_TIMEOUT: Final = httpx.Timeout(15.0, connect=10.0)


async def fetch_environment(
    base_url: str,
    *,
    development: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    network: Network | None = None,
) -> dict[str, Any]:
    """The environment document of the instance whose Frontend API is ``base_url``.

    Raises ``ClerkError`` when the host cannot be reached or does not answer with one.
    """
    network = network or Network()
    verify: ssl.SSLContext | bool = True
    if transport is None and base_url.startswith("https://"):
        verify = network.tls_context()
    async with httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=_TIMEOUT,
        follow_redirects=False,
        proxy=network.route(base_url).proxy if transport is None else None,
        verify=verify,
        trust_env=False,  # the route is Network's, as for the Backend API
    ) as client:
        try:
            params = {"_clerk_js_version": CLERK_JS_VERSION}
            if development:
                token = await _dev_browser(client)
                if token:
                    params["__clerk_db_jwt"] = token
            response = await client.get("/v1/environment", params=params)
        except httpx.HTTPError as exc:
            raise ClerkError(
                f"cannot read the instance settings from {base_url}: {type(exc).__name__}"
            ) from None
    if response.status_code != 200:
        raise ClerkError(
            f"the Frontend API at {base_url} answered HTTP {response.status_code} to "
            "GET /v1/environment; check the publishable key (or --frontend-api-url)"
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ClerkError(f"the Frontend API at {base_url} did not answer with JSON")
    return data


async def _dev_browser(client: httpx.AsyncClient) -> str | None:
    response = await client.post("/v1/dev_browser")
    if response.status_code != 200:
        return None  # a production host has none; the environment answer tells
    try:
        data = response.json()
    except ValueError:
        return None
    token = data.get("id") or data.get("token") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None


async def fetch_settings(
    base_url: str,
    *,
    development: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
    network: Network | None = None,
) -> InstanceSettings:
    """``fetch_environment`` read into ``InstanceSettings``."""
    data = await fetch_environment(
        base_url, development=development, transport=transport, network=network
    )
    return InstanceSettings.from_environment(data, where=f"{base_url}/v1/environment")
