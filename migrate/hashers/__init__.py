"""Password digests: Clerk's grammar per hasher, inference from a digest's shape, conversions.

Pure: no I/O, no clock. ``grammar`` holds ``HASHERS``, ``DIGEST_PATTERNS`` (Rust-regex compatible,
so the same pattern runs in polars and in ``re``), ``UNSUPPORTED`` and ``digest_problem``;
``inference`` infers a hasher from a digest (``infer_hasher`` / ``infer_hasher_expr``);
``builders`` and ``converters`` turn export formats that Clerk does not take as-is (Firebase
scrypt, Supabase ``$fbscrypt$``, Devise, Keycloak, Django, ASP.NET Identity) into Clerk's, each as
a Python function and a polars expression. Nothing here ever puts a digest in a message.
"""

from migrate.hashers.builders import (
    CONVERSION_DTYPE,
    Conversion,
    devise_digest,
    devise_digest_expr,
    firebase_scrypt_digest,
    firebase_scrypt_digest_expr,
    supabase_digest,
    supabase_digest_expr,
)
from migrate.hashers.converters import (
    aspnet_identity_digest,
    aspnet_identity_digest_expr,
    django_digest,
    django_digest_expr,
    keycloak_digest,
    keycloak_digest_expr,
    keycloak_json_digest,
    keycloak_json_digest_expr,
)
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
    "CONVERSION_DTYPE",
    "DIGEST_PATTERNS",
    "DIGEST_SHAPES",
    "HASHERS",
    "UNSUPPORTED",
    "Conversion",
    "Inference",
    "aspnet_identity_digest",
    "aspnet_identity_digest_expr",
    "devise_digest",
    "devise_digest_expr",
    "digest_problem",
    "django_digest",
    "django_digest_expr",
    "firebase_scrypt_digest",
    "firebase_scrypt_digest_expr",
    "infer_hasher",
    "infer_hasher_expr",
    "keycloak_digest",
    "keycloak_digest_expr",
    "keycloak_json_digest",
    "keycloak_json_digest_expr",
    "supabase_digest",
    "supabase_digest_expr",
    "unsupported_problem",
]
