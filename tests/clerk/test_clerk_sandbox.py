"""ClerkClient end to end: over a real socket to the sandbox on 127.0.0.1, and in-process."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import bcrypt
import httpx
import pytest

from migrate._internal.clerk.client import ClerkClient
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
from migrate._internal.clerk.retry import Action, classify
from migrate._internal.secrets import Secret
from migrate.sandbox.config import FaultConfig, SandboxConfig
from migrate.sandbox.inprocess import in_process_sandbox
from migrate.sandbox.server import SandboxHandle, running_sandbox

T = TypeVar("T")
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxHandle]:
    """One real uvicorn sandbox for the module, limits off."""
    with running_sandbox(SandboxConfig.for_tests()) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _fresh(sandbox: SandboxHandle) -> None:
    """Every test starts with no users."""
    sandbox.reset()


def over_socket(
    handle: SandboxHandle,
    action: Callable[[ClerkClient], Awaitable[T]],
    *,
    key: str | None = None,
    timeout: httpx.Timeout | None = None,
) -> T:
    """Run ``action`` with a client talking to ``handle`` over TCP."""

    async def main() -> T:
        extra = {} if timeout is None else {"timeout": timeout}
        async with ClerkClient(handle.url, Secret(key or handle.secret_key), **extra) as clerk:
            return await action(clerk)

    return asyncio.run(main())


def test_a_user_round_trip(sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture) -> None:
    """Create, find by +external_id (one starting with '-'), count, get, verify, delete."""
    caplog.set_level(logging.DEBUG)
    digest = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()

    async def scenario(clerk: ClerkClient) -> list[object]:
        created = await clerk.create_user(
            {
                "external_id": "-legacy-1",
                "email_address": ["ada@example.com"],
                "password_digest": digest,
                "password_hasher": "bcrypt",
            }
        )
        assert isinstance(created, Created)
        uid = created.user_id
        return [
            created,
            await clerk.list_users(external_id=["-legacy-1", "absent"]),
            await clerk.count_users(email_address=["ada@example.com"]),
            await clerk.get_user(uid),
            await clerk.verify_password(uid, Secret(PASSWORD)),
            await clerk.verify_password(uid, Secret("wrong password")),
            await clerk.delete_user(uid),
            await clerk.get_user(uid),
        ]

    created, listed, counted, fetched, right, wrong, deleted, gone = over_socket(sandbox, scenario)
    assert isinstance(created, Created)
    assert created.external_id == "-legacy-1"
    assert created.user.primary_email == "ada@example.com"
    assert isinstance(listed, Users)
    assert [u.id for u in listed.users] == [created.user_id]
    assert counted == Counted(1)
    assert isinstance(fetched, Fetched)
    assert fetched.user.id == created.user_id
    assert right == PasswordChecked(True)
    assert wrong == PasswordChecked(False, "form_password_incorrect")
    assert deleted == Deleted(created.user_id)
    assert isinstance(gone, Rejected)
    assert gone.status == 404
    for secret in (sandbox.secret_key, digest, PASSWORD):
        assert secret not in caplog.text


def test_identifier_taken_asks_for_reconciliation(sandbox: SandboxHandle) -> None:
    """A second user with the same email is form_identifier_exists on email_address."""

    async def scenario(clerk: ClerkClient) -> object:
        await clerk.create_user({"external_id": "a", "email_address": ["same@example.com"]})
        return await clerk.create_user({"external_id": "b", "email_address": ["same@example.com"]})

    outcome = over_socket(sandbox, scenario)
    assert isinstance(outcome, Rejected)
    assert (outcome.status, outcome.code, outcome.param) == (
        422, "form_identifier_exists", "email_address",
    )  # fmt: skip
    assert classify(outcome) is Action.RECONCILE


def test_a_wrong_key_aborts(sandbox: SandboxHandle) -> None:
    """The sandbox refuses an unknown key with 401, which the table turns into ABORT."""
    outcome = over_socket(
        sandbox, lambda c: c.create_user({"external_id": "x"}), key="sk_test_" + "x" * 40
    )
    assert isinstance(outcome, Rejected)
    assert outcome.status == 401
    assert classify(outcome) is Action.ABORT


def test_connection_refused_is_not_ambiguous() -> None:
    """Nothing listening: a connection Transient that certainly created nothing."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # the port is closed again: nothing listens there

    async def main() -> object:
        async with ClerkClient(f"http://127.0.0.1:{port}", Secret("sk_test_x")) as clerk:
            return await clerk.create_user({"external_id": "x"})

    outcome = asyncio.run(main())
    assert outcome == Transient("connection", ambiguous=False)


def test_rate_limit_gives_retry_after() -> None:
    """Past the instance's rate limit the sandbox answers 429 with a parsed Retry-After."""
    config = SandboxConfig.for_tests(rate_limit=2, rate_window=30.0)
    with running_sandbox(config) as handle:

        async def scenario(clerk: ClerkClient) -> list[object]:
            return [await clerk.count_users() for _ in range(3)]

        outcomes = over_socket(handle, scenario)
    assert outcomes[:2] == [Counted(0), Counted(0)]
    limited = outcomes[2]
    assert isinstance(limited, Transient)
    assert (limited.kind, limited.status, limited.ambiguous) == ("rate_limited", 429, False)
    assert limited.retry_after is not None
    assert 0 < limited.retry_after <= 30
    assert classify(limited) is Action.RETRY


def test_quota_on_a_development_instance_aborts() -> None:
    """The development user cap answers 403 user_quota_exceeded: ABORT."""
    with running_sandbox(SandboxConfig.for_tests(user_cap=1)) as handle:

        async def scenario(clerk: ClerkClient) -> object:
            await clerk.create_user({"external_id": "1", "email_address": ["1@example.com"]})
            return await clerk.create_user({"external_id": "2", "email_address": ["2@example.com"]})

        outcome = over_socket(handle, scenario)
    assert isinstance(outcome, Rejected)
    assert (outcome.status, outcome.code) == (403, "user_quota_exceeded")
    assert classify(outcome) is Action.ABORT


def test_a_lost_response_is_ambiguous_and_the_user_is_found() -> None:
    """When the response to a create is lost the outcome is ambiguous; a lookup finds the user."""
    config = SandboxConfig.for_tests(faults=FaultConfig(lost_rate=1.0))
    with running_sandbox(config) as handle:

        async def scenario(clerk: ClerkClient) -> tuple[object, object]:
            lost = await clerk.create_user(
                {"external_id": "e1", "email_address": ["l@example.com"]}
            )
            return lost, await clerk.list_users(external_id=["e1"])

        lost, found = over_socket(handle, scenario)
    assert isinstance(lost, Transient)
    assert lost.ambiguous
    assert lost.kind in ("protocol", "connection")
    assert isinstance(found, Users)
    assert [u.external_id for u in found.users] == ["e1"]


def test_a_stalled_request_times_out_ambiguously() -> None:
    """A reply slower than the read timeout is an ambiguous timeout (the user may exist)."""
    faults = FaultConfig(stall_rate=1.0, stall_seconds=5.0, stall_after_store=True)
    with running_sandbox(SandboxConfig.for_tests(faults=faults)) as handle:
        outcome = over_socket(
            handle,
            lambda c: c.create_user({"external_id": "s", "email_address": ["s@example.com"]}),
            timeout=httpx.Timeout(0.3, connect=2.0),
        )
    assert outcome == Transient("timeout")


def test_in_process_transport() -> None:
    """The same client runs in-process over the sandbox's ASGI transport (the runner's tests)."""
    box = in_process_sandbox(SandboxConfig.for_tests())

    async def main() -> tuple[object, object]:
        async with ClerkClient(box.url, Secret(box.secret_key), transport=box.transport) as clerk:
            created = await clerk.create_user({"external_id": "i1", "username": "ada_l"})
            return created, await clerk.list_users(username=["ada_l"])

    created, listed = asyncio.run(main())
    assert isinstance(created, Created)
    assert isinstance(listed, Users)
    assert [u.id for u in listed.users] == [created.user_id]
    assert len(box.store) == 1
