"""detect: recognising exports from their head, and guessing fields and hashers."""

from __future__ import annotations

from migrate._internal.detect import Head, guess_fields, guess_hasher, recognise

BCRYPT = "$2b$04$abcdefghijklmnopqrstuu5y0SAbDA9u1oLbA6v6rJLj0ECFzGh1."
ARGON2ID = "$argon2id$v=19$m=64,t=4,p=8$Z2liZXJyaXNo$iGXEpMBTDYQ8G/71tF0qGjxRHEmR3gpGULcE93zUJVU"


def _head(columns: list[str], *rows: dict[str, str], fmt: str = "csv") -> Head:
    return Head(fmt, tuple(columns), tuple(rows))


def test_a_single_digest_shape_is_named_with_its_count() -> None:
    """All sample digests of one shape: that hasher, and a comment giving how many were seen."""
    guess = guess_hasher([BCRYPT, BCRYPT, BCRYPT])
    assert guess.hasher == "bcrypt"
    assert guess.comment == "inferred from the shape of 3 sample digest(s): bcrypt; check it"


def test_mixed_shapes_are_inferred_per_row() -> None:
    """Several known shapes: no single hasher, per-row inference, and the shapes listed."""
    guess = guess_hasher([BCRYPT, ARGON2ID])
    assert guess.hasher is None
    assert guess.infer
    assert guess.candidates == ("argon2id", "bcrypt")


def test_partly_unknown_shapes_say_how_many_will_be_reported() -> None:
    """Known and unknown shapes together: inferred per row, and the unknown count is stated."""
    guess = guess_hasher([BCRYPT, "plain-text?"])
    assert guess.infer
    assert guess.comment.startswith("1 of 2 sample digests are bcrypt; 1 match no shape")


def test_no_known_shape_decides_nothing() -> None:
    """Only unknown shapes: no hasher and no inference; the operator must choose."""
    guess = guess_hasher(["abc", "def"])
    assert guess.hasher is None
    assert not guess.infer
    assert guess.comment.endswith("set password_hasher, or a digest builder, yourself")


def test_no_digest_at_all_says_so() -> None:
    """An empty digest column in the sample decides nothing and says there was nothing to see."""
    guess = guess_hasher([])
    assert guess.hasher is None
    assert "no sample row has a digest" in guess.comment


def test_columns_are_matched_by_name_before_shape() -> None:
    """Named columns win; an unnamed column whose values are all e-mails becomes the e-mail."""
    head = _head(
        ["UserID", "contact", "First Name", "Surname"],
        {"UserID": "7", "contact": "a@b.io", "First Name": "Ada", "Surname": "L"},
    )
    draft = guess_fields(head)
    found = {g.field: g.column for g in draft.fields}
    assert found == {
        "external_id": "UserID",
        "email_address": "contact",
        "first_name": "First Name",
        "last_name": "Surname",
    }
    reasons = {g.field: g.reason for g in draft.fields}
    assert reasons["email_address"] == "every sample value of 'contact' looks like one"


def test_a_full_name_column_is_split_when_no_first_or_last_exists() -> None:
    """A display-name column feeds first_name and last_name through the name transforms."""
    head = _head(["email", "display_name"], {"email": "a@b.io", "display_name": "A B"})
    draft = guess_fields(head)
    by_field = {g.field: g for g in draft.fields}
    assert by_field["first_name"].transforms == ("given_name",)
    assert by_field["last_name"].transforms == ("family_name",)


def test_signature_needs_its_columns_and_format() -> None:
    """A Django header is recognised as CSV, but the same names in NDJSON are not Django."""
    columns = ["id", "password", "username", "is_superuser", "date_joined"]
    assert recognise(_head(columns)) is not None
    assert recognise(_head(columns, fmt="ndjson")) is None


def test_auth0_csv_is_told_apart_by_its_escaping() -> None:
    """user_id cells starting with ' (Auth0's CSV escaping) make it the Auth0 CSV export."""
    escaped = _head(["user_id", "email"], {"user_id": "'auth0|1", "email": "'a@b.io"})
    plain = _head(["user_id", "email"], {"user_id": "42", "email": "a@b.io"})
    recognised = recognise(escaped)
    assert recognised is not None
    assert recognised.preset == "auth0_csv"
    assert recognise(plain) is None


def test_a_plain_users_select_with_php_bcrypt_is_laravel() -> None:
    """id/email/password with PHP $2y$ digests is Laravel; the same with Python $2b$ is not."""
    columns = ["id", "name", "email", "password", "created_at"]
    php = _head(columns, {"id": "1", "email": "a@b.io", "password": "$2y$" + BCRYPT[4:]})
    python = _head(columns, {"id": "1", "email": "a@b.io", "password": BCRYPT})
    recognised = recognise(php)
    assert recognised is not None
    assert recognised.preset == "laravel"
    assert recognise(python) is None


def test_older_and_smaller_schemas_are_still_recognised() -> None:
    """ASP.NET Identity 2.x (no Normalized* columns) and Devise without :trackable are known."""
    identity2 = ["Id", "Email", "EmailConfirmed", "PasswordHash", "SecurityStamp", "UserName"]
    devise = ["id", "email", "encrypted_password", "reset_password_token", "created_at"]
    found = [recognise(_head(c)) for c in (identity2, devise)]
    assert [r.preset if r else None for r in found] == ["aspnet-identity", "devise"]


def test_null_markers_are_not_sample_values() -> None:
    """Cells equal to a null marker (NULL, \\N) are left out of a column's sample values."""
    rows = ({"id": "1", "phone": "NULL"}, {"id": "2", "phone": "+14155550101"})
    head = Head("csv", ("id", "phone"), rows, null_values=("NULL",))
    assert head.values("phone") == ["+14155550101"]
