"""Reducing BAPI User objects to ClerkUser."""

from __future__ import annotations

from typing import Any

import pytest

from migrate._internal.clerk.outcomes import ClerkUser


def test_primary_identifiers_come_first() -> None:
    """The entry whose id is the primary id leads, whatever its position in the list."""
    user = ClerkUser.from_json(
        {
            "id": "user_1",
            "primary_email_address_id": "e2",
            "email_addresses": [
                {"id": "e1", "email_address": "b@example.com"},
                {"id": "e2", "email_address": "a@example.com"},
            ],
            "primary_phone_number_id": "p2",
            "phone_numbers": [
                {"id": "p1", "phone_number": "+15555550101"},
                {"id": "p2", "phone_number": "+15555550102"},
            ],
        }
    )
    assert user.email_addresses == ("a@example.com", "b@example.com")
    assert user.primary_email == "a@example.com"
    assert user.phone_numbers == ("+15555550102", "+15555550101")


def test_missing_and_malformed_fields_are_tolerated() -> None:
    """Only the id is required; odd entries are skipped and wrong types become None/empty."""
    user = ClerkUser.from_json(
        {
            "id": "user_2",
            "external_id": 42,
            "username": None,
            "created_at": "yesterday",
            "email_addresses": ["not-an-object", {"id": "e1"}, {"email_address": "x@example.com"}],
            "phone_numbers": None,
        }
    )
    assert user == ClerkUser(id="user_2", email_addresses=("x@example.com",))
    assert user.primary_email == "x@example.com"
    assert ClerkUser(id="u").primary_email is None


@pytest.mark.parametrize("data", [{}, {"id": ""}, {"id": 7}, {"object": "user"}])
def test_an_object_without_an_id_is_not_a_user(data: dict[str, Any]) -> None:
    """Without a string id the object cannot be matched to a row: an error the client maps."""
    with pytest.raises((KeyError, ValueError)):
        ClerkUser.from_json(data)
