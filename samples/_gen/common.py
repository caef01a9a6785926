"""What every sample builder shares: a seeded RNG, people, real hashing, file writers, the manifest.

Everything here is deterministic: randomness comes from ``random.Random(seed)`` only (salts too:
``rng.randbytes`` stands in for ``os.urandom``), and timestamps are fixed, never read from a clock.
Running the generator twice produces byte-identical files.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import phonenumbers
from argon2.low_level import Type, hash_secret

SAMPLES = Path(__file__).resolve().parent.parent
_OUTPUT = [SAMPLES]  # where builders write; generate.py --out changes it (the tests use that)


def set_output(path: Path) -> None:
    """Write every sample under ``path`` instead of samples/ (for checking determinism)."""
    _OUTPUT[0] = path

# A fixed "now" for the samples: sign-up dates fall before it, deliberately future ones after.
EPOCH_START = datetime(2018, 3, 1, tzinfo=UTC)
EPOCH_END = datetime(2025, 10, 31, tzinfo=UTC)
FUTURE = datetime(2031, 5, 4, 9, 30, 12, 345000, tzinfo=UTC)

FIRST_NAMES = [
    "Amara", "Ben", "Chiara", "Dmitri", "Elena", "Farid", "Grace", "Hiroshi", "Ingrid", "Jamal",
    "Kavya", "Liam", "Mei", "Nikolai", "Olivia", "Pedro", "Quinn", "Rosa", "Samuel", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Aiko", "Bruno", "Carmen", "Diego",
    "Esther", "Felix", "Gabriela", "Hannah", "Ivan", "Julia", "Kofi", "Lena", "Mateo", "Nadia",
    "Oscar", "Priya", "Rafael", "Sofia", "Thomas", "Valentina", "William", "Yara", "Zainab", "Noah",
]
LAST_NAMES = [
    "Okafor", "Schmidt", "Rossi", "Ivanov", "García", "Haddad", "Kim", "Tanaka", "Larsen", "Brown",
    "Iyer", "O'Connor", "Chen", "Petrov", "Martin", "Silva", "Murphy", "Moreno", "Cohen", "Rahman",
    "Nair", "Dubois", "Wang", "Hernández", "Yilmaz", "Taylor", "Sato", "Costa", "Ruiz", "López",
    "Weiß", "Novak", "Fernandes", "Becker", "Popescu", "Andersen", "Mensah", "Vogel", "Navarro",
    "Haddad-Khoury", "Eriksson", "Patel", "Almeida", "Conti", "Nguyen", "Bianchi", "Clarke",
    "Mahmoud", "Abubakar", "Jensen",
]
DOMAINS = ["gmail.com", "outlook.com", "fastmail.com", "proton.me", "yahoo.co.uk", "acme-corp.io"]
WORDS = [
    "maple", "orbit", "copper", "lantern", "harbor", "velvet", "cactus", "meadow", "pixel",
    "walnut", "tundra", "saffron", "glacier", "ember", "quartz", "falcon", "juniper", "mosaic",
]
# Mobile/fictional ranges of a few countries, and how many digits follow each prefix; every
# generated number is checked with libphonenumber (make_people asserts it).
PHONE_PREFIXES = {"+141555501": 2, "+120255501": 2, "+4915123": 6, "+3361234": 4, "+5511987": 6,
                  "+6141234": 4}


@dataclass
class Person:
    """One sample user, before any system's export shape is applied."""

    n: int
    first: str
    last: str
    email: str
    phone: str
    created: datetime
    password: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"


def ascii_fold(text: str) -> str:
    """Lower-case ASCII for e-mail local parts (García -> garcia, Weiß -> weiss)."""
    table = str.maketrans({"í": "i", "á": "a", "é": "e", "ó": "o", "ß": "ss", "'": "", "-": ""})
    return text.lower().translate(table)


def make_people(rng: random.Random, count: int) -> list[Person]:
    """``count`` distinct people with unique e-mails, phones, passwords and sign-up dates."""
    people: list[Person] = []
    seen: set[str] = set()
    span = int((EPOCH_END - EPOCH_START).total_seconds())
    for n in range(1, count + 1):
        while True:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            local = rng.choice(
                [
                    f"{ascii_fold(first)}.{ascii_fold(last)}",
                    f"{ascii_fold(first)}{ascii_fold(last)[:1]}",
                    f"{ascii_fold(first)[:1]}{ascii_fold(last)}{rng.randint(1, 99)}",
                ]
            )
            email = f"{local}@{rng.choice(DOMAINS)}"
            if email not in seen:
                seen.add(email)
                break
        prefix = rng.choice(sorted(PHONE_PREFIXES))
        width = PHONE_PREFIXES[prefix]
        phone = f"{prefix}{rng.randint(0, 10**width - 1):0{width}d}"
        assert phonenumbers.is_valid_number(phonenumbers.parse(phone)), phone
        created = EPOCH_START + timedelta(
            seconds=rng.randint(0, span), microseconds=rng.randint(0, 999) * 1000
        )
        people.append(Person(n, first, last, email, phone, created, make_password(rng, n)))
    return people


def make_password(rng: random.Random, n: int) -> str:
    """A memorable password; every 7th is non-ASCII and every 11th has spaces (UTF-8 and trim tests)."""
    a, b = rng.choice(WORDS), rng.choice(WORDS)
    if n % 7 == 0:
        return f"Grüße-{a}-{rng.randint(10, 99)}"
    if n % 11 == 0:
        return f"{a} {b} {rng.randint(10, 99)}"
    return f"{a}-{b.capitalize()}-{rng.randint(10, 99)}"


# --------------------------------------------------------------------------- hashing (real libraries)

BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def bcrypt_hash(rng: random.Random, secret: bytes, cost: int = 4, tag: str = "2b") -> str:
    """bcrypt with a salt drawn from ``rng`` (the 22nd salt char carries only 2 bits: .Oeu)."""
    salt = "".join(rng.choice(BCRYPT_ALPHABET) for _ in range(21)) + rng.choice(".Oeu")
    digest = bcrypt.hashpw(secret, f"$2b${cost:02d}${salt}".encode()).decode()
    return f"${tag}$" + digest[4:]


def argon2_hash(rng: random.Random, secret: bytes, *, kind: Type = Type.ID) -> str:
    """An argon2 PHC string with small, valid parameters (m=256 KiB, t=2, p=1)."""
    return hash_secret(
        secret, rng.randbytes(16), time_cost=2, memory_cost=256, parallelism=1, hash_len=32,
        type=kind,
    ).decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pbkdf2(name: str, password: str, salt: bytes, iterations: int, dklen: int | None = None) -> bytes:
    return hashlib.pbkdf2_hmac(name, password.encode(), salt, iterations, dklen)


ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _phpass_encode64(data: bytes, count: int) -> str:
    out, i = [], 0
    while i < count:
        value = data[i]
        i += 1
        out.append(ITOA64[value & 0x3F])
        if i < count:
            value |= data[i] << 8
        out.append(ITOA64[(value >> 6) & 0x3F])
        if i >= count:
            break
        i += 1
        if i < count:
            value |= data[i] << 16
        out.append(ITOA64[(value >> 12) & 0x3F])
        if i >= count:
            break
        i += 1
        out.append(ITOA64[(value >> 18) & 0x3F])
    return "".join(out)


def phpass_hash(rng: random.Random, password: str, log2_rounds: int = 13) -> str:
    """The phpass "portable" hash WordPress < 6.8 stores (`$P$B…`, 2^13 MD5 rounds)."""
    salt = _phpass_encode64(rng.randbytes(6), 6)
    secret = password.encode()
    digest = hashlib.md5(salt.encode() + secret).digest()  # noqa: S324 - phpass is MD5 by design
    for _ in range(1 << log2_rounds):
        digest = hashlib.md5(digest + secret).digest()  # noqa: S324
    return "$P$" + ITOA64[log2_rounds] + salt + _phpass_encode64(digest, 16)


# --------------------------------------------------------------------------- time formats

def iso_ms(ts: datetime) -> str:
    """``2021-04-05T10:11:12.345Z`` (Auth0, Clerk)."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def epoch_ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def pg_timestamp(ts: datetime) -> str:
    """How ``COPY … CSV`` renders a timestamptz: ``2024-01-15 10:30:00.123456+00``."""
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"


def mysql_datetime(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


# --------------------------------------------------------------------------- writers and manifest

def write_csv(path: Path, header: Sequence[str] | None, rows: Iterable[Sequence[Any]]) -> None:
    """RFC 4180 CSV with ``\\n`` line ends; ``None`` cells are empty."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_ndjson(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records),
        encoding="utf-8",
    )


@dataclass
class BadRow:
    """A deliberately bad row: where it is, what validation must say, and why it is there."""

    row: int
    key: str
    reasons: list[str]
    why: str


@dataclass
class TenantCase:
    """Organizations (and memberships) of a sample, read with a preset beside its users.

    ``bad`` lists every deliberately bad organization or membership: the table, its row (of the
    organizations file, the memberships file, or the users file), its key as errors.csv shows it
    and the reasons ``validate`` must give. ``counts`` is what summary.json must say.
    """

    title: str
    command: str
    input: str  # the users input, relative to samples/<system>/
    mapping: str
    organizations: str
    memberships: str | None = None
    joins: list[str] = field(default_factory=list)  # the users input's join files, in order
    source: str = ""  # where the shape comes from (public documentation)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    bad: list[dict[str, Any]] = field(default_factory=list)

    def bad_line(self, table: str, row: int, key: str, reasons: list[str], why: str) -> None:
        self.bad.append({"table": table, "row": row, "key": key, "reasons": reasons, "why": why})

    def count(self, table: str, read: int) -> None:
        """Record ``read`` records of ``table``; the invalid ones are those with a bad line."""
        invalid = len({(b["row"], b["key"]) for b in self.bad if b["table"] == table[:-1]})
        self.counts[table] = {"read": read, "valid": read - invalid, "invalid": invalid}


@dataclass
class Sample:
    """What one system's builder produced: files, passwords and the deliberately bad rows."""

    system: str
    title: str
    command: str  # how to run it, shown in the README
    inputs: list[str]  # main input first, relative to samples/<system>/
    mapping: str
    env: dict[str, str] = field(default_factory=dict)  # project parameters the preset reads
    passwords: dict[str, str] = field(default_factory=dict)  # key -> plaintext (users with one)
    no_password: list[str] = field(default_factory=list)  # keys created without a password
    bad_rows: list[BadRow] = field(default_factory=list)
    total_rows: int = 0
    # other files / presets for the same users: {"inputs": [...], "mapping": ..., "row_offset": n}
    # (a bad row's number in the variant = its number in the main input + row_offset)
    variants: list[dict[str, Any]] = field(default_factory=list)
    verifiable: bool = True  # False when passwords can only be checked by the old system (Cognito)
    # keys whose (primary) e-mail / phone the export marks unverified: created "reserved" in Clerk
    reserved_email: list[str] = field(default_factory=list)
    reserved_phone: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tenants: list[TenantCase] = field(default_factory=list)  # organizations exports, when any

    def bad(self, row: int, key: str, reasons: list[str], why: str) -> None:
        self.bad_rows.append(BadRow(row, key, reasons, why))

    @property
    def folder(self) -> Path:
        path = _OUTPUT[0] / self.system
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_manifest(self) -> None:
        """``expected.json``: what validate and run must report on this sample (read by the tests)."""
        bad_keys = {b.key for b in self.bad_rows}
        manifest = {
            "system": self.system,
            "inputs": self.inputs,
            "mapping": self.mapping,
            "env": self.env,
            "total_rows": self.total_rows,
            "verifiable": self.verifiable,
            "variants": self.variants,
            "bad_rows": [b.__dict__ for b in sorted(self.bad_rows, key=lambda b: b.row)],
            "created_with_password": sorted(k for k in self.passwords if k not in bad_keys),
            "created_without_password": sorted(k for k in self.no_password if k not in bad_keys),
            "reserved_email": sorted(k for k in self.reserved_email if k not in bad_keys),
            "reserved_phone": sorted(k for k in self.reserved_phone if k not in bad_keys),
        }
        if self.tenants:
            manifest["tenants"] = [
                {**case.__dict__, "bad": sorted(case.bad, key=lambda b: (b["table"], b["row"]))}
                for case in self.tenants
            ]
        (self.folder / "expected.json").write_text(
            json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        write_csv(
            self.folder / "passwords.csv",
            ["key", "password"],
            sorted(self.passwords.items()),
        )
