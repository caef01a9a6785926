"""Serving the sandbox over a real socket on 127.0.0.1 with uvicorn.

``running_sandbox(config)`` starts it in a background thread (tests, ``run --sandbox``) and
yields a ``SandboxHandle``; ``serve_forever`` runs it in the foreground until Ctrl-C
(``clerk-migrate sandbox``). Both bind the socket first, so the URL is known before serving and
port 0 picks a free port.
"""

from __future__ import annotations

import errno
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import uvicorn

from migrate.errors import SandboxError
from migrate.sandbox.app import SandboxApp, create_app
from migrate.sandbox.coalesce import CoalescingHTTPProtocol
from migrate.sandbox.config import SandboxConfig
from migrate.sandbox.environment import publishable_key
from migrate.sandbox.persist import load_store, save_store
from migrate.sandbox.store import UserStore

__all__ = ["SandboxHandle", "bind_socket", "running_sandbox", "serve_forever"]

HOST: Final = "127.0.0.1"
_START_TIMEOUT: Final = 10.0


@dataclass(frozen=True)
class SandboxHandle:
    """A running sandbox: where it listens, its key, and its insides for assertions."""

    url: str  # e.g. http://127.0.0.1:54321 (the API is under /v1)
    app: SandboxApp

    @property
    def secret_key(self) -> str:
        """The instance's ready-to-use secret key (``sk_test_…`` or ``sk_live_…``)."""
        return self.app.secret_key

    @property
    def store(self) -> UserStore:
        """The users, for assertions."""
        return self.app.store

    @property
    def publishable_key(self) -> str:
        """The key whose Frontend API (``/v1/environment``) is this sandbox: not a secret."""
        return publishable_key(self.url.removeprefix("http://"), self.app.config.instance)

    def counters(self) -> dict[str, Any]:
        """Same data as GET /_sandbox/counters."""
        return self.app.counters.snapshot(len(self.app.store))

    def reset(self) -> None:
        """Forget all users, counters and rate-limit windows."""
        self.app.store.clear()
        self.app.counters.reset()
        self.app.limiter.reset()

    def __repr__(self) -> str:
        return f"SandboxHandle(url={self.url!r}, instance={self.app.config.instance!r})"


def bind_socket(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port`` (0: a free port). Raises ``SandboxError``."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted sockets only when the proto
    # says TCP, and without it every response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = "is already in use" if exc.errno == errno.EADDRINUSE else f"failed: {exc.strerror}"
        raise SandboxError(f"cannot listen on {HOST}:{port}: the port {why}") from exc
    sock.set_inheritable(True)
    return sock


def _server(app: SandboxApp) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        log_config=None,  # leave the host process's logging alone
        http=CoalescingHTTPProtocol,
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
        backlog=2048,
    )
    return uvicorn.Server(config)


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, *, port: int = 0, state: Path | None = None
) -> Iterator[SandboxHandle]:
    """Serve a fresh sandbox on 127.0.0.1 in a background thread for the ``with`` block.

    With ``state``, the users saved there (``persist.save_store``) are loaded first and the
    users are saved there once the server has stopped, even when the block raises.
    Raises ``SandboxError`` if the port cannot be bound, the server does not start, or the
    state file cannot be read or written.
    """
    app = create_app(config)
    if state is not None and state.exists():
        app.store = load_store(state)
    sock = bind_socket(port)
    server = _server(app)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="clerk-sandbox", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise SandboxError("the sandbox server did not start")
        time.sleep(0.005)
    try:
        yield SandboxHandle(_url(sock), app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if state is not None:
            save_store(app.store, state)


def serve_forever(
    config: SandboxConfig, *, port: int = 0, on_ready: Callable[[SandboxHandle], None]
) -> None:
    """Serve in the foreground until Ctrl-C or SIGTERM; ``on_ready`` runs once the socket is bound.

    Returns after a clean shutdown, however early the signal came. Call it from the main thread.
    Raises ``SandboxError`` if the port cannot be bound.
    """
    app = create_app(config)
    sock = bind_socket(port)
    server = _server(app)

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True

    # uvicorn installs its handlers only once its loop runs; a Ctrl-C in between (a script that
    # stops the sandbox as soon as it printed its URL) would otherwise surface as a
    # KeyboardInterrupt inside asyncio.run and a never-awaited coroutine.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        on_ready(SandboxHandle(_url(sock), app))
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
