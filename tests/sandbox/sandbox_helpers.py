"""Helpers for the sandbox's tests: Clerk's JSON schemas and assertions on error bodies.

A plain module (not conftest) with a unique name, so test modules can import it by name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema

from migrate.sandbox import SandboxHandle

# A verbatim copy of shared/reference/create-user-request.schema.json (extracted from Clerk's
# OpenAPI spec), kept here so the tests need nothing outside the repository.
SCHEMA_PATH = Path(__file__).parent / "data" / "create-user-request.schema.json"
API_VERSION = "2025-11-10"


def _validator(ref: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    root = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": ref}
    return jsonschema.Draft202012Validator(root)


USER_SCHEMA = _validator("#/$defs/User")
ERRORS_SCHEMA = _validator("#/$defs/ClerkErrors")
REQUEST_SCHEMA = _validator("#/$defs/CreateUserRequest")


def assert_user(body: Any) -> None:
    """Fail unless ``body`` is a valid Clerk ``User`` object."""
    USER_SCHEMA.validate(body)


def assert_errors(
    response: httpx.Response, status: int, code: str, param: str | None = None
) -> dict[str, Any]:
    """Fail unless ``response`` is Clerk's error body with this status, first code and param.

    Also checks that the ``Clerk-Trace-Id`` header names the body's ``clerk_trace_id``.
    """
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    ERRORS_SCHEMA.validate(body)
    first = body["errors"][0]
    assert first["code"] == code, body
    if param is not None:
        assert first["meta"].get("param_name") == param, body
    assert len(body["clerk_trace_id"]) == 32
    assert response.headers["clerk-trace-id"] == body["clerk_trace_id"]
    return body


def headers(handle: SandboxHandle | str) -> dict[str, str]:
    """Authorization and version headers for a sandbox (or a bare key)."""
    key = handle if isinstance(handle, str) else handle.secret_key
    return {"Authorization": f"Bearer {key}", "Clerk-API-Version": API_VERSION}


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds (the server runs in another thread); fail after timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)
