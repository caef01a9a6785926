"""Password digests: Clerk's grammar per hasher, inference from a digest's shape, conversions.

Pure: no I/O, no clock. ``grammar`` holds ``HASHERS``, ``DIGEST_PATTERNS`` (Rust-regex compatible,
so the same pattern runs in polars and in ``re``), ``UNSUPPORTED`` and ``digest_problem``;
``inference`` infers a hasher from a digest (``infer_hasher`` / ``infer_hasher_expr``);
``builders`` turns export formats that Clerk does not take as-is (Firebase scrypt, Supabase
``$fbscrypt$``, Keycloak, Django, ASP.NET Identity, Devise) into Clerk's, each as a Python function
and a polars expression. Nothing here ever puts a digest in a message.
"""

from migrate.hashers.grammar import (
    DIGEST_PATTERNS,
    DIGEST_SHAPES,
    HASHERS,
    UNSUPPORTED,
    digest_problem,
    unsupported_problem,
)
from migrate.hashers.inference import Inference, infer_hasher, infer_hasher_expr

__all__ = [
    "DIGEST_PATTERNS",
    "DIGEST_SHAPES",
    "HASHERS",
    "UNSUPPORTED",
    "Inference",
    "digest_problem",
    "infer_hasher",
    "infer_hasher_expr",
    "unsupported_problem",
]
