"""``mapping init``: read the start of an export, name the preset that fits, or draft a mapping.

``init_mapping(path)`` reads only the head of the file (the header and up to ``SAMPLE_ROWS`` rows;
for a JSON document, the first records), recognises the source system with ``detect``
and returns an ``InitResult``: the preset's name and text when one fits, otherwise a draft
mapping whose every guess carries a comment saying why (a hasher is never chosen silently).
Raises ``SourceError`` when the file cannot be read.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Final

from migrate._internal.detect import Draft, FieldGuess, Head, Recognition, guess_fields, recognise
from migrate._internal.mapping.load import presets_dir
from migrate.errors import SourceError

__all__ = ["SAMPLE_ROWS", "InitResult", "init_mapping", "read_head", "render_draft"]

SAMPLE_ROWS: Final = 50
_HEAD_BYTES: Final = 1 << 20  # a JSON document is parsed from its first MiB only
_CSV_HEAD_BYTES: Final = 64 * 1024
_NULL_MARKERS: Final = ("NULL", "\\N")  # SQL Server / MySQL batch, and MySQL OUTFILE / COPY


@dataclass(frozen=True)
class InitResult:
    """What ``mapping init`` found: the mapping text, and the preset when one fits."""

    text: str
    recognition: Recognition | None
    head: Head

    @property
    def summary(self) -> str:
        """One or two lines for the operator (the CLI prints them on stderr)."""
        if self.recognition is None:
            return (
                f"No preset recognises this {self.head.format.upper()} export; drafted a mapping "
                "from its column names and values. Check every line marked CHECK."
            )
        rec = self.recognition
        if rec.tenant:  # organizations or memberships: read beside a users export
            return f"Recognised: {rec.system}; it holds no users.\n{rec.hint}"
        preset = presets_dir() / f"{rec.preset}.toml"
        if not preset.is_file():
            line = f"Recognised: {rec.system}; no preset imports it directly (draft below)."
            return line + (f"\n{rec.hint}" if rec.hint else "")
        line = f"Recognised: {rec.system}. Use the preset: --mapping {rec.preset}"
        source = tomllib.loads(preset.read_text("utf-8")).get("source", {})
        line += "".join(f" {opt}" for opt in _reading_options(self.head, source))
        return line + (f"\n{rec.hint}" if rec.hint else "")


def _reading_options(head: Head, source: Mapping[str, Any]) -> list[str]:
    """The options that read this file with a preset that expects another format or dialect."""
    options = []
    if source.get("format") and source["format"] != head.format:
        options.append(f"--format {head.format}")
    if head.format == "csv" and head.has_header:
        if head.encoding != source.get("encoding", "utf-8"):
            options.append(f"--encoding {head.encoding}")
        if head.delimiter != source.get("delimiter", head.default_delimiter):
            shown = "$'\\t'" if head.delimiter == "\t" else f"'{head.delimiter}'"
            options.append(f"--delimiter {shown}")
    return options


def init_mapping(path: str | Path) -> InitResult:
    """Recognise the export at ``path`` and return the preset or a drafted mapping."""
    head = read_head(Path(path))
    recognition = recognise(head)
    if recognition is not None:
        preset = presets_dir() / f"{recognition.preset}.toml"
        if recognition.tenant:
            intro = f"# clerk-migrate mapping init: {Path(path).name} is an {recognition.system}.\n"
            intro += (
                "# Any mapping reads it with --organizations / --memberships; these are the "
                "tables it applies,\n# to copy into a mapping that names other columns.\n"
                if recognition.preset.startswith("_")
                else f"# The `{recognition.preset}` preset reads it (its [organizations] below): "
                f"--mapping {recognition.preset} --organizations FILE.\n"
            )
            return InitResult(intro + preset.read_text(encoding="utf-8"), recognition, head)
        if preset.is_file():
            intro = (
                f"# clerk-migrate mapping init: {Path(path).name} is a {recognition.system}.\n"
                f"# This is the `{recognition.preset}` preset; use it as is with "
                f"--mapping {recognition.preset}, or edit this copy.\n"
            )
            return InitResult(intro + preset.read_text(encoding="utf-8"), recognition, head)
        # a signature without a preset of its own (the Auth0 hash export): say so, draft anyway
    return InitResult(render_draft(head, guess_fields(head), Path(path).name), recognition, head)


# ------------------------------------------------------------------------------- reading the head


def _open_text(path: Path) -> IO[str]:
    # utf-8-sig drops a BOM; undecodable bytes become U+FFFD (only names and shapes matter here)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return path.open(encoding="utf-8-sig", errors="replace", newline="")


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    ext = suffixes[-1] if suffixes else ""
    return {".csv": "csv", ".tsv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson",
            ".json": "json", ".parquet": "parquet"}.get(ext, "csv")  # fmt: skip


def read_head(path: Path) -> Head:
    """The head of an export; a ``.json`` file holding one record per line counts as NDJSON."""
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    fmt = _format_of(path)
    try:
        if fmt == "parquet":
            return _parquet_head(path)
        if fmt == "csv":
            head = _csv_head(_read_start(path, _CSV_HEAD_BYTES))
            tsv = ".tsv" in [x.lower() for x in path.suffixes]
            return replace(head, default_delimiter="\t") if tsv else head
        with _open_text(path) as fh:
            text = fh.read(_HEAD_BYTES)
    except (OSError, EOFError, csv.Error) as exc:
        raise SourceError(f"{path}: cannot be read: {exc}") from exc
    if fmt == "ndjson" or _looks_ndjson(text):
        return _ndjson_head(path, text)
    return _json_head(path, text)


def _read_start(path: Path, size: int) -> bytes:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            return fh.read(size)
    with path.open("rb") as fh:
        return fh.read(size)


def _decode(data: bytes) -> tuple[str, str]:
    """The sample as text and the codec that reads it: UTF-8 (a BOM dropped), else cp1252."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:  # not final: the sample may end inside a multi-byte character
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=False), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined
        return data.decode("latin-1"), "latin-1"


def _csv_head(data: bytes) -> Head:
    sample, encoding = _decode(data)
    try:  # only the delimiter is sniffed (from the header); quoting is the usual CSV one
        delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0] or ",", ",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    rows = list(_take(csv.reader(io.StringIO(sample), delimiter=delimiter), SAMPLE_ROWS + 1))
    if not rows:
        return Head("csv", (), delimiter=delimiter, encoding=encoding)
    first = rows[0]
    if _is_header(first, rows[1:]):
        columns = tuple(first)
        data_rows = rows[1:]
        has_header = True
    else:
        columns = tuple(f"column_{i + 1}" for i in range(len(first)))
        data_rows = rows
        has_header = False
    records = tuple(dict(zip(columns, r, strict=False)) for r in data_rows if any(r))
    cells = {cell for row in data_rows for cell in row}
    nulls = tuple(n for n in _NULL_MARKERS if n in cells)
    return Head(
        "csv", columns, records, has_header=has_header,
        delimiter=delimiter, encoding=encoding, null_values=nulls,
    )  # fmt: skip


def _is_header(first: list[str], rest: list[list[str]]) -> bool:
    """A header names columns: no cell is empty, numeric, an e-mail, or a long opaque token."""
    if not first:
        return False
    for cell in first:
        text = cell.strip()
        if not text or "@" in text or text.replace(".", "", 1).isdigit():
            return False
        if len(text) > 40 or text in ("true", "false", "t", "f"):
            return False
    # a header-less export whose first cells happen to look like names still differs from its rows
    return not rest or first != rest[0]


def _take(rows: Iterator[list[str]], n: int) -> Iterator[list[str]]:
    for i, row in enumerate(rows):
        if i >= n:
            break
        yield row


def _looks_ndjson(text: str) -> bool:
    lines = [line for line in text.splitlines()[:3] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        return all(isinstance(json.loads(line), dict) for line in lines)
    except json.JSONDecodeError:
        return False


def _ndjson_head(path: Path, text: str) -> Head:
    records: list[dict[str, Any]] = []
    for line in text.splitlines():
        if len(records) >= SAMPLE_ROWS:
            break
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            break  # the last line may be cut by the head limit
        if isinstance(value, dict):
            records.append(value)
    if not records:
        raise SourceError(f"{path}: no JSON object on its first lines")
    return Head(
        "ndjson", _columns(records), tuple(_flatten(r) for r in records), native=_native(records)
    )


def _json_head(path: Path, text: str) -> Head:
    """Records of a JSON array, or of the list inside an object ({"users": [...]})."""
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    container: str | None = None
    top_keys: tuple[str, ...] = ()
    try:
        doc, _ = decoder.raw_decode(stripped)
    except json.JSONDecodeError:
        doc = None  # cut by the head limit: walk the records one by one below
    if isinstance(doc, dict):
        top_keys = tuple(doc)
        container = next((k for k, v in doc.items() if isinstance(v, list)), None)
        items = doc.get(container, []) if container else []
    elif isinstance(doc, list):
        items = doc
    else:
        items, container, top_keys = _partial_records(stripped, decoder)
    records = [r for r in items[:SAMPLE_ROWS] if isinstance(r, dict)]
    if not records:
        raise SourceError(f"{path}: no list of JSON objects found at its start")
    return Head(
        "json", _columns(records), tuple(_flatten(r) for r in records),
        container=container, top_keys=top_keys, native=_native(records),
    )  # fmt: skip


def _partial_records(
    text: str, decoder: json.JSONDecoder
) -> tuple[list[Any], str | None, tuple[str, ...]]:
    """Decode the first records of a document too long to hold whole."""
    start = text.find("[")
    if start < 0:
        return [], None, ()
    prefix = text[:start]
    key = prefix.rsplit('"', 2)[-2] if prefix.count('"') >= 2 else None
    top = tuple(part for part in prefix.split('"')[1::2])
    items: list[Any] = []
    pos = start + 1
    while len(items) < SAMPLE_ROWS:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            break
        items.append(value)
    return items, key, top


def _columns(records: list[dict[str, Any]]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for record in records:
        for key in record:
            seen.setdefault(key, None)
    return tuple(seen)


def _native(records: list[dict[str, Any]]) -> frozenset[str]:
    """Keys whose values are JSON objects or arrays (the source reads them as such)."""
    return frozenset(k for r in records for k, v in r.items() if isinstance(v, dict | list))


def _flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level values, nested objects also as JSON text (so value checks see strings)."""
    return {
        k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
        for k, v in record.items()
    }


def _parquet_head(path: Path) -> Head:
    import polars as pl  # noqa: PLC0415 - only Parquet needs polars here

    try:
        frame = pl.scan_parquet(path).head(SAMPLE_ROWS).collect()
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"{path}: cannot be read as Parquet: {exc}") from exc
    rows = tuple(_flatten(r) for r in frame.to_dicts())
    nested = (pl.List, pl.Array, pl.Struct)
    native = frozenset(n for n, t in frame.schema.items() if isinstance(t, nested))
    return Head("parquet", tuple(frame.columns), rows, native=native)


# ---------------------------------------------------------------------------------------- drafting


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _value(column: str, transforms: tuple[str, ...], *, json_text: bool = False) -> str:
    col = f"column = {_toml_str(column)}"
    if json_text:
        return f'{{ {col}, parse = "json" }}'
    if not transforms:
        return _toml_str(column)
    if transforms == ("timestamp",):
        return f'{{ {col}, parse = "timestamp" }}'
    steps = ", ".join(_toml_str(t) for t in transforms)
    chain = steps if len(transforms) == 1 else f"[{steps}]"
    return f"{{ {col}, transform = {chain} }}"


def _field_value(guess: FieldGuess) -> str:
    if guess.field.endswith("_identification_status") and not guess.words:
        return f"{{ verified = {_toml_str(guess.column)} }}"
    return _value(guess.column, guess.transforms, json_text=guess.json)


def _source_lines(head: Head) -> list[str]:
    """How to read the file as the sample was read, so the draft works without options."""
    lines = [f"format = {_toml_str(head.format)}"]
    if head.format != "csv":
        return lines
    if not head.has_header:
        lines.append("has_header = false  # CHECK: the first line looked like data, not names")
    if head.delimiter != head.default_delimiter:
        lines.append(f"delimiter = {_toml_str(head.delimiter)}  # the sample's header splits on it")
    if head.encoding != "utf-8":
        lines.append(
            f"encoding = {_toml_str(head.encoding)}  # CHECK: the sample is not UTF-8; "
            f"{head.encoding} reads it (Windows Western European)"
        )
    if head.null_values:
        found = ", ".join(head.null_values)
        markers = ", ".join(_toml_str(n) for n in head.null_values)
        lines.append(
            f"null_values = [{markers}]  # sample cells holding exactly {found}: a SQL NULL"
        )
    return lines


def render_draft(head: Head, draft: Draft, name: str) -> str:
    """A mapping TOML draft: each field with a comment on why it was chosen (CHECK each one)."""
    lines = [
        f"# clerk-migrate mapping init: a draft for {name} (no preset recognised it).",
        "# Every guess below says why it was made; lines marked CHECK need a decision.",
        "# Reference: docs/mapping.md. Try it: clerk-migrate validate INPUT --mapping THIS_FILE",
        "",
        "[source]",
        *_source_lines(head),
    ]
    if head.container:
        lines.append(f"json_key = {_toml_str(head.container)}")
    external = next((g for g in draft.fields if g.field == "external_id"), None)
    if external is not None:
        lines.append(f"key = {_toml_str(external.column)}")
    lines += ["", "[fields]"]
    for guess in draft.fields:
        lines.append(f"{guess.field} = {_field_value(guess)}  # {guess.reason}")
        if guess.field == "password_digest" and draft.hasher is not None:
            lines.append(_hasher_line(draft))
    mapped = {g.field for g in draft.fields}
    if not {"email_address", "phone_number", "username"} & mapped:
        lines.append(
            "# CHECK: no column looks like an e-mail; Clerk needs an e-mail, phone or username"
        )
    if not {"password_digest", "password"} & mapped:
        lines.append("# No password column found: users are created without a password.")
    lines += _metadata_lines(draft, mapped)
    lines += [
        "",
        "[options]",
        "skip_password_requirement = true  # rows without a password are allowed",
    ]
    if "password" in mapped:
        lines.append(
            "skip_password_checks = true  # CHECK: keep plaintexts Clerk's password policy "
            "would refuse (users could not sign in otherwise)"
        )
    return "\n".join(lines) + "\n"


def _metadata_lines(draft: Draft, mapped: set[str]) -> list[str]:
    """Metadata-like and JSON columns as keys of the first metadata field not mapped whole."""
    lines: list[str] = []
    unused = list(draft.unused)
    table = next((t for t in ("public_metadata", "private_metadata") if t not in mapped), None)
    if draft.metadata and table is not None:
        why = "CHECK: public (readable by the browser) or private?"
        lines += ["", f"[fields.{table}]  # {why}"]
        for column in draft.metadata:
            json_text = column in draft.json_columns
            comment = "  # JSON text" if json_text else ""
            lines.append(f"{_key(column)} = {_value(column, (), json_text=json_text)}{comment}")
    else:
        unused = [*draft.metadata, *unused]
    if unused:
        lines += ["", "# Columns not mapped (add any you need, e.g. to private_metadata):"]
        lines += [f"#   {c}" for c in unused]
    return lines


def _hasher_line(draft: Draft) -> str:
    hasher = draft.hasher
    assert hasher is not None
    if hasher.hasher is not None or hasher.infer:
        # infer per row rather than a constant: rows without a digest then get no hasher either
        return f"password_hasher = {{ infer = true }}  # CHECK: {hasher.comment}"
    return f"# password_hasher = ?  CHECK: {hasher.comment}"


def _key(column: str) -> str:
    bare = column.replace("_", "").replace("-", "").isalnum()
    return column if bare else _toml_str(column)
