"""``check``: what the target instance will do with an input, before the first create.

Validates like ``validate``, then reads the instance's settings (its Frontend API, through the
publishable key, or a saved settings document) and, given a ``Connection``, looks the rows up
in the instance; see ``migrate._internal.instance``. Writes nothing to Clerk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from migrate._internal.api.connection import Connection, connect
from migrate._internal.api.validating import read_tenants
from migrate._internal.instance.check import CheckReport, check_input
from migrate._internal.instance.settings import frontend_api_url as resolve_frontend_api
from migrate._internal.mapping import load_mapping
from migrate._internal.prepare import PrepareOptions, prepare
from migrate.errors import ConfigError

__all__ = ["CheckReport", "check"]


def check(
    input: str | Path,
    mapping: str | Path,
    *,
    connection: Connection | None = None,
    publishable_key: str | None = None,
    frontend_api_url: str | None = None,
    settings: Mapping[str, Any] | None = None,
    source: Mapping[str, Any] | None = None,
    joins: Mapping[str, Path] | Sequence[Path] = (),
    rate: float | None = None,
    providers_column: str | None = None,
    organizations: str | Path | None = None,
    memberships: str | Path | None = None,
) -> CheckReport:
    """Check ``input`` (mapped by ``mapping``) against a Clerk instance; nothing is written.

    Settings come from ``settings`` (a document ``--save-settings`` wrote) or the Frontend API
    of ``publishable_key`` / ``frontend_api_url``; existing users and a development instance's
    headroom from ``connection`` (None: skipped, and said so in ``CheckReport.skipped``),
    paced at ``rate`` (default 90 % of the instance's limit). ``providers_column``: an input
    column naming each user's legacy sign-in providers, checked against the instance's social
    connections. A mapping with ``[organizations]`` has them checked too (read from
    ``organizations`` / ``memberships`` or the mapping's ``input``, as ``validate`` does):
    organizations and slugs on, and (with ``connection``) every role key the memberships use
    there. Raises ``ConfigError`` (a bad key
    or URL, before any work), ``MappingError``, ``SourceError``, ``ClerkError``.
    """
    resolve_frontend_api(publishable_key, frontend_api_url)
    env = dict(os.environ)
    spec = load_mapping(mapping, env)
    if not isinstance(joins, Mapping):
        if len(joins) > len(spec.joins):
            raise ConfigError(
                f"--join was given {len(joins)} file(s) but the mapping has "
                f"{len(spec.joins)} join(s)"
            )
        joins = {j.name: Path(path) for j, path in zip(spec.joins, joins, strict=False)}
    options = PrepareOptions(source=dict(source or {}), env=env, joins=dict(joins))
    prepared = prepare(Path(input), spec, options)
    kwargs: dict[str, Any] = {
        "publishable_key": publishable_key,
        "frontend_api_url_": frontend_api_url,
        "rate": rate,
        "environment": settings,
        "providers_column": providers_column,
    }
    try:
        kwargs["tenants"] = read_tenants(prepared, Path(input), organizations, memberships)
        if connection is None:
            return check_input(prepared, **kwargs)
        with connect(connection) as target:
            return check_input(prepared, target=target, **kwargs)
    finally:
        prepared.close()
