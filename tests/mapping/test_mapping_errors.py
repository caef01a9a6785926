"""Every mapping error, with its exact text: all problems are collected and reported at once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from migrate._internal.mapping import compile_mapping, load_mapping, parse_mapping
from migrate.errors import MappingError

TRANSFORMS = (
    "strip, lower, upper, prefix, strip_prefix, replace, null_if, split, e164, timestamp, json, "
    "bool, number, given_name, family_name"
)
BUILDERS = "firebase_scrypt, supabase, django, keycloak, keycloak_json, devise, aspnet, cognito"
FIELDS = (
    "external_id, first_name, last_name, username, password, password_digest, password_hasher, "
    "totp_secret, created_at, legal_accepted_at, locale, email_address, phone_number, "
    "web3_wallet, backup_codes, email_address_identification_status, "
    "phone_number_identification_status, public_metadata, private_metadata, unsafe_metadata, "
    "skip_password_checks, skip_password_requirement, skip_legal_checks, skip_user_requirement, "
    "delete_self_enabled, create_organization_enabled, banned, locked, bypass_client_trust, "
    "create_organizations_limit"
)
FLAGS = (
    "skip_password_checks, skip_password_requirement, skip_legal_checks, skip_user_requirement, "
    "delete_self_enabled, create_organization_enabled, banned, locked, bypass_client_trust, "
    "create_organizations_limit"
)
ORIGINS = (
    "column, columns, columns_any, first_of, value, template, env, infer, builder, object, verified"
)
FIELD_KEYS = f"{ORIGINS}, transform, default, split, parse, format, region, optional, if_invalid"
ENV = {"SIGNER": "c2lnbmVy"}


def problems(toml: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(MappingError) as err:
        parse_mapping(toml, ENV if env is None else env, file="m.toml")
    return [str(p) for p in err.value.problems]


OK_FIELD = '[fields]\nexternal_id = "id"\n'

CASES: list[tuple[str, list[str]]] = [
    (
        "version = 2\n" + OK_FIELD,
        [
            "version: unknown key; allowed: description, source, fields, options, status, join, "
            "organizations, memberships, roles"
        ],
    ),
    ('fields = "id"\n', ["fields: must be a table, not a string"]),
    ("[fields]\n", ["fields: no fields are mapped; map at least one CreateUser field"]),
    (
        '[fields]\nphone_numbr = "phone"\n',
        [f"fields.phone_numbr: unknown CreateUser field 'phone_numbr'; allowed: {FIELDS}"],
    ),
    (
        '[fields]\nphone_number = { column = "p", transform = ["strip", "e165"] }\n',
        [f"fields.phone_number.transform[1]: unknown transform 'e165'; allowed: {TRANSFORMS}"],
    ),
    (
        '[fields]\nemail_address = { column = "e", transform = "lowercase" }\n',
        [f"fields.email_address.transform: unknown transform 'lowercase'; allowed: {TRANSFORMS}"],
    ),
    (
        '[fields]\nexternal_id = { column = "id", colour = "red" }\n',
        [f"fields.external_id.colour: unknown key; allowed: {FIELD_KEYS}"],
    ),
    ('[fields]\nexternal_id = ""\n', ["fields.external_id: must name a column"]),
    (
        "[fields]\nexternal_id = 3\n",
        [
            'fields.external_id: must be a column name or a table such as { column = "..." }, '
            "not an integer"
        ],
    ),
    (
        '[fields]\nexternal_id = { transform = "strip" }\n',
        [f"fields.external_id: needs exactly one of {ORIGINS}; found none"],
    ),
    (
        '[fields]\nexternal_id = { column = "id", value = "x" }\n',
        [f"fields.external_id: needs exactly one of {ORIGINS}; found column, value"],
    ),
    ("[fields]\nexternal_id = { column = 1 }\n", ["fields.external_id.column: must name a column"]),
    (
        "[fields]\nemail_address = { columns = [] }\n",
        ["fields.email_address.columns: must be a non-empty list of column names"],
    ),
    (
        "[fields]\nfirst_name = { infer = true }\n",
        ["fields.first_name.infer: only password_hasher can be inferred"],
    ),
    ("[fields]\npassword_hasher = { infer = 1 }\n", ["fields.password_hasher.infer: must be true"]),
    (
        '[fields]\npassword_hasher = { infer = true, default = "bcrypt" }\n',
        ["fields.password_hasher: infer takes no other key (found default)"],
    ),
    (
        '[fields]\nfirst_name = { object = { a = "b" } }\n',
        ["fields.first_name.object: only metadata fields hold objects"],
    ),
    (
        '[fields]\npublic_metadata = { object = "x" }\n',
        ["fields.public_metadata.object: must be a table"],
    ),
    ("[fields.public_metadata]\n", ["fields.public_metadata: an object needs at least one key"]),
    (
        '[fields]\nbanned = { value = "yes" }\n',
        ["fields.banned.value: must be true or false, not a string"],
    ),
    (
        '[fields]\ncreate_organizations_limit = { value = "3" }\n',
        ["fields.create_organizations_limit.value: must be an integer, not a string"],
    ),
    (
        "[fields]\nemail_address = { value = [1] }\n",
        ["fields.email_address.value: must be a string or a list of strings"],
    ),
    (
        "[fields]\nfirst_name = { value = true }\n",
        ["fields.first_name.value: must be a string, not a boolean"],
    ),
    (
        '[fields]\npublic_metadata = { value = "x" }\n',
        ["fields.public_metadata.value: a metadata constant is a table: use { object = { ... } }"],
    ),
    (
        "[fields.private_metadata]\nx = { value = { a = 1 } }\n",
        ["fields.private_metadata.x.value: must be a string, number, boolean or list of strings"],
    ),
    (
        "[fields]\nusername = { template = 1 }\n",
        ['fields.username.template: must be a string such as "{given} {family}"'],
    ),
    (
        '[fields]\nusername = { template = "{given!r}" }\n',
        ["fields.username.template: placeholders are plain column names such as {email}"],
    ),
    (
        '[fields]\nusername = { template = "{given" }\n',
        ["fields.username.template: malformed template: expected '}' before end of string"],
    ),
    (
        '[fields]\nusername = { template = "plain" }\n',
        ["fields.username.template: names no column; use { value = ... } for a constant"],
    ),
    (
        '[fields]\nlocale = { env = "LOCALE" }\n',
        ["fields.locale.env: environment variable LOCALE is not set"],
    ),
    (
        "[fields]\nlocale = { env = 1 }\n",
        ['fields.locale.env: must be "env:NAME" naming an environment variable'],
    ),
    (
        '[fields]\npassword = { builder = "firebase_scrypt" }\n',
        ["fields.password.builder: only password_digest is built by a builder"],
    ),
    (
        '[fields]\npassword_digest = { builder = "scrypt" }\n',
        [f"fields.password_digest.builder: unknown builder 'scrypt'; allowed: {BUILDERS}"],
    ),
    (
        '[fields]\npassword_digest = { builder = "firebase_scrypt", hash = "h", salt = "s", '
        'signer_key = "c2VjcmV0", pepper = "x" }\n',
        [
            "fields.password_digest.pepper: unknown key; allowed: builder, hash, salt, signer_key, "
            "salt_separator, rounds, mem_cost, transform, default",
            "fields.password_digest.signer_key: a secret cannot be written in a mapping file; "
            'write "env:NAME" and set the environment variable NAME',
        ],
    ),
    (
        '[fields]\npassword_digest = { builder = "firebase_scrypt", hash = "h", '
        'signer_key = "env:FIREBASE_SIGNER_KEY", rounds = true }\n',
        [
            "fields.password_digest.salt: is required by the firebase_scrypt builder "
            "(per-user salt (base64))",
            "fields.password_digest.signer_key: "
            "environment variable FIREBASE_SIGNER_KEY is not set",
            "fields.password_digest.rounds: must be a string or an integer, not a boolean",
        ],
    ),
    (
        '[fields]\nexternal_id = { column = "id", split = ";" }\n',
        ["fields.external_id: split makes a list; only list fields (email_address…) take one"],
    ),
    (
        '[fields]\nemail_address = { column = "e", split = "" }\n',
        ['fields.email_address.split: must be a separator such as ";"'],
    ),
    (
        '[fields]\nexternal_id = { column = "id", transform = 3 }\n',
        ["fields.external_id.transform: must be a transform name or a list of them"],
    ),
    (
        '[fields]\nexternal_id = { column = "id", transform = [3] }\n',
        ["fields.external_id.transform[0]: must be a transform name, not an integer"],
    ),
    (
        '[fields]\nexternal_id = { column = "id", transform = [{ prefix = "a", strip = "b" }] }\n',
        [
            "fields.external_id.transform[0]: "
            'a transform with an argument is a one-key table: { prefix = "+" }'
        ],
    ),
    (
        '[fields]\ncreated_at = { column = "c", parse = "date" }\n',
        ["fields.created_at.parse: unknown parse 'date'; allowed: json, timestamp"],
    ),
    (
        '[fields]\ncreated_at = { column = "c", format = "%Y" }\n',
        ['fields.created_at.format: only applies with parse = "timestamp"'],
    ),
    (
        '[fields]\nphone_number = { column = "p", region = "US" }\n',
        ["fields.phone_number.region: only applies with the e164 transform"],
    ),
    (
        '[fields]\nphone_number = { column = "p", transform = "e164", region = "XX" }\n',
        [
            "fields.phone_number.transform: unknown region 'XX'; use a two-letter ISO 3166 code "
            "such as 'US', 'GB', 'DE'"
        ],
    ),
    (
        '[fields]\nphone_number = { column = "p", transform = { e164 = 1 } }\n',
        ["fields.phone_number.transform: the region must be a two-letter code such as 'US'"],
    ),
    (
        '[fields]\ncreated_at = { column = "c", transform = { timestamp = "unix" } }\n',
        [
            "fields.created_at.transform: timestamp takes auto, iso, epoch_s, epoch_ms or a "
            "strftime format such as \"%d/%m/%Y\", not 'unix'"
        ],
    ),
    (
        '[fields]\nexternal_id = { column = "id", transform = { strip = "x" } }\n',
        ['fields.external_id.transform: strip takes no argument; write it as "strip"'],
    ),
    (
        '[fields]\nexternal_id = { column = "id", transform = "prefix" }\n',
        ['fields.external_id.transform: prefix needs a text argument: { prefix = "..." }'],
    ),
    (
        '[fields]\nexternal_id = { column = "id", transform = { null_if = [1] } }\n',
        ["fields.external_id.transform: null_if needs a text or a list of texts"],
    ),
    (
        '[fields]\nexternal_id = { column = "id", transform = { replace = ["a"] } }\n',
        ['fields.external_id.transform: replace needs [old, new]: { replace = ["\'", ""] }'],
    ),
    (
        '[fields]\nexternal_id = { column = "id", default = 1 }\n',
        ["fields.external_id.default: must be a string, not an integer"],
    ),
    (
        '[fields]\nbanned = { column = "b", default = "no" }\n',
        ["fields.banned.default: must be true or false, not a string"],
    ),
    (
        '[fields]\nemail_address = { column = "e", default = [1] }\n',
        ["fields.email_address.default: must be a string or a list of strings, not a list"],
    ),
    (
        OK_FIELD + "[options]\nskip_checks = true\nbanned = 1\nlocked = true\n"
        "create_organizations_limit = true\n",
        [
            f"options.skip_checks: unknown CreateUser flag 'skip_checks'; allowed: {FLAGS}",
            "options.banned: must be true or false, not an integer",
            "options.create_organizations_limit: must be an integer, not a boolean",
        ],
    ),
    (
        '[fields]\nexternal_id = "id"\nbanned = "blocked"\n[options]\nbanned = true\n',
        ["options.banned: is also set in [fields]; set it in one place"],
    ),
    (
        OK_FIELD + '[source]\nformat = "xml"\nencoding = "klingon"\ndelimiter = ";;"\n'
        'has_header = "yes"\ncolumn_names = "a"\nskip = 1\n',
        [
            "source.skip: unknown key; allowed: format, key, has_header, delimiter, quote_char, "
            "encoding, json_key, column_names, null_values, short_rows",
            "source.has_header: must be a boolean",
            "source.delimiter: must be one character",
            "source.format: unknown format 'xml'; allowed: csv, parquet, ndjson, json",
            "source.encoding: unknown encoding 'klingon'",
            "source.column_names: must be a list of column names",
        ],
    ),
    ('join = "x"\n' + OK_FIELD, ["join: must be a table or [[join]] tables"]),
    ("join = [1]\n" + OK_FIELD, ["join[0]: must be a table"]),
    ("source = 3\n" + OK_FIELD, ["source: must be a table, not an integer"]),
    (
        OK_FIELD + '[source]\nquote_char = 1\njson_key = ["users"]\nencoding = 8\n',
        [
            'source.quote_char: must be one character or "" for no quoting',
            "source.encoding: must be an encoding name such as utf-8, latin-1, cp1252",
            "source.json_key: must be a key name",
        ],
    ),
    (
        '[fields.private_metadata]\nplan = { column = "p", default = ["a"] }\n',
        ["fields.private_metadata.plan.default: must be a string, number or boolean, not a list"],
    ),
    (
        '[fields]\npassword_digest = { builder = "cognito", user_pool_id = "env:POOL", '
        'client_id = "c", identifier = "email" }\n',
        ["fields.password_digest.user_pool_id: environment variable POOL is not set"],
    ),
    (
        '[[join]]\nname = "h"\non = "a"\nright_on = "b"\n'
        '[[join]]\nname = "h"\non = "a"\nright_on = "c"\n' + OK_FIELD,
        ["join[1].name: 'h' is already the name of another join"],
    ),
    (
        OK_FIELD + '[[join]]\nname = "a.b"\npath = 3\nhow = "inner"\n',
        [
            "join[0].how: unknown key; allowed: name, path, required, description, if_missing, "
            "on, right_on, format, has_header, delimiter, quote_char, encoding, json_key, "
            "null_values",
            "join[0].on: is required",
            "join[0].right_on: is required",
            "join[0].name: must be a name without dots",
            "join[0].path: must be a file path",
            "join[0].on: must name a column",
            "join[0].right_on: must name a column",
        ],
    ),
]


@pytest.mark.parametrize(("toml", "expected"), CASES)
def test_mapping_error_text(toml: str, expected: list[str]) -> None:
    """Each invalid mapping yields exactly these problems, each with its key path."""
    assert problems(toml) == expected


def test_every_problem_is_reported_at_once_with_the_file() -> None:
    """Three mistakes in three places give one error listing all three, each with the file."""
    toml = (
        '[fields]\nphone_numbr = "p"\n'
        'email_address = { column = "e", transform = ["strip", "lowercase"] }\n'
        'password_digest = { builder = "firebase_scrypt", hash = "h", salt = "s", '
        'signer_key = "env:FIREBASE_SIGNER_KEY" }\n'
    )
    with pytest.raises(MappingError) as err:
        parse_mapping(toml, {}, file="my.toml")
    lines = str(err.value).splitlines()
    assert lines[0] == "my.toml: 3 problem(s) in the mapping"
    assert lines[1].startswith("  my.toml: fields.phone_numbr: unknown CreateUser field")
    assert lines[2] == (
        f"  my.toml: fields.email_address.transform[1]: unknown transform 'lowercase'; "
        f"allowed: {TRANSFORMS}"
    )
    assert lines[3] == (
        "  my.toml: fields.password_digest.signer_key: "
        "environment variable FIREBASE_SIGNER_KEY is not set"
    )


def test_invalid_toml_is_one_problem() -> None:
    """A syntax error is reported with TOML's own position."""
    assert problems("[fields\n") == [
        "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 8)"
    ]


def test_unknown_preset_lists_the_presets() -> None:
    """A name that is neither a file nor a preset says so and lists the presets."""
    with pytest.raises(MappingError) as err:
        load_mapping("no_such_preset", {})
    (problem,) = err.value.problems
    assert problem.message.startswith("no mapping file or preset named 'no_such_preset'; presets: ")


def test_unreadable_mapping_file(tmp_path: Path) -> None:
    """A path to a missing .toml file is a mapping error naming the file."""
    with pytest.raises(MappingError) as err:
        load_mapping(tmp_path / "missing.toml", {})
    assert err.value.file == str(tmp_path / "missing.toml")
    assert err.value.problems[0].message.startswith("cannot be read: ")


def frame(**columns: list[object]) -> pl.LazyFrame:
    data = {"_row": list(range(2, 2 + len(next(iter(columns.values())))))} | columns
    return pl.DataFrame(data).lazy()


def test_columns_missing_from_the_input_are_reported_before_any_row() -> None:
    """compile_mapping lists every column the input lacks, with the input's columns."""
    spec = parse_mapping(
        '[fields]\nexternal_id = "user_id"\nfirst_name = "given"\n'
        '[fields.private_metadata]\nroles = "app.roles"\n',
        {},
        file="m.toml",
    )
    with pytest.raises(MappingError) as err:
        compile_mapping(spec, frame(id=["1"], email=["a@x.io"]))
    assert [str(p) for p in err.value.problems] == [
        "fields.external_id: column 'user_id' is not in the input; columns: id, email",
        "fields.first_name: column 'given' is not in the input; columns: id, email",
        "fields.private_metadata.roles: column 'app.roles' is not in the input; columns: id, email",
    ]


def test_join_without_an_input_and_infer_without_a_digest() -> None:
    """A join whose frame is not given, and infer with no password_digest, are both reported."""
    spec = parse_mapping(
        '[fields]\nexternal_id = "id"\npassword_hasher = { infer = true }\n'
        '[[join]]\nname = "hashes"\non = "id"\nright_on = "user_id"\n',
        {},
        file="m.toml",
    )
    with pytest.raises(MappingError) as err:
        compile_mapping(spec, frame(id=["1"]))
    assert [str(p) for p in err.value.problems] == [
        "join[0]: no input was given for 'hashes'",
        "fields.password_hasher: infer needs fields.password_digest to be mapped",
    ]


def test_a_constant_hasher_without_a_digest_field() -> None:
    """password_hasher mapped while password_digest is not is a mapping error, not a hasher on
    every row that Clerk would refuse."""
    spec = parse_mapping(
        '[fields]\nexternal_id = "id"\npassword_hasher = { value = "bcrypt" }\n', {}, file="m.toml"
    )
    with pytest.raises(MappingError) as err:
        compile_mapping(spec, frame(id=["1"]))
    assert [str(p) for p in err.value.problems] == [
        "fields.password_hasher: needs fields.password_digest to be mapped "
        "(Clerk takes a hasher only with a digest)",
    ]


def test_parse_timestamp_checks_its_format() -> None:
    """``parse = "timestamp"`` with a format that is neither a mode nor strftime is refused."""
    assert problems(
        '[fields]\ncreated_at = { column = "c", parse = "timestamp", format = "unix" }\n'
    ) == [
        "fields.created_at.parse: timestamp takes auto, iso, epoch_s, epoch_ms or a strftime "
        "format such as \"%d/%m/%Y\", not 'unix'"
    ]
