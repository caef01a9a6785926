"""The user store's ids and indexes, and that no secret ever leaves the sandbox."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from test_passwords import GENERATED

from migrate.sandbox import SandboxConfig
from migrate.sandbox.formats import parse_rfc3339_ms
from migrate.sandbox.store import UserRecord, UserStore
from migrate.sandbox.validation import validate_create


def test_ids_look_like_clerk_ids_and_sort_in_creation_order() -> None:
    """Ids are user_ + 27 base62 characters, decode back to their user, and sort by creation."""
    store = UserStore(seed=1)
    ids = []
    for i in range(5000):
        rec = UserRecord()
        rec.external_id = f"e{i}"
        ids.append(store.add(rec))
    assert all(len(i) == 32 and i.startswith("user_") and i[5:].isalnum() for i in ids)
    assert sorted(ids) == ids
    assert store.get_by_id(ids[1234]) is store.get_by_external_id("e1234")
    idn = {
        store.identification_id(s, k, n)
        for s in range(50)
        for k in ("email", "phone", "web3")
        for n in range(3)
    }
    assert len(idn) == 450


def test_ids_of_another_instance_do_not_resolve() -> None:
    """An id issued by one sandbox names no user in a differently seeded one."""
    one, two = UserStore(seed=1), UserStore(seed=2)
    issued = one.add(UserRecord())
    two.add(UserRecord())
    assert two.get_by_id(issued) is None


def test_record_repr_never_shows_the_digest() -> None:
    """A stored record's repr names the user but not the password digest or hasher."""
    rec = UserRecord()
    rec.external_id, rec.hasher, rec.digest = "e1", "bcrypt", GENERATED["bcrypt"]
    assert GENERATED["bcrypt"] not in repr(rec)
    assert "e1" in repr(rec)


def test_plaintext_is_kept_as_a_keyed_hmac_only() -> None:
    """A plaintext password is stored as an HMAC that verifies it, never as the text."""
    store = UserStore(seed=1)
    rec, problems = validate_create(
        {"password": "a long enough passphrase"},
        SandboxConfig.for_tests(),
        0,
        store.plaintext_digest,
    )
    assert rec is not None
    assert not problems
    assert rec.digest is not None
    assert "passphrase" not in rec.digest
    assert store.check_plaintext(rec.digest, "a long enough passphrase")
    assert not store.check_plaintext(rec.digest, "a long enough passphrasE")


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2022-10-20T10:00:27.645Z", 1666260027645),
        ("2022-10-20T10:00:27Z", 1666260027000),
        ("2022-10-20T12:00:27.645123456+02:00", 1666260027645),
        ("2022-10-20T05:00:27-05:00", 1666260027000),
        ("2022-10-20 10:00:27Z", None),
        ("2022-10-20T10:00:27", None),
        ("2022-13-01T00:00:00Z", None),
        ("2022-10-20T10:00:27+02:75", None),
        ("0000-01-01T00:00:00Z", -62167219200000),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2024-02-29T00:00:00Z", 1709164800000),
        ("2023-02-29T00:00:00Z", None),
        ("2100-02-29T00:00:00Z", None),
        ("2000-02-29T00:00:00Z", 951782400000),
        ("2022-04-31T00:00:00Z", None),
        ("2022-10-20T24:00:00Z", None),
        ("2022-10-20T10:00:60Z", None),
        ("2022-10-20T10:00:27+24:00", None),
    ],
)
def test_rfc3339_parsing(text: str, ms: int | None) -> None:
    """created_at / legal_accepted_at accept RFC3339 with Z or an offset, and nothing else."""
    assert parse_rfc3339_ms(text) == ms


def test_rfc3339_agrees_with_datetime() -> None:
    """The hand-written date arithmetic gives datetime's epoch for dates across four centuries."""
    rng = random.Random(7)
    for _ in range(2000):
        moment = datetime(1, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(86400, 9998 * 365 * 86400), microseconds=rng.randrange(10**6)
        )
        offset = rng.randrange(-23 * 60 - 59, 23 * 60 + 60)
        local = moment.astimezone(timezone(timedelta(minutes=offset)))
        expected = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
        assert parse_rfc3339_ms(local.isoformat().replace("+00:00", "Z")) == expected


def test_no_secret_leaves_the_sandbox(sandbox: object, caplog: pytest.LogCaptureFixture) -> None:
    """Passwords, digests, TOTP secrets and backup codes appear in no response, counter or log."""
    from migrate.sandbox import SandboxHandle  # noqa: PLC0415

    assert isinstance(sandbox, SandboxHandle)
    caplog.set_level(logging.DEBUG)
    secrets = [
        "a long enough passphrase",
        GENERATED["argon2id"],
        "JBSWY3DPEHPK3PXP",
        "backup-code-1",
        "password123",
        "not-a-bcrypt-digest",
    ]
    auth = {"Authorization": f"Bearer {sandbox.secret_key}"}
    seen: list[str] = []
    with httpx.Client(base_url=sandbox.url, headers=auth) as client:
        bodies = [
            {
                "external_id": "a",
                "password": secrets[0],
                "totp_secret": secrets[2],
                "backup_codes": [secrets[3]],
            },
            {"external_id": "b", "password_digest": secrets[1], "password_hasher": "argon2id"},
            {"external_id": "c", "password": secrets[4]},  # pwned: rejected
            {"external_id": "d", "password_digest": secrets[5], "password_hasher": "bcrypt"},  # bad
            {
                "external_id": "e",
                "password": secrets[0],
                "password_digest": secrets[1],
                "password_hasher": "argon2id",
            },
        ]
        for body in bodies:
            seen.append(client.post("/v1/users", json=body).text)
        users = client.get("/v1/users", params={"limit": 500})
        seen.append(users.text)
        for user in users.json():
            seen.append(client.get(f"/v1/users/{user['id']}").text)
            seen.append(
                client.post(
                    f"/v1/users/{user['id']}/verify_password", json={"password": secrets[4]}
                ).text
            )
        seen.append(client.get("/_sandbox/counters").text)
    seen.append(json.dumps(sandbox.counters()))
    seen.append(caplog.text)
    seen.append(repr(sandbox))
    everything = "\n".join(seen)
    assert len(users.json()) == 2
    for secret in secrets:
        assert secret not in everything, secret
