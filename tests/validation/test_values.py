"""field_values: the values a report line shows, as mapped, masked and cut."""

from __future__ import annotations

import polars as pl

from migrate._internal.secrets import MASK
from migrate._internal.validation import field_values


def _mapped(**columns: list[object]) -> pl.DataFrame:
    rows = len(next(iter(columns.values())))
    return pl.DataFrame({"_row": list(range(2, 2 + rows)), "_key": ["k"] * rows, **columns})


def _values(frame: pl.DataFrame, **kwargs: int) -> dict[tuple[int, str], str | None]:
    return {(r, f): v for r, f, v in field_values(frame, **kwargs).iter_rows()}


def test_secrets_are_hidden_and_null_stays_null() -> None:
    """A password, TOTP secret and backup codes show as [hidden]; a missing one (no backup
    codes: an empty list) stays null."""
    frame = _mapped(
        password=["hunter22", None],
        totp_secret=["JBSWY3DPEHPK3PXP", None],
        backup_codes=[["111111", "222222"], []],
    )
    values = _values(frame)
    assert [values[2, name] for name in ("password", "totp_secret", "backup_codes")] == [
        "[hidden]", "[hidden]", "[hidden]",
    ]  # fmt: skip
    assert [values[3, name] for name in ("password", "totp_secret", "backup_codes")] == [
        None, None, None,
    ]  # fmt: skip


def test_a_digest_keeps_only_its_scheme() -> None:
    """bcrypt keeps "$2b$10$", a scheme$ digest its scheme, anything else nothing readable."""
    frame = _mapped(
        password_digest=[
            "$2b$10$abcdefghijklmnopqrstuvabcdefghijklmnopqrstuvwxyz012",
            "pbkdf2_sha256$260000$salt$hashhashhash",
            "c2NyeXB0aGFzaGJhc2U2NA==",
            "$6$saltsalt$longhash",
        ]
    )
    values = _values(frame)
    assert [values[row, "password_digest"] for row in (2, 3, 4, 5)] == [
        "$2b$10$" + MASK, "pbkdf2_sha256$" + MASK, MASK, "$6$" + MASK,
    ]  # fmt: skip


def test_lists_are_joined_and_long_values_cut() -> None:
    """List items are joined by ", "; a value past the limit is cut, ending in an ellipsis."""
    frame = _mapped(email_address=[["a@example.com", "b@example.com"]], first_name=["y" * 50])
    values = _values(frame, limit=20)
    assert values[2, "email_address"] == "a@example.com, b@ex…"
    assert values[2, "first_name"] == "y" * 19 + "…"
    assert values[2, "_key"] == "k"


def test_internal_columns_are_left_out() -> None:
    """Columns starting with _ other than _key (_skip, _warning…) are no field of a report."""
    frame = _mapped(_warning=["username_not_accepted"], first_name=["Ann"])
    assert {f for _, f, _ in field_values(frame).iter_rows()} == {"_key", "first_name"}
