"""Regenerate every sample export, its expected.json and passwords.csv, and samples/README.md.

    uv run python samples/generate.py            # rewrite samples/ in place
    uv run python samples/generate.py --out DIR  # write the same files under DIR instead

Deterministic: each system draws from its own seeded ``random.Random`` (salts included), so the
output is byte-identical on every run. The hashes are made with the real algorithms (bcrypt,
argon2-cffi, hashlib pbkdf2/scrypt, AES-CTR for Firebase) at low cost so the tests stay quick.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _gen import (  # noqa: E402 - the path above makes the builders importable
    aspnet,
    auth0,
    clerk,
    cognito,
    devise,
    django,
    firebase,
    keycloak,
    laravel,
    supabase,
    wordpress,
)
from _gen.common import SAMPLES, Sample, set_output  # noqa: E402

BUILDERS = [auth0, firebase, supabase, cognito, django, wordpress, keycloak, laravel, devise, aspnet, clerk]

INTRO = """\
# Sample exports

One folder per source system, each a small export (20-40 users) in that system's real layout, with
real password hashes made by the real algorithms (at low cost so tests are quick), a few
deliberately bad rows, and:

- `expected.json`: the input files, the preset, the environment the preset needs (sample project
  parameters: not secrets), every deliberately bad row (row number, key, the reasons `validate`
  must give), and the keys of the users that must be created with and without a password;
- `passwords.csv`: the plaintext password of every sample user (`key,password`), the same as the
  tables below;
- for the Auth0, Keycloak and Django samples, an organizations export (Auth0's and Keycloak's own
  shapes, and the generic `organizations.csv` + `memberships.csv`) with its deliberately bad
  organizations and memberships (`expected.json`, `tenants`).

Everything here is generated: `uv run python samples/generate.py` rewrites it byte for byte
(`samples/_gen/<system>.py` says how each export is shaped and why each bad row is there). Do not
edit by hand.

Password rule: two random words and a number (`maple-Orbit-42`); every 7th user has a non-ASCII
password (`Grüße-…`) and every 11th one with spaces, to prove UTF-8 and whitespace survive.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a | inside a table cell (Auth0 ids) must be escaped


def readme_section(sample: Sample) -> str:
    lines = [f"## {sample.title} (`{sample.system}/`)", ""]
    lines.append(f"Files: {', '.join(f'`{name}`' for name in sample.inputs)}. Preset: `{sample.mapping}`.")
    for variant in sample.variants:
        names = ", ".join(f"`{name}`" for name in variant["inputs"])
        lines.append(
            f"Also {names} with preset `{variant['mapping']}` (row numbers shifted by "
            f"{variant['row_offset']:+d})."
        )
    if sample.env:
        lines.append("")
        lines.append("Environment the preset reads (the sample project's values):")
        lines.append("")
        lines.append("```sh")
        lines += [f"export {k}='{v}'" for k, v in sample.env.items()]
        lines.append("```")
    lines += ["", "```sh", sample.command, "```", ""]
    lines.append(f"{sample.total_rows} rows. Deliberately bad rows:")
    lines.append("")
    lines.append("| row | key | reasons | why |")
    lines.append("|---|---|---|---|")
    for bad in sorted(sample.bad_rows, key=lambda b: b.row):
        lines.append(f"| {bad.row} | `{_cell(bad.key)}` | {', '.join(bad.reasons)} | {bad.why} |")
    for note in sample.notes:
        lines += ["", note]
    for case in sample.tenants:
        files = [case.organizations] + ([case.memberships] if case.memberships else [])
        lines += ["", f"### {case.title}", ""]
        lines.append(f"Files: {', '.join(f'`{name}`' for name in files)}. Preset: `{case.mapping}`.")
        lines += ["", f"Shape: {case.source}.", "", "```sh", case.command, "```", ""]
        counts = "; ".join(
            f"{table}: {c['read']} read, {c['invalid']} invalid" for table, c in case.counts.items()
        )
        lines += [f"{counts}. Deliberately bad rows:", ""]
        lines += ["| table | row | key | reasons | why |", "|---|---|---|---|---|"]
        for bad in sorted(case.bad, key=lambda b: (b["table"] != "organization", b["row"])):
            lines.append(
                f"| {bad['table']} | {bad['row']} | `{_cell(bad['key'])}` | "
                f"{', '.join(bad['reasons'])} | {bad['why']} |"
            )
    lines += ["", "<details><summary>Plaintext passwords</summary>", "", "| key | password |", "|---|---|"]
    lines += [f"| `{_cell(key)}` | `{_cell(pw)}` |" for key, pw in sorted(sample.passwords.items())]
    if sample.no_password:
        lines += ["", "Without a password: " + ", ".join(f"`{k}`" for k in sorted(sample.no_password)) + "."]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def main() -> None:
    out = SAMPLES
    if len(sys.argv) == 3 and sys.argv[1] == "--out":
        out = Path(sys.argv[2])
        set_output(out)
    elif len(sys.argv) != 1:
        sys.exit("usage: generate.py [--out DIR]")
    sections = []
    for builder in BUILDERS:
        sample = builder.build()
        sample.write_manifest()
        sections.append(readme_section(sample))
        print(f"{sample.system}: {sample.total_rows} rows, {len(sample.bad_rows)} bad")  # noqa: T201
    (out / "README.md").write_text(INTRO + "\n" + "\n".join(sections), encoding="utf-8")


if __name__ == "__main__":
    main()
