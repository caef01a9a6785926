"""Masking email addresses for --redact-emails: one field, or every address inside a text."""

from __future__ import annotations

import polars as pl
import pytest

from migrate._internal.secrets import (
    EMAIL_LOCAL_PATTERN,
    EMAIL_LOCAL_REPLACEMENT,
    mask_email,
    redact_emails,
)

TEXTS = [
    ("pnguyen45@outlook.com", "p…@outlook.com"),
    ('a.b+tag@x.io is used by user_1 ("z@y.com")', 'a…@x.io is used by user_1 ("z…@y.com")'),
    ("keys: u1, <ann@corp.example>; bob@b.co", "keys: u1, <a…@corp.example>; b…@b.co"),
    ("no address here", "no address here"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "masked"), TEXTS)
def test_every_address_in_a_text_loses_its_local_part(text: str, masked: str) -> None:
    """Each address keeps its first character and domain; the rest of the text is untouched."""
    assert redact_emails(text) == masked


def test_the_polars_pattern_masks_exactly_as_python_does() -> None:
    """The same pattern in polars (used on whole columns) gives the same text as redact_emails."""
    texts = [t for t, _ in TEXTS]
    got = pl.Series(texts).str.replace_all(EMAIL_LOCAL_PATTERN, EMAIL_LOCAL_REPLACEMENT)
    assert got.to_list() == [m for _, m in TEXTS]


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("pnguyen45@outlook.com", "p…@outlook.com"),
        ("weird name@ex.com", "w…@ex.com"),
        ("broken5@", "b…@"),
        ("chiara.becker.acme-corp.io", "c…"),
        ("x", "x"),
        ("@nolocal.com", "@nolocal.com"),
    ],
)
def test_an_email_field_is_masked_whatever_its_shape(value: str, masked: str) -> None:
    """An email column's value, valid or not, keeps at most its first character and domain."""
    assert mask_email(value) == masked
