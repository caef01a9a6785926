"""A mapping's fingerprint: what it does, not how its file is written.

Comments, whitespace and key order do not change it; any change to a field's source,
transforms, default, the ``[source]`` table, ``[options]``, a join or a tenant table
(``[organizations]``, ``[memberships]``, ``[roles]``; not where their ``input`` is, whose
contents the run's input fingerprints hold) does, and the fingerprint
holds a hash per part so a mismatch can name the part (``state.Fingerprints.mapping_changes``).
Pure: data in, text out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import Path
from typing import Any, Final

from migrate._internal.mapping.spec import MappingSpec

__all__ = ["PREFIX", "mapping_fingerprint"]

PREFIX: Final = "spec1:"
# where a value is written or how it is explained, not what it does
_NOT_MEANING: Final = frozenset({"file", "path", "description", "if_missing"})


def _canonical(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            "_type": type(value).__name__,
            **{
                f.name: _canonical(getattr(value, f.name))
                for f in dataclasses.fields(value)
                if f.name not in _NOT_MEANING
            },
        }
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return value.name
    return value


def _digest(value: Any) -> str:
    text = json.dumps(_canonical(value), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mapping_fingerprint(spec: MappingSpec) -> str:
    """``spec1:`` and a JSON object of hashes per part: ``[source]``, ``[options]``, each
    field (by Clerk name), each join and each tenant table the mapping has, so two
    fingerprints can name what differs (a mapping without tenant tables keeps the
    fingerprint it had before they existed)."""
    parts = {"[source]": _digest(spec.source), "[options]": _digest(sorted(spec.options))}
    parts |= {f"fields.{name}": _digest(field) for name, field in spec.fields}
    parts |= {f"join.{join.name}": _digest(join) for join in spec.joins}
    for name in ("organizations", "memberships", "roles"):
        table = getattr(spec, name)
        if table is not None:
            parts[f"[{name}]"] = _digest(
                dataclasses.replace(table, input=Path()) if hasattr(table, "input") else table
            )
    return PREFIX + json.dumps(parts, sort_keys=True, separators=(",", ":"))
