"""Knowing the target instance before the first create: settings, findings, existing users.

- ``settings``: ``InstanceSettings`` read from the Frontend API's ``/v1/environment``, and
  publishable-key decoding (pure);
- ``fapi``: fetching that document (httpx);
- ``findings``: per-row and whole-file findings over the mapped frame (pure);
- ``existing``: looking the input's identifiers up with ``GET /v1/users``, 100 values a request;
- ``check``: ``check_input`` puts them together into a ``CheckReport`` (``migrate.check`` is the
  public function, in ``migrate/_internal/api/checking.py``).

Sits between the CLI and the runner: ``cli -> instance -> runner / clerk / prepare``.
"""

from __future__ import annotations

from migrate._internal.instance.check import CheckReport, check_input
from migrate._internal.instance.findings import Finding
from migrate._internal.instance.settings import InstanceSettings

__all__ = ["CheckReport", "Finding", "InstanceSettings", "check_input"]
