"""A run directory is tied to the Clerk instance its users went to."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate._internal.runner.session import Target, bind_target
from migrate._internal.secrets import Secret
from migrate._internal.state import Fingerprints, StateStore
from migrate.errors import StateError

REAL = Target("https://api.clerk.com/v1", Secret("sk_live_" + "a" * 40))
SANDBOX = Target("http://127.0.0.1:1234/v1", Secret("sk_test_" + "b" * 40), sandbox=True)


def _store(tmp_path: Path) -> StateStore:
    return StateStore.create(tmp_path / "state.sqlite", Fingerprints({"input": "x"}, "m"))


def test_a_rehearsal_directory_refuses_the_real_instance(tmp_path: Path) -> None:
    """A run directory first used with --sandbox refuses production, naming both."""
    with _store(tmp_path) as store:
        bind_target(store, SANDBOX)
        bind_target(store, Target("http://127.0.0.1:9999/v1", SANDBOX.secret_key, sandbox=True))
        with pytest.raises(StateError) as err:
            bind_target(store, REAL)
    message = str(err.value)
    assert "belongs to the built-in sandbox (--sandbox), not the production instance at" in message
    assert "a" * 40 not in message


def test_the_same_instance_is_accepted_and_another_key_refused(tmp_path: Path) -> None:
    """The same URL and key pass again; another key at the same URL is another instance."""
    with _store(tmp_path) as store:
        bind_target(store, REAL)
        bind_target(store, REAL)
        with pytest.raises(StateError, match="this run directory belongs to"):
            bind_target(store, Target(REAL.base_url, Secret("sk_live_" + "c" * 40)))
