"""Generated hostile CSV and NDJSON: every file gets a clear verdict, nothing leaks or is lost.

hypothesis writes exports with random quoting, line ends (LF, CRLF, CR, mixed), encodings,
control characters, formula-looking cells and long fields, and also mangles them byte by byte.
For each, ``validate`` must end with exit 0/3 and counts that add up (every row read is valid
or invalid, and each invalid row is in errors.csv) or exit 1 with a short ``Error:`` line;
never a traceback, never a secret in its output or its reports. The default run tries a few
dozen files per test (seconds); ``-m slow`` runs the long profile.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hostile_cases import DIGEST, MAPPING, TOTP, assert_no_secret, files_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate._internal.secrets import LINE_LIMIT
from migrate.cli import main

SHORT = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONG = settings(SHORT, max_examples=400)

# Text a cell may hold: letters, digits, CSV syntax, unicode, formula starts and, rarely, a
# control character (a file mostly made of control characters is binary, refused as such).
_PLAIN = st.text(
    alphabet=st.sampled_from(list("abcXYZ019 ,;\"'=+-@\t\r\nçé漢😀\\/$.")), max_size=30
)
_CONTROL = st.sampled_from(["\x01", "\x07", "\x1b", "\x7f", "\x0b"])
_CELL = st.one_of(
    _PLAIN,
    st.builds(lambda a, c, b: a + c + b, _PLAIN, _CONTROL, _PLAIN),
    st.builds(lambda n: "n" * n, st.integers(300, 3_000)),  # a long field
    st.sampled_from(['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)", "", " "]),
)


@dataclass(frozen=True)
class Export:
    """A generated export: its bytes, file name, extra CLI options and data rows written."""

    data: bytes
    name: str
    options: tuple[str, ...]
    rows: int
    well_formed: bool


def _quoted(cell: str, always: bool) -> str:
    """A CSV cell as RFC 4180 writes it: quoted when it must be (or always), quotes doubled."""
    if always or any(c in cell for c in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def csv_exports(draw: st.DrawFn) -> Export:
    """A CSV written by the csv module: random cells, quoting, line ends and encoding."""
    n = draw(st.integers(1, 12))
    records = [["id", "email", "first", "hash", "totp"]]
    for i in range(1, n + 1):
        email = draw(st.sampled_from([f"user{i}@example.com", draw(_CELL)]))
        records.append([f"u{i}", email, draw(_CELL), DIGEST, TOTP])
    ends = draw(st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=3))
    quote_all = draw(st.booleans())
    text = "".join(
        ",".join(_quoted(cell, quote_all) for cell in record) + ends[i % len(ends)]
        for i, record in enumerate(records)
    )
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        encoding, data = "utf-8", text.encode()
    options = () if encoding.startswith("utf-8") else ("--encoding", encoding)
    gz = draw(st.booleans())
    return Export(
        gzip.compress(data) if gz else data, "u.csv.gz" if gz else "u.csv", options, n, True
    )


@st.composite
def ndjson_exports(draw: st.DrawFn) -> Export:
    """NDJSON records with random values (absent keys too), line ends and blank lines."""
    n = draw(st.integers(1, 12))
    lines = []
    for i in range(1, n + 1):
        record = {"id": f"u{i}", "hash": DIGEST, "totp": TOTP}
        if draw(st.booleans()):
            record["email"] = f"user{i}@example.com"
        if draw(st.booleans()):
            record["first"] = draw(_CELL)
        lines.append(json.dumps(record, ensure_ascii=draw(st.booleans())))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    data = end.join(lines) + draw(st.sampled_from(["", end, end + end]))
    return Export(data.encode(), "u.ndjson", (), n, True)


@st.composite
def mangled(draw: st.DrawFn, exports: st.SearchStrategy[Export]) -> Export:
    """A generated export with bytes inserted, deleted or cut: any verdict, but a clean one."""
    export = draw(exports)
    data = bytearray(export.data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "cut"]))
        if op == "insert":
            data[at:at] = draw(st.sampled_from([b'"', b"\r", b"\n", b"\x00", b",", b"\xff", b"{"]))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 5))]
        else:
            del data[at:]
    return Export(bytes(data), export.name, export.options, export.rows, False)


def _validate(export: Export) -> tuple[Result, str, str]:
    """Run ``validate --json`` on the export in a fresh folder; the result and report texts."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = root / export.name
        path.write_bytes(export.data)
        mapping = root / "map.toml"
        fmt = "ndjson" if export.name.endswith(".ndjson") else "csv"
        mapping.write_text(MAPPING.replace('format = "csv"', f'format = "{fmt}"'))
        out = root / "out"
        args = ["validate", str(path), "-m", str(mapping), "--out", str(out), "--json"]
        result = CliRunner().invoke(main, [*args, *export.options])
        return result, result.output, files_text(out) if out.exists() else ""


def _check(export: Export) -> None:
    result, output, reports = _validate(export)
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in output
    assert_no_secret(output, reports)
    if result.exit_code == 1:
        assert output.startswith("Error: "), output[:500]
        assert len(output) < 20 * LINE_LIMIT  # each line bounded by the one redaction
        assert not export.well_formed or "no rows" not in output
        return
    assert result.exit_code in (0, 3), output[:500]
    summary = json.loads(output)
    assert summary["valid"] + summary["invalid"] == summary["read"]
    errors = reports.split("summary")[0]  # errors.csv comes before summary.json
    if export.well_formed:
        # every row written is read (none lost to a line end, a quote or an encoding)
        assert summary["read"] + summary["skipped_empty"] == export.rows, summary
        assert (result.exit_code == 3) == (summary["invalid"] > 0)
        assert errors.count("\n") >= summary["invalid"]


@SHORT
@given(csv_exports())
def test_generated_csv_files(export: Export) -> None:
    """Well-formed generated CSV: every row read and accounted for, no leak, no traceback."""
    _check(export)


@SHORT
@given(ndjson_exports())
def test_generated_ndjson_files(export: Export) -> None:
    """Generated NDJSON: every record read and accounted for, no leak, no traceback."""
    _check(export)


@SHORT
@given(mangled(st.one_of(csv_exports(), ndjson_exports())))
def test_mangled_files_get_a_clean_verdict(export: Export) -> None:
    """Byte-mangled exports: exit 0/1/3 with counts that add up or one short error line."""
    _check(export)


@pytest.mark.slow
@LONG
@given(
    st.one_of(csv_exports(), ndjson_exports(), mangled(st.one_of(csv_exports(), ndjson_exports())))
)
def test_generated_files_long_profile(export: Export) -> None:
    """The long profile: hundreds of generated and mangled files, the same guarantees."""
    _check(export)
