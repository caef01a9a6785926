"""Password digests: Clerk's grammar per hasher, inference from a digest's shape, conversions.

Pure: no I/O, no clock. ``grammar`` holds ``HASHERS``, ``DIGEST_PATTERNS`` (Rust-regex compatible,
so the same pattern runs in polars and in ``re``), ``UNSUPPORTED`` and ``digest_problem``;
``inference`` infers a hasher from a digest (``infer_hasher`` / ``infer_hasher_expr``);
``builders`` and ``converters`` turn export formats that Clerk does not take as-is (Firebase
scrypt, Supabase ``$fbscrypt$``, Devise, Keycloak, Django, ASP.NET Identity) into Clerk's, each as
a Python function and a polars expression. Nothing here ever puts a digest in a message.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from migrate._internal.hashers.grammar import (
    DIGEST_PATTERNS,
    DIGEST_SHAPES,
    HASHERS,
    UNSUPPORTED,
    digest_problem,
    unsupported_problem,
)

if TYPE_CHECKING:
    from migrate._internal.hashers.builders import (
        CONVERSION_DTYPE,
        Conversion,
        devise_digest,
        devise_digest_expr,
        firebase_scrypt_digest,
        firebase_scrypt_digest_expr,
        supabase_digest,
        supabase_digest_expr,
    )
    from migrate._internal.hashers.converters import (
        aspnet_identity_digest,
        aspnet_identity_digest_expr,
        django_digest,
        django_digest_expr,
        keycloak_digest,
        keycloak_digest_expr,
        keycloak_json_digest,
        keycloak_json_digest_expr,
    )
    from migrate._internal.hashers.inference import Inference, infer_hasher, infer_hasher_expr

# The modules below import polars (~0.5 s); they load on first use, so that importing the pure
# grammar (the sandbox does) costs nothing more.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "CONVERSION_DTYPE",
            "Conversion",
            "devise_digest",
            "devise_digest_expr",
            "firebase_scrypt_digest",
            "firebase_scrypt_digest_expr",
            "supabase_digest",
            "supabase_digest_expr",
        ),
        "builders",
    ),
    **dict.fromkeys(
        (
            "aspnet_identity_digest",
            "aspnet_identity_digest_expr",
            "django_digest",
            "django_digest_expr",
            "keycloak_digest",
            "keycloak_digest_expr",
            "keycloak_json_digest",
            "keycloak_json_digest_expr",
        ),
        "converters",
    ),
    **dict.fromkeys(("Inference", "infer_hasher", "infer_hasher_expr"), "inference"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
