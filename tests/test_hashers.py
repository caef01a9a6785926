"""Digest grammar per hasher, unsupported shapes, and hasher inference (Python and polars)."""

from __future__ import annotations

import base64
import hashlib
import re

import argon2
import bcrypt
import polars as pl
import pytest

from migrate._internal.hashers import (
    DIGEST_PATTERNS,
    HASHERS,
    UNSUPPORTED,
    digest_problem,
    infer_hasher,
    infer_hasher_expr,
)

_B = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
_ARGON2ID = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
_ARGON2I = argon2.PasswordHasher(
    time_cost=1, memory_cost=8, parallelism=1, type=argon2.Type.I
).hash("pw")
_SALT_B64 = base64.b64encode(b"0123456789abcdef").decode()  # 24 chars ending in "=="
_HASH_B64 = base64.b64encode(hashlib.sha256(b"x").digest()).decode()

# One real (library- or documentation-made) digest per hasher; the key is the hasher it belongs to.
REAL: dict[str, str] = {
    "bcrypt": _B,
    "bcrypt_sha256_django": (
        "bcrypt_sha256$$2b$04$28Wzqop.e.kle7qQzxlhkekccUg4numF60AKhsl5/MUEepLvU3Lvq"
    ),
    "bcrypt_peppered": _B + "$s3cr3t-pepper",
    "md5": "5f4dcc3b5aa765d61d8327deb882cf99",  # Clerk's docs example
    "md5_salted": "s4lt$5f4dcc3b5aa765d61d8327deb882cf99",
    "md5_phpass": "$H$6F5adAXaHh8G1G3Ki8OlCUIMsWXE5v.",  # passlib
    "phpass": "$P$61eNLYkUNJRaR4gfWXTte9znPJw4QH/",  # passlib
    "pbkdf2_sha1": "pbkdf2_sha1$1000$616263$" + "ab" * 20 + "$20",
    "pbkdf2_sha256": f"pbkdf2_sha256$27500${_SALT_B64}${_HASH_B64}",
    "pbkdf2_sha256_django": (  # Django 5.2
        "pbkdf2_sha256$1000$O2CwTwbPYwAsWyOToX7klA$d/SZVAC6UPWHrFLX5LmcRFJOkcZ8za6JVOUZF63IUC0="
    ),
    "pbkdf2_sha512": "pbkdf2_sha512$210000$literal-salt$" + "cd" * 64,
    "pbkdf2_sha512_hex": "pbkdf2_sha512_hex$210000$" + "0f" * 16 + "$" + "cd" * 64,
    "scrypt_firebase": (  # firebase/scrypt README
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
        "$42xEC+ixf3L2lw=="
        "$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
        "$Bw==$8$14"
    ),
    "scrypt_werkzeug": "scrypt:32768:8:1$Sv7Dun4SQcpb0Bu7$" + "9f" * 64,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # Clerk docs
    "sha256_salted": "s4lt$9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "sha512_symfony": "sha512_symfony$5000$s4lt$" + base64.b64encode(bytes(64)).decode(),
    "hmac_sha256_utf16_b64": f"hmac_sha256_utf16_b64${_HASH_B64}$k3y",
    "argon2i": _ARGON2I,
    "argon2id": _ARGON2ID,
    "ldap_ssha": "{SSHA}BSW+Hc/LIPytl4CVrHxszNFaJ4XDGOPc",  # passlib
    "awscognito": "awscognito#us-east-1_AbCdEf123#1example23456789abcdefghij#jane@example.com",
}
DOCS_ARGON2 = {  # Clerk's own examples (clerk-api.md §4)
    "argon2i": "$argon2i$v=19$m=4096,t=3,p=1$4t6CL3P7YiHBtwESXawI8Hm20zJj4cs7/4/G3c187e0"
    "$m7RQFczcKr5bIR0IIxbpO2P0tyrLjf3eUW3M3QSwnLc",
    "argon2id": "$argon2id$v=19$m=64,t=4,p=8$Z2liZXJyaXNo"
    "$iGXEpMBTDYQ8G/71tF0qGjxRHEmR3gpGULcE93zUJVU",
}

NEAR_MISSES: list[tuple[str, str]] = [
    ("bcrypt", _B[:-1]),
    ("bcrypt", _B + "x"),
    ("bcrypt", "$2b$03$" + _B[7:]),
    ("bcrypt", "$2x$04$" + _B[7:]),
    ("bcrypt", _B[:20] + " " + _B[21:]),
    ("bcrypt", _B + "\n"),
    ("bcrypt_sha256_django", "bcrypt_sha256$" + _B[1:]),
    ("bcrypt_peppered", _B + "$"),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf9"),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf9g"),
    ("md5_salted", "$5f4dcc3b5aa765d61d8327deb882cf99"),
    ("md5_phpass", "$X$61eNLYkUNJRaR4gfWXTte9znPJw4QH/"),
    ("phpass", "$P$61eNLYkUNJRaR4gfWXTte9znPJw4QH"),
    ("phpass", "$P$T1eNLYkUNJRaR4gfWXTte9znPJw4QH/"),
    ("pbkdf2_sha1", "pbkdf2_sha1$1000$abc$" + "ab" * 20),
    ("pbkdf2_sha1", "pbkdf2_sha1$0$abc$" + "ab" * 32),
    ("pbkdf2_sha256", "pbkdf2_sha256$1000$O2CwTwbPYwAsWyOToX7klA$" + _HASH_B64),
    ("pbkdf2_sha256_django", "pbkdf2_sha256$1000$salt$not base64"),
    ("pbkdf2_sha512", "pbkdf2_sha512$420000$salt$" + "cd" * 64),
    ("pbkdf2_sha512", "pbkdf2_sha512$1000$salt$" + "c" * 127),
    ("pbkdf2_sha512_hex", "pbkdf2_sha512_hex$1000$salt$" + "cd" * 64),
    ("scrypt_firebase", "aGFzaA==$c2FsdA==$a2V5$Bw==$8"),
    ("scrypt_firebase", "aGFzaA==$c2FsdA==$a2V5$Bw==$8$x"),
    ("scrypt_werkzeug", "scrypt:32768:8:1$salt$abc"),
    ("scrypt_werkzeug", "$scrypt:32768:8:1$salt$" + "ab" * 64),
    ("sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0"),
    ("sha256_salted", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08$s4lt"),
    ("sha512_symfony", "sha512_symfony$0$s4lt$" + _HASH_B64),
    ("hmac_sha256_utf16_b64", "hmac_sha256_utf16_b64$" + _HASH_B64),
    ("argon2i", _ARGON2ID),
    ("argon2id", _ARGON2I),
    ("argon2id", "$argon2id$v=19$m=8,t=1$c2FsdA$aGFzaA"),
    ("ldap_ssha", "{SSHA}c2hvcnQ="),
    ("ldap_ssha", "{SHA}BSW+Hc/LIPytl4CVrHxszNFaJ4XDGOPc"),
    ("awscognito", "awscognito#us-east-1_AbC#client#"),
]


def test_md5_phpass_accepts_wordpress_and_phpbb_tags() -> None:
    """md5_phpass takes both $H$ (phpBB) and $P$ (WordPress) phpass strings."""
    assert digest_problem("md5_phpass", REAL["phpass"]) is None
    assert digest_problem("md5_phpass", REAL["md5_phpass"]) is None
    assert digest_problem("phpass", REAL["md5_phpass"]) is not None


def test_every_hasher_has_a_real_example_and_a_near_miss() -> None:
    """The grammar covers the documented hasher names; each has a real digest and a near miss."""
    assert set(REAL) == HASHERS
    assert set(DIGEST_PATTERNS) == HASHERS
    assert {hasher for hasher, _ in NEAR_MISSES} == HASHERS


@pytest.mark.parametrize(
    "pattern", [*DIGEST_PATTERNS.values(), *(p for p, _ in UNSUPPORTED.values())]
)
def test_patterns_are_anchored_and_portable(pattern: str) -> None:
    """Each pattern is anchored and free of lookarounds, backreferences and \\d, and compiles in
    polars' Rust engine."""
    assert pattern.startswith("^")
    assert pattern.endswith("$")
    assert not re.search(r"\(\?[=!<]|\\[1-9]|\\d", pattern)
    pl.DataFrame({"d": ["x"]}).select(pl.col("d").str.contains(pattern))


@pytest.mark.parametrize(("hasher", "digest"), [*REAL.items(), *DOCS_ARGON2.items()])
def test_real_digests_are_valid(hasher: str, digest: str) -> None:
    """A real digest passes its own hasher's grammar."""
    assert digest_problem(hasher, digest) is None


@pytest.mark.parametrize(("hasher", "digest"), NEAR_MISSES)
def test_near_misses_are_rejected(hasher: str, digest: str) -> None:
    """A digest one step off its hasher's grammar is rejected with a message."""
    assert digest_problem(hasher, digest) is not None


def test_polars_and_python_agree_on_every_pattern() -> None:
    """``str.contains(DIGEST_PATTERNS[h])`` gives the same verdict as ``digest_problem``."""
    pairs = [*REAL.items(), *DOCS_ARGON2.items(), *NEAR_MISSES]
    pairs += [(h, d) for h in HASHERS for d in REAL.values()]  # every digest under every hasher
    frame = pl.DataFrame({"h": [h for h, _ in pairs], "d": [d for _, d in pairs]})
    matched = frame.select(
        pl.coalesce(
            [
                pl.when(pl.col("h") == h).then(pl.col("d").str.contains(p))
                for h, p in DIGEST_PATTERNS.items()
            ]
        )
    ).to_series()
    assert matched.to_list() == [digest_problem(h, d) is None for h, d in pairs]


def test_problem_names_hasher_and_shape_without_the_digest() -> None:
    """The message names the hasher and the expected shape, never the digest itself."""
    secret = "Zq9SECRETxYz" * 5
    message = digest_problem("bcrypt", secret)
    assert message == (
        "password_digest is not a valid bcrypt digest: expected $2a$/$2b$/$2y$, a two-digit "
        "cost, then 53 characters (60 in all)"
    )
    for hasher in HASHERS:
        assert "SECRET" not in (digest_problem(hasher, secret) or "")


def test_problem_for_unknown_hasher_lists_the_allowed_ones() -> None:
    """An unknown hasher is named, with the allowed names, never with the digest."""
    message = digest_problem("sha1", "abc")
    assert message is not None
    assert message.startswith("unknown password_hasher 'sha1'; allowed: argon2i, argon2id, ")


def test_problem_explains_an_unsupported_shape() -> None:
    """A WordPress 6.8 digest given as bcrypt says why no hasher can take it."""
    message = digest_problem("bcrypt", "$wp" + _B)
    assert message is not None
    assert "WordPress 6.8+" in message
    assert "skip_password_requirement" in message
    assert _B[7:] not in message


@pytest.mark.parametrize(("hasher", "digest"), list(REAL.items()))
def test_inference_of_each_real_digest(hasher: str, digest: str) -> None:
    """Each real digest's shape infers its own hasher."""
    inference = infer_hasher(digest)
    assert inference.hasher == hasher, inference
    assert inference.candidates == (hasher,)


BY_SHAPE: list[tuple[str, str]] = [
    ("$2a$10$" + _B[7:], "bcrypt"),
    ("$2y$10$" + _B[7:], "bcrypt"),
    (DOCS_ARGON2["argon2i"], "argon2i"),
    (DOCS_ARGON2["argon2id"], "argon2id"),
    ("5F4DCC3B5AA765D61D8327DEB882CF99", "md5"),
    # $P$ is valid under both phpass and md5_phpass; the documented name wins.
    ("$P$61eNLYkUNJRaR4gfWXTte9znPJw4QH/", "phpass"),
    # Django's 22-character salt is not padded base64, so the raw-salt reading is the only one.
    ("pbkdf2_sha256$870000$abcdefghijklmnopqrstuv$" + _HASH_B64, "pbkdf2_sha256_django"),
    # A salt with "=" padding (Keycloak, ASP.NET conversions) is base64.
    ("pbkdf2_sha256$27500$c2FsdA==$" + _HASH_B64, "pbkdf2_sha256"),
]


@pytest.mark.parametrize(
    ("digest", "hasher"),
    BY_SHAPE,
)
def test_inference_by_shape(digest: str, hasher: str) -> None:
    """Documented shapes infer the hasher the brief and Clerk's docs assign them."""
    assert infer_hasher(digest).hasher == hasher


def test_ambiguous_pbkdf2_sha256_salt_is_reported_not_guessed() -> None:
    """An alphanumeric salt of 4k characters (old Django or base64) yields both candidates."""
    inference = infer_hasher("pbkdf2_sha256$150000$abcdEFGH1234$" + _HASH_B64)
    assert inference.hasher is None
    assert inference.candidates == ("pbkdf2_sha256_django", "pbkdf2_sha256")
    assert "set the hasher" in inference.reason


def test_hash_then_salt_order_is_flagged() -> None:
    """A salted SHA-256 in the old hash$salt order is not guessed; the reason says to swap."""
    inference = infer_hasher(REAL["sha256"] + "$s4lt")
    assert inference.hasher is None
    assert inference.candidates == ("sha256_salted",)
    assert "swap" in inference.reason


CONVERTIBLE: list[tuple[str, tuple[str, ...], str]] = [
    ("argon2" + _ARGON2ID, ("argon2id",), "django builder"),
    ("argon2" + _ARGON2I, ("argon2i",), "django builder"),
    ("bcrypt$" + _B, ("bcrypt",), "django builder"),
    ("md5$$5f4dcc3b5aa765d61d8327deb882cf99", ("md5",), "django builder"),
    (
        "pbkdf2_sha1$1000$mOg67n00XwNVvulI6b1OW3$YD3gB6I0SnsD01mV0OGdKgLVJZA=",
        ("pbkdf2_sha1",),
        "key length 20",
    ),
    (
        "$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=a2V5$c2FsdA==$aGFzaA==",
        ("scrypt_firebase",),
        "supabase builder",
    ),
    (
        "AQAAAAEAACcQAAAAEFViYAG3NfZJLagzkgZwli4R6ec1ZjcFZ+aW2Nw5PmftqYGms0N+asV5SZVpeqWLug==",
        ("pbkdf2_sha256",),
        "aspnet builder",
    ),
    ("pbkdf2_sha512$500000$salt$" + "cd" * 64, ("pbkdf2_sha512",), "420000"),
]


@pytest.mark.parametrize(
    ("digest", "candidates", "words"),
    CONVERTIBLE,
)
def test_convertible_shapes_name_the_builder(
    digest: str, candidates: tuple[str, ...], words: str
) -> None:
    """A digest that needs a builder first gives no hasher, the target, and which builder."""
    inference = infer_hasher(digest)
    assert inference.hasher is None
    assert inference.candidates == candidates
    assert words in inference.reason


UNSUPPORTED_SHAPES: list[tuple[str, str]] = [
    ("$wp" + _B, "WordPress 6.8+"),
    ("!jWZyCvGtPcFdzUYYJktcOkrmhMkyj4fpWlKn4N9i", "unusable password"),
    ("sha1$salt$" + "a" * 40, "salted SHA-1"),
    ("md5$seasalt$b614725f4cc025a51ab6a354d12890ab", "md5_salted concatenation order"),
    ("scrypt$16384$salt$8$5$aGFzaA==", "Django scrypt"),
    ("$argon2d$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", "argon2d"),
    ("$6$rounds=5000$salt$hash", "Unix crypt"),
    ("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "other than {SSHA}"),
    ("a" * 40, "SHA-1"),
    ("", "empty"),
    ("hello world", "no shape"),
]


@pytest.mark.parametrize(
    ("digest", "words"),
    UNSUPPORTED_SHAPES,
)
def test_unsupported_and_unknown_shapes(digest: str, words: str) -> None:
    """Shapes Clerk cannot import give no hasher, no candidate, and a reason saying what to do."""
    inference = infer_hasher(digest)
    assert inference.hasher is None
    assert inference.candidates == ()
    assert words in inference.reason


def test_reasons_never_quote_the_digest() -> None:
    """No inference reason contains the digest's secret part."""
    for digest in [*REAL.values(), "$wp" + _B, "SECRETSECRET"]:
        tail = digest[-12:]
        assert tail not in infer_hasher(digest).reason


def test_polars_inference_matches_python() -> None:
    """infer_hasher_expr gives infer_hasher's hasher on every row, null for null digests."""
    digests: list[str | None] = [
        *REAL.values(),
        *DOCS_ARGON2.values(),
        *(d for _, d in NEAR_MISSES),
        *(d for d, *_ in BY_SHAPE),
        *(d for d, *_ in CONVERTIBLE),
        *(d for d, *_ in UNSUPPORTED_SHAPES),
        "pbkdf2_sha256$150000$abcdEFGH1234$" + _HASH_B64,
        "$wp" + _B,
        "!x",
        "",
        None,
    ]
    got = pl.DataFrame({"d": digests}).select(infer_hasher_expr(pl.col("d")))
    assert got.columns == ["password_hasher"]
    expected = [None if d is None else infer_hasher(d).hasher for d in digests]
    assert got.to_series().to_list() == expected


def test_polars_inference_matches_python_on_odd_text() -> None:
    """Digests holding NUL, newlines or trailing text get infer_hasher's answer in polars too."""
    md5 = "0123456789abcdef" * 2
    bcrypt = REAL["bcrypt"]
    digests: list[str | None] = [
        f"salt\x00x${md5}",  # a salted MD5 whose salt holds the classifier's separator
        f"\x00${md5}",
        f"{md5}\x00",
        f"{bcrypt}\n",
        f"{bcrypt}$pepper",
        f"{bcrypt}$pepper\x00",
        f"line\nbreak${md5}",
        md5.upper(),
        md5 + "0",
    ]
    got = pl.DataFrame({"d": digests}).select(infer_hasher_expr(pl.col("d"))).to_series()
    assert got.to_list() == [None if d is None else infer_hasher(d).hasher for d in digests]
    assert got.to_list()[:2] == ["md5_salted", "md5_salted"]


def test_an_inferred_hasher_always_fits_its_digest() -> None:
    """Every inference rule that names a hasher matches exactly that hasher's digest grammar.

    Validation relies on it: with ``infer = true`` it skips the grammar check (prepare).
    """
    from migrate._internal.hashers.inference import _RULES  # noqa: PLC0415

    named = [rule for rule in _RULES if rule.hasher is not None]
    assert named
    for rule in named:
        assert rule.pattern == DIGEST_PATTERNS[rule.hasher]


@pytest.mark.parametrize(
    "common",
    [
        REAL["bcrypt"],
        "0123456789abcdef" * 2,
        "argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
        "pbkdf2_sha256$150000$salt!$" + "QUJD" * 11,  # Django's: a non-base64 salt
        "x",
    ],
)
def test_polars_inference_matches_python_on_large_batches(common: str) -> None:
    """On a large column dominated by one shape, every row still gets infer_hasher's answer,
    including rows an earlier rule claims and rows of other shapes."""
    md5 = "0123456789abcdef" * 2
    others: list[str | None] = [
        f"md5$${md5}",  # Django's unsalted MD5: an earlier rule than md5 claims it
        # Fits pbkdf2_sha256_django too, but the earlier "ambiguous salt" rule claims it.
        "pbkdf2_sha256$150000$abcdEFGH1234$" + "QUJD" * 11,
        md5,
        md5 * 2,
        REAL["bcrypt"],
        REAL["bcrypt"] + "$pepper",
        f"salt\x00x${md5}",
        "$wp$" + "a" * 20,
        "",
        None,
    ]
    digests = [common] * 300 + others * 20 + [common] * 50
    got = pl.DataFrame({"d": digests}).select(infer_hasher_expr(pl.col("d"))).to_series()
    assert got.to_list() == [None if d is None else infer_hasher(d).hasher for d in digests]


def test_package_import_is_polars_free_and_every_name_resolves() -> None:
    """Importing hashers loads no polars (its polars parts load on first use), and every
    name in its __all__ resolves."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    probe = (
        "import sys, migrate._internal.hashers as h\n"
        "print('polars' in sys.modules)\n"
        "missing = [n for n in h.__all__ if getattr(h, n, None) is None]\n"
        "print(missing)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split("\n")[:2] == ["False", "[]"]
