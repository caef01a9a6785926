"""Benchmark: peak RSS of preparing an input and walking its plan, as the ``run`` command does.

For each N (default 100 k and 1 M rows), generates the CSV of ``bench/validate_throughput.py``
(cached under --dir), then in a fresh subprocess prepares it and walks every plan row, and prints
that process's peak RSS (``ru_maxrss``) and wall time. ``--mode iter`` walks ``iter_plan()``
(what ``plan_rows`` uses), ``--mode plan`` walks the whole ``plan()`` frame, ``--mode run``
walks ``iter_plan()`` and then every valid row's payload, 50,000 rows per ``payloads`` call as
the engine asks for them (what a run reads, without the state DB and HTTP).

    uv run python bench/plan_memory.py
    uv run python bench/plan_memory.py --mode run --rows 100000 --rows 1000000

Issue 4 target: the 1 M-row peak within 1.3x of the 100 k-row peak. A lazy polars scan cannot
meet it (``scan_csv(...).collect_batches()`` reads the whole file ahead of a slow consumer:
about 124 MB for 100 k rows and 323 MB for 1 M rows of this file, nothing kept), hence
``sources.SourceReader``'s bounded pieces.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

_CHILD = """\
import resource, sys, time
from pathlib import Path
from migrate._internal.prepare import PrepareOptions, prepare
csv, mapping, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
start = time.perf_counter()
prepared = prepare(csv, mapping, PrepareOptions())
batches = prepared.iter_plan() if mode != "plan" else prepared.plan().iter_slices(50_000)
valid = [r for b in batches for r, e in zip(b["_row"], b["_errors"].list.len()) if not e]
rows = len(valid)
if mode == "run":
    sent = 0
    for first in range(0, len(valid), 50_000):
        sent += sum(1 for _ in prepared.payloads(valid[first : first + 50_000]))
    assert sent == len(valid), (sent, len(valid))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{mode}: {rows:,} valid rows: peak RSS {peak:.0f} MB, {time.perf_counter() - start:.2f} s")
"""


def main() -> None:
    """Generate the inputs if needed and measure each in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--mode", choices=["iter", "plan", "run"], default="iter")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/clerk-migrate-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    from validate_throughput import MAPPING  # noqa: PLC0415 (a sibling script, not a package)

    mapping = args.dir / "bench.toml"
    mapping.write_text(MAPPING)
    for rows in args.rows or [100_000, 1_000_000]:
        csv = args.dir / f"users-{rows}.csv"
        if not csv.is_file():  # the same file validate_throughput.py generates and caches
            subprocess.run(
                [sys.executable, str(here / "validate_throughput.py"), "--rows", str(rows),
                 "--dir", str(args.dir), "--generate-only"],
                check=True,
            )  # fmt: skip
        child = [sys.executable, "-c", _CHILD, str(csv), str(mapping), args.mode]
        subprocess.run(child, check=True)


if __name__ == "__main__":
    main()
