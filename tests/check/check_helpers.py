"""Helpers for the check tests: a CSV export with every identifier column, and its mapping.

A plain module (not conftest) with a unique name, so test modules can import it by name.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = "email"
phone_number = "phone"
username = "username"
first_name = "first"
password_digest = "hash"
password_hasher = { value = "bcrypt" }
totp_secret = "totp"
skip_password_requirement = { value = true }
"""
HEADER = ("id", "email", "phone", "username", "first", "hash", "totp")
DIGEST = "$2b$04$" + "a" * 53
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def row(i: int, **over: str) -> dict[str, str]:
    """A valid row ``i``: email only, unless ``over`` adds fields."""
    base = dict.fromkeys(HEADER, "")
    base.update(id=f"u{i}", email=f"user{i}@example.com", first=f"Name{i}")
    base.update(over)
    return base


def write(tmp: Path, rows: Sequence[dict[str, str]], mapping: str = MAPPING) -> Path:
    """The rows as users.csv beside map.toml."""
    path = tmp / "users.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, HEADER)
        writer.writeheader()
        writer.writerows(rows)
    (tmp / "map.toml").write_text(mapping, encoding="utf-8")
    return path
