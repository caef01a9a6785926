"""verify_password: every hasher's real algorithm, against digests made by the real libraries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import argon2
import bcrypt
import pytest

from migrate._internal.hashers import HASHERS
from migrate.sandbox.passwords import VERIFIERS, verify_password

PASSWORD = "correct horse"
WRONG = "correct horsf"

# Made by the real libraries in a throwaway venv (Django 5.2.19, Werkzeug 3, passlib 1.7.4), with
# the password "correct horse", low work factors so that the tests stay fast.
DJANGO_PBKDF2_SHA256 = (
    "pbkdf2_sha256$1000$O2CwTwbPYwAsWyOToX7klA$d/SZVAC6UPWHrFLX5LmcRFJOkcZ8za6JVOUZF63IUC0="
)
DJANGO_BCRYPT_SHA256 = "bcrypt_sha256$$2b$04$28Wzqop.e.kle7qQzxlhkekccUg4numF60AKhsl5/MUEepLvU3Lvq"
DJANGO_ARGON2ID_STRIPPED = (
    "$argon2id$v=19$m=8,t=1,p=1$eGVySm5RZ3c3dFBJMDBycVZIM01JMA"
    "$jLyo2wqM8UOwhFlnkWfPE9lJyLh3ERAxvfER1jHM1P0"
)
WERKZEUG_SCRYPT = (
    "scrypt:1024:8:1$Sv7Dun4SQcpb0Bu7$494fea49f865ea2f4658669d3057585223aeee598adc5df5b236a6489da"
    "86c98f2eef23ba5bfd922180bdec5e76d5220b7bb865afea31ef122d52eaf04315986"
)
PASSLIB_PHPASS_P = "$P$61eNLYkUNJRaR4gfWXTte9znPJw4QH/"
PASSLIB_PHPASS_H = "$H$6F5adAXaHh8G1G3Ki8OlCUIMsWXE5v."
PASSLIB_SSHA = "{SSHA}BSW+Hc/LIPytl4CVrHxszNFaJ4XDGOPc"

# Firebase's published vector (firebase/scrypt README) and Supabase's (supabase/auth
# internal/crypto/password_test.go, re-ordered from $fbscrypt$ into Clerk's field order).
FIREBASE_README = (
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
    "$42xEC+ixf3L2lw=="
    "$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
    "$Bw==$8$14"
)
SUPABASE_FIREBASE = (
    "zKVTMvnWVw5BBOZNUdnsalx4c4c7y/w7IS5p6Ut2+CfEFFlz37J9huyQfov4iizN8dbjvEJlM5tQaJP84+hfTw=="
    "$C0sHCg9ek77hsg=="
    "$ou9tdYTGyYm8kuR6Dt0Bp0kDuAYoXrK16mbZO4yGwAn3oLspjnN0/c41v8xZnO1n14J3MjKj1b2g6AUCAlFwMw=="
    "$Bw==$8$14"
)
# From supabase/auth's tests: a PHP-style $2y$ bcrypt of "test".
PHP_BCRYPT_2Y = "$2y$10$SXEz2HeT8PUIGQXo9yeUIem8KzNxgG0d7o/.eGj2rj8KbRgAuRVlq"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _bcrypt(secret: bytes) -> str:
    return bcrypt.hashpw(secret, bcrypt.gensalt(rounds=4)).decode()


def _argon2(kind: argon2.Type) -> str:
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=kind)
    return hasher.hash(PASSWORD)


def _symfony(password: str, salt: str, iterations: int) -> str:
    # Symfony's MessageDigestPasswordHasher as its own tests describe it: hash "password{salt}",
    # then hash(previous + salted) for the remaining iterations, base64 at the end.
    salted = f"{password}{{{salt}}}".encode()
    digest = hashlib.sha512(salted).digest()
    for _ in range(1, iterations):
        digest = hashlib.sha512(digest + salted).digest()
    return f"sha512_symfony${iterations}${salt}${_b64(digest)}"


def _pbkdf2(name: str, salt: bytes, rounds: int, length: int) -> bytes:
    return hashlib.pbkdf2_hmac(name, PASSWORD.encode(), salt, rounds, dklen=length)


def _generated() -> dict[str, str]:
    """One fresh digest of PASSWORD per offline-verifiable hasher, made by the real libraries."""
    pw = PASSWORD.encode()
    salt = os.urandom(16)
    django_salt = "aB3dE6gH9jK2mN5pQ8sT1v"
    sha256_prehash = hashlib.sha256(pw).hexdigest().encode()
    return {
        "bcrypt": _bcrypt(pw),
        "bcrypt_sha256_django": "bcrypt_sha256$" + _bcrypt(sha256_prehash),
        "bcrypt_peppered": _bcrypt(pw + b"pepper-123") + "$pepper-123",
        "argon2i": _argon2(argon2.Type.I),
        "argon2id": _argon2(argon2.Type.ID),
        "pbkdf2_sha1": (f"pbkdf2_sha1$50${salt.hex()}${_pbkdf2('sha1', salt, 50, 20).hex()}$20"),
        "pbkdf2_sha256": f"pbkdf2_sha256$50${_b64(salt)}${_b64(_pbkdf2('sha256', salt, 50, 32))}",
        "pbkdf2_sha256_django": (
            f"pbkdf2_sha256$50${django_salt}"
            f"${_b64(_pbkdf2('sha256', django_salt.encode(), 50, 32))}"
        ),
        "pbkdf2_sha512": (
            f"pbkdf2_sha512$50$literal-salt${_pbkdf2('sha512', b'literal-salt', 50, 64).hex()}"
        ),
        "pbkdf2_sha512_hex": (
            f"pbkdf2_sha512_hex$50${salt.hex()}${_pbkdf2('sha512', salt, 50, 64).hex()}"
        ),
        "phpass": PASSLIB_PHPASS_P,
        "md5_phpass": PASSLIB_PHPASS_H,
        "md5": hashlib.md5(pw).hexdigest(),  # noqa: S324
        "md5_salted": "s4lt$" + hashlib.md5(b"s4lt" + pw).hexdigest(),  # noqa: S324
        "sha256": hashlib.sha256(pw).hexdigest(),
        "sha256_salted": "s4lt$" + hashlib.sha256(pw + b"s4lt").hexdigest(),
        "sha512_symfony": _symfony(PASSWORD, "s4lt", 7),
        "hmac_sha256_utf16_b64": (
            "hmac_sha256_utf16_b64$"
            + _b64(hmac.new(b"k3y", PASSWORD.encode("utf-16-le"), hashlib.sha256).digest())
            + "$k3y"
        ),
        "scrypt_firebase": _firebase(pw),
        "scrypt_werkzeug": _werkzeug(pw),
        "ldap_ssha": "{SSHA}" + _b64(hashlib.sha1(pw + b"salt").digest() + b"salt"),  # noqa: S324
    }


def _firebase(pw: bytes) -> str:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: PLC0415

    salt, separator, key = os.urandom(12), b"\x07", os.urandom(64)
    derived = hashlib.scrypt(pw, salt=salt + separator, n=2**5, r=2, p=1, dklen=64)
    enc = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
    hashed = enc.update(key) + enc.finalize()
    return f"{_b64(hashed)}${_b64(salt)}${_b64(key)}${_b64(separator)}$2$5"


def _werkzeug(pw: bytes) -> str:
    hashed = hashlib.scrypt(pw, salt=b"Sv7Dun4SQcpb0Bu7", n=64, r=8, p=1, dklen=64)
    return f"scrypt:64:8:1$Sv7Dun4SQcpb0Bu7${hashed.hex()}"


GENERATED = _generated()


def test_every_hasher_has_a_verifier() -> None:
    """verify_password knows exactly the hashers the grammar accepts, and every one is exercised."""
    assert set(VERIFIERS) == HASHERS
    assert set(GENERATED) == HASHERS - {"awscognito"}


@pytest.mark.parametrize("hasher", sorted(GENERATED))
def test_right_password_verifies(hasher: str) -> None:
    """A digest of the password made by the real algorithm verifies under its hasher."""
    assert verify_password(hasher, GENERATED[hasher], PASSWORD)


@pytest.mark.parametrize("hasher", sorted(GENERATED))
def test_wrong_password_fails(hasher: str) -> None:
    """A password that differs by one character never verifies."""
    assert not verify_password(hasher, GENERATED[hasher], WRONG)


@pytest.mark.parametrize(
    ("hasher", "digest"),
    [
        ("pbkdf2_sha256_django", DJANGO_PBKDF2_SHA256),
        ("bcrypt_sha256_django", DJANGO_BCRYPT_SHA256),
        ("argon2id", DJANGO_ARGON2ID_STRIPPED),
        ("scrypt_werkzeug", WERKZEUG_SCRYPT),
        ("phpass", PASSLIB_PHPASS_P),
        ("md5_phpass", PASSLIB_PHPASS_H),
        ("md5_phpass", PASSLIB_PHPASS_P),
        ("ldap_ssha", PASSLIB_SSHA),
    ],
)
def test_library_vectors(hasher: str, digest: str) -> None:
    """Digests produced by Django, Werkzeug and passlib verify with the right password only."""
    assert verify_password(hasher, digest, PASSWORD)
    assert not verify_password(hasher, digest, WRONG)


def test_firebase_published_vectors() -> None:
    """Firebase's and Supabase's published modified-scrypt vectors verify; a near miss fails."""
    assert verify_password("scrypt_firebase", FIREBASE_README, "user1password")
    assert not verify_password("scrypt_firebase", FIREBASE_README, "user1passwor")
    assert verify_password("scrypt_firebase", SUPABASE_FIREBASE, "mytestpassword")
    assert not verify_password("scrypt_firebase", SUPABASE_FIREBASE, "mytestpassword1")


def test_php_2y_bcrypt() -> None:
    """A PHP $2y$ bcrypt verifies as bcrypt (PHP's tag is the same algorithm as $2b$)."""
    assert verify_password("bcrypt", PHP_BCRYPT_2Y, "test")
    assert not verify_password("bcrypt", PHP_BCRYPT_2Y, "tess")


def test_salted_hashers_accept_either_concatenation_order() -> None:
    """md5_salted / sha256_salted accept salt+password and password+salt (Clerk is silent)."""
    pw = PASSWORD.encode()
    for name, hasher in (("md5", "md5_salted"), ("sha256", "sha256_salted")):
        before = "s4lt$" + hashlib.new(name, b"s4lt" + pw).hexdigest()
        after = "s4lt$" + hashlib.new(name, pw + b"s4lt").hexdigest()
        assert verify_password(hasher, before, PASSWORD)
        assert verify_password(hasher, after, PASSWORD)
        assert not verify_password(hasher, before, WRONG)


def test_uppercase_hex_digests_verify() -> None:
    """Plain hex digests compare case-insensitively (exports often upper-case them)."""
    assert verify_password("md5", GENERATED["md5"].upper(), PASSWORD)
    assert verify_password("sha256", GENERATED["sha256"].upper(), PASSWORD)


def test_bcrypt_refuses_passwords_over_72_bytes() -> None:
    """bcrypt refuses a password longer than 72 bytes rather than truncating it (Go's rule)."""
    long = "x" * 73
    digest = bcrypt.hashpw(b"x" * 72, bcrypt.gensalt(rounds=4)).decode()
    assert verify_password("bcrypt", digest, "x" * 72)
    assert not verify_password("bcrypt", digest, long)


def test_bcrypt_peppered_truncates_like_devise() -> None:
    """With a long pepper, password + pepper is cut at 72 bytes as Ruby's bcrypt did."""
    pepper = "p" * 70
    made = bcrypt.hashpw((PASSWORD.encode() + pepper.encode())[:72], bcrypt.gensalt(rounds=4))
    digest = made.decode() + "$" + pepper
    assert verify_password("bcrypt_peppered", digest, PASSWORD)
    assert not verify_password("bcrypt_peppered", digest, "x" + PASSWORD)


def test_pbkdf2_sha1_default_key_length_is_32() -> None:
    """The short pbkdf2_sha1 form (no key length) derives 32 bytes, Clerk's default."""
    salt = b"\x01\x02\x03\x04"
    hashed = _pbkdf2("sha1", salt, 20, 32)
    assert verify_password("pbkdf2_sha1", f"pbkdf2_sha1$20${salt.hex()}${hashed.hex()}", PASSWORD)
    raw = _pbkdf2("sha1", b"not-hex!", 20, 32)
    assert verify_password("pbkdf2_sha1", f"pbkdf2_sha1$20$not-hex!${raw.hex()}", PASSWORD)


def test_pbkdf2_sha1_key_length_must_match_hash() -> None:
    """A declared key length that disagrees with the hash's length never verifies."""
    salt = b"\x01\x02"
    hashed = _pbkdf2("sha1", salt, 20, 20).hex()
    assert verify_password("pbkdf2_sha1", f"pbkdf2_sha1$20${salt.hex()}${hashed}$20", PASSWORD)
    assert not verify_password("pbkdf2_sha1", f"pbkdf2_sha1$20${salt.hex()}${hashed}$32", PASSWORD)


def test_argon2_kind_must_match_hasher() -> None:
    """An argon2id digest does not verify under argon2i, nor the reverse."""
    assert not verify_password("argon2i", GENERATED["argon2id"], PASSWORD)
    assert not verify_password("argon2id", GENERATED["argon2i"], PASSWORD)


def test_awscognito_cannot_be_verified_offline() -> None:
    """awscognito digests are references to Cognito, so the sandbox never accepts a password."""
    assert not verify_password("awscognito", "awscognito#us-east-1_AbC123#abc123def#jane", "x")


@pytest.mark.parametrize(
    ("hasher", "digest"),
    [
        ("bcrypt", "$2b$04$short"),
        ("bcrypt", ""),
        ("nope", GENERATED["md5"]),
        ("argon2id", "$argon2id$v=19$m=8,t=1,p=1$!!!!$????"),
        ("argon2id", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaA"),
        ("pbkdf2_sha256", "pbkdf2_sha256$10$c2FsdA==$aGFzaA=="),
        ("pbkdf2_sha512", "pbkdf2_sha512$10$" + "s" * 1030 + "$abcd"),
        ("scrypt_firebase", "aGFzaA==$c2FsdA==$a2V5$Bw==$8$99"),
        ("scrypt_firebase", "aGFzaA==$c2FsdA==$a2V5$Bw==$999999$14"),
        ("scrypt_werkzeug", "scrypt:1000:8:1$salt$abcd"),
        ("ldap_ssha", "{SSHA}AAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("sha512_symfony", "sha512_symfony$5$br{ace}$aGFzaA=="),
        ("phpass", "$P$Babc"),
    ],
)
def test_malformed_or_hostile_digests_return_false(hasher: str, digest: str) -> None:
    """Bad digests, unknown hashers and out-of-range parameters give False, never an exception."""
    assert verify_password(hasher, digest, PASSWORD) is False


@pytest.mark.parametrize(
    ("hasher", "digest"),
    [
        ("bcrypt", "$2b$31$" + GENERATED["bcrypt"][7:]),
        ("bcrypt_peppered", "$2b$25$" + GENERATED["bcrypt_peppered"][7:]),
        ("bcrypt_sha256_django", "bcrypt_sha256$$2b$28$" + GENERATED["bcrypt"][7:]),
        ("phpass", "$P$S" + PASSLIB_PHPASS_P[4:]),
        ("pbkdf2_sha256_django", "pbkdf2_sha256$900000000$salt$" + _b64(bytes(32))),
        ("sha512_symfony", "sha512_symfony$900000000$s4lt$" + _b64(bytes(64))),
        ("argon2id", "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
        ("argon2id", "$argon2id$v=19$m=8,t=5000,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"),
    ],
)
def test_absurd_work_factors_are_refused(hasher: str, digest: str) -> None:
    """Digests demanding hours of work are answered False instead of stalling the sandbox."""
    assert verify_password(hasher, digest, PASSWORD) is False
