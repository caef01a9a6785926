"""Keyed fingerprints: equal payloads print alike, a change shows in its field only."""

from __future__ import annotations

import hmac

import polars as pl

from migrate._internal.delta.fingerprint import (
    FIELD_PRINT_BYTES,
    canonical_texts,
    changed_fields,
    field_prints,
    fingerprinted_fields,
    hmac_sha256,
    whole_prints,
    whole_text,
)

KEY = b"k" * 32


def mapped(**columns: list[object]) -> pl.DataFrame:
    """A tiny mapped frame with ``_row``/``_key`` and the given CreateUser columns."""
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {"_row": list(range(2, n + 2)), "_key": [f"k{i}" for i in range(n)], **columns}
    )


def prints(
    frame: pl.DataFrame, key: bytes = KEY
) -> tuple[list[bytes], list[bytes], tuple[str, ...]]:
    """Whole and per-field prints of a mapped frame."""
    fields = fingerprinted_fields(frame.columns)
    texts = frame.select("_row", "_key", *canonical_texts(frame.schema, fields))
    return whole_prints(texts, fields, key), field_prints(texts, fields, key), fields


def test_only_clerk_fields_are_fingerprinted_in_sorted_order() -> None:
    """Internal columns and unknown columns are left out; the order does not depend on the frame."""
    assert fingerprinted_fields(["_row", "last_name", "_key", "email_address", "x"]) == (
        "email_address",
        "last_name",
    )


def test_equal_rows_print_alike_and_a_changed_field_shows_alone() -> None:
    """Two rows equal but for first_name: same prints except first_name's and the whole row's."""
    frame = mapped(
        first_name=["Ann", "Bob"],
        email_address=[["a@x.io"], ["a@x.io"]],
        public_metadata=['{"p":1}', '{"p":1}'],
    )
    whole, fields, names = prints(frame)
    assert len(whole[0]) == 32
    assert len(fields[0]) == FIELD_PRINT_BYTES * 3
    assert whole[0] != whole[1]
    assert changed_fields(fields[1], names, fields[0], names) == ["first_name"]
    again, again_fields, _ = prints(frame)
    assert again == whole
    assert again_fields == fields


def test_null_empty_and_list_items_are_told_apart() -> None:
    """null vs "" and ["a","b"] vs ["ab"] give different prints (no value hides another)."""
    frame = mapped(first_name=[None, ""], email_address=[["a", "b"], ["ab"]])
    whole, fields, names = prints(frame)
    assert whole[0] != whole[1]
    assert changed_fields(fields[1], names, fields[0], names) == ["email_address", "first_name"]


def test_the_key_changes_every_print() -> None:
    """Another run directory's key gives other prints for the same rows."""
    frame = mapped(first_name=["Ann"])
    assert prints(frame)[0] != prints(frame, b"o" * 32)[0]
    assert prints(frame)[1] != prints(frame, b"o" * 32)[1]


def test_fields_added_to_the_mapping_count_as_changed_and_dropped_ones_do_not() -> None:
    """A field only the new mapping maps is changed; one only the old mapped is left alone."""
    old = mapped(first_name=["Ann"], last_name=["Lee"])
    new = mapped(first_name=["Ann"], username=["ann"])
    _, old_fields, old_names = prints(old)
    _, new_fields, new_names = prints(new)
    assert changed_fields(new_fields[0], new_names, old_fields[0], old_names) == ["username"]


def test_the_fast_hmac_is_hmac_sha256() -> None:
    """hmac_sha256 equals the standard library's HMAC-SHA256 for short and long keys."""
    for key in (b"k" * 32, b"", b"x" * 100):
        for message in (b"", b"user@example.com", b"m" * 1000):
            assert hmac_sha256(key)(message) == hmac.digest(key, message, "sha256")


def test_whole_prints_of_many_rows_are_each_rows_hmac_in_order() -> None:
    """Past one hashing slice, every row still gets the HMAC of its own text, in row order."""
    n = 70_000
    frame = mapped(first_name=[f"N{i}" for i in range(n)])
    whole, _, _ = prints(frame)
    assert len(whole) == n
    for i in (0, 32_767, 32_768, 65_536, n - 1):
        text = f"first_name=N{i}".encode()
        expected = hmac.digest(KEY, f"{len(text)}:".encode() + text, "sha256")
        assert whole[i] == expected, i


def test_the_whole_text_of_a_mapped_frame_hashes_as_its_canonical_texts() -> None:
    """``whole_text`` over mapped columns gives the prints ``whole_prints`` gives over texts."""
    frame = mapped(
        first_name=["Ada", None, ""],
        email_address=[["a@x.io", "b@x.io"], [], None],
        skip_password_checks=[True, None, False],
    )
    fields = fingerprinted_fields(frame.columns)
    mac = hmac_sha256(KEY)
    direct = [mac(t) for t in frame.select(whole_text(frame.schema, fields)).to_series()]
    assert direct == prints(frame)[0]
    empty = frame.select("_row", "_key")
    assert [mac(t) for t in empty.select(whole_text(empty.schema, ())).to_series()] == (
        [mac(b"")] * 3
    )
