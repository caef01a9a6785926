"""The retry table, backoff, Retry-After parsing and hints (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from migrate._internal.clerk.outcomes import Rejected, Transient, TransientKind
from migrate._internal.clerk.retry import (
    ANY,
    RULES,
    Action,
    ConfigStreak,
    backoff,
    classify,
    config_suspect,
    hint_for,
    parse_retry_after,
    rule_for,
)

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)

ABORT_CODES = [
    (401, "clerk_key_invalid"),
    (401, "authentication_invalid"),
    (401, "authorization_header_format_invalid"),
    (401, "could_not_authenticate_request"),
    (401, "some_new_auth_code"),
    (403, "authorization_invalid"),
    (403, "user_quota_exceeded"),
    (403, "quota_exceeded"),
    (400, "api_version_invalid"),
    (410, "operation_deprecated"),
    (415, "unsupported_content_type"),
    (415, "http_415"),
]
SUSPECT_CODES = [
    (422, "form_data_missing"),
    (422, "form_param_unknown"),
    (422, "form_param_missing"),
    (403, "feature_not_enabled"),
    (402, "unsupported_subscription_plan_features"),
    (403, "not_allowed_access"),
    (400, "request_body_invalid"),
    (400, "malformed_request_parameters"),
    (402, "http_402"),
    (403, "some_unknown_403"),
]
ROW_CODES = [
    (422, "form_password_pwned"),
    (422, "form_password_digest_invalid_code"),
    (422, "form_param_format_invalid"),
    (422, "form_param_value_invalid"),
    (422, "form_param_invalid_time"),
    (422, "form_username_invalid_length"),
    (422, "invalid_totp_secret_code"),
    (422, "form_param_duplicate"),
    (422, "form_conditional_param_missing"),
    (403, "unsupported_country_code"),
    (404, "resource_not_found"),
    (409, "user_managed_by_scim"),
    (413, "request_body_too_large"),
    (422, "a_code_clerk_adds_next_year"),
    (404, "http_404"),
    (0, "request_body_invalid_local"),
    (302, "http_302"),
]


@pytest.mark.parametrize(("status", "code"), ABORT_CODES)
def test_abort_codes(status: int, code: str) -> None:
    """Errors that doom every row (bad key, quota, API version, content type) abort the run."""
    assert classify(Rejected(status, code)) is Action.ABORT


@pytest.mark.parametrize(("status", "code"), SUSPECT_CODES)
def test_config_suspect_codes_fail_the_row_and_are_flagged(status: int, code: str) -> None:
    """Codes that may be an instance setting fail the row but are flagged for ConfigStreak."""
    outcome = Rejected(status, code)
    assert classify(outcome) is Action.FAIL_ROW
    assert config_suspect(outcome)


@pytest.mark.parametrize(("status", "code"), ROW_CODES)
def test_row_codes_fail_only_the_row(status: int, code: str) -> None:
    """Data errors (and unknown 4xx codes) fail the row and are not config-suspect."""
    outcome = Rejected(status, code)
    assert classify(outcome) is Action.FAIL_ROW
    assert not config_suspect(outcome)


def test_identifier_exists_reconciles() -> None:
    """form_identifier_exists asks for reconciliation, not a failure."""
    assert classify(Rejected(422, "form_identifier_exists", "email_address")) is Action.RECONCILE


@pytest.mark.parametrize(
    "kind", ["rate_limited", "server_error", "timeout", "connection", "protocol"]
)
def test_every_transient_retries(kind: TransientKind) -> None:
    """Every transient outcome, whatever its kind or code, is retried and never suspect."""
    outcome = Transient(kind, status=None, code="clerk_key_invalid")
    assert classify(outcome) is Action.RETRY
    assert not config_suspect(outcome)


@pytest.mark.parametrize(
    ("status", "code", "action"),
    [
        (429, "too_many_requests", Action.RETRY),
        (429, None, Action.RETRY),
        (408, None, Action.RETRY),
        (500, "internal_clerk_error", Action.RETRY),
        (503, "form_param_unknown", Action.RETRY),
        (502, None, Action.RETRY),
        (None, None, Action.RETRY),
        (401, "form_identifier_exists", Action.ABORT),
        (422, None, Action.FAIL_ROW),
        (None, "form_identifier_exists", Action.RETRY),
    ],
)
def test_lookup_order(status: int | None, code: str | None, action: Action) -> None:
    """Status-wide rules (401, 429, 5xx, transport) win over code rules, which win over 4xx."""
    assert rule_for(status, code).action is action


def test_table_has_a_catch_all() -> None:
    """The table ends in (ANY, ANY) so an unforeseen pair still gets an action."""
    assert RULES[(ANY, ANY)].action is Action.FAIL_ROW


def test_config_streak_aborts_after_threshold_of_the_same_code() -> None:
    """N consecutive rows failing with the same suspect code trigger an abort, not N-1."""
    streak = ConfigStreak(threshold=3)
    assert not streak.observe("form_data_missing")
    assert not streak.observe("form_data_missing")
    assert streak.observe("form_data_missing")


def test_config_streak_resets_on_success_or_another_code() -> None:
    """A success or a different code breaks the streak."""
    streak = ConfigStreak(threshold=2)
    assert not streak.observe("form_param_unknown")
    assert not streak.observe(None)
    assert not streak.observe("form_param_unknown")
    assert not streak.observe("form_data_missing")
    assert streak.observe("form_data_missing")


def test_config_streak_refuses_zero_threshold() -> None:
    """A threshold below 1 is a programming error."""
    with pytest.raises(ValueError, match="at least 1"):
        ConfigStreak(threshold=0)


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8, 40, 10_000])
def test_backoff_stays_within_full_jitter_bounds(attempt: int) -> None:
    """Each delay lies in [0, min(cap, base * 2**(attempt-1))]."""
    rng = random.Random(attempt)
    ceiling = min(30.0, 0.5 * 2.0 ** min(attempt - 1, 62))
    delays = [backoff(attempt, rng) for _ in range(200)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert max(delays) > ceiling / 2  # jittered across the range, not pinned at 0


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    """The same seed gives the same delays, so tests of the runner are deterministic."""
    first = [backoff(a, random.Random(7), base=1.0, cap=10.0) for a in range(1, 6)]
    again = [backoff(a, random.Random(7), base=1.0, cap=10.0) for a in range(1, 6)]
    assert first == again


def test_backoff_counts_attempts_from_one() -> None:
    """Attempt 0 is a programming error."""
    with pytest.raises(ValueError, match="from 1"):
        backoff(0, random.Random(0))


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("Mon, 30 Nov 2026 12:00:30 GMT", 30.0),
        ("Mon, 30 Nov 2026 11:59:00 GMT", 0.0),
        ("Monday, 30-Nov-26 12:01:00 GMT", 60.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    """Retry-After is read as delay-seconds or an HTTP-date relative to now; junk is None."""
    assert parse_retry_after(header, NOW) == expected


def test_parse_retry_after_date_is_relative_to_now() -> None:
    """The same HTTP-date means less wait later on."""
    header = "Mon, 30 Nov 2026 12:00:30 GMT"
    assert parse_retry_after(header, NOW + timedelta(seconds=20)) == 10.0


def test_hint_names_the_param() -> None:
    """Hints for identifier and parameter codes name the field."""
    assert "phone_number" in hint_for("form_param_unknown", "phone_number")
    assert "email_address" in hint_for("form_identifier_exists", "email_address")


def test_a_not_found_hint_follows_its_param() -> None:
    """A 404 on a membership's role or user says which is missing, not that a user was deleted."""
    assert "organization role" in hint_for("resource_not_found", "role")
    assert "user does not exist" in hint_for("resource_not_found", "user_id")
    assert hint_for("resource_not_found") == "the user no longer exists in Clerk"


def test_hint_without_param_still_reads() -> None:
    """A hint whose code carries no param falls back to a generic noun, not 'None'."""
    hint = hint_for("form_param_format_invalid", None)
    assert "None" not in hint
    assert "the field" in hint


def test_hint_for_common_codes_is_not_empty() -> None:
    """The codes an operator meets most have advice; unknown codes have none."""
    for code in (
        "form_password_pwned",
        "form_password_digest_invalid_code",
        "form_data_missing",
        "user_quota_exceeded",
        "clerk_key_invalid",
        "unsupported_country_code",
    ):
        assert hint_for(code), code
    assert hint_for("never_heard_of_it") == ""
    assert hint_for(None) == ""
