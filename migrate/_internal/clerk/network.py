"""How requests reach Clerk: the proxy route and the TLS trust, resolved once per client.

Proxy, first match wins: ``--proxy URL`` (or ``CLERK_MIGRATE_PROXY``), then the standard
``HTTPS_PROXY`` / ``ALL_PROXY`` (``HTTP_PROXY`` for an ``http://`` API) unless ``NO_PROXY``
names the host or a parent domain. A loopback API (the sandbox) is always reached directly.
``Route.describe()`` names the route for the banner with the proxy's credentials masked.

TLS: the operating system's trust store (``truststore``, as pip does), plus ``SSL_CERT_FILE``
/ ``SSL_CERT_DIR`` and ``--ca-bundle FILE`` for a corporate CA. The certificate and the host
name are always verified; there is no switch to turn that off.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import truststore

__all__ = ["Network", "Route", "check_ca_bundle", "check_proxy", "mask", "tls_context"]


@dataclass(frozen=True)
class Route:
    """The proxy a request takes (None: direct) and where that choice came from."""

    proxy: str | None = field(default=None, repr=False)
    source: str = "direct"

    def describe(self) -> str:
        """``direct`` or ``proxy http://***@host:3128 (HTTPS_PROXY)``: never the credentials."""
        if self.proxy is None:
            return self.source if self.source != "direct" else "direct"
        return f"proxy {mask(self.proxy)} ({self.source})"


@dataclass(frozen=True)
class Network:
    """The operator's network choices: ``--proxy`` and ``--ca-bundle`` (both optional).

    ``environ`` stands for ``os.environ`` (read when the route or the TLS context is built).
    """

    proxy: str | None = field(default=None, repr=False)
    ca_bundle: Path | None = None
    environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)

    def route(self, api_url: str) -> Route:
        """The proxy for ``api_url``; a loopback host is always direct."""
        parts = urlsplit(api_url)
        host = parts.hostname or ""
        if _is_loopback(host):
            return Route(None, "direct")
        if self.proxy:
            return Route(check_proxy(self.proxy), "--proxy")
        env = os.environ if self.environ is None else self.environ
        found = _environment_proxies(env)
        if not found:
            return Route(None, "direct")
        if _bypassed(host, found):
            return Route(None, "direct (NO_PROXY)")
        for key in (parts.scheme, "all"):
            if key in found:
                try:
                    return Route(check_proxy(found[key]), f"{key.upper()}_PROXY")
                except ValueError as exc:
                    raise ValueError(f"{key.upper()}_PROXY: {exc}") from None
        return Route(None, "direct")

    def tls_context(self) -> ssl.SSLContext:
        """The verifying TLS context (raises ``ValueError`` for an unreadable CA file)."""
        return tls_context(self.ca_bundle, os.environ if self.environ is None else self.environ)


def tls_context(
    ca_bundle: Path | None = None, environ: Mapping[str, str] | None = None
) -> ssl.SSLContext:
    """The OS trust store plus ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` and ``ca_bundle``.

    Raises ``ValueError`` naming the file when one cannot be read as PEM certificates.
    """
    env = os.environ if environ is None else environ
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and name
    for name, value, keyword in (
        ("SSL_CERT_FILE", env.get("SSL_CERT_FILE"), "cafile"),
        ("SSL_CERT_DIR", env.get("SSL_CERT_DIR"), "capath"),
        ("--ca-bundle", str(ca_bundle) if ca_bundle is not None else None, "cafile"),
    ):
        if not value:
            continue
        try:
            context.load_verify_locations(**{keyword: value})
        except (OSError, ssl.SSLError) as exc:
            why = getattr(exc, "strerror", None) or "not PEM certificates"
            raise ValueError(f"{name} {value}: cannot load CA certificates ({why})") from None
    return context


def check_ca_bundle(path: Path) -> None:
    """Refuse a ``--ca-bundle`` that is not a readable file of PEM certificates (``ValueError``)."""
    if not path.is_file():
        raise ValueError(f"--ca-bundle {path}: no such file")
    tls_context(path, {})


def check_proxy(url: str) -> str:
    """A proxy URL, ``http(s)://[user:password@]host[:port]``, stripped; ``ValueError`` naming
    what is wrong (never the credentials) otherwise."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError:
        raise ValueError("the proxy URL is malformed; expected http://host:port") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(
            "the proxy URL must start with http:// or https:// (the tunnel to Clerk is TLS "
            f"either way), not {parts.scheme or 'nothing'}://"
        )
    if not parts.hostname:
        raise ValueError("the proxy URL has no host; expected http://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("the proxy URL must be just http://[user:password@]host:port")
    return url.strip()


def mask(url: str) -> str:
    """``url`` with any ``user:password@`` replaced by ``***@``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


def _environment_proxies(env: Mapping[str, str]) -> dict[str, str]:
    """``{"https": url, "no": hosts, ...}`` from ``*_PROXY`` variables (lower case wins)."""
    found: dict[str, str] = {}
    for name, value in env.items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy") and (lowered == name or lowered not in env):
            found[lowered[: -len("_proxy")]] = value
    found.pop("clerk_migrate", None)  # ours is the --proxy option's variable
    return found


def _bypassed(host: str, found: Mapping[str, str]) -> bool:
    """Whether ``NO_PROXY`` names ``host``: ``*``, the host itself or a parent domain
    (``corp.example`` and ``.corp.example`` both cover ``api.corp.example``), as curl reads it."""
    host = host.lower().rstrip(".")
    for raw in found.get("no", "").split(","):
        entry = raw.strip().lower()
        if entry == "*":
            return True
        if entry.count(":") == 1:  # host:port; the API's port is not compared
            entry = entry.split(":", 1)[0]
        entry = entry.lstrip("*").lstrip(".").rstrip(".")
        if entry and (host == entry or host.endswith("." + entry)):
            return True
    return False


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
