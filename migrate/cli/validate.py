"""``clerk-migrate validate``: a dry run that finds every bad row offline and says how to fix it.

It reads, maps and validates the input (never a key, never the network), prints a summary with a
table of reasons, writes ``errors.csv`` and ``summary.json``, and exits 0 when every row is valid,
3 when some are not, 1 when the input or the mapping cannot be used, 2 on wrong options.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from migrate.cli._common import EXIT_INTERRUPTED, echo, echo_document, fail, handle_errors
from migrate.cli._options import (
    join_option,
    parse_joins,
    source_options,
    source_options_from,
    tenant_options,
)

__all__ = ["command", "render_summary"]


@click.command(name="validate")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--mapping",
    "-m",
    required=True,
    help="Mapping file (.toml) or preset name (auth0, firebase, ...).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for errors.csv and summary.json (default: <INPUT stem>.validation/ "
    "beside the input).",
)
@click.option(
    "--preview",
    type=click.IntRange(min=0),
    default=0,
    help="Print the first N CreateUser bodies as they would be sent, secrets masked.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--redact-emails",
    is_flag=True,
    help="Mask email addresses in errors.csv (keys, emails, values, messages): p…@example.com.",
)
@tenant_options
@join_option
@source_options
def command(
    *,
    input_path: Path,
    mapping: str,
    out_dir: Path | None,
    preview: int,
    as_json: bool,
    redact_emails: bool,
    orgs_path: Path | None,
    members_path: Path | None,
    joins: tuple[str, ...],
    fmt: str | None,
    encoding: str | None,
    delimiter: str | None,
    no_header: bool,
) -> None:
    """Check every row of INPUT offline and report what Clerk would refuse.

    Prints rows read, valid, invalid and skipped (empty), and a table of reasons with example
    row numbers; writes errors.csv (row, key, email, stage, field, code, value, message, hint:
    the layout of run's; a secret value masked) and summary.json. Needs no secret key and no
    network. A mapping with [organizations] / [memberships] has those checked too (lines with
    field organization.* / membership.*, counts in the summary). Exit status: 0 all rows valid,
    3 some invalid, 1 the input or mapping cannot be used, 2 wrong options.
    """
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help

    try:
        with handle_errors():
            result = migrate.validate(
                input_path,
                mapping,
                out_dir=out_dir,
                source=source_options_from(fmt, encoding, delimiter, no_header),
                joins=parse_joins(joins),
                preview=preview,
                redact_emails=redact_emails,
                organizations=orgs_path,
                memberships=members_path,
            )
    except KeyboardInterrupt:
        # Nothing to save: reports are written atomically at the end or not at all.
        fail("interrupted; no report was written", EXIT_INTERRUPTED)
    for line in result.notices:
        echo(line, err=True)
    if as_json:
        data = dict(result.summary)
        data["reports"] = {"errors": str(result.errors_csv), "summary": str(result.summary_json)}
        data["notices"] = list(result.notices)
        if preview:
            data["preview"] = [
                {"row": p.row, "key": p.key, "body": p.body} for p in result.previews
            ]
        echo_document(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for p in result.previews:
            echo(f"row {p.row} (key {p.key}):")
            echo_document(json.dumps(p.body, indent=2, ensure_ascii=False))
        if result.previews:
            echo()
        echo(render_summary(result.summary, result.seconds))
        echo(f"\nReports: {result.errors_csv}, {result.summary_json}")
    raise click.exceptions.Exit(result.exit_code)


def render_summary(summary: Mapping[str, Any], seconds: float | None = None) -> str:
    """The human summary: counts, then one line per reason with example rows."""
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    lines = [
        f"Validated {summary['input']} with mapping {summary['mapping']}{took}",
        f"  rows read        {summary['read']:>10,}",
        f"  valid            {summary['valid']:>10,}",
        f"  invalid          {summary['invalid']:>10,}",
        f"  skipped (empty)  {summary['skipped_empty']:>10,}",
    ]
    if summary.get("skipped"):
        lines.append(f"  skipped (status) {summary['skipped']:>10,}   see skipped.csv")
    if summary.get("warnings"):
        lines.append(f"  with a warning   {summary['warnings']:>10,}   see warnings.csv")
    for kind in ("organizations", "memberships"):
        if kind in summary:
            c = summary[kind]
            lines.append(
                f"  {kind:<16} {c['read']:>10,}   {c['valid']:,} valid, {c['invalid']:,} invalid"
            )
    reasons = summary["reasons"]
    if reasons:
        width_r = max(len("reason"), *(len(r["reason"]) for r in reasons))
        width_f = max(len("field"), *(len(r["field"]) for r in reasons))
        lines += ["", f"  {'reason':<{width_r}}  {'field':<{width_f}}  {'rows':>8}  example rows"]
        for r in reasons:
            examples = ", ".join(str(x) for x in r["examples"])
            more = ", …" if r["rows"] > len(r["examples"]) else ""
            lines.append(
                f"  {r['reason']:<{width_r}}  {r['field']:<{width_f}}  {r['rows']:>8,}  "
                f"{examples}{more}"
            )
    return "\n".join(lines)
