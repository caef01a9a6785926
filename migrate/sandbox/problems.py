"""Clerk's error body, and the catalogue of errors the sandbox can answer with.

Shape (reference/clerk-api.md §3, SPEC ``ClerkErrors``)::

    {"errors": [{"message", "long_message", "code", "meta": {"param_name": ...}}],
     "meta": {}, "clerk_trace_id": "<32 hex>"}

Messages follow Clerk's error catalogue (clerk-docs ``data/api_errors.json``). A message never
quotes a password, digest, TOTP secret or backup code; it may quote an identifier, as Clerk does.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "TRACE_ID",
    "Problem",
    "error_body",
    "form_problem",
    "identifier_exists",
    "type_invalid",
    "unknown_param",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One entry of ``errors[]``: a machine code, two messages, and the offending parameter."""

    code: str
    message: str
    long_message: str
    param: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The entry as Clerk serialises it (``meta.param_name`` only when a param is known)."""
        meta: dict[str, Any] = dict(self.meta)
        if self.param is not None:
            meta["param_name"] = self.param
        return {
            "message": self.message,
            "long_message": self.long_message,
            "code": self.code,
            "meta": meta,
        }


# The current request's trace id (set by the app per request; also sent as Clerk-Trace-Id).
TRACE_ID: ContextVar[str | None] = ContextVar("clerk_trace_id", default=None)


def error_body(problems: Iterable[Problem], trace_id: str | None = None) -> bytes:
    """Serialise problems into Clerk's error body; ``clerk_trace_id`` is the request's."""
    body = {
        "errors": [p.as_json() for p in problems],
        "meta": {},
        "clerk_trace_id": trace_id or TRACE_ID.get() or secrets.token_hex(16),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def form_problem(code: str, param: str, long_message: str, message: str = "is invalid") -> Problem:
    """A 422 form error on ``param``."""
    return Problem(code, message, long_message, param)


def unknown_param(param: str, resolution: str = "") -> Problem:
    """``form_param_unknown``: a key the endpoint does not take, or a disabled feature's key."""
    return Problem(
        "form_param_unknown",
        "is unknown",
        f"{param} is not a valid parameter for this request.{resolution}",
        param,
    )


def type_invalid(param: str, value: object, expected: str) -> Problem:
    """``form_param_value_invalid`` for a JSON value of the wrong type (Clerk's body parser)."""
    received = _json_type(value)
    return Problem(
        "form_param_value_invalid",
        "is invalid",
        f"{param} is invalid. Received {received}, must be of type {expected}.",
        param,
    )


def identifier_exists(param: str) -> Problem:
    """``form_identifier_exists``: the identifier is already taken by another user."""
    noun = param.replace("_", " ")
    return Problem(
        "form_identifier_exists",
        f"That {noun} is taken. Please try another.",
        f"That {noun} is taken. Please try another.",
        param,
    )


def data_missing(names: Sequence[str]) -> Problem:
    """``form_data_missing``: the instance requires fields the request lacks."""
    quoted = " ".join(f'"{n}"' for n in names)
    text = f"[{quoted}] data doesn't match user requirements set for this instance"
    return Problem(
        "form_data_missing",
        "missing data",
        text,
        None,
        {"param_names": list(names)},
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
