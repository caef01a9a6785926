"""The mapping language: TOML that maps an export's columns onto Clerk's CreateUser fields.

``load_mapping`` (TOML or preset name -> ``MappingSpec``, every problem reported at once),
``compile_mapping`` (spec + input frame -> the mapped frame, pure polars), and ``payload``
(mapped row -> the exact CreateUser body, and its masked preview). See docs/mapping.md.
"""

from migrate._internal.mapping.compile import FIELD_DTYPES, KEY_COLUMN, compile_mapping
from migrate._internal.mapping.load import load_mapping, parse_mapping, preset_names
from migrate._internal.mapping.payload import mask_payload, payload_from_record, payloads_from_frame
from migrate._internal.mapping.spec import CLERK_FIELDS, FieldSpec, JoinSpec, MappingSpec

__all__ = [
    "CLERK_FIELDS",
    "FIELD_DTYPES",
    "KEY_COLUMN",
    "FieldSpec",
    "JoinSpec",
    "MappingSpec",
    "compile_mapping",
    "load_mapping",
    "mask_payload",
    "parse_mapping",
    "payload_from_record",
    "payloads_from_frame",
    "preset_names",
]
