"""``clerk-migrate validate``: a dry run that finds every bad row offline and says how to fix it.

It reads, maps and validates the input (never a key, never the network), prints a summary with a
table of reasons, writes ``errors.csv`` and ``summary.json``, and exits 0 when every row is valid,
3 when some are not, 1 when the input or the mapping cannot be used, 2 on wrong options.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click

from migrate.cli._common import EXIT_FAILED_ROWS, EXIT_INTERRUPTED, EXIT_OK, fail, handle_errors
from migrate.cli._options import join_option, parse_joins, source_options, source_options_from
from migrate.errors import ConfigError

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
    help="Mask email addresses in errors.csv (keys and messages): p…@example.com.",
)
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
    joins: tuple[str, ...],
    fmt: str | None,
    encoding: str | None,
    delimiter: str | None,
    no_header: bool,
) -> None:
    """Check every row of INPUT offline and report what Clerk would refuse.

    Prints rows read, valid, invalid and skipped (empty), and a table of reasons with example
    row numbers; writes errors.csv (row, key, field, reason, message) and summary.json. Needs no
    secret key and no network. Exit status: 0 all rows valid, 3 some invalid, 1 the input or
    mapping cannot be used, 2 wrong options.
    """
    try:
        with handle_errors():
            exit_code = _validate(
                input_path,
                mapping,
                out_dir,
                preview,
                as_json=as_json,
                redact_emails=redact_emails,
                joins=joins,
                source=source_options_from(fmt, encoding, delimiter, no_header),
            )
    except KeyboardInterrupt:
        # Nothing to save: reports are written atomically at the end or not at all.
        fail("interrupted; no report was written", EXIT_INTERRUPTED)
    raise click.exceptions.Exit(exit_code)


def _validate(
    input_path: Path,
    mapping: str,
    out_dir: Path | None,
    preview: int,
    *,
    as_json: bool,
    redact_emails: bool,
    joins: tuple[str, ...],
    source: dict[str, Any],
) -> int:
    # polars-heavy imports wait until the command runs, so --help stays fast.
    from migrate.mapping import load_mapping  # noqa: PLC0415
    from migrate.prepare import PrepareOptions, prepare  # noqa: PLC0415
    from migrate.reports.validation import summarize, write_validation_reports  # noqa: PLC0415

    started = time.perf_counter()
    env = dict(os.environ)
    spec = load_mapping(mapping, env)
    given = parse_joins(joins)
    if isinstance(given, list):
        if len(given) > len(spec.joins):
            raise ConfigError(
                f"--join was given {len(given)} file(s) but the mapping has "
                f"{len(spec.joins)} join(s)"
            )
        given = {j.name: path for j, path in zip(spec.joins, given, strict=False)}
    prepared = prepare(input_path, spec, PrepareOptions(source=source, env=env, joins=given))
    previews = prepared.preview(preview) if preview else []
    counts = prepared.counts()
    errors = prepared.errors()
    summary = summarize(
        input=str(input_path),
        mapping=str(mapping),
        read=counts.read,
        invalid=counts.invalid,
        skipped_empty=counts.skipped_empty,
        errors=errors,
    )
    notices = prepared.notices(counts.read)
    for line in notices:
        click.echo(line, err=True)
    target = out_dir or input_path.parent / f"{_stem(input_path)}.validation"
    try:
        errors_path, summary_path = write_validation_reports(
            target, summary, errors, redact_emails=redact_emails
        )
    except OSError as exc:
        fail(f"{target}: cannot write the reports: {exc.strerror or exc}")
    seconds = time.perf_counter() - started
    if as_json:
        data = summary.to_dict()
        data["reports"] = {"errors": str(errors_path), "summary": str(summary_path)}
        data["notices"] = notices
        if preview:
            data["preview"] = [{"row": p.row, "key": p.key, "body": p.masked()} for p in previews]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for p in previews:
            click.echo(f"row {p.row} (key {p.key}):")
            click.echo(json.dumps(p.masked(), indent=2, ensure_ascii=False))
        if previews:
            click.echo()
        click.echo(render_summary(summary.to_dict(), seconds))
        click.echo(f"\nReports: {errors_path}, {summary_path}")
    return EXIT_FAILED_ROWS if summary.invalid else EXIT_OK


def render_summary(summary: dict[str, Any], seconds: float | None = None) -> str:
    """The human summary: counts, then one line per reason with example rows."""
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    lines = [
        f"Validated {summary['input']} with mapping {summary['mapping']}{took}",
        f"  rows read        {summary['read']:>10,}",
        f"  valid            {summary['valid']:>10,}",
        f"  invalid          {summary['invalid']:>10,}",
        f"  skipped (empty)  {summary['skipped_empty']:>10,}",
    ]
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


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".gzip"):
        name = name.removesuffix(suffix)
    return Path(name).stem or name
