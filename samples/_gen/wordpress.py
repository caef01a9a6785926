"""WordPress: ``wp_users`` plus the first/last names from ``wp_usermeta``.

Files (samples/wordpress/):
- ``wp_users.csv``: the table as exported (phpMyAdmin / ``mysql --batch`` to CSV), MySQL naive GMT
  datetimes.
- ``wp_usermeta_names.csv``: ``user_id, first_name, last_name`` pivoted out of ``wp_usermeta`` by the
  query in docs/presets.md; the preset joins it on ``ID``.

``user_pass`` shapes: phpass ``$P$B…`` (WordPress < 6.8, 2^13 MD5 rounds), WordPress 6.8's
``$wp$2y$…`` (bcrypt over an HMAC-SHA384 of the password: no Clerk hasher can check it, so those
rows are reported and can be re-imported without a password), and a bare MD5 set by hand in
phpMyAdmin (Clerk ``md5``, re-hashed to bcrypt by Clerk at first sign-in).

Deliberately bad rows (wp_users.csv line numbers, header = line 1):
- an e-mail without a dot in the domain (invalid_email);
- the same e-mail as an earlier user (duplicate_email);
- two ``$wp$`` hashes (unsupported hash; the operator may import them without a password);
- a ``user_registered`` in 2031 (future created_at).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random

from .common import (
    FUTURE,
    Sample,
    ascii_fold,
    bcrypt_hash,
    make_people,
    mysql_datetime,
    phpass_hash,
    write_csv,
)

HEADER = [
    "ID", "user_login", "user_pass", "user_nicename", "user_email", "user_url",
    "user_registered", "user_activation_key", "user_status", "display_name",
]


def wp68_hash(rng: random.Random, password: str) -> str:
    """WordPress 6.8: '$wp' + bcrypt(base64(HMAC-SHA384(key='wp-sha384', trim(password))))."""
    mac = hmac.new(b"wp-sha384", password.strip().encode(), hashlib.sha384).digest()
    return "$wp" + bcrypt_hash(rng, base64.b64encode(mac), cost=4, tag="2y")


def build() -> Sample:
    rng = random.Random(0x3B)
    people = make_people(rng, 30)
    sample = Sample(
        system="wordpress",
        title="WordPress",
        command=(
            "clerk-migrate validate samples/wordpress/wp_users.csv --mapping wordpress "
            "--join samples/wordpress/wp_usermeta_names.csv"
        ),
        inputs=["wp_users.csv", "wp_usermeta_names.csv"],
        mapping="wordpress",
    )
    users, names = [], []
    for p in people:
        uid = str(p.n)
        # WordPress trims passwords before hashing; sample passwords have no outer spaces
        if p.n in (10, 26):
            digest = wp68_hash(rng, p.password)
            sample.bad(p.n + 1, uid, ["unsupported_hash"], "WordPress 6.8 $wp$ hash")
        elif p.n == 15:
            digest = hashlib.md5(p.password.encode()).hexdigest()  # noqa: S324 - what WP stores
        else:
            digest = phpass_hash(rng, p.password)
        sample.passwords[uid] = p.password
        email = p.email
        registered = p.created
        if p.n == 7:
            email = p.email.split("@")[0] + "@localhost"
            sample.bad(p.n + 1, uid, ["invalid_email"], "e-mail at a host without a domain")
        if p.n == 19:
            email = people[12].email
            sample.bad(p.n + 1, uid, ["duplicate_email"], "same e-mail as line 14")
        if p.n == 23:
            registered = FUTURE
            sample.bad(p.n + 1, uid, ["future_timestamp"], "user_registered in 2031")
        login = ascii_fold(p.first) + (str(p.n) if p.n % 2 else "")
        users.append(
            [
                uid, login, digest, login, email,
                f"https://{ascii_fold(p.last)}.blog" if p.n % 6 == 0 else "",
                mysql_datetime(registered), "", 0, p.full_name,
            ]
        )
        names.append([uid, p.first, p.last if p.n % 9 else ""])
    write_csv(sample.folder / "wp_users.csv", HEADER, users)
    write_csv(sample.folder / "wp_usermeta_names.csv", ["user_id", "first_name", "last_name"], names)
    sample.total_rows = len(users)
    return sample
