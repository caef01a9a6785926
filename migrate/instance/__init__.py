"""Knowing the target instance before the first create: settings, findings, existing users.

- ``settings``: ``InstanceSettings`` read from the Frontend API's ``/v1/environment``, and
  publishable-key decoding (pure);
- ``fapi``: fetching that document (httpx);
- ``findings``: per-row and whole-file findings over the mapped frame (pure);
- ``existing``: looking the input's identifiers up with ``GET /v1/users``, 100 values a request;
- ``check``: the ``check`` library function that puts them together (``CheckReport``).

Sits between the CLI and the runner: ``cli -> instance -> runner / clerk / prepare``.
"""

from __future__ import annotations

from migrate.instance.check import CheckReport, check, check_input
from migrate.instance.findings import Finding
from migrate.instance.settings import InstanceSettings

__all__ = ["CheckReport", "Finding", "InstanceSettings", "check", "check_input"]
