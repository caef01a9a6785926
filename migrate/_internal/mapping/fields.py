"""Parse one value spec of a mapping (a field, a metadata key, a builder input, a join key).

``FieldParser`` turns the TOML value of one key into a ``FieldSpec``: a column name, or a table
with exactly one origin (``column``, ``columns``, ``value``, ``template``, ``env``, ``infer``,
``builder``, ``object``) and optional modifiers (``transform``, ``default``, ``split``, ``parse``,
``format``, ``region``). Problems are collected with their key path, never raised one by one.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any, Final

from migrate._internal.mapping.builders import BUILDERS
from migrate._internal.mapping.spec import (
    STATUS_FIELDS,
    STATUS_VALUES,
    BuilderArg,
    BuilderSource,
    ColumnSource,
    ColumnsSource,
    ConstantSource,
    FieldSpec,
    FirstOfSource,
    GroupsSource,
    InferSource,
    ObjectSource,
    Source,
    TemplateSource,
    Transform,
    VerifiedSource,
)
from migrate._internal.mapping.transforms import TIMESTAMP_MODES, TRANSFORMS, region_problem
from migrate._internal.secrets import Secret
from migrate.errors import MappingProblem

__all__ = ["ENV_PREFIX", "MODIFIERS", "ORIGINS", "FieldParser", "names", "type_name"]

ORIGINS: Final = (
    "column", "columns", "columns_any", "first_of", "value", "template", "env", "infer", "builder",
    "object", "verified",
)  # fmt: skip
MODIFIERS: Final = (
    "transform", "default", "split", "parse", "format", "region", "optional", "if_invalid",
)  # fmt: skip
PARSES: Final = ("json", "timestamp")
ENV_PREFIX: Final = "env:"


def names(values: Any) -> str:
    """``a, b, c``: how a message lists what is allowed."""
    return ", ".join(values)


def type_name(value: object) -> str:
    """How a message names a TOML value's type (``a string``, ``a table``…)."""
    return {
        str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)  # fmt: skip


class FieldParser:
    """Collects problems while parsing value specs; ``kind`` is a field kind or ``entry``."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[MappingProblem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(MappingProblem(path, message))

    def unknown_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
        for key in table:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                self.problem(where, f"unknown key; allowed: {names(allowed)}")

    def field(self, path: str, value: Any, kind: str, clerk_field: str = "") -> FieldSpec | None:
        """One value spec: a column name, or a table with one origin and optional modifiers."""
        if isinstance(value, str):
            if not value:
                self.problem(path, "must name a column")
                return None
            return FieldSpec(ColumnSource(value), path=path)
        if not isinstance(value, dict):
            self.problem(
                path,
                f'must be a column name or a table such as {{ column = "..." }}, '
                f"not {type_name(value)}",
            )
            return None
        origins = [k for k in ORIGINS if k in value]
        if not origins and kind in ("metadata", "entry"):
            return self.object_field(path, value)
        if "builder" in value:
            return self.builder_field(path, value, kind, clerk_field)
        if clerk_field in STATUS_FIELDS.values() and ("verified" in value or "reserved" in value):
            return self.groups_field(path, value, kind)
        self.unknown_keys(value, (*ORIGINS, *MODIFIERS), path)
        if len(origins) != 1:
            found = f"found {names(origins)}" if origins else "found none"
            self.problem(path, f"needs exactly one of {names(ORIGINS)}; {found}")
            return None
        if origins[0] == "infer" and len(value) > 1:
            extra = names(k for k in value if k != "infer")
            self.problem(path, f"infer takes no other key (found {extra})")
            return None
        source = self.origin(path, origins[0], value[origins[0]], kind, clerk_field)
        transforms = self.transforms(path, value, kind)
        default = self.default(path, value.get("default"), kind)
        optional = value.get("optional", False)
        if not isinstance(optional, bool):
            self.problem(f"{path}.optional", f"must be true or false, not {type_name(optional)}")
            return None
        if_invalid = value.get("if_invalid")
        if if_invalid is not None and (
            clerk_field != "username" or if_invalid != "legacy_username"
        ):
            self.problem(
                f"{path}.if_invalid",
                'only username takes it, as "legacy_username" (a username Clerk refuses is '
                "kept in private_metadata.legacy_username)",
            )
            return None
        if source is None or transforms is None:
            return None
        return FieldSpec(source, transforms, default, path, optional, if_invalid)

    def origin(self, path: str, key: str, raw: Any, kind: str, clerk_field: str) -> Source | None:
        where = f"{path}.{key}"
        if key == "column":
            if isinstance(raw, str) and raw:
                return ColumnSource(raw)
            self.problem(where, "must name a column")
        elif key in ("columns", "columns_any"):
            if isinstance(raw, list) and raw and all(isinstance(c, str) and c for c in raw):
                return ColumnsSource(tuple(raw), any=key == "columns_any")
            self.problem(where, "must be a non-empty list of column names")
        elif key == "first_of":
            if kind not in ("string", "entry", "flag", "int"):
                self.problem(where, "only fields with one value (not lists) take first_of")
            elif isinstance(raw, list) and raw:
                items = [self.field(f"{where}[{i}]", item, "string") for i, item in enumerate(raw)]
                if all(item is not None for item in items):
                    return FirstOfSource(tuple(i for i in items if i is not None))
            else:
                self.problem(where, "must be a non-empty list of value specs")
        elif key == "value":
            return self.constant(where, raw, kind)
        elif key == "template":
            return self.template(where, raw)
        elif key == "env":
            secret = self.env_value(where, f"{ENV_PREFIX}{raw}" if isinstance(raw, str) else raw)
            return ConstantSource(secret) if secret is not None else None
        elif key == "infer":
            if clerk_field != "password_hasher":
                self.problem(where, "only password_hasher can be inferred")
            elif raw is not True:
                self.problem(where, "must be true")
            else:
                return InferSource()
        elif key == "verified":
            if kind != "status":
                self.problem(where, f"only {names(STATUS_FIELDS)} are read from a verified flag")
            else:
                flag = self.field(where, raw, "string")
                return VerifiedSource(flag) if flag is not None else None
        elif key == "object":
            if kind not in ("metadata", "entry"):
                self.problem(where, "only metadata fields hold objects")
            elif isinstance(raw, dict):
                return self.object_source(where, raw)
            else:
                self.problem(where, "must be a table")
        return None

    def constant(self, where: str, raw: Any, kind: str) -> Source | None:
        if kind == "entry":
            if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
                return ConstantSource(tuple(raw))
            if isinstance(raw, str | int | float | bool):
                return ConstantSource(raw)
            self.problem(where, "must be a string, number, boolean or list of strings")
        elif kind == "status":
            values = [raw] if isinstance(raw, str) else raw
            if isinstance(values, list) and values and all(v in STATUS_VALUES for v in values):
                return ConstantSource(raw if isinstance(raw, str) else tuple(raw))
            self.problem(where, f"must be {' or '.join(STATUS_VALUES)}, or a list of them")
        elif kind == "flag" and not isinstance(raw, bool):
            self.problem(where, f"must be true or false, not {type_name(raw)}")
        elif kind == "int" and (isinstance(raw, bool) or not isinstance(raw, int)):
            self.problem(where, f"must be an integer, not {type_name(raw)}")
        elif kind == "list" and isinstance(raw, list):
            if all(isinstance(v, str) for v in raw):
                return ConstantSource(tuple(raw))
            self.problem(where, "must be a string or a list of strings")
        elif kind in ("string", "list") and (
            isinstance(raw, bool) or not isinstance(raw, str | int | float)
        ):
            self.problem(where, f"must be a string, not {type_name(raw)}")
        elif kind == "metadata":
            self.problem(where, "a metadata constant is a table: use { object = { ... } }")
        else:
            return ConstantSource(raw)
        return None

    def template(self, where: str, raw: Any) -> Source | None:
        if not isinstance(raw, str):
            self.problem(where, 'must be a string such as "{given} {family}"')
            return None
        names: list[str] = []
        try:
            for _literal, name, spec, conv in string.Formatter().parse(raw):
                if name is None:
                    continue
                if not name or spec or conv:
                    self.problem(where, "placeholders are plain column names such as {email}")
                    return None
                names.append(name)
        except ValueError as exc:
            self.problem(where, f"malformed template: {exc}")
            return None
        if not names:
            self.problem(where, "names no column; use { value = ... } for a constant")
            return None
        return TemplateSource(raw, tuple(names))

    def env_value(self, where: str, raw: Any) -> Secret | None:
        if not isinstance(raw, str) or not raw.startswith(ENV_PREFIX) or raw == ENV_PREFIX:
            self.problem(where, 'must be "env:NAME" naming an environment variable')
            return None
        name = raw.removeprefix(ENV_PREFIX)
        if name not in self.env:
            self.problem(where, f"environment variable {name} is not set")
            return None
        return Secret(self.env[name])

    def object_field(self, path: str, table: Mapping[str, Any]) -> FieldSpec | None:
        source = self.object_source(path, table)
        return FieldSpec(source, path=path) if source is not None else None

    def object_source(self, path: str, table: Mapping[str, Any]) -> ObjectSource | None:
        if not table:
            self.problem(path, "an object needs at least one key")
            return None
        entries: list[tuple[str, FieldSpec]] = []
        for key, value in table.items():
            spec = self.field(f"{path}.{key}", value, "entry")
            if spec is not None:
                entries.append((key, spec))
        return ObjectSource(tuple(entries)) if len(entries) == len(table) else None

    def groups_field(self, path: str, value: Mapping[str, Any], kind: str) -> FieldSpec | None:
        """Addresses in a verified and an unverified group; split and transform apply to both."""
        self.unknown_keys(value, ("verified", "reserved", "split", "transform"), path)
        modifiers = {k: value[k] for k in ("split", "transform") if k in value}
        groups: dict[str, FieldSpec | None] = {}
        ok = True
        for group in ("verified", "reserved"):
            raw = value.get(group)
            if raw is None:
                groups[group] = None
                continue
            where = f"{path}.{group}"
            if isinstance(raw, str) and raw and modifiers:
                raw = {"column": raw}
            if isinstance(raw, dict) and modifiers:
                clash = [k for k in modifiers if k in raw]
                if clash:
                    self.problem(where, f"sets {names(clash)} again; set it in one place")
                    ok = False
                    continue
                raw = {**raw, **modifiers}
            spec = self.field(where, raw, kind)
            ok = ok and spec is not None
            groups[group] = spec
        if not ok:
            return None
        return FieldSpec(GroupsSource(groups["verified"], groups["reserved"]), path=path)

    def builder_field(
        self, path: str, value: Mapping[str, Any], kind: str, clerk_field: str
    ) -> FieldSpec | None:
        name = value["builder"]
        if clerk_field != "password_digest":
            self.problem(f"{path}.builder", "only password_digest is built by a builder")
            return None
        builder = BUILDERS.get(name) if isinstance(name, str) else None
        if builder is None:
            self.problem(f"{path}.builder", f"unknown builder {name!r}; allowed: {names(BUILDERS)}")
            return None
        self.unknown_keys(value, ("builder", *builder.slots, "transform", "default"), path)
        args: list[BuilderArg] = []
        for slot, spec in builder.slots.items():
            where = f"{path}.{slot}"
            raw = value.get(slot)
            if raw is None:
                if spec.default is not None:
                    args.append(BuilderArg(slot, constant=spec.default))
                elif spec.required:
                    self.problem(where, f"is required by the {name} builder ({spec.doc})")
                continue
            if spec.kind == "secret":
                if isinstance(raw, str) and raw.startswith(ENV_PREFIX):
                    secret = self.env_value(where, raw)
                    if secret is not None:
                        args.append(BuilderArg(slot, secret=secret))
                else:
                    self.problem(
                        where,
                        "a secret cannot be written in a mapping file; "
                        'write "env:NAME" and set the environment variable NAME',
                    )
            elif spec.kind == "const":
                if isinstance(raw, str) and raw.startswith(ENV_PREFIX):
                    secret = self.env_value(where, raw)
                    if secret is not None:
                        args.append(BuilderArg(slot, constant=secret.reveal()))
                elif isinstance(raw, str | int) and not isinstance(raw, bool):
                    args.append(BuilderArg(slot, constant=raw))
                else:
                    self.problem(where, f"must be a string or an integer, not {type_name(raw)}")
            else:
                field = self.field(where, raw, "string")
                if field is not None:
                    args.append(BuilderArg(slot, spec=field))
        transforms = self.transforms(path, value, kind)
        default = self.default(path, value.get("default"), kind)
        if transforms is None:
            return None
        return FieldSpec(BuilderSource(name, tuple(args)), transforms, default, path)

    # --- modifiers -----------------------------------------------------------------------------

    def transforms(
        self, path: str, table: Mapping[str, Any], kind: str
    ) -> tuple[Transform, ...] | None:
        steps: list[Transform] = []
        ok = True
        if "split" in table:
            sep = table["split"]
            if isinstance(sep, str) and sep:
                steps.append(Transform("split", sep))
            else:
                self.problem(f"{path}.split", 'must be a separator such as ";"')
                ok = False
        raw = table.get("transform", [])
        items = [raw] if isinstance(raw, str | dict) else raw
        if not isinstance(items, list):
            self.problem(f"{path}.transform", "must be a transform name or a list of them")
            return None
        for i, item in enumerate(items):
            where = f"{path}.transform[{i}]" if isinstance(raw, list) else f"{path}.transform"
            step = self.transform(where, item, table)
            ok = ok and step is not None
            if step is not None:
                steps.append(step)
        named = {
            i if isinstance(i, str) else next(iter(i), "")
            for i in items
            if isinstance(i, str | dict)
        }
        parse = table.get("parse")
        if parse is not None:
            if parse in PARSES:
                step = self.transform(f"{path}.parse", parse, table)
                ok = ok and step is not None
                steps += [step] if step is not None else []
                named.add(parse)
            else:
                self.problem(f"{path}.parse", f"unknown parse {parse!r}; allowed: {names(PARSES)}")
                ok = False
        if "format" in table and "timestamp" not in named:
            self.problem(f"{path}.format", 'only applies with parse = "timestamp"')
            ok = False
        if "region" in table and "e164" not in named:
            self.problem(f"{path}.region", "only applies with the e164 transform")
            ok = False
        if any(s.name == "split" for s in steps) and kind not in ("list", "status", "entry"):
            self.problem(path, "split makes a list; only list fields (email_address…) take one")
            ok = False
        return tuple(steps) if ok else None

    def transform(self, where: str, item: Any, table: Mapping[str, Any]) -> Transform | None:
        if isinstance(item, dict):
            if len(item) != 1:
                self.problem(
                    where, 'a transform with an argument is a one-key table: { prefix = "+" }'
                )
                return None
            ((name, arg),) = item.items()
        elif isinstance(item, str):
            name, arg = item, None
        else:
            self.problem(where, f"must be a transform name, not {type_name(item)}")
            return None
        tdef = TRANSFORMS.get(name)
        if tdef is None:
            self.problem(where, f"unknown transform {name!r}; allowed: {names(TRANSFORMS)}")
            return None
        if tdef.arg == "region":
            arg = arg if arg is not None else table.get("region")
            problem = region_problem(arg) if isinstance(arg, str) else None
            if arg is not None and not isinstance(arg, str):
                problem = "the region must be a two-letter code such as 'US'"
            if problem:
                self.problem(where, problem)
                return None
            return Transform(name, arg.upper() if isinstance(arg, str) else None)
        if tdef.arg == "timestamp":
            arg = arg if arg is not None else table.get("format")
            if arg is None or (isinstance(arg, str) and (arg in TIMESTAMP_MODES or "%" in arg)):
                return Transform(name, arg)
            self.problem(
                where,
                f"timestamp takes {names(TIMESTAMP_MODES)} or a strftime format such as "
                f'"%d/%m/%Y", not {arg!r}',
            )
            return None
        return self.transform_arg(where, name, tdef.arg, arg)

    def transform_arg(self, where: str, name: str, kind: str, arg: Any) -> Transform | None:
        if kind == "none":
            if arg is None:
                return Transform(name)
            self.problem(where, f'{name} takes no argument; write it as "{name}"')
        elif kind == "text":
            if isinstance(arg, str) and arg:
                return Transform(name, arg)
            self.problem(where, f'{name} needs a text argument: {{ {name} = "..." }}')
        elif kind == "texts":
            values = [arg] if isinstance(arg, str) else arg
            if isinstance(values, list) and all(isinstance(v, str) for v in values):
                return Transform(name, tuple(values))
            self.problem(where, f"{name} needs a text or a list of texts")
        elif kind == "pair":
            if isinstance(arg, list) and len(arg) == 2 and all(isinstance(v, str) for v in arg):
                return Transform(name, (arg[0], arg[1]))
            self.problem(where, f'{name} needs [old, new]: {{ {name} = ["\'", ""] }}')
        return None

    def default(self, path: str, raw: Any, kind: str) -> Any:
        if raw is None:
            return None
        where = f"{path}.default"
        ok = {
            "string": isinstance(raw, str),
            "list": isinstance(raw, str)
            or (isinstance(raw, list) and all(isinstance(v, str) for v in raw)),
            "status": raw in STATUS_VALUES,
            "metadata": isinstance(raw, str),
            "flag": isinstance(raw, bool),
            "entry": isinstance(raw, str | int | float | bool),
            "int": isinstance(raw, int) and not isinstance(raw, bool),
        }[kind]
        if not ok:
            what = {
                "string": "a string", "list": "a string or a list of strings",
                "status": " or ".join(STATUS_VALUES),
                "metadata": "JSON text", "flag": "true or false", "int": "an integer",
                "entry": "a string, number or boolean",
            }[kind]  # fmt: skip
            self.problem(where, f"must be {what}, not {type_name(raw)}")
            return None
        if kind == "list":
            return (raw,) if isinstance(raw, str) else tuple(raw)
        return raw
