"""Load a mapping (a TOML file or a preset name) into a ``MappingSpec``, reporting every problem.

Nothing is ignored: an unknown key, an unknown CreateUser field, an unknown transform, a literal
secret or a missing environment variable is a problem with its exact key path and what is allowed.
All problems are collected and raised together as one ``MappingError`` before any row is read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

from migrate._internal.mapping.accounts import DISABLED_MODES, STATUS_KEYS
from migrate._internal.mapping.fields import FieldParser, names, type_name
from migrate._internal.mapping.spec import (
    CLERK_FIELDS,
    FLAG_FIELDS,
    INT_FIELDS,
    FieldSpec,
    JoinSpec,
    MappingSpec,
    SourceSpec,
)
from migrate._internal.mapping.tenants import Tenants, parse_tenants
from migrate._internal.sources import FORMATS, SHORT_ROWS, SourceOptions
from migrate.errors import MappingError, MappingProblem

__all__ = [
    "GENERIC_TENANTS",
    "generic_tenants",
    "load_mapping",
    "parse_mapping",
    "preset_names",
    "presets_dir",
]

TOP_KEYS: Final = (
    "description", "source", "fields", "options", "status", "join", "organizations", "memberships",
    "roles",
)  # fmt: skip
SOURCE_KEYS: Final = (
    "format", "key", "has_header", "delimiter", "quote_char", "encoding", "json_key",
    "column_names", "null_values", "short_rows",
)  # fmt: skip
# The tenant tables taken when a file is given for a mapping without them (not a preset).
GENERIC_TENANTS: Final = "_tenants"
JOIN_KEYS: Final = (
    "name", "path", "required", "description", "if_missing", "on", "right_on", "format",
    "has_header", "delimiter", "quote_char", "encoding", "json_key", "null_values",
)  # fmt: skip


def presets_dir() -> Traversable:
    """The shipped presets: the ``migrate/mappings`` resource folder of the installed package."""
    return resources.files("migrate") / "mappings"


def preset_names() -> list[str]:
    """The names of the shipped presets (``auth0``, ``firebase``…), sorted; a file whose name
    starts with ``_`` is no preset (``_tenants.toml``)."""
    return sorted(
        p.name.removesuffix(".toml")
        for p in presets_dir().iterdir()
        if p.name.endswith(".toml") and not p.name.startswith("_")
    )


def generic_tenants() -> Tenants:
    """The generic tenant tables (``migrate/mappings/_tenants.toml``: ``organizations.csv`` with
    ``id, name, slug…``, ``memberships.csv`` with ``user_id, organization_id, role``)."""
    preset = presets_dir() / f"{GENERIC_TENANTS}.toml"
    loader = _Loader({}, None)
    tenants = parse_tenants(
        tomllib.loads(preset.read_text(encoding="utf-8")), loader, loader.read_options, None
    )
    if loader.problems:
        raise MappingError(str(preset), loader.problems)
    return tenants


def load_mapping(source: str | Path, env: Mapping[str, str]) -> MappingSpec:
    """Read a mapping file, or a preset by name, and check it whole.

    ``source`` is a path to a ``.toml`` file or a preset name (``auth0``: the packaged
    ``migrate/mappings/auth0.toml``).
    ``env`` supplies ``env:NAME`` values. Raises ``MappingError`` listing every problem.
    """
    path = Path(source)
    is_name = (
        isinstance(source, str) and not path.suffix and "/" not in source and "\\" not in source
    )
    if is_name and not path.is_file():
        preset = presets_dir() / f"{source}.toml"
        if not preset.is_file() or str(source).startswith("_"):
            known = ", ".join(preset_names()) or "none"
            raise MappingError(
                str(source),
                [
                    MappingProblem(
                        "", f"no mapping file or preset named {source!r}; presets: {known}"
                    )
                ],
            )
        return parse_mapping(preset.read_text(encoding="utf-8"), env, file=str(preset))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(str(path), [MappingProblem("", f"cannot be read: {exc}")]) from exc
    return parse_mapping(text, env, file=str(path), base_dir=path.parent)


def parse_mapping(
    text: str, env: Mapping[str, str], *, file: str = "<mapping>", base_dir: Path | None = None
) -> MappingSpec:
    """Parse mapping TOML text (see ``load_mapping``); join paths resolve against ``base_dir``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(file, [MappingProblem("", f"not valid TOML: {exc}")]) from exc
    return _Loader(env, base_dir).load(doc, file)


class _Loader(FieldParser):
    """Walks the TOML document once, collecting problems instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str], base_dir: Path | None) -> None:
        super().__init__(env)
        self.base_dir = base_dir

    def table(self, doc: Mapping[str, Any], key: str) -> dict[str, Any] | None:
        value = doc.get(key, {})
        if isinstance(value, dict):
            return value
        self.problem(key, f"must be a table, not {type_name(value)}")
        return None

    def load(self, doc: Mapping[str, Any], file: str) -> MappingSpec:
        self.unknown_keys(doc, TOP_KEYS, "")
        source = self.source(self.table(doc, "source") or {})
        table = self.table(doc, "fields")
        fields = self.fields(table) if table is not None else []
        raw_options = dict(self.table(doc, "options") or {})
        disabled = raw_options.pop("disabled", "ban")
        if disabled not in DISABLED_MODES:
            self.problem(
                "options.disabled",
                f"must be {' or '.join(repr(m) for m in DISABLED_MODES)} (what to do with an "
                "account the source marks disabled)",
            )
        options = self.options(raw_options, {name for name, _ in fields})
        status = self.status(self.table(doc, "status") or {})
        joins = self.joins(doc.get("join", []))
        tenants = parse_tenants(doc, self, self.read_options, self.base_dir)
        if self.problems:
            raise MappingError(file, self.problems)
        return MappingSpec(
            file,
            source,
            tuple(fields),
            tuple(options),
            tuple(joins),
            tuple(status),
            disabled,
            tenants.organizations,
            tenants.memberships,
            tenants.roles if "roles" in doc or tenants.memberships else None,
        )

    def status(self, table: Mapping[str, Any]) -> list[tuple[str, FieldSpec]]:
        self.unknown_keys(table, tuple(STATUS_KEYS), "status")
        out: list[tuple[str, FieldSpec]] = []
        for key in STATUS_KEYS:
            if key in table:
                spec = self.field(f"status.{key}", table[key], "string")
                if spec is not None:
                    out.append((key, spec))
        return out

    # --- [source] and [[join]] -----------------------------------------------------------------

    def read_options(self, table: Mapping[str, Any], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        checks: dict[str, tuple[type, str]] = {
            "has_header": (bool, "a boolean"),
            "delimiter": (str, "one character"),
            "quote_char": (str, 'one character or "" for no quoting'),
            "encoding": (str, "an encoding name such as utf-8, latin-1, cp1252"),
            "json_key": (str, "a key name"),
        }
        for key, (kind, what) in checks.items():
            if key not in table:
                continue
            value = table[key]
            if not isinstance(value, kind) or (key == "delimiter" and len(str(value)) != 1):
                self.problem(f"{path}.{key}", f"must be {what}")
            elif key == "quote_char":
                out[key] = value or None
            else:
                out[key] = value
        if "format" in table:
            fmt = table["format"]
            if fmt in FORMATS:
                out["format"] = fmt
            else:
                self.problem(f"{path}.format", f"unknown format {fmt!r}; allowed: {names(FORMATS)}")
        if "null_values" in table:
            nulls = table["null_values"]
            if isinstance(nulls, list) and all(isinstance(v, str) and v for v in nulls):
                out["null_values"] = tuple(nulls)
            else:
                self.problem(
                    f"{path}.null_values", 'must be a list of texts such as ["NULL", "\\\\N"]'
                )
        if "short_rows" in table:
            if table["short_rows"] in SHORT_ROWS:
                out["short_rows"] = table["short_rows"]
            else:
                self.problem(
                    f"{path}.short_rows",
                    'must be "invalid" (a row with fewer fields than the header is an error) or '
                    '"pad" (its missing last fields are empty: some exporters leave them out)',
                )
        if "encoding" in out:
            import codecs  # noqa: PLC0415  # only needed to check a rarely-set option

            try:
                codecs.lookup(out["encoding"])
            except LookupError:
                self.problem(f"{path}.encoding", f"unknown encoding {out['encoding']!r}")
        return out

    def source(self, table: Mapping[str, Any]) -> SourceSpec:
        self.unknown_keys(table, SOURCE_KEYS, "source")
        opts = self.read_options(table, "source")
        key = self.field("source.key", table["key"], "string") if "key" in table else None
        given = table.get("column_names")
        column_names: tuple[str, ...] | None = None
        if given is not None:
            if isinstance(given, list) and given and all(isinstance(n, str) for n in given):
                column_names = tuple(given)
            else:
                self.problem("source.column_names", "must be a list of column names")
        return SourceSpec(key=key, column_names=column_names, **opts)

    def joins(self, value: Any) -> list[JoinSpec]:
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            self.problem("join", "must be a table or [[join]] tables")
            return []
        out: list[JoinSpec] = []
        seen: set[str] = set()
        for i, table in enumerate(value):
            path = f"join[{i}]"
            if not isinstance(table, dict):
                self.problem(path, "must be a table")
                continue
            self.unknown_keys(table, JOIN_KEYS, path)
            for required in ("name", "on", "right_on"):
                if required not in table:
                    self.problem(f"{path}.{required}", "is required")
            name = table.get("name", f"join{i}")
            if not isinstance(name, str) or not name or "." in name:
                self.problem(f"{path}.name", "must be a name without dots")
            elif name in seen:
                self.problem(f"{path}.name", f"{name!r} is already the name of another join")
            seen.add(name if isinstance(name, str) else "")
            file = table.get("path")
            if file is not None and not isinstance(file, str):
                self.problem(f"{path}.path", "must be a file path")
            needed = table.get("required", True)
            if not isinstance(needed, bool):
                self.problem(f"{path}.required", f"must be true or false, not {type_name(needed)}")
                needed = True
            texts = {k: table.get(k, "") for k in ("description", "if_missing")}
            for k, v in texts.items():
                if not isinstance(v, str):
                    self.problem(f"{path}.{k}", f"must be a text, not {type_name(v)}")
                    texts[k] = ""
            opts = self.read_options(table, path)
            on = self.field(f"{path}.on", table.get("on", ""), "string")
            right = self.field(f"{path}.right_on", table.get("right_on", ""), "string")
            if on is None or right is None or not isinstance(name, str):
                continue
            resolved = Path(file) if isinstance(file, str) else Path()
            if isinstance(file, str) and self.base_dir is not None and not resolved.is_absolute():
                resolved = self.base_dir / resolved
            out.append(JoinSpec(name, resolved, on, right, SourceOptions(**opts), needed, **texts))
        return out

    # --- [fields] and [options] ----------------------------------------------------------------

    def fields(self, table: Mapping[str, Any]) -> list[tuple[str, FieldSpec]]:
        if not table:
            self.problem("fields", "no fields are mapped; map at least one CreateUser field")
        out: list[tuple[str, FieldSpec]] = []
        for name, value in table.items():
            path = f"fields.{name}"
            kind = CLERK_FIELDS.get(name)
            if kind is None:
                self.problem(
                    path, f"unknown CreateUser field {name!r}; allowed: {names(CLERK_FIELDS)}"
                )
                continue
            spec = self.field(path, value, kind, clerk_field=name)
            if spec is not None:
                out.append((name, spec))
        return out

    def options(self, table: Mapping[str, Any], mapped: set[str]) -> list[tuple[str, bool | int]]:
        allowed = (*FLAG_FIELDS, *INT_FIELDS)
        out: list[tuple[str, bool | int]] = []
        for name, value in table.items():
            path = f"options.{name}"
            if name not in allowed:
                self.problem(path, f"unknown CreateUser flag {name!r}; allowed: {names(allowed)}")
            elif name in mapped:
                self.problem(path, "is also set in [fields]; set it in one place")
            elif name in FLAG_FIELDS and not isinstance(value, bool):
                self.problem(path, f"must be true or false, not {type_name(value)}")
            elif name in INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
                self.problem(path, f"must be an integer, not {type_name(value)}")
            else:
                out.append((name, value))
        return out
