"""Benchmark: ``clerk-migrate validate`` on a realistic CSV of N rows, as a whole process.

Generates (once per N, cached under --dir) a CSV shaped like a real export: ids, emails, E.164
phones, bcrypt digests (a few real ones from the bcrypt library, salts and hashes varied
textually), names, ISO timestamps, JSON metadata; about 0.5 % duplicate emails and 1 % bad rows
(broken emails, truncated digests, future dates). Then times ``clerk-migrate validate`` as a
subprocess and prints rows/s, its CPU time and its peak RSS (``os.wait4`` rusage of that child).

Generation runs in a process of its own and this one imports nothing heavy: Linux records the
parent's resident size as a spawned child's peak at ``exec``, so a big parent would inflate the
figure.

    uv run python bench/validate_throughput.py --rows 1000000
    uv run python bench/validate_throughput.py --rows 5000000
    uv run python bench/validate_throughput.py --rows 1000000 --repeat 5   # best and median

Other processes on the machine skew wall time: the load average is printed with each run.
Compiled bytecode is kept between runs (in --dir/pycache) even under PYTHONDONTWRITEBYTECODE, as
an installed tool has it; --no-bytecode-cache measures a run that compiles every module.

Targets (issue 3): 1 M rows at >= 400,000 rows/s with peak RSS <= 800 MB; 5 M rows <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

MAPPING = """\
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = { column = "email", transform = ["strip", "lower"] }
phone_number = "phone"
first_name = "first_name"
last_name = "last_name"
password_digest = "password_hash"
password_hasher = { infer = true }
created_at = { column = "created_at", parse = "timestamp" }
public_metadata = { column = "metadata", parse = "json" }

[options]
skip_password_requirement = true
"""

_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _pick(values: list[str], index: pl.Expr) -> pl.Expr:
    """values[index % len(values)] as a vectorised lookup."""
    import polars as pl  # noqa: PLC0415 (kept out of the measuring process)

    return (index % len(values)).replace_strict(
        dict(enumerate(values)), return_dtype=pl.Utf8, default=values[0]
    )


def generate(path: Path, rows: int) -> None:
    """Write a CSV of ``rows`` realistic users (with some duplicates and bad rows) to ``path``."""
    import bcrypt  # noqa: PLC0415 (kept out of the measuring process)
    import polars as pl  # noqa: PLC0415

    real = [bcrypt.hashpw(f"pw-{i}".encode(), bcrypt.gensalt(4)).decode() for i in range(8)]
    firsts = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia"]
    lasts = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
    domains = ["gmail.com", "outlook.com", "yahoo.co.uk", "example.org", "proton.me"]
    i = pl.int_range(0, rows, dtype=pl.Int64)
    # Pseudo-random but deterministic per row: a multiplicative hash of the index.
    r = (i * 2654435761 + 97) % 4294967296
    salt_chars = [
        pl.lit(_BCRYPT_ALPHABET).str.slice(((r // (1 << (k * 3))) + k * 7) % 64, 1)
        for k in range(22)
    ]
    dup = (r % 200) == 0  # 0.5 %: reuse an earlier row's email
    bad = r % 100
    email_id = pl.when(dup & (i > 10)).then(i // 2).otherwise(i)
    email = pl.concat_str(
        _pick(firsts, r).str.to_lowercase(),
        pl.lit("."),
        email_id.cast(pl.Utf8),
        pl.lit("@"),
        _pick(domains, r // 32),
    )
    digest = pl.concat_str(
        _pick(real, r // 8).str.slice(0, 7), *salt_chars, _pick(real, r // 128).str.slice(29, 31)
    )
    created = (
        (pl.lit(1_400_000_000_000, pl.Int64) + (r * 113) % 300_000_000_000)
        .cast(pl.Datetime("ms"))
        .dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
    )
    frame = (
        pl.LazyFrame()
        .select(i.alias("_i"), r.alias("_r"), dup.alias("_dup"), bad.alias("_bad"))
        .select(
            pl.concat_str(pl.lit("user_"), i.cast(pl.Utf8)).alias("id"),
            pl.when(bad == 1).then(pl.lit("not-an-email")).otherwise(email).alias("email"),
            pl.concat_str(pl.lit("+1415"), (2_000_000 + i % 8_000_000).cast(pl.Utf8)).alias(
                "phone"
            ),
            _pick(firsts, r // 4).alias("first_name"),
            _pick(lasts, r // 16).alias("last_name"),
            pl.when(bad == 2)
            .then(digest.str.slice(0, 50))
            .otherwise(digest)
            .alias("password_hash"),
            pl.when(bad == 3)
            .then(pl.lit("2031-01-01T00:00:00.000Z"))
            .otherwise(created)
            .alias("created_at"),
            pl.concat_str(
                pl.lit('{"plan": "'),
                _pick(["free", "pro", "team"], r // 64),
                pl.lit('", "seats": '),
                (r % 50).cast(pl.Utf8),
                pl.lit("}"),
            ).alias("metadata"),
        )
    )
    frame.sink_csv(path)


def child_env(bench_dir: Path, *, bytecode_cache: bool) -> dict[str, str]:
    """The child's environment: with ``bytecode_cache``, compiled modules are kept (under
    ``bench_dir``, not beside the sources) even where PYTHONDONTWRITEBYTECODE is set, as an
    installed tool has them after its first run; without, every run compiles polars' Python
    sources again (about 0.5 s of CPU)."""
    env = dict(os.environ)
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bench_dir / "pycache")
    return env


def run_once(
    command: list[str], env: dict[str, str]
) -> tuple[dict[str, object], float, float, float]:
    """Run ``validate`` once: (its JSON summary, wall seconds, peak RSS in MB, CPU seconds)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if child.returncode not in (0, 3):
        print(stderr, file=sys.stderr)
        raise SystemExit(f"validate exited {child.returncode}")
    return json.loads(stdout), seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def main() -> None:
    """Generate (if needed), run ``validate`` --repeat times as a subprocess, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs; best and median are shown")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/clerk-migrate-bench"))
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="honour PYTHONDONTWRITEBYTECODE (every run compiles the Python sources)",
    )
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.dir / f"users-{args.rows}.csv"
    if args.generate_only:
        generate(csv_path, args.rows)
        return
    mapping = args.dir / "bench.toml"
    mapping.write_text(MAPPING)
    if not csv_path.is_file():
        started = time.perf_counter()
        generator = [sys.executable, __file__, "--generate-only", "--rows", str(args.rows)]
        subprocess.run([*generator, "--dir", str(args.dir)], check=True)
        took = time.perf_counter() - started
        print(f"generated {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB) in {took:.1f} s")
    command = [
        sys.executable, "-m", "migrate", "validate", str(csv_path),
        "--mapping", str(mapping), "--out", str(args.dir / f"out-{args.rows}"), "--json",
    ]  # fmt: skip
    env = child_env(args.dir, bytecode_cache=not args.no_bytecode_cache)
    if not args.no_bytecode_cache:  # a first, untimed import fills the bytecode cache
        warm = (
            "import migrate.cli.validate, migrate._internal.prepare, "
            "migrate._internal.reports.validation"
        )
        subprocess.run([sys.executable, "-c", warm], check=True, env=env)
    runs = []
    for _ in range(args.repeat):
        summary, seconds, peak_mb, cpu = run_once(command, env)
        read = int(str(summary["read"]))
        runs.append((seconds, peak_mb, cpu))
        print(f"validate: {seconds:.2f} s wall, {read / seconds:,.0f} rows/s, "
              f"peak RSS {peak_mb:,.0f} MB, CPU {cpu:.2f} s (user+sys), "
              f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    reasons = summary["reasons"]
    assert isinstance(reasons, list)
    listed = ", ".join(f"{r['reason']}:{r['rows']}" for r in reasons)
    print(
        f"rows={read:,} valid={summary['valid']:,} invalid={summary['invalid']:,} reasons={listed}"
    )
    if len(runs) > 1:
        walls = sorted(r[0] for r in runs)
        cpus = sorted(r[2] for r in runs)
        print(f"best {read / walls[0]:,.0f} rows/s, median {read / statistics.median(walls):,.0f} "
              f"rows/s; CPU best {cpus[0]:.2f} s, median {statistics.median(cpus):.2f} s; "
              f"peak RSS max {max(r[1] for r in runs):,.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
