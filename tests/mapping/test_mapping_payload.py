"""CreateUser bodies from mapped rows: nulls and empty lists dropped, metadata parsed, secrets
masked in previews."""

from __future__ import annotations

import polars as pl

from migrate._internal.mapping import (
    compile_mapping,
    mask_payload,
    parse_mapping,
    payload_from_record,
    payloads_from_frame,
)

BCRYPT = "$2b$10$" + "c" * 53


def test_payload_drops_nulls_empty_lists_and_internal_columns() -> None:
    """Only CreateUser fields with a value are in the body; flags are kept even when false."""
    record = {
        "_row": 2,
        "_key": "u1",
        "_source_error": None,
        "_errors": [],
        "external_id": "u1",
        "first_name": None,
        "email_address": ["a@x.io"],
        "phone_number": [],
        "backup_codes": None,
        "banned": False,
        "public_metadata": '{"plan": "pro", "n": [1, 2]}',
        "private_metadata": None,
    }
    assert payload_from_record(record) == {
        "external_id": "u1",
        "email_address": ["a@x.io"],
        "banned": False,
        "public_metadata": {"plan": "pro", "n": [1, 2]},
    }


def test_payloads_from_a_mapped_frame_in_order() -> None:
    """payloads_from_frame yields (row, key, body) for each row of a collected mapped frame."""
    spec = parse_mapping(
        '[fields]\nexternal_id = "id"\nemail_address = "email"\n'
        '[fields.private_metadata]\nsource = { value = "csv" }\n'
        "[options]\nskip_password_checks = true\n",
        {},
    )
    frame = pl.LazyFrame({"_row": [2, 3], "id": ["a", "b"], "email": ["a@x.io", None]})
    out = list(payloads_from_frame(compile_mapping(spec, frame).collect()))
    assert out == [
        (
            2,
            "a",
            {
                "external_id": "a",
                "email_address": ["a@x.io"],
                "private_metadata": {"source": "csv"},
                "skip_password_checks": True,
            },
        ),
        (
            3,
            "b",
            {
                "external_id": "b",
                "private_metadata": {"source": "csv"},
                "skip_password_checks": True,
            },
        ),
    ]


def test_payloads_from_frame_skips_columns_empty_in_every_row() -> None:
    """A field null in every row is left out of every body; rows with no field give {}."""
    frame = pl.DataFrame(
        {
            "_row": [2, 3],
            "_key": ["a", "b"],
            "first_name": [None, None],
            "username": ["ann", None],
            "email_address": [None, None],
        },
        schema_overrides={"first_name": pl.Utf8, "email_address": pl.List(pl.Utf8)},
    )
    assert list(payloads_from_frame(frame)) == [(2, "a", {"username": "ann"}), (3, "b", {})]
    assert list(payloads_from_frame(frame.drop("username"))) == [(2, "a", {}), (3, "b", {})]


def test_mask_payload_hides_every_secret_but_keeps_the_digest_scheme() -> None:
    """password, totp_secret and each backup code are masked; the digest shows only $2b$10$."""
    body = {
        "external_id": "u1",
        "password": "hunter22",
        "password_digest": BCRYPT,
        "totp_secret": "JBSWY3DPEHPK3PXP",
        "backup_codes": ["abc123", "def456"],
        "email_address": ["a@x.io"],
    }
    masked = mask_payload(body)
    assert masked == {
        "external_id": "u1",
        "password": "…(masked)",
        "password_digest": "$2b$10$…(masked)",
        "totp_secret": "…(masked)",
        "backup_codes": ["…(masked)", "…(masked)"],
        "email_address": ["a@x.io"],
    }
    assert body["password"] == "hunter22"  # the original body is untouched
    text = repr(masked)
    for secret in ("hunter22", "c" * 53, "JBSWY3DPEHPK3PXP", "abc123"):
        assert secret not in text


def test_all_verified_status_list_is_left_out() -> None:
    """A status list that only says "verified" (Clerk's default) is not sent; a reserved one is."""
    record = {
        "_row": 2,
        "email_address": ["a@example.com", "b@example.com"],
        "email_address_identification_status": ["verified", "verified"],
        "phone_number": ["+14155550123"],
        "phone_number_identification_status": ["reserved"],
    }
    assert payload_from_record(record) == {
        "email_address": ["a@example.com", "b@example.com"],
        "phone_number": ["+14155550123"],
        "phone_number_identification_status": ["reserved"],
    }


def test_json_null_metadata_is_left_out() -> None:
    """Metadata whose JSON text is null means no metadata: the body leaves the field out."""
    record = {"_row": 2, "email_address": ["a@example.com"], "public_metadata": "null"}
    assert payload_from_record(record) == {"email_address": ["a@example.com"]}
