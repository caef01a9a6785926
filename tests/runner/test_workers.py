"""The worker layer: retries, ambiguous failures, reconciliation and aborts, on a fake Clerk."""

from __future__ import annotations

import dataclasses
import random
import time
from typing import Any

import anyio
import pytest
from runner_fakes import FakeApi, limited, rejected, transient

from migrate._internal.clerk.retry import ConfigStreak
from migrate._internal.runner.jobs import Job, Outcome, Retrying, Unresolved, Update
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.workers import Stopper, Worker, WorkerSettings, conflict_message
from migrate._internal.state import Completed, Existed, Failed, Reconciled, Released


def _job(ext: str | None = "u1", email: str | None = "a@example.com") -> Job:
    body: dict[str, Any] = {"password_digest": "$2b$10$secretsecret"}
    if ext:
        body["external_id"] = ext
    if email:
        body["email_address"] = [email]
    return Job(1, ext or "k", ext, email, body)


def _process(api: FakeApi, job: Job, **settings: Any) -> tuple[Outcome, list[Update], Stopper]:
    stopper = Stopper()
    seen: list[Update] = []

    async def main() -> Outcome:
        pacer = Pacer(10_000.0)
        worker = Worker(
            api,
            pacer,
            stopper,
            WorkerSettings(**settings),
            rng=random.Random(1),
            backoff=lambda attempt, rng: 0.0,
        )
        return await worker.process(job, seen.append)

    return anyio.run(main), seen, stopper


def test_a_plain_create_is_created() -> None:
    """A 200 makes the row created with the new Clerk id after one POST."""
    api = FakeApi()
    event, _, _ = _process(api, _job())
    assert isinstance(event, Completed)
    assert event.user_id == "user_1"
    assert api.posts == ["u1"]


def test_a_lost_response_is_found_by_lookup_not_resent() -> None:
    """After a 5xx whose create landed, the row is looked up and found, never POSTed twice."""
    api = FakeApi({"u1": ["lost"]})
    event, seen, _ = _process(api, _job())
    assert isinstance(event, Reconciled)
    assert api.posts == ["u1"]
    assert api.count("u1") == 1
    assert [type(e) for e in seen] == [Retrying]


def test_a_5xx_that_did_not_land_is_resent_after_a_lookup() -> None:
    """A 5xx with nothing created: a lookup finds nothing, then the POST is sent again."""
    api = FakeApi({"u1": [transient()]})
    event, _, _ = _process(api, _job())
    assert isinstance(event, Completed)
    assert api.posts == ["u1", "u1"]
    assert api.finds == 1


def test_rate_limited_rows_are_resent_without_a_lookup() -> None:
    """A 429 is not ambiguous: the row is re-sent after the pause, with no lookup."""
    api = FakeApi({"u1": [limited(), limited()]})
    event, _, _ = _process(api, _job())
    assert isinstance(event, Completed)
    assert api.finds == 0
    assert len(api.posts) == 3


def test_retries_stop_at_the_limit_as_retryable_failure() -> None:
    """After max_attempts transient failures (nothing created) the row fails as retryable."""
    api = FakeApi({"u1": [transient(503, ambiguous=False)] * 3})
    event, _, _ = _process(api, _job(), max_attempts=3)
    assert isinstance(event, Failed)
    assert event.retryable
    assert event.code == "server_error"
    assert event.attempts == 3
    assert api.count("u1") == 0


def test_identifier_taken_by_same_external_id_is_exists() -> None:
    """form_identifier_exists with a user carrying the same external_id: exists, with its id."""
    api = FakeApi()
    uid = api.add_user("u1", "a@example.com")
    event, _, _ = _process(api, _job())
    assert isinstance(event, Existed)
    assert event.user_id == uid


def test_identifier_taken_by_someone_else_is_a_named_conflict() -> None:
    """form_identifier_exists held by another external_id fails the row naming the email."""
    api = FakeApi()
    api.add_user("other", "a@example.com")
    event, _, _ = _process(api, _job())
    assert isinstance(event, Failed)
    assert event.code == "form_identifier_exists"
    assert event.param == "email_address"
    assert "a@example.com" in event.message
    assert not event.retryable


def test_rows_without_external_id_reconcile_by_primary_email() -> None:
    """Without an external_id, a user with the same primary email and none is this row."""
    api = FakeApi()
    uid = api.add_user(None, "A@example.com")
    event, _, _ = _process(api, _job(ext=None, email="a@example.com"))
    assert isinstance(event, Existed)
    assert event.user_id == uid


def test_a_row_error_fails_the_row_with_clerks_code() -> None:
    """A 422 other than identifier_exists fails the row with code, param and message."""
    api = FakeApi({"u1": [rejected("form_param_format_invalid", "email_address")]})
    event, _, stopper = _process(api, _job())
    assert isinstance(event, Failed)
    assert (event.code, event.param) == ("form_param_format_invalid", "email_address")
    assert not stopper.stopping


def test_an_abort_code_stops_the_run_and_releases_the_row() -> None:
    """clerk_key_invalid stops the run; the row goes back to pending, unsent work is kept."""
    api = FakeApi({"u1": [rejected("clerk_key_invalid")]})
    event, _, stopper = _process(api, _job())
    assert isinstance(event, Released)
    assert stopper.abort_code == "clerk_key_invalid"


def test_an_abort_after_an_ambiguous_attempt_leaves_the_row_in_flight() -> None:
    """An abort after a 5xx leaves the row unresolved (in_flight) for reconciliation."""
    api = FakeApi({"u1": [transient(), rejected("clerk_key_invalid")]})
    event, _, stopper = _process(api, _job())
    assert isinstance(event, Unresolved)
    assert stopper.abort_code == "clerk_key_invalid"


def test_the_conflict_message_never_shows_secret_fields() -> None:
    """A conflict on a secret-bearing parameter names the parameter, not its value."""
    body = {"password_digest": "$2b$10$abcdefgh", "email_address": ["x@example.com"]}
    assert "abcdefgh" not in conflict_message("password_digest", body)
    assert "x@example.com" in conflict_message("email_address", body)


@pytest.mark.parametrize("kind", ["interrupt", "abort"])
def test_a_stopped_run_hands_queued_jobs_back_unsent(kind: str) -> None:
    """After a stop, jobs still in the queue are released without a single POST."""
    api = FakeApi()

    async def main() -> list[Update]:
        stopper = Stopper()
        if kind == "interrupt":
            stopper.interrupt()
        else:
            stopper.abort("clerk_key_invalid", "bad key")
        worker = Worker(api, Pacer(1000.0), stopper, WorkerSettings())
        send, jobs = anyio.create_memory_object_stream[Job](10)
        async with send:
            await send.send(_job("a"))
            await send.send(_job("b"))
        events: list[Update] = []
        with jobs:
            await worker.run(jobs, events.append)
        return events

    events = anyio.run(main)
    assert events == [Released(1), Released(1)]
    assert api.posts == []


def test_a_streak_of_config_suspect_failures_aborts() -> None:
    """N rows in a row failing with the same config-suspect code stop the run."""

    async def main() -> Stopper:
        stopper = Stopper()
        script = {f"u{i}": [rejected("form_param_unknown", "phone_number")] for i in range(5)}
        api = FakeApi(script)
        worker = Worker(api, Pacer(1000.0), stopper, WorkerSettings(), streak=ConfigStreak(3))
        send, jobs = anyio.create_memory_object_stream[Job](10)
        async with send:
            for i in range(5):
                await send.send(_job(f"u{i}", f"u{i}@example.com"))
        events: list[Update] = []
        with jobs:
            await worker.run(jobs, events.append)
        assert [isinstance(e, Failed) for e in events].count(True) == 3
        return stopper

    stopper = anyio.run(main)
    assert stopper.abort_code == "form_param_unknown"


def test_giving_up_when_nobody_knows_leaves_the_row_in_flight() -> None:
    """Out of retries after an ambiguous POST whose lookup also failed: unresolved, not failed."""
    api = FakeApi({"u1": [transient()] * 5})
    api.find_script = [transient()] * 5
    event, _, _ = _process(api, _job(), max_attempts=2)
    assert isinstance(event, Unresolved)
    assert event.retryable


def test_giving_up_after_a_lookup_said_not_there_is_a_retryable_failure() -> None:
    """Out of retries, and the last lookup found nothing: failed (retryable), safe to resend."""
    api = FakeApi({"u1": [transient()] * 5})
    event, _, _ = _process(api, _job(), max_attempts=2)
    assert isinstance(event, Failed)
    assert event.retryable
    assert api.count("u1") == 0


def _preexisting(api: FakeApi, ext: str, email: str, *, age_s: float) -> str:
    """A user Clerk last changed ``age_s`` seconds ago, holding ``ext`` and ``email``."""
    uid = api.add_user(ext, email)
    changed = int((time.time() - age_s) * 1000)
    api.users[uid] = dataclasses.replace(api.users[uid], updated_at=changed)
    return uid


def test_a_lookup_after_a_5xx_takes_a_long_untouched_user_as_existing_not_ours() -> None:
    """After a 5xx that created nothing, the lookup finds a user with the row's external_id
    that Clerk last changed a day ago: it existed before the POST, so the row is ``exists``
    (a rollback leaves it), not ``created``; nothing is POSTed again."""
    api = FakeApi({"u1": [transient()]})
    uid = _preexisting(api, "u1", "other@example.com", age_s=86_400)
    event, _, _ = _process(api, _job())
    assert isinstance(event, Existed)
    assert event.user_id == uid
    assert api.posts == ["u1"]


def test_a_lookup_after_a_5xx_takes_a_just_changed_user_as_ours() -> None:
    """The user found after a 5xx was changed seconds ago (our lost POST made it): ours."""
    api = FakeApi({"u1": [transient()]})
    uid = _preexisting(api, "u1", "a@example.com", age_s=5)
    event, _, _ = _process(api, _job())
    assert isinstance(event, Reconciled)
    assert event.user_id == uid
