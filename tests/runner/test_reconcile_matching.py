"""Start-up reconciliation's matching: which user found is this in_flight row's, and whose."""

from __future__ import annotations

import time

from migrate._internal.clerk.outcomes import SKEW_S, ClerkUser
from migrate._internal.runner.reconcile import match_moves
from migrate._internal.runner.recorder import InFlightRow
from migrate._internal.state import Existed, Reconciled, Released


def _user(uid: str, ext: str, changed_s_ago: float | None) -> ClerkUser:
    updated = None if changed_s_ago is None else int((time.time() - changed_s_ago) * 1000)
    return ClerkUser(uid, ext, updated_at=updated)


def test_found_users_are_ours_unless_untouched_since_well_before_the_row_left() -> None:
    """A user changed after the row went in_flight is ours (created); one Clerk last changed
    long before it (more than SKEW_S) existed already (exists: never rolled back); a user
    without updated_at is taken as ours, as before; a row with no user goes back to pending."""
    since = time.time() - 60
    rows = [
        InFlightRow(2, "a", "a", None, since),
        InFlightRow(3, "b", "b", None, since),
        InFlightRow(4, "c", "c", None, since),
        InFlightRow(5, "d", "d", None, since),
    ]
    found = [
        _user("user_a", "a", changed_s_ago=50),
        _user("user_b", "b", changed_s_ago=60 + SKEW_S + 3600),
        _user("user_c", "c", changed_s_ago=None),
    ]
    assert match_moves(rows, found) == [
        Reconciled(2, "user_a", attempts=0),
        Existed(3, "user_b", attempts=0),
        Reconciled(4, "user_c", attempts=0),
        Released(5),
    ]


def test_a_row_with_no_in_flight_time_keeps_the_old_rule() -> None:
    """Without the time the row went in_flight (0), any user found is taken as ours."""
    rows = [InFlightRow(2, "a", "a", None)]
    found = [_user("user_a", "a", changed_s_ago=10 * 86_400)]
    assert match_moves(rows, found) == [Reconciled(2, "user_a", attempts=0)]
