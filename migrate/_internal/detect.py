"""Recognise a source system from an export's column names and first rows (pure: data in, data out).

``recognise(head)`` compares the columns (and, where names are not enough, the shape of a few
values) with each preset's signature in ``SIGNATURES`` and names the preset that fits, or returns
None. ``guess_fields(head)`` matches column names and value shapes to Clerk's CreateUser fields for
an export no preset knows; ``migrate._internal.mapping_init`` turns either answer into mapping text.

A ``Head`` is what a file's first rows look like: its format, the column names in file order, and
up to a few dozen rows as ``{column: value}`` (strings for CSV; any JSON value for NDJSON/JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from migrate._internal.hashers import infer_hasher

__all__ = [
    "SIGNATURES",
    "FieldGuess",
    "HasherGuess",
    "Head",
    "Recognition",
    "Signature",
    "guess_fields",
    "guess_hasher",
    "recognise",
]

_EMAIL: Final = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE: Final = re.compile(r"^\+?[0-9][0-9 ().\-]{6,18}$")
_EPOCH_MS: Final = re.compile(r"^1[0-9]{12}$")


@dataclass(frozen=True)
class Head:
    """The start of an export: its format, column names (file order) and first rows."""

    format: str
    columns: tuple[str, ...]
    rows: tuple[Mapping[str, Any], ...] = ()
    has_header: bool = True
    container: str | None = None  # JSON: the key of the object holding the list ("users")
    top_keys: tuple[str, ...] = ()  # JSON: the keys of the enclosing object
    delimiter: str = ","  # CSV: the separator the header splits on
    default_delimiter: str = ","  # CSV: what the reader assumes for this file (tab for .tsv)
    encoding: str = "utf-8"  # CSV: the codec that reads the sample ("cp1252" when not UTF-8)
    null_values: tuple[str, ...] = ()  # cells that stand for a missing value (NULL, \N)
    native: frozenset[str] = frozenset()  # NDJSON/JSON/Parquet: columns of lists or objects

    def values(self, column: str) -> list[str]:
        """The non-empty sample values of a column, as text (null markers left out)."""
        out = []
        for row in self.rows:
            value = row.get(column)
            if value is None or value == "" or value in self.null_values:
                continue
            out.append(value if isinstance(value, str) else str(value))
        return out


@dataclass(frozen=True)
class Signature:
    """How to recognise one preset's input: required columns and an optional check on the head."""

    preset: str
    system: str  # human name of the export, e.g. "Auth0 user export (NDJSON)"
    formats: tuple[str, ...]
    columns: frozenset[str] = frozenset()
    check: Callable[[Head], bool] | None = None
    hint: str = ""  # what else the operator needs (a join file, environment variables)
    tenant: bool = False  # an organizations / memberships file, read with --organizations


@dataclass(frozen=True)
class Recognition:
    """A recognised export: the preset that fits it and what the operator must add."""

    preset: str
    system: str
    hint: str
    tenant: bool = False  # organizations or memberships, not users: the preset reads it as such


def _auth0_csv(head: Head) -> bool:
    ids = head.values("user_id")
    return bool(ids) and all(v.startswith("'") for v in ids)


def _auth0_ndjson(head: Head) -> bool:
    ids = head.values("user_id")
    return bool(ids) and all("|" in v for v in ids)


def _firebase_csv(head: Head) -> bool:
    # header-less: 28 values and a trailing comma, created/last-login in epoch ms at 23/24
    if head.has_header or len(head.columns) not in (28, 29) or not head.rows:
        return False
    created, flag = head.columns[23], head.columns[2]
    return all(_EPOCH_MS.match(v) for v in head.values(created)) and all(
        v in ("true", "false") for v in head.values(flag)
    )


def _keycloak_realm(head: Head) -> bool:
    return "realm" in head.top_keys


_DEVISE_COLUMNS: Final = frozenset(
    {"reset_password_token", "remember_created_at", "sign_in_count", "confirmation_token"}
)


def _devise(head: Head) -> bool:
    # any Devise module's column: the table of an app without :trackable or :confirmable too
    return bool(_DEVISE_COLUMNS & set(head.columns))


def _laravel(head: Head) -> bool:
    # Laravel's own columns, or a users table whose passwords are PHP password_hash() ($2y$)
    if {"remember_token", "email_verified_at"} & set(head.columns):
        return True
    passwords = head.values("password")
    php = all(p.startswith(("$2y$", "$argon2")) for p in passwords)
    return php and any(p.startswith("$2y$") for p in passwords)


def _auth0_organizations(head: Head) -> bool:
    ids = head.values("id")
    return bool(ids) and all(v.startswith("org_") for v in ids)


# The generic tenant shape (migrate/mappings/_tenants.toml): a file of these columns only.
GENERIC_ORGANIZATIONS: Final = frozenset(
    {"id", "name", "slug", "max_allowed_memberships", "created_at", "created_by",
     "public_metadata", "private_metadata"}
)  # fmt: skip
GENERIC_MEMBERSHIPS: Final = frozenset({"user_id", "organization_id", "role"})


def _generic_organizations(head: Head) -> bool:
    return set(head.columns) <= GENERIC_ORGANIZATIONS


def _generic_memberships(head: Head) -> bool:
    return set(head.columns) <= GENERIC_MEMBERSHIPS


SIGNATURES: Final[tuple[Signature, ...]] = (
    Signature(
        "auth0_csv",
        "Auth0 user export (CSV)",
        ("csv",),
        frozenset({"user_id", "email"}),
        _auth0_csv,
        "The CSV export has no password hashes: join Auth0's password-hash export with "
        "--join password-hashes.json if you have it.",
    ),
    Signature(
        "auth0",
        "Auth0 user export (NDJSON)",
        ("ndjson", "json"),
        frozenset({"user_id"}),
        _auth0_ndjson,
        "Join the password-hash export (from Auth0 support) with --join password-hashes.json.",
    ),
    Signature(
        "auth0_hashes",
        "Auth0 password-hash export (NDJSON)",
        ("ndjson", "json"),
        frozenset({"_id", "passwordHash", "connection"}),
        None,
        "This file only holds hashes: run the Auth0 user export with --mapping auth0 and pass "
        "this file as --join.",
    ),
    Signature(
        "firebase",
        "Firebase auth:export (JSON)",
        ("json",),
        frozenset({"localId"}),
        None,
        "Set FIREBASE_SIGNER_KEY, FIREBASE_SALT_SEPARATOR, FIREBASE_ROUNDS and FIREBASE_MEM_COST "
        "from the console's password hash parameters (docs/presets.md shows how to read them).",
    ),
    Signature(
        "firebase_csv",
        "Firebase auth:export (CSV, no header)",
        ("csv",),
        frozenset(),
        _firebase_csv,
        "Set FIREBASE_SIGNER_KEY, FIREBASE_SALT_SEPARATOR, FIREBASE_ROUNDS and FIREBASE_MEM_COST "
        "as for the JSON export.",
    ),
    Signature(
        "supabase",
        "Supabase auth.users export",
        ("csv", "parquet"),
        frozenset({"id", "raw_user_meta_data"}),
    ),
    Signature(
        "cognito",
        "AWS Cognito user pool (CSV)",
        ("csv",),
        frozenset({"cognito:username", "cognito:mfa_enabled"}),
        None,
        "Set COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID (a public app client with "
        "ALLOW_USER_PASSWORD_AUTH): Clerk checks passwords against Cognito at first sign-in.",
    ),
    Signature(
        "django",
        "Django auth_user export",
        ("csv", "parquet"),
        frozenset({"password", "username", "is_superuser", "date_joined"}),
    ),
    Signature(
        "wordpress",
        "WordPress wp_users (CSV)",
        ("csv",),
        frozenset({"user_login", "user_pass", "user_registered"}),
        None,
        "Join the first/last names with --join wp_usermeta_names.csv (query in docs/presets.md).",
    ),
    Signature(
        "keycloak_realm",
        "Keycloak realm export (JSON)",
        ("json",),
        frozenset({"username", "createdTimestamp"}),
        _keycloak_realm,
        "A Keycloak 26 realm export also holds the realm's organizations: pass the same file as "
        "--organizations (--mapping keycloak_realm_groups takes its groups as organizations).",
    ),
    Signature(
        "keycloak",
        "Keycloak users with credentials (SQL CSV)",
        ("csv",),
        frozenset({"secret_data", "credential_data", "created_timestamp"}),
    ),
    Signature(
        "devise",
        "Devise users table",
        ("csv", "parquet"),
        frozenset({"id", "email", "encrypted_password"}),
        _devise,
        "Set DEVISE_PEPPER to config.pepper (the preset builds bcrypt_peppered digests).",
    ),
    Signature(
        "laravel",
        "Laravel users table",
        ("csv", "parquet"),
        frozenset({"id", "email", "password"}),
        _laravel,
    ),
    Signature(
        "aspnet-identity",
        "ASP.NET Identity AspNetUsers table",
        ("csv", "parquet"),
        frozenset({"Id", "PasswordHash", "SecurityStamp"}),  # Core and 2.x (MVC 5) schemas
    ),
    Signature(
        "clerk",
        "Clerk dashboard export (CSV)",
        ("csv",),
        frozenset({"primary_email_address", "verified_email_addresses", "password_hasher"}),
    ),
    # Tenant files, not users exports ("_tenants": the generic shape's tables, no preset).
    Signature(
        "auth0",
        "Auth0 organizations file (Management API organizations with their members)",
        ("json", "ndjson"),
        frozenset({"id", "name"}),
        _auth0_organizations,
        "It holds organizations, not users: validate the users export with --mapping auth0 and "
        "pass this file as --organizations.",
        tenant=True,
    ),
    Signature(
        "_tenants",
        "organizations file in the generic shape (organizations.csv)",
        ("csv", "parquet"),
        frozenset({"id", "name"}),
        _generic_organizations,
        "Pass it as --organizations FILE beside the users' mapping (any preset reads this "
        "shape); the memberships file goes with --memberships FILE.",
        tenant=True,
    ),
    Signature(
        "_tenants",
        "memberships file in the generic shape (memberships.csv)",
        ("csv", "parquet"),
        frozenset({"user_id", "organization_id"}),
        _generic_memberships,
        "Pass it as --memberships FILE beside the users' mapping, with the organizations as "
        "--organizations FILE.",
        tenant=True,
    ),
)


def recognise(head: Head) -> Recognition | None:
    """The preset whose signature the head matches (the first in ``SIGNATURES`` order), or None."""
    names = set(head.columns)
    for sig in SIGNATURES:
        if head.format not in sig.formats or not sig.columns <= names:
            continue
        if sig.check is not None and not sig.check(head):
            continue
        return Recognition(sig.preset, sig.system, sig.hint, sig.tenant)
    return None


# ------------------------------------------------------------------ drafting for unknown exports

_SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "external_id": (
        "id",
        "user_id",
        "userid",
        "uid",
        "uuid",
        "localid",
        "sub",
        "user_uuid",
        "legacy_id",
        "account_id",
    ),
    "email_address": (
        "email",
        "email_address",
        "emailaddress",
        "mail",
        "user_email",
        "primary_email",
        "e_mail",
    ),
    "phone_number": (
        "phone",
        "phone_number",
        "phonenumber",
        "mobile",
        "mobile_number",
        "telephone",
        "tel",
        "msisdn",
    ),
    # a verified flag (or confirmation time) beside the address: unverified ones go in "reserved"
    "email_address_identification_status": (
        "email_verified",
        "emailverified",
        "email_confirmed",
        "emailconfirmed",
        "email_confirmed_at",
        "email_verified_at",
        "is_email_verified",
        "email_is_verified",
        "email_address_verified",
        "is_email_confirmed",
    ),
    "phone_number_identification_status": (
        "phone_verified",
        "phone_number_verified",
        "phonenumberverified",
        "phone_confirmed",
        "phonenumberconfirmed",
        "phone_confirmed_at",
        "phone_verified_at",
    ),
    "first_name": (
        "first_name",
        "firstname",
        "given_name",
        "givenname",
        "fname",
        "first",
        "forename",
    ),
    "last_name": ("last_name", "lastname", "family_name", "familyname", "surname", "lname", "last"),
    "username": (
        "username",
        "user_name",
        "login",
        "user_login",
        "handle",
        "screen_name",
        "nickname",
    ),
    "password_digest": (
        "password_hash",
        "passwordhash",
        "encrypted_password",
        "hashed_password",
        "password_digest",
        "user_pass",
        "pass",
        "pwd_hash",
        "hash",
        "passwd",
    ),
    "created_at": (
        "created_at",
        "createdat",
        "date_joined",
        "created",
        "created_on",
        "signup_date",
        "signed_up_at",
        "registered_at",
        "user_registered",
        "inserted_at",
        "created_timestamp",
        "createdtimestamp",
        "creation_date",
    ),
    "totp_secret": ("totp_secret", "otp_secret", "mfa_secret", "two_factor_secret"),
    "locale": ("locale", "language", "lang"),
}
_STATUS_PARENT: Final = {
    "email_address_identification_status": "email_address",
    "phone_number_identification_status": "phone_number",
}
_FULL_NAME: Final = ("name", "full_name", "fullname", "display_name", "displayname")
_METADATA_HINTS: Final = ("metadata", "meta_data", "attributes", "claims", "profile", "settings")
_METADATA_FIELDS: Final = ("public_metadata", "private_metadata", "unsafe_metadata")
_LIST_FIELDS: Final = ("email_address", "phone_number", "web3_wallet", "backup_codes")
# Clerk's own CreateUser names (and their plurals): a column so named maps one to one.
_CLERK_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "external_id": ("external_id",),
    "email_address": ("email_address", "email_addresses", "emails"),
    "phone_number": ("phone_number", "phone_numbers", "phones"),
    "web3_wallet": ("web3_wallet", "web3_wallets"),
    "email_address_identification_status": ("email_address_identification_status",),
    "phone_number_identification_status": ("phone_number_identification_status",),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "username": ("username",),
    "password": ("password",),
    "password_digest": ("password_digest",),
    "password_hasher": ("password_hasher",),
    "totp_secret": ("totp_secret",),
    "backup_codes": ("backup_codes",),
    "created_at": ("created_at",),
    "legal_accepted_at": ("legal_accepted_at",),
    "locale": ("locale",),
    **{name: (name,) for name in _METADATA_FIELDS},
}
# flags that say "verified" without saying what: the e-mail's, else the phone's status
_GENERIC_VERIFIED: Final = ("is_verified", "verified", "confirmed", "is_confirmed", "verified_at")


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


@dataclass(frozen=True)
class FieldGuess:
    """A Clerk field drafted from a column: why it was chosen and the transforms it needs."""

    field: str
    column: str
    reason: str
    transforms: tuple[str, ...] = ()
    json: bool = False  # the cells hold JSON text: read with parse = "json"
    words: bool = False  # a status column of status words (verified/reserved), not a flag


@dataclass(frozen=True)
class HasherGuess:
    """What the sample digests say about the hasher; ``hasher`` None means "not decided"."""

    hasher: str | None
    candidates: tuple[str, ...]
    comment: str
    infer: bool = False  # True: several hashers in the column, let the tool infer per row


@dataclass(frozen=True)
class Draft:
    """Every field guessed for an unknown export, plus the columns left over."""

    fields: tuple[FieldGuess, ...]
    hasher: HasherGuess | None
    metadata: tuple[str, ...]
    unused: tuple[str, ...] = field(default=())
    json_columns: frozenset[str] = frozenset()  # metadata columns holding JSON text


def _by_name(columns: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    normals = {c: _normal(c) for c in columns}
    for clerk_field, names in _SYNONYMS.items():
        for synonym in names:  # synonyms are in preference order
            match = next((c for c, n in normals.items() if n == synonym), None)
            if match is not None and match not in found.values():
                found[clerk_field] = match
                break
    return found


def _id_column(head: Head, taken: set[str]) -> str | None:
    """The first column named like an id (``member_id``, ``AccountId``), unique in the sample."""
    for column in head.columns:
        normal = _normal(column)
        if column in taken or not (normal.endswith("_id") or normal.endswith("id")):
            continue
        values = head.values(column)
        if values and len(set(values)) == len(values) == len(head.rows):
            return column
    return None


def _by_values(head: Head, taken: set[str]) -> dict[str, str]:
    """Columns whose values all look like e-mails or phones, when their names did not say so."""
    found: dict[str, str] = {}
    for column in head.columns:
        if column in taken:
            continue
        values = head.values(column)
        if not values:
            continue
        if "email_address" not in found and all(_EMAIL.match(v) for v in values):
            found["email_address"] = column
        elif "phone_number" not in found and all(_PHONE.match(v) for v in values):
            found["phone_number"] = column
    return found


def guess_hasher(digests: Sequence[str]) -> HasherGuess:
    """Decide the hasher from sample digests, saying how sure that is (never a silent guess)."""
    if not digests:
        return HasherGuess(None, (), "no sample row has a digest: set password_hasher yourself")
    inferred = [infer_hasher(d) for d in digests]
    hashers = sorted({i.hasher for i in inferred if i.hasher})
    unknown = [i for i in inferred if i.hasher is None]
    candidates = tuple(sorted({c for i in inferred for c in i.candidates}))
    n = len(digests)
    if len(hashers) == 1 and not unknown:
        return HasherGuess(
            hashers[0], candidates,
            f"inferred from the shape of {n} sample digest(s): {hashers[0]}; check it",
        )  # fmt: skip
    if len(hashers) > 1 and not unknown:
        return HasherGuess(
            None, tuple(hashers),
            f"the {n} sample digests have several shapes ({', '.join(hashers)}): inferred per "
            "row from each digest's shape",
            infer=True,
        )  # fmt: skip
    reasons = sorted({i.reason for i in unknown})
    if hashers:
        return HasherGuess(
            None, tuple(hashers),
            f"{n - len(unknown)} of {n} sample digests are {', '.join(hashers)}; {len(unknown)} "
            "match no shape Clerk accepts (" + "; ".join(reasons) + "): inferred per row, and "
            "validate reports the rows it cannot infer",
            infer=True,
        )  # fmt: skip
    return HasherGuess(
        None, candidates,
        f"{len(unknown)} of {n} sample digest(s) match no shape Clerk accepts ("
        + "; ".join(reasons) + "): set password_hasher, or a digest builder, yourself",
    )  # fmt: skip


def _looks_json(head: Head, column: str) -> bool:
    """Every sample value of a text column is a JSON object or array (not a native one)."""
    values = head.values(column)
    if column in head.native or not values:
        return False
    for value in values:
        if not value.lstrip().startswith(("{", "[")):
            return False
        try:
            json.loads(value)
        except ValueError:
            return False
    return True


def _phone_reason(head: Head, column: str) -> str:
    """Whether the sample numbers carry their country code (e164 has no region to add one)."""
    numbers: list[str] = []
    for value in head.values(column):
        try:  # a list column (or JSON text of one): each number counts
            items = json.loads(value) if value.startswith("[") else None
        except ValueError:
            items = None
        numbers += [str(i) for i in items] if isinstance(items, list) else [value]
    bare = [n for n in numbers if n and not n.strip().startswith(("+", "00"))]
    if not numbers:
        return 'CHECK: no sample number; set region = "US" (their country) if they lack +code'
    if bare:
        return (
            f"CHECK: {len(bare)} of {len(numbers)} sample numbers have no country code and e164 "
            'has no region: add region = "US" (their country), else they are reported invalid'
        )
    return "every sample number has its country code (+...)"


def _by_clerk_name(head: Head) -> dict[str, str]:
    """Columns named exactly as Clerk names a field (``password_digest``, ``emails``)."""
    found: dict[str, str] = {}
    normals = {c: _normal(c) for c in head.columns}
    for clerk_field, names in _CLERK_NAMES.items():
        match = next((c for n in names for c, cn in normals.items() if cn == n), None)
        if match is not None and match not in found.values():
            found[clerk_field] = match
    password = found.get("password")
    if password is not None and "password_digest" not in found:
        values = head.values(password)
        if values and all(infer_hasher(v).hasher for v in values):
            del found["password"]  # digests, not plaintexts: see _clerk_guess
            found["password_digest"] = password
    return found


def _clerk_guess(head: Head, clerk_field: str, column: str) -> FieldGuess:
    reason = f"column {column!r} is Clerk's own field name"
    if clerk_field == "password":
        reason += ": a plaintext password (Clerk hashes it)"
    elif clerk_field == "password_digest" and _normal(column) == "password":
        reason = f"CHECK: column {column!r} holds digests (their shape says so), not plaintexts"
    if clerk_field in (*_METADATA_FIELDS, *_LIST_FIELDS) and _looks_json(head, column):
        return FieldGuess(clerk_field, column, reason + "; JSON text", json=True)
    transforms: tuple[str, ...] = ()
    if clerk_field == "email_address":
        transforms = ("strip", "lower")
    elif clerk_field == "phone_number":
        transforms = ("e164",)
        reason += "; " + _phone_reason(head, column)
    elif clerk_field in ("created_at", "legal_accepted_at"):
        transforms = ("timestamp",)
    words = clerk_field in _STATUS_PARENT
    return FieldGuess(clerk_field, column, reason, transforms, words=words)


def _generic_status(head: Head, fields: set[str], used: set[str]) -> FieldGuess | None:
    """An ``is_verified``-like flag: the status of the e-mails (else the phones) it sits beside."""
    column = next(
        (c for c in head.columns if _normal(c) in _GENERIC_VERIFIED and c not in used), None
    )
    parent = "email_address" if "email_address" in fields else "phone_number"
    kind = "e-mail" if parent == "email_address" else "phone"
    status = f"{parent}_identification_status"
    if column is None or parent not in fields or status in fields:
        return None
    return FieldGuess(
        status, column,
        f"CHECK: {column!r} reads as whether the {kind} is verified; "
        "a false or empty flag makes it reserved (unverified)",
    )  # fmt: skip


def guess_fields(head: Head) -> Draft:
    """Match columns to Clerk fields by Clerk's names, other names, then value shape; say why."""
    clerk = _by_clerk_name(head)
    guesses = [_clerk_guess(head, f, c) for f, c in clerk.items()]
    taken = set(clerk.values())
    named = {
        f: c
        for f, c in _by_name([c for c in head.columns if c not in taken]).items()
        if f not in clerk
    }
    shaped = _by_values(head, taken | set(named.values()))
    if "external_id" not in clerk and "external_id" not in named:
        id_column = _id_column(head, taken | set(named.values()) | set(shaped.values()))
        if id_column is not None:
            guesses.append(
                FieldGuess("external_id", id_column,
                           f"CHECK: {id_column!r} is named like an id and unique in the sample")
            )  # fmt: skip
    for clerk_field, column in named.items():
        transforms: tuple[str, ...] = ()
        reason = f"column name {column!r}"
        if clerk_field == "email_address":
            transforms = ("strip", "lower")
        elif clerk_field == "phone_number":
            transforms = ("e164",)
            reason += "; " + _phone_reason(head, column)
        elif clerk_field == "created_at":
            transforms = ("timestamp",)
        if clerk_field in _STATUS_PARENT:
            reason += "; a false or empty flag makes the address reserved (unverified)"
        guesses.append(FieldGuess(clerk_field, column, reason, transforms))
    for clerk_field, column in shaped.items():
        if clerk_field in named or clerk_field in clerk:
            continue
        transforms = ("strip", "lower") if clerk_field == "email_address" else ("e164",)
        reason = f"every sample value of {column!r} looks like one"
        if clerk_field == "phone_number":
            reason += "; " + _phone_reason(head, column)
        guesses.append(FieldGuess(clerk_field, column, reason, transforms))
    fields = {g.field for g in guesses}
    status = _generic_status(head, fields, {g.column for g in guesses})
    if status is not None:
        guesses.append(status)
        fields.add(status.field)
    # a status without its addresses is a mapping error: leave the flag column unused then
    guesses = [g for g in guesses if _STATUS_PARENT.get(g.field, g.field) in fields]
    used = {g.column for g in guesses}
    full = next((c for c in head.columns if _normal(c) in _FULL_NAME and c not in used), None)
    if full is not None and not {"first_name", "last_name"} & fields:
        guesses.append(FieldGuess("first_name", full, f"first word of {full!r}", ("given_name",)))
        guesses.append(FieldGuess("last_name", full, f"rest of {full!r}", ("family_name",)))
        used.add(full)
    hasher = None
    digest_column = next((g.column for g in guesses if g.field == "password_digest"), None)
    if digest_column is not None and "password_hasher" not in fields:
        hasher = guess_hasher(head.values(digest_column))
    metadata = tuple(
        c for c in head.columns
        if c not in used and (any(h in _normal(c) for h in _METADATA_HINTS) or _looks_json(head, c))
    )  # fmt: skip
    unused = tuple(c for c in head.columns if c not in used and c not in metadata)
    order = [*_CLERK_NAMES, *_SYNONYMS]
    guesses.sort(key=lambda g: order.index(g.field) if g.field in order else len(order))
    json_columns = frozenset(c for c in metadata if _looks_json(head, c))
    return Draft(tuple(guesses), hasher, metadata, unused, json_columns)
