"""How long ``sync --dry-run`` takes to plan a cutover, and its peak memory vs ``validate``.

    uv run python bench/sync.py                 # 1,000,000 rows
    uv run python bench/sync.py --rows 100000

Builds a run directory of N rows as if every user had been created (planned through the state
store, then marked created with made-up Clerk ids in one SQL update; the fingerprints are the
real ones, from ``record_baseline`` over the first export), and a newer export in which 1 % of
the rows changed (a third each: first name, email, password digest), 0.5 % are new and 0.1 %
are gone. Then, each in a fresh child process so ``ru_maxrss`` is its own: ``clerk-migrate sync
NEWER --dry-run`` and ``clerk-migrate validate NEWER``, timed by wall clock and CPU time
(``wait4``), after one warm-up import so both start from cached bytecode as an installed tool
does. Targets: the plan <= 10 s and <= 1.3x validate's peak RSS. Prints the figures and the
load average (the machine may be shared: on a loaded machine the CPU time is the steadier one).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

MAPPING = """[source]
key = "id"

[fields]
external_id = "id"
email_address = "email"
first_name = "first"
last_name = "last"
password_digest = "hash"
password_hasher = { value = "bcrypt" }

[fields.public_metadata]
plan = "plan"
"""
HASH = "$2b$10$" + "a" * 53


def export(ids: pl.Series, *, changed: pl.Series | None = None) -> pl.DataFrame:
    """Users for ``ids``; ``changed`` (bool per id) edits one field of a third of them each."""
    import polars as pl  # noqa: PLC0415 - the measuring process stays without polars

    frame = pl.DataFrame({"id": ids}).with_columns(
        (pl.lit("user") + pl.col("id") + pl.lit("@example.com")).alias("email"),
        (pl.lit("First") + pl.col("id")).alias("first"),
        pl.lit("Last").alias("last"),
        pl.lit(HASH).alias("hash"),
        pl.lit("free").alias("plan"),
    )
    if changed is None:
        return frame
    which = pl.int_range(pl.len()) % 3
    edit = pl.Series(changed)
    return frame.with_columns(
        pl.when(edit & (which == 0)).then(pl.lit("Renamed")).otherwise("first").alias("first"),
        pl.when(edit & (which == 1))
        .then(pl.lit("moved") + pl.col("email"))
        .otherwise("email")
        .alias("email"),
        pl.when(edit & (which == 2))
        .then(pl.lit("$2b$10$" + "b" * 53))
        .otherwise("hash")
        .alias("hash"),
    )


def build(tmp: Path, n: int) -> None:
    """Write the mapping, the run directory and the newer export into ``tmp``."""
    import polars as pl  # noqa: PLC0415

    from migrate._internal.prepare import prepare_input  # noqa: PLC0415
    from migrate._internal.runner.session import open_run  # noqa: PLC0415
    from migrate._internal.runner.syncing import fingerprint_key, record_baseline  # noqa: PLC0415

    mapping = tmp / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    ids = pl.Series("id", [f"u{i}" for i in range(1, n + 1)])
    first = tmp / "first.csv"
    export(ids).write_csv(first)
    run_dir = tmp / "run"
    plan = open_run(run_dir, first, str(mapping), {}, prepare_input(first, str(mapping)))
    with plan.store._transaction():  # every user "created": no request is part of the bench
        plan.store._conn.execute(
            "UPDATE rows SET state = 'created', clerk_user_id = 'user_' || row, attempts = 1"
        )
    key = fingerprint_key(run_dir, create=True)
    assert key is not None
    assert plan.store.count_fingerprints() == n or record_baseline(
        plan.store, prepare_input(first, str(mapping)), key
    )
    plan.store.close()
    gone = n // 1000
    changed = pl.int_range(n - gone, eager=True) % 100 == 50  # 1 % of the rows kept
    kept = export(ids.head(n - gone), changed=changed)
    fresh = export(pl.Series("id", [f"n{i}" for i in range(n // 200)]))
    pl.concat([kept, fresh]).write_csv(tmp / "newer.csv")


# children may cache bytecode, as an installed clerk-migrate does after its first start
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def warm() -> None:
    """Import what the measured commands import once, so they start from cached bytecode."""
    modules = "import migrate.cli, migrate._internal.api.sync, migrate._internal.api.validating"
    subprocess.run([sys.executable, "-c", modules], check=True, env=ENV)


def child(args: list[str]) -> tuple[float, float, float, str]:
    """Run ``clerk-migrate ARGS`` in a child; (wall s, CPU s, peak RSS MB, its stdout)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrate", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"clerk-migrate {' '.join(args)} failed: {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def main() -> None:
    """Build, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)  # the child's job
    options = parser.parse_args()
    n = options.rows
    if options.build:
        build(options.build, n)
        return
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        start = time.monotonic()
        # built in a child: this process stays small, so the children's ru_maxrss are theirs
        subprocess.run([sys.executable, __file__, "--rows", str(n), "--build", name], check=True)
        built = time.monotonic() - start
        mapping, run_dir, newer = tmp / "map.toml", tmp / "run", tmp / "newer.csv"
        print(f"built {n:,}-row run directory and newer export in {built:.1f} s")
        warm()
        load = os.getloadavg()[0]
        sync_s, sync_cpu, sync_mb, out = child(
            ["sync", str(newer), "-m", str(mapping), "--run-dir", str(run_dir), "--dry-run"]
        )
        print(out.strip())
        check_s, check_cpu, check_mb, _ = child(["validate", str(newer), "-m", str(mapping),
                                                 "--out", str(tmp / "validation")])  # fmt: skip
        print(f"sync --dry-run: {sync_s:.1f} s wall, {sync_cpu:.1f} s CPU, peak RSS "
              f"{sync_mb:.0f} MB (target <= 10 s)")  # fmt: skip
        print(f"validate:       {check_s:.1f} s wall, {check_cpu:.1f} s CPU, peak RSS "
              f"{check_mb:.0f} MB")  # fmt: skip
        print(f"RSS ratio sync / validate: {sync_mb / check_mb:.2f} (target <= 1.3)")
        print(f"load average (1 min) at start: {load:.1f}, at end: {os.getloadavg()[0]:.1f}; "
              f"{os.cpu_count()} CPUs; ru_maxrss of this process "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
