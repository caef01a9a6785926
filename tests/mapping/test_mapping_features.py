"""Each mapping feature, compiled against a tiny literal frame, gives the mapped frame's columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import migrate
from migrate._internal.mapping import FIELD_DTYPES, compile_mapping, load_mapping, parse_mapping
from migrate._internal.mapping.spec import CLERK_FIELDS
from migrate._internal.sources import read_source
from migrate.errors import MappingError


def mapped(toml: str, data: dict[str, list[Any]] | pl.DataFrame, **env: str) -> pl.DataFrame:
    spec = parse_mapping(toml, env, file="m.toml")
    df = data if isinstance(data, pl.DataFrame) else pl.DataFrame(data)
    df = df.with_row_index("_row", offset=2).with_columns(pl.col("_row").cast(pl.Int64))
    return compile_mapping(spec, df.lazy()).collect()


def column(toml: str, data: dict[str, list[Any]] | pl.DataFrame, name: str) -> list[Any]:
    return mapped(toml, data, SECRET="s3cr3t")[name].to_list()


def test_mapped_frame_has_internal_columns_then_fields_with_clerk_dtypes() -> None:
    """The mapped frame starts with _row, _key, _source_error; each field has its contract dtype."""
    toml = """
    [fields]
    external_id = "id"
    email_address = "email"
    public_metadata = { column = "meta", parse = "json" }
    banned = "blocked"
    create_organizations_limit = "limit"
    """
    df = mapped(
        toml, {"id": ["1"], "email": ["a@x.io"], "meta": ["{}"], "blocked": ["t"], "limit": ["3"]}
    )
    assert df.columns[:3] == ["_row", "_key", "_source_error"]
    for name in df.columns[3:]:
        assert df.schema[name] == FIELD_DTYPES[CLERK_FIELDS[name]], name
    assert df.row(0) == (2, "1", None, "1", ["a@x.io"], "{}", True, 3)


def test_a_bare_string_is_a_column_and_values_stay_verbatim() -> None:
    """``first_name = "given"`` copies the column; empty text counts as no value."""
    assert column(
        '[fields]\nfirst_name = "given"\n', {"given": ["Jane", "", None]}, "first_name"
    ) == [
        "Jane",
        None,
        None,
    ]


def test_constants_and_env_values() -> None:
    """``{ value = ... }`` is the same on every row; ``{ env = NAME }`` reads the environment."""
    toml = '[fields]\nfirst_name = { value = "Ann" }\nlocale = { env = "SECRET" }\n'
    df = mapped(toml, {"x": [1, 2]}, SECRET="fr-FR")
    assert df["first_name"].to_list() == ["Ann", "Ann"]
    assert df["locale"].to_list() == ["fr-FR", "fr-FR"]


def test_template_joins_columns_and_trims() -> None:
    """A template fills placeholders; a missing part is empty, the result is trimmed, and a
    template with every part missing is no value."""
    toml = '[fields]\nusername = { template = "{given}.{family}", transform = "lower" }\n'
    data = {"given": ["Jane", "Bob", None], "family": ["Doe", None, ""]}
    assert column(toml, data, "username") == ["jane.doe", "bob.", None]


def test_transform_chain_runs_in_order() -> None:
    """strip then lower, strip_prefix, replace, prefix, upper and null_if, as written."""
    toml = """
    [fields]
    email_address = { column = "email", transform = ["strip", "lower"] }
    external_id = { column = "id", transform = [{ strip_prefix = "'" }, { replace = ["|", ":"] }] }
    username = { column = "u", transform = [{ null_if = ["N/A", "-"] }, "upper", { prefix = "x" }] }
    """
    df = mapped(toml, {"email": ["  Jane@Example.COM "], "id": ["'auth0|1"], "u": ["N/A"]})
    assert df.row(0, named=True) | {} == {
        "_row": 2,
        "_key": "auth0:1",
        "_source_error": None,
        "email_address": ["jane@example.com"],
        "external_id": "auth0:1",
        "username": None,
    }
    assert column(toml, {"email": ["a"], "id": ["1"], "u": ["bob"]}, "username") == ["xBOB"]


def test_given_and_family_name_from_a_display_name() -> None:
    """given_name takes the first word, family_name the rest (none for one word)."""
    toml = """
    [fields]
    first_name = { column = "name", transform = "given_name" }
    last_name = { column = "name", transform = "family_name" }
    """
    df = mapped(toml, {"name": ["Jane van Doe", "Prince", " Ann  Lee "]})
    assert df["first_name"].to_list() == ["Jane", "Prince", "Ann"]
    assert df["last_name"].to_list() == ["van Doe", None, "Lee"]


def test_defaults_fill_missing_values_for_each_kind() -> None:
    """A default applies to null or empty values of text, list, flag and integer fields."""
    toml = """
    [fields]
    last_name = { column = "ln", default = "Unknown" }
    email_address = { column = "e", default = ["none@example.com"] }
    banned = { column = "b", default = false }
    create_organizations_limit = { column = "n", default = 1 }
    """
    df = mapped(
        toml, {"ln": ["Doe", None], "e": ["a@x.io", ""], "b": ["yes", None], "n": ["5", None]}
    )
    assert df["last_name"].to_list() == ["Doe", "Unknown"]
    assert df["email_address"].to_list() == [["a@x.io"], ["none@example.com"]]
    assert df["banned"].to_list() == [True, False]
    assert df["create_organizations_limit"].to_list() == [5, 1]


def test_list_fields_from_a_separator_several_columns_and_a_list_column() -> None:
    """split drops blanks, columns keeps non-null values in order, list columns pass through."""
    toml = """
    [fields]
    backup_codes = { column = "codes", split = ";" }
    email_address = { columns = ["email", "email2"], transform = "lower" }
    web3_wallet = "wallets"
    """
    data = pl.DataFrame(
        {
            "codes": ["a1; b2 ;;c3", None],
            "email": ["A@x.io", None],
            "email2": ["B@x.io", "c@x.io"],
            "wallets": [["0xabc", None, ""], None],
        }
    )
    df = mapped(toml, data)
    assert df["backup_codes"].to_list() == [["a1", "b2", "c3"], []]
    assert df["email_address"].to_list() == [["a@x.io", "b@x.io"], ["c@x.io"]]
    assert df["web3_wallet"].to_list() == [["0xabc"], []]


def test_transforms_after_split_apply_to_each_item() -> None:
    """e164 after a split normalises every phone in the list."""
    toml = '[fields]\nphone_number = { column = "p", split = ",", transform = { e164 = "US" } }\n'
    assert column(toml, {"p": ["(415) 555-0100, +44 20 7946 0958"]}, "phone_number") == [
        ["+14155550100", "+442079460958"]
    ]


def test_scalar_from_several_columns_takes_the_first_value() -> None:
    """``columns`` on a text field is the first non-null value."""
    toml = '[fields]\nexternal_id = { columns = ["alt_id", "id"] }\n'
    assert column(toml, {"alt_id": [None, "alt"], "id": ["1", "2"]}, "external_id") == ["1", "alt"]


def test_metadata_from_a_json_text_column_and_from_a_struct() -> None:
    """JSON text passes as is (validation checks it); a struct column is encoded as JSON."""
    toml = """
    [fields]
    public_metadata = { column = "meta", parse = "json" }
    private_metadata = "app"
    """
    data = pl.DataFrame(
        {"meta": ['{"plan": "pro"}', None], "app": [{"roles": ["admin"], "n": 1}, None]}
    )
    df = mapped(toml, data)
    assert df["public_metadata"].to_list() == ['{"plan": "pro"}', None]
    assert json.loads(df["private_metadata"][0]) == {"roles": ["admin"], "n": 1}
    assert df["private_metadata"][1] is None


def test_metadata_object_assembled_from_columns_paths_constants_and_nesting() -> None:
    """A metadata table builds a JSON object: dotted paths into structs and JSON text, nested
    tables, constants, split lists and parsed JSON keep their JSON types; null keys are left out."""
    toml = """
    [fields.private_metadata]
    source = { value = "auth0" }
    roles = "app.roles"
    plan = "prefs.plan"
    tags = { column = "tags", split = ";" }
    extra = { column = "extra", parse = "json" }
    legacy = { id = "id", count = { value = 3 }, active = { value = true } }
    """
    data = pl.DataFrame(
        {
            "id": ["u1", "u2"],
            "app": [{"roles": ["admin", "ops"]}, {"roles": None}],
            "prefs": ['{"plan": "pro", "n": 2}', None],
            "tags": ["a;b", None],
            "extra": ['{"k": [1, 2]}', None],
        }
    )
    df = mapped(toml, data)
    first, second = (json.loads(v) for v in df["private_metadata"])
    assert first == {
        "source": "auth0",
        "roles": ["admin", "ops"],
        "plan": "pro",
        "tags": ["a", "b"],
        "extra": {"k": [1, 2]},
        "legacy": {"id": "u1", "count": 3, "active": True},
    }
    assert second == {
        "source": "auth0",
        "legacy": {"id": "u2", "count": 3, "active": True},
    }


def test_metadata_keys_are_escaped_and_strings_quoted() -> None:
    """Keys and text with quotes or backslashes still form valid JSON."""
    toml = '[fields.public_metadata]\n"we\\"ird" = "note"\n'
    (text,) = column(toml, {"note": ['say "hi" \\ bye']}, "public_metadata")
    assert json.loads(text) == {'we"ird': 'say "hi" \\ bye'}


def test_object_wrapper_allows_reserved_key_names() -> None:
    """``object = {...}`` lets a metadata key be called ``column``."""
    toml = '[fields]\npublic_metadata = { object = { column = { value = "x" } } }\n'
    assert column(toml, {"a": [1]}, "public_metadata") == ['{"column":"x"}']


def test_dotted_paths_into_structs_and_lists_of_structs() -> None:
    """A dotted name reaches struct fields and each item of a list of structs."""
    toml = """
    [fields]
    first_name = "profile.name.given"
    email_address = "identifiers.value"
    """
    data = pl.DataFrame(
        {
            "profile": [{"name": {"given": "Jane"}}],
            "identifiers": [
                [{"type": "email", "value": "a@x.io"}, {"type": "email", "value": "b@x.io"}]
            ],
        }
    )
    df = mapped(toml, data)
    assert df["first_name"].to_list() == ["Jane"]
    assert df["email_address"].to_list() == [["a@x.io", "b@x.io"]]


def test_exact_column_name_with_a_dot_wins_over_a_path() -> None:
    """Auth0 CSV columns named ``user_metadata.country`` are used as they are."""
    assert column(
        '[fields]\nlocale = "user_metadata.country"\n', {"user_metadata.country": ["FR"]}, "locale"
    ) == ["FR"]


def test_timestamps_from_text_epochs_and_datetime_columns() -> None:
    """created_at from ISO text, epoch ms text, and a tz-aware Parquet-style column is RFC3339 Z."""
    toml = """
    [fields]
    created_at = { column = "c", parse = "timestamp" }
    legal_accepted_at = "dt"
    """
    data = pl.DataFrame(
        {
            "c": ["2024-01-15T10:30:00+02:00", "1508893925000"],
            "dt": [datetime(2024, 1, 15, 10, 30, 0, 123000, tzinfo=UTC), None],
        }
    )
    df = mapped(toml, data)
    assert df["created_at"].to_list() == ["2024-01-15T08:30:00.000Z", "2017-10-25T01:12:05.000Z"]
    assert df["legal_accepted_at"].to_list() == ["2024-01-15T10:30:00.123Z", None]


def test_timestamp_with_a_strftime_format() -> None:
    """``format`` parses a day-first local format, taken as UTC."""
    toml = (
        '[fields]\ncreated_at = { column = "c", parse = "timestamp", format = "%d/%m/%Y %H:%M" }\n'
    )
    assert column(toml, {"c": ["25/12/2020 08:05", "garbage"]}, "created_at") == [
        "2020-12-25T08:05:00.000Z",
        "garbage",
    ]


def test_flags_from_columns_and_options() -> None:
    """Flag columns read true/false words; [options] adds constant flags to every row."""
    toml = """
    [fields]
    banned = "blocked"
    locked = "n"
    [options]
    skip_password_checks = true
    create_organizations_limit = 2
    """
    df = mapped(toml, pl.DataFrame({"blocked": ["TRUE", "f", "maybe"], "n": [1, 0, None]}))
    assert df["banned"].to_list() == [True, False, None]
    assert df["locked"].to_list() == [True, False, None]
    assert df["skip_password_checks"].to_list() == [True, True, True]
    assert df["create_organizations_limit"].to_list() == [2, 2, 2]
    assert df.schema["create_organizations_limit"] == pl.Int64


def test_numbers_and_booleans_become_text_in_text_fields() -> None:
    """An integer id column maps to a text external_id."""
    assert column(
        '[fields]\nexternal_id = "id"\n', pl.DataFrame({"id": [7, None]}), "external_id"
    ) == ["7", None]


def test_key_defaults_to_external_id_then_email_then_row() -> None:
    """_key is [source].key when set, else external_id, else the primary email, else row:<n>."""
    data = {"id": ["1", None, None], "email": ["A@x.io", "B@x.io", None]}
    df = mapped('[fields]\nexternal_id = "id"\nemail_address = "email"\n', data)
    assert df["_key"].to_list() == ["1", "b@x.io", "row:4"]
    keyed = mapped(
        '[source]\nkey = { column = "email", transform = "upper" }\n[fields]\nexternal_id = "id"\n',
        data,
    )
    assert keyed["_key"].to_list() == ["A@X.IO", "B@X.IO", None]


def test_source_error_is_carried_through() -> None:
    """A row marked invalid_encoding by the reader keeps that mark in the mapped frame."""
    spec = parse_mapping('[fields]\nexternal_id = "id"\n', {})
    frame = pl.LazyFrame({"_row": [2], "id": ["x"], "_source_error": ["invalid_encoding"]})
    assert compile_mapping(spec, frame).collect()["_source_error"].to_list() == ["invalid_encoding"]


def test_hasher_inferred_from_the_digest_shape() -> None:
    """bcrypt and argon2id are named; an ambiguous or unknown shape gives no hasher."""
    bcrypt = "$2b$10$" + "a" * 53
    argon = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
    toml = '[fields]\npassword_digest = "d"\npassword_hasher = { infer = true }\n'
    got = column(toml, {"d": [bcrypt, argon, "nonsense", None]}, "password_hasher")
    assert got == ["bcrypt", "argon2id", None, None]


@pytest.mark.parametrize(
    "hasher",
    ['{ value = "bcrypt" }', '"algo"', "{ infer = true }"],
    ids=["constant", "column", "inferred"],
)
def test_hasher_only_where_there_is_a_digest(hasher: str) -> None:
    """A row without a digest (null or empty) gets no hasher, whatever gives the hasher, so a
    passwordless row is not a hasher_without_digest error."""
    bcrypt = "$2b$10$" + "a" * 53
    toml = f'[fields]\npassword_digest = "d"\npassword_hasher = {hasher}\n'
    data = {"d": [bcrypt, None, ""], "algo": ["bcrypt"] * 3}
    assert column(toml, data, "password_hasher") == ["bcrypt", None, None]


def test_hasher_only_where_a_builder_gives_a_digest() -> None:
    """A constant hasher next to a digest builder is masked where the builder gives no digest."""
    toml = (
        '[fields]\npassword_hasher = { value = "bcrypt" }\n'
        '[fields.password_digest]\nbuilder = "django"\ndigest = "p"\n'
    )
    got = column(toml, {"p": ["bcrypt_sha256$$2b$12$" + "a" * 53, None]}, "password_hasher")
    assert got == ["bcrypt", None]


def test_join_adds_a_second_file_by_key(tmp_path: Path) -> None:
    """Auth0's hash export joins on "auth0|" + (alt_id or _id.$oid); unmatched rows get null."""
    users = tmp_path / "users.ndjson"
    users.write_text(
        '{"user_id":"auth0|abc","email":"a@x.io"}\n'
        '{"user_id":"auth0|custom","email":"b@x.io"}\n'
        '{"user_id":"google-oauth2|1","email":"c@x.io"}\n'
    )
    hashes = tmp_path / "hashes.ndjson"
    bcrypt = "$2b$10$" + "b" * 53
    hashes.write_text(
        f'{{"_id":{{"$oid":"abc"}},"passwordHash":"{bcrypt}"}}\n'
        f'{{"_id":{{"$oid":"zzz"}},"alt_id":"custom","passwordHash":"{bcrypt}"}}\n'
        f'{{"_id":{{"$oid":"abc"}},"passwordHash":"duplicate, ignored"}}\n'
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[[join]]\nname = "hashes"\npath = "hashes.ndjson"\non = "user_id"\n'
        'right_on = { columns = ["alt_id", "_id.$oid"], transform = { prefix = "auth0|" } }\n'
        '[fields]\nexternal_id = "user_id"\npassword_digest = "hashes.passwordHash"\n'
        "password_hasher = { infer = true }\n"
    )
    spec = load_mapping(mapping, {})
    (join,) = spec.joins
    assert join.path == tmp_path / "hashes.ndjson"
    right = read_source(join.path, join.options)
    df = compile_mapping(spec, read_source(users), {"hashes": right}).collect()
    assert df["_row"].to_list() == [1, 2, 3]
    assert df["password_digest"].to_list() == [bcrypt, bcrypt, None]
    assert df["password_hasher"].to_list() == ["bcrypt", "bcrypt", None]


def test_source_options_come_from_the_source_table() -> None:
    """[source] reading keys become the SourceOptions for read_source."""
    spec = parse_mapping(
        '[source]\nformat = "csv"\nhas_header = false\ndelimiter = ";"\nquote_char = ""\n'
        'encoding = "cp1252"\ncolumn_names = ["a", "b"]\n[fields]\nexternal_id = "a"\n',
        {},
    )
    opts = spec.source.options()
    assert (opts.format, opts.has_header, opts.delimiter, opts.quote_char, opts.encoding) == (
        "csv",
        False,
        ";",
        None,
        "cp1252",
    )
    assert tuple(opts.column_names or ()) == ("a", "b")


@pytest.mark.parametrize("name", ["auth0", "firebase"])
def test_presets_load_by_name(name: str) -> None:
    """A preset name resolves to the packaged migrate/mappings/<name>.toml."""
    env = dict.fromkeys(("FIREBASE_SIGNER_KEY", "FIREBASE_SALT_SEPARATOR"), "QUJD") | {
        "FIREBASE_ROUNDS": "8",
        "FIREBASE_MEM_COST": "14",
    }
    spec = load_mapping(name, env)
    assert Path(spec.file) == Path(migrate.__file__).parent / "mappings" / f"{name}.toml"
    assert spec.field_spec("external_id") is not None


def keycloak_like() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "credentials": [
                [
                    {"type": "otp", "secretData": "otp-secret"},
                    {"type": "password", "secretData": "pw-secret"},
                ],
                [],
            ]
        }
    )


def test_a_selector_picks_items_of_a_list_of_objects() -> None:
    """``credentials[type=password].secretData`` keeps the password credential's field."""
    toml = '[fields]\npassword_digest = "credentials[type=password].secretData"\n'
    assert column(toml, keycloak_like(), "password_digest") == ["pw-secret", None]


def test_a_text_field_from_a_list_takes_its_first_item() -> None:
    """A path through a list gives a text field its first item, alone or in ``columns``."""
    toml = """
    [fields]
    password_digest = "credentials.secretData"
    first_name = { columns = ["credentials.type"] }
    """
    df = mapped(toml, keycloak_like())
    assert df["password_digest"].to_list() == ["otp-secret", None]
    assert df["first_name"].to_list() == ["otp", None]


def test_a_selector_on_a_column_that_is_not_a_list_of_objects_is_missing() -> None:
    """A selector that cannot apply is reported like a missing column."""
    spec = parse_mapping('[fields]\nfirst_name = "name[type=x]"\n', {}, file="m.toml")
    with pytest.raises(MappingError) as err:
        compile_mapping(spec, pl.LazyFrame({"_row": [1], "name": ["a"]}))
    assert str(err.value.problems[0]) == (
        "fields.first_name: column 'name[type=x]' is not in the input; columns: name"
    )


@pytest.mark.parametrize(
    ("dtype_column", "expected"),
    [
        (pl.Series("c", [datetime(2024, 1, 15, 10, 30)]), "2024-01-15T10:30:00.000Z"),
        (
            pl.Series("c", [datetime(2024, 1, 15, 10, 30)]).dt.replace_time_zone("Europe/Paris"),
            "2024-01-15T09:30:00.000Z",
        ),
        (
            pl.Series("c", [datetime(2024, 1, 15, 10, 30)]).dt.cast_time_unit("ns"),
            "2024-01-15T10:30:00.000Z",
        ),
        (pl.Series("c", [datetime(2024, 1, 15).date()]), "2024-01-15T00:00:00.000Z"),
        (pl.Series("c", [1508893925000]), "2017-10-25T01:12:05.000Z"),
    ],
)
def test_typed_timestamp_columns(dtype_column: pl.Series, expected: str) -> None:
    """Naive (UTC), zoned, nanosecond, date and epoch-integer columns all become RFC3339 UTC."""
    toml = '[fields]\ncreated_at = { column = "c", parse = "timestamp" }\n'
    assert column(toml, pl.DataFrame([dtype_column]), "created_at") == [expected]
