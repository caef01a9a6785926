"""The loader: create every valid row as a Clerk user at the instance's rate, exactly once.

- ``engine.execute``: one pass over a planned state DB (reconcile in_flight rows, then send the
  pending ones through one ``Pacer``, workers, and a recorder that owns the state DB);
- ``session``: a run directory (plan or resume, fingerprints, reports) and ``run_pass``;
- ``aftercare``: verify, canary passwords, rollback; ``retrying``: ``retry``'s requeue.

Module map: ``pacing`` (one limiter, 429 pause, derived concurrency), ``calls`` (every request
paced; the retry loop of lookups, verify and rollback), ``workers`` (a create's retries and
reconciliation per row), ``recorder`` (batched commits, progress), ``reconcile`` (start-up
lookups), ``ledger`` (events -> state moves).
"""

from migrate._internal.runner.engine import EngineSettings, RowWindow, RunOutcome, execute
from migrate._internal.runner.pacing import Pacer, default_rate
from migrate._internal.runner.workers import Stopper, WorkerSettings

__all__ = [
    "EngineSettings",
    "Pacer",
    "RowWindow",
    "RunOutcome",
    "Stopper",
    "WorkerSettings",
    "default_rate",
    "execute",
]
