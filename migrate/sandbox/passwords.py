"""Verify a plaintext password against an imported digest with each hasher's real algorithm.

This makes the sandbox an oracle: a user migrated with ``password_digest`` + ``password_hasher``
can sign in only if the plaintext really matches. Libraries do the cryptography (bcrypt,
argon2-cffi, hashlib, cryptography); comparisons are constant-time. Where Clerk leaves the
algorithm undocumented the choice is marked ASSUMPTION below; docs/sandbox.md repeats them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Final

import argon2
import bcrypt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from migrate._internal.hashers.grammar import digest_problem

__all__ = ["VERIFIERS", "verify_password"]

# bcrypt reads at most 72 bytes; Go's x/crypto/bcrypt (and Clerk, which asks users with longer
# imported passwords to reset) refuses longer input rather than truncating it.
_BCRYPT_MAX: Final = 72
# Refuse scrypt parameters that would need more memory than this instead of allocating it.
_SCRYPT_MAX_MEMORY: Final = 512 * 1024 * 1024
# Work caps far above anything an export holds (bcrypt 10-14, Django 1 M pbkdf2 rounds, phpass
# 2^13, argon2 64 MiB), so that one hostile digest cannot stall a sandbox worker for hours.
# Past them verify_password answers False.
_MAX_BCRYPT_COST: Final = 20
_MAX_ITERATIONS: Final = 10_000_000
_MAX_PHPASS_LOG2: Final = 24
_MAX_ARGON2_KIB: Final = 1024 * 1024
_MAX_ARGON2_TIME: Final = 100
_ITOA64: Final = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ARGON2: Final = argon2.PasswordHasher()


def verify_password(hasher: str, digest: str, plaintext: str) -> bool:
    """True when ``plaintext`` is the password behind ``digest`` under ``hasher``.

    A digest that is malformed for its hasher, an unknown hasher, or parameters the algorithm
    refuses all give False; this function never raises for bad input. ``awscognito`` is always
    False: Clerk verifies it by calling Cognito at sign-in, which cannot be done offline.
    """
    verifier = VERIFIERS.get(hasher)
    if verifier is None or digest_problem(hasher, digest) is not None:
        return False
    try:
        return verifier(digest, plaintext.encode("utf-8"))
    except (ValueError, TypeError, OverflowError, MemoryError, argon2.exceptions.Argon2Error):
        # ValueError covers binascii.Error and UnicodeError: undecodable fields are a mismatch.
        return False


def _eq(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _hex_or_raw(text: str) -> bytes:
    """Clerk's pbkdf2_sha1 salt rule: hex when it decodes as hex, else the raw bytes."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        return text.encode("utf-8")


def _bcrypt_cost_ok(bcrypt_string: str) -> bool:
    return int(bcrypt_string[4:6]) <= _MAX_BCRYPT_COST


def _bcrypt(digest: str, password: bytes) -> bool:
    if len(password) > _BCRYPT_MAX or not _bcrypt_cost_ok(digest):
        return False
    return bcrypt.checkpw(password, digest.encode("ascii"))


def _bcrypt_sha256_django(digest: str, password: bytes) -> bool:
    # Django hashes the password with SHA-256 first and feeds bcrypt the 64-char hex digest.
    bcrypt_part = digest.removeprefix("bcrypt_sha256$")
    if not _bcrypt_cost_ok(bcrypt_part):
        return False
    prehashed = hashlib.sha256(password).hexdigest().encode("ascii")
    return bcrypt.checkpw(prehashed, bcrypt_part.encode("ascii"))


def _bcrypt_peppered(digest: str, password: bytes) -> bool:
    bcrypt_part, pepper = digest[:60], digest[61:]
    if not _bcrypt_cost_ok(bcrypt_part):
        return False
    # ASSUMPTION: Devise made the hash with Ruby's bcrypt, which silently uses the first 72 bytes
    # of password + pepper; we do the same so that long peppers still verify.
    peppered = (password + pepper.encode("utf-8"))[:_BCRYPT_MAX]
    return bcrypt.checkpw(peppered, bcrypt_part.encode("ascii"))


def _argon2(kind: str) -> Callable[[str, bytes], bool]:
    def verify(digest: str, password: bytes) -> bool:
        if not digest.startswith(f"${kind}$"):
            return False
        params = argon2.extract_parameters(digest)
        if params.memory_cost > _MAX_ARGON2_KIB or params.time_cost > _MAX_ARGON2_TIME:
            return False
        try:
            return _ARGON2.verify(digest, password)
        except argon2.exceptions.VerifyMismatchError:
            return False

    return verify


def _pbkdf2(name: str, password: bytes, salt: bytes, iterations: int, expected: bytes) -> bool:
    if not expected or iterations > _MAX_ITERATIONS:
        return False
    derived = hashlib.pbkdf2_hmac(name, password, salt, iterations, dklen=len(expected))
    return _eq(derived, expected)


def _pbkdf2_sha1(digest: str, password: bytes) -> bool:
    fields = digest.split("$")
    iterations, salt, expected = int(fields[1]), _hex_or_raw(fields[2]), bytes.fromhex(fields[3])
    key_length = int(fields[4]) if len(fields) == 5 else 32  # Clerk's documented default
    if key_length != len(expected):
        return False
    return _pbkdf2("sha1", password, salt, iterations, expected)


def _pbkdf2_sha256(digest: str, password: bytes) -> bool:
    _, iterations, salt, expected = digest.split("$")
    return _pbkdf2("sha256", password, _b64(salt), int(iterations), _b64(expected))


def _pbkdf2_sha256_django(digest: str, password: bytes) -> bool:
    _, iterations, salt, expected = digest.split("$")
    return _pbkdf2("sha256", password, salt.encode("utf-8"), int(iterations), _b64(expected))


def _pbkdf2_sha512(digest: str, password: bytes) -> bool:
    _, iterations, salt, expected = digest.split("$")
    salt_bytes = salt.encode("utf-8")
    if len(salt_bytes) >= 1024:  # Clerk's documented bound, in bytes (the regex counts chars)
        return False
    return _pbkdf2("sha512", password, salt_bytes, int(iterations), bytes.fromhex(expected))


def _pbkdf2_sha512_hex(digest: str, password: bytes) -> bool:
    _, iterations, salt, expected = digest.split("$")
    return _pbkdf2(
        "sha512", password, bytes.fromhex(salt), int(iterations), bytes.fromhex(expected)
    )


def _phpass(digest: str, password: bytes) -> bool:
    """The phpass portable algorithm (WordPress ``$P$``, phpBB ``$H$``)."""
    log2 = _ITOA64.index(digest[3])
    if log2 > _MAX_PHPASS_LOG2:
        return False
    rounds = 1 << log2
    salt = digest[4:12].encode("ascii")
    state = hashlib.md5(salt + password).digest()  # noqa: S324 - the legacy algorithm itself
    for _ in range(rounds):
        state = hashlib.md5(state + password).digest()  # noqa: S324
    return _eq((digest[:12] + _phpass_encode(state)).encode("ascii"), digest.encode("ascii"))


def _phpass_encode(raw: bytes) -> str:
    """phpass's little-endian base64 variant over ``_ITOA64``."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        value = raw[i]
        i += 1
        out.append(_ITOA64[value & 0x3F])
        if i < len(raw):
            value |= raw[i] << 8
        out.append(_ITOA64[(value >> 6) & 0x3F])
        if i >= len(raw):
            break
        i += 1
        if i < len(raw):
            value |= raw[i] << 16
        out.append(_ITOA64[(value >> 12) & 0x3F])
        if i >= len(raw):
            break
        i += 1
        out.append(_ITOA64[(value >> 18) & 0x3F])
    return "".join(out)


def _plain(name: str) -> Callable[[str, bytes], bool]:
    def verify(digest: str, password: bytes) -> bool:
        computed = hashlib.new(name, password).hexdigest()
        return _eq(computed.encode("ascii"), digest.lower().encode("ascii"))

    return verify


def _salted(name: str) -> Callable[[str, bytes], bool]:
    def verify(digest: str, password: bytes) -> bool:
        salt, expected = digest.rsplit("$", 1)
        want = expected.lower().encode("ascii")
        salt_bytes = salt.encode("utf-8")
        # ASSUMPTION: Clerk does not document whether the salt goes before or after the
        # password; the sandbox accepts either, so rehearse these on a development instance.
        return any(
            _eq(hashlib.new(name, joined).hexdigest().encode("ascii"), want)
            for joined in (salt_bytes + password, password + salt_bytes)
        )

    return verify


def _sha512_symfony(digest: str, password: bytes) -> bool:
    """Symfony's MessageDigestPasswordEncoder: sha512 of ``password{salt}``, re-hashed N times."""
    _, iterations_text, salt, expected = digest.split("$")
    if int(iterations_text) > _MAX_ITERATIONS:
        return False
    if "{" in salt or "}" in salt:  # Symfony refuses such salts, so no stored hash has one
        return False
    salted = password + b"{" + salt.encode("utf-8") + b"}"
    state = hashlib.sha512(salted).digest()
    for _ in range(int(iterations_text) - 1):
        state = hashlib.sha512(state + salted).digest()
    return _eq(state, _b64(expected))


def _hmac_sha256_utf16_b64(digest: str, password: bytes) -> bool:
    # ASSUMPTION (format only in an old Clerk spec): HMAC-SHA256 keyed with the key's UTF-8
    # bytes over the UTF-16LE password (.NET's Encoding.Unicode), base64-encoded.
    _, expected, key = digest.split("$", 2)
    message = password.decode("utf-8").encode("utf-16-le")
    return _eq(hmac.new(key.encode("utf-8"), message, hashlib.sha256).digest(), _b64(expected))


def _scrypt(password: bytes, salt: bytes, *, n: int, r: int, p: int, dklen: int) -> bytes:
    memory = 128 * n * r * p
    if memory > _SCRYPT_MAX_MEMORY or n < 2 or n & (n - 1):
        raise ValueError("scrypt parameters out of range")
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=memory + 1024**2, dklen=dklen)


def _scrypt_firebase(digest: str, password: bytes) -> bool:
    """Firebase's modified scrypt: scrypt, then AES-256-CTR of the signer key under its output."""
    hash_b64, salt, signer_key, separator, rounds, mem_cost = digest.split("$")
    if int(mem_cost) > 31:
        return False
    salt_bytes = _b64(salt) + _b64(separator)
    derived = _scrypt(password, salt_bytes, n=1 << int(mem_cost), r=int(rounds), p=1, dklen=64)
    encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
    computed = encryptor.update(_b64(signer_key)) + encryptor.finalize()
    return _eq(computed, _b64(hash_b64))


def _scrypt_werkzeug(digest: str, password: bytes) -> bool:
    args, salt, expected_hex = digest.split("$")
    n, r, p = (int(x) for x in args.removeprefix("scrypt:").split(":"))
    expected = bytes.fromhex(expected_hex)
    computed = _scrypt(password, salt.encode("utf-8"), n=n, r=r, p=p, dklen=len(expected))
    return _eq(computed, expected)


def _ldap_ssha(digest: str, password: bytes) -> bool:
    raw = _b64(digest[6:])
    if len(raw) <= 20:  # a SHA-1 digest is 20 bytes; the rest is the salt
        return False
    return _eq(hashlib.sha1(password + raw[20:]).digest(), raw[:20])  # noqa: S324


def _awscognito(digest: str, password: bytes) -> bool:
    # Clerk checks these against Cognito (USER_PASSWORD_AUTH) at first sign-in: not offline.
    return False


VERIFIERS: Final[dict[str, Callable[[str, bytes], bool]]] = {
    "bcrypt": _bcrypt,
    "bcrypt_sha256_django": _bcrypt_sha256_django,
    "bcrypt_peppered": _bcrypt_peppered,
    "argon2i": _argon2("argon2i"),
    "argon2id": _argon2("argon2id"),
    "pbkdf2_sha1": _pbkdf2_sha1,
    "pbkdf2_sha256": _pbkdf2_sha256,
    "pbkdf2_sha256_django": _pbkdf2_sha256_django,
    "pbkdf2_sha512": _pbkdf2_sha512,
    "pbkdf2_sha512_hex": _pbkdf2_sha512_hex,
    "phpass": _phpass,
    "md5_phpass": _phpass,
    "md5": _plain("md5"),
    "md5_salted": _salted("md5"),
    "sha256": _plain("sha256"),
    "sha256_salted": _salted("sha256"),
    "sha512_symfony": _sha512_symfony,
    "hmac_sha256_utf16_b64": _hmac_sha256_utf16_b64,
    "scrypt_firebase": _scrypt_firebase,
    "scrypt_werkzeug": _scrypt_werkzeug,
    "ldap_ssha": _ldap_ssha,
    "awscognito": _awscognito,
}
"""Hasher -> verifier over (digest, UTF-8 password bytes); covers every name in HASHERS."""
