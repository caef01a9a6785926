"""A run directory and one pass over it: plan or resume the state DB, run the engine, report.

This is the library seam under ``clerk-migrate run / retry / report``: the CLI parses options,
asks for confirmation, and calls these functions; they never print.

A run directory holds ``state.sqlite`` and the reports. Its meta table records what the run was
planned from (input path, mapping, source options, fingerprints), so ``retry``, ``report``,
``verify`` and ``rollback`` need nothing but the directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl

from migrate._internal.clerk.client import DEFAULT_LIMITS, ClerkClient, validate_base_url
from migrate._internal.clerk.network import Network
from migrate._internal.clerk.outcomes import Counted
from migrate._internal.reports.run import ReportPaths, write_run_reports
from migrate._internal.runner.engine import (
    EngineSettings,
    Payload,
    PayloadSource,
    RowWindow,
    RunOutcome,
)
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.phases import TenantSource, send_phases
from migrate._internal.runner.recorder import Progress
from migrate._internal.runner.syncing import fingerprint_key, record_baseline
from migrate._internal.runner.workers import Stopper
from migrate._internal.secrets import Secret
from migrate._internal.sources import SourceOptions
from migrate._internal.state import Fingerprints, PlanRow, RowState, StateStore
from migrate._internal.tenancy import PreparedTenants
from migrate._internal.validation.values import HIDDEN, SHIFTED_REASONS
from migrate.errors import ConfigError, StateError

if TYPE_CHECKING:
    from migrate._internal.prepare import Prepared

__all__ = [
    "DEVELOPMENT_USER_CAP",
    "SANDBOX_FILE",
    "STATE_FILE",
    "RunPlan",
    "Target",
    "bind_target",
    "check_rate",
    "check_waits",
    "default_run_dir",
    "development_room",
    "input_fingerprints",
    "open_run",
    "original_payloads",
    "pass_stats",
    "plan_rows",
    "read_run",
    "record_pass",
    "redact_reports",
    "run_pass",
    "write_reports",
]

STATE_FILE = "state.sqlite"
SANDBOX_FILE = "sandbox.json"  # a --sandbox run directory's sandbox users (owner-only)
_REDACT_META = "redact_emails"
# Development instances hold at most 100 users (reference/clerk-api.md §3, user_quota_exceeded);
# Clerk can raise it per instance, and no API serves the value.
DEVELOPMENT_USER_CAP = 100
_BUSY_TIMEOUT = 1.0  # seconds to wait for another process's lock before refusing
_SUFFIXES = (".gz", ".gzip", ".csv", ".tsv", ".txt", ".parquet", ".pq", ".ndjson", ".jsonl",
             ".json")  # fmt: skip
_PACKED = (".gz", ".gzip")


def input_fingerprints(prepared: Prepared, tenants: PreparedTenants | None = None) -> Fingerprints:
    """The state DB's fingerprints of a prepared input: input and join files by name (so a
    mismatch names the file), the mapping, and with ``tenants`` the tenant files read (None:
    they are not compared)."""
    raw = prepared.fingerprints
    inputs = {prepared.input.name: raw["input"]}
    inputs |= {name: value for name, value in raw.items() if name.startswith("join:")}
    kept = tenants.fingerprints() if tenants is not None else None
    return Fingerprints(inputs, raw.get("mapping", ""), kept)


def join_paths(prepared: Prepared) -> dict[str, str]:
    """The join files a prepared input reads, by join name, as absolute paths."""
    return {name: str(Path(path).resolve()) for name, path in prepared.join_paths.items()}


@dataclass(frozen=True)
class Target:
    """Where users go: a base URL and the secret key (masked in every repr)."""

    base_url: str
    secret_key: Secret
    sandbox: bool = False
    # the route and the trusted CAs, not the instance: not part of identity()
    network: Network = field(default_factory=Network)

    def __post_init__(self) -> None:
        # A bad URL (credentials, a query, plain http to another host) is refused before it
        # can be recorded in a run directory: ``ConfigError``.
        validate_base_url(self.base_url)

    @property
    def production(self) -> bool:
        """``sk_live_`` (or legacy ``live_``) keys belong to production instances."""
        key = self.secret_key.reveal()
        return key.startswith(("sk_live_", "live_"))

    @property
    def instance(self) -> str:
        """``production`` or ``development``, as the key says."""
        return "production" if self.production else "development"

    def identity(self) -> dict[str, Any]:
        """Where users go, without the key: the sandbox, or the API URL, instance type and a
        short SHA-256 prefix of the key (enough to tell two instances' keys apart, nothing that
        leads back to the key)."""
        if self.sandbox:
            return {"sandbox": True}
        key_id = hashlib.sha256(self.secret_key.reveal().encode()).hexdigest()[:12]
        return {"api_url": self.base_url, "instance": self.instance, "key_id": key_id}

    def describe(self) -> str:
        """The identity in words, for messages."""
        return _describe(self.identity())

    def client(self, limits: httpx.Limits | None = None) -> ClerkClient:
        """A ``ClerkClient`` for this instance (its proxy and CAs); use ``async with``."""
        return ClerkClient(
            self.base_url, self.secret_key, limits=limits or DEFAULT_LIMITS, network=self.network
        )

    def route(self) -> str:
        """How requests reach the instance, for the banner (proxy credentials masked)."""
        return self.network.route(self.base_url).describe()


def _describe(identity: Mapping[str, Any]) -> str:
    if identity.get("sandbox"):
        return "the built-in sandbox (--sandbox)"
    return (
        f"the {identity.get('instance')} instance at {identity.get('api_url')} "
        f"(key {identity.get('key_id')}…)"
    )


def bind_target(store: StateStore, target: Target) -> None:
    """Tie a run directory to the Clerk instance its users went to; refuse any other.

    The first command that talks to Clerk records the target; a later ``run``, ``retry``,
    ``verify`` or ``rollback`` against another one (a rehearsal's run directory reused for the
    real migration, another instance's key) would skip rows "already created" elsewhere or delete
    the wrong users, so it raises ``StateError`` naming both targets.
    """
    seen = target.identity()
    recorded = store.get_meta("target")
    if recorded is None:
        store.set_meta("target", seen)
        return
    if recorded != seen:
        raise StateError(
            f"{store.path}: this run directory belongs to {_describe(recorded)}, not "
            f"{_describe(seen)}. Use a new --run-dir for another instance (a rehearsal's run "
            "directory cannot be reused for the real migration)."
        )


@dataclass(frozen=True)
class RunPlan:
    """An opened run directory: its state DB and what it was planned from."""

    run_dir: Path
    store: StateStore
    input: Path
    mapping: str
    source: SourceOptions
    overrides: dict[str, Any]
    resumed: bool
    joins: dict[str, Path] = field(default_factory=dict)

    def counts(self) -> dict[RowState, int]:
        """Rows per state now."""
        return self.store.counts()


def default_run_dir(input_path: Path, *, sandbox: bool = False) -> Path:
    """``<dir>/<stem>.clerk-migrate`` next to the input (``users.csv`` -> ``users``); a
    compressed input keeps the mark (``users.csv.gz`` -> ``users.gz``), so the two files of one
    export do not share (and refuse) one checkpoint.

    A ``--sandbox`` rehearsal gets ``<stem>.sandbox.clerk-migrate``, so the real run that follows
    it with the same command line starts its own checkpoint instead of finding the rehearsal's.
    """
    name = input_path.name
    packed = ""
    while (suffix := Path(name).suffix.lower()) in _SUFFIXES and suffix:
        if suffix in _PACKED:
            packed = ".gz"
        name = name[: -len(suffix)]
    kind = ".sandbox" if sandbox else ""
    return input_path.parent / f"{name or input_path.name}{packed}{kind}.clerk-migrate"


def _source_options_json(source: SourceOptions) -> dict[str, Any]:
    data = asdict(source)
    if data.get("column_names") is not None:
        data["column_names"] = list(data["column_names"])
    return data


def plan_rows(
    batches: Iterable[pl.DataFrame], values: Callable[[list[int]], pl.DataFrame] | None = None
) -> Iterator[PlanRow]:
    """``Prepared.iter_plan()`` batches as ``PlanRow``s (errors as plain dicts).

    With ``values`` (``Prepared.values``), each error of an invalid row also holds ``value``:
    its field's value as mapped, secrets masked, so the run's ``errors.csv`` shows it as
    ``validate``'s does (the state DB keeps it in ``details``).
    """
    for chunk in batches:
        skips = pl.col("_skip") if "_skip" in chunk.columns else pl.lit(None, pl.Utf8)
        shown: dict[tuple[int, str], str] = {}
        if values is not None:
            invalid = chunk.filter(pl.col("_errors").list.len() > 0)["_row"].to_list()
            if invalid:
                found = values(invalid).drop_nulls("value")
                shown = {(r, f): v for r, f, v in found.iter_rows()}
        for row, key, external_id, email, found_errors, skip in chunk.select(
            "_row", "_key", "external_id", "email", "_errors", skips
        ).iter_rows():
            errors = tuple(found_errors or ())
            shifted = tuple(e for e in errors if e["reason"] in SHIFTED_REASONS)
            if shifted:
                # Its cells may hold the rest of a split row (a digest, a TOTP secret): keep none.
                yield PlanRow(row, HIDDEN, None, None, shifted, skip)
                continue
            if errors and shown:
                errors = tuple(e | {"value": shown.get((row, e["field"]), "")} for e in errors)
            yield PlanRow(row, key if key is not None else str(row), external_id, email,
                          errors, skip)  # fmt: skip


def original_payloads(store: StateStore, prepared: Prepared) -> PayloadSource:
    """``prepared.payloads`` for every row but those whose data comes from a corrected file
    (``retry --input``; ``StateStore.corrected_rows``): the original input may hold them
    invalid, so they are never sent from it (they stay pending)."""
    corrected = frozenset(store.corrected_rows())
    if not corrected:
        return prepared.payloads

    def payloads(rows: Sequence[int]) -> Iterable[Payload]:
        return prepared.payloads([row for row in rows if row not in corrected])

    return payloads


def _refuse_pending_corrections(store: StateStore, run_dir: Path) -> None:
    """Rows corrected by ``retry --input`` must be sent from the corrected file, not the input:
    ``run`` refuses while any waits (pending, or failed on a transient error, e.g. after a
    rollback) and names the command that sends them."""
    waiting = store.corrected_waiting()
    if waiting:
        commands = " then ".join(
            f"`clerk-migrate retry {run_dir} --input {file}`" for file in sorted(waiting)
        )
        raise StateError(
            f"cannot resume {run_dir / STATE_FILE} with `run`: {sum(waiting.values())} row(s) "
            f"wait to be sent from a corrected file; finish them with {commands}"
        )
    legacy = store.count_corrected_pending()  # noted before the file's path was recorded
    if legacy:
        raise StateError(
            f"cannot resume {run_dir / STATE_FILE} with `run`: {legacy} row(s) wait to be sent "
            "from a corrected file; finish them with the same `clerk-migrate retry RUN_DIR "
            "--input FILE` command"
        )


def open_run(
    run_dir: Path,
    input_path: Path,
    mapping: str,
    overrides: Mapping[str, Any],
    prepared: Prepared,
    *,
    tenants: PreparedTenants | None = None,
) -> RunPlan:
    """Create and plan the run directory, or reopen it to resume.

    Resuming checks the fingerprints first (with ``tenants``, the tenant files too):
    ``ResumeMismatchError`` names what changed. Raises ``StateError`` when the directory
    cannot be used.
    """
    state_path = run_dir / STATE_FILE
    if state_path.exists():
        store = StateStore.open(state_path, lock=True, busy_timeout=_BUSY_TIMEOUT)
        try:
            store.check_fingerprints(input_fingerprints(prepared, tenants))
            _refuse_pending_corrections(store, run_dir)
            if not store.planned:
                store.plan(plan_rows(prepared.iter_plan(), prepared.values))
                prepared.close()  # the state DB holds the plan now
            if not store.count_fingerprints():  # planned before fingerprints existed
                record_baseline(store, prepared, _key(run_dir))
            # rows that only gave up on transient errors (5xx, timeouts, an outage) are part of
            # "resume": send them again; rows Clerk refused wait for `retry`
            store.requeue_failed(retryable_only=True)
        except BaseException:
            store.close()
            raise
        joins = {name: Path(path) for name, path in join_paths(prepared).items()}
        return RunPlan(
            run_dir, store, input_path, mapping, prepared.source_options, dict(overrides), True,
            joins,
        )  # fmt: skip
    made = not run_dir.exists()
    try:
        run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # private: see state.db
    except OSError as exc:
        raise StateError(f"{run_dir}: cannot create the run directory: {exc}") from exc
    options = {
        "input": str(input_path.resolve()),
        "mapping": mapping,
        "source": _source_options_json(prepared.source_options),
        "source_overrides": dict(overrides),
        "joins": join_paths(prepared),
    }
    store = StateStore.create(
        state_path,
        input_fingerprints(prepared, tenants),
        options,
        lock=True,
        busy_timeout=_BUSY_TIMEOUT,
    )
    try:
        store.plan(plan_rows(prepared.iter_plan(), prepared.values))
        prepared.close()  # the state DB holds the plan now
        record_baseline(store, prepared, _key(run_dir))
    except BaseException:
        store.close()
        # Nothing was sent: leave no state DB bound to an input that could not be planned (a
        # file with no rows, a broken row), so the corrected file runs in the same place.
        for name in (STATE_FILE, f"{STATE_FILE}-wal", f"{STATE_FILE}-shm"):
            (run_dir / name).unlink(missing_ok=True)
        if made:
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        raise
    joins = {name: Path(path) for name, path in join_paths(prepared).items()}
    return RunPlan(
        run_dir, store, input_path, mapping, prepared.source_options, dict(overrides), False,
        joins,
    )  # fmt: skip


def _key(run_dir: Path) -> bytes:
    key = fingerprint_key(run_dir, create=True)
    assert key is not None  # made when absent
    return key


def read_run(run_dir: Path, *, lock: bool = False) -> RunPlan:
    """Reopen a run directory for ``retry`` / ``report`` / ``verify`` / ``rollback``.

    Raises ``StateError`` when there is no state DB or its options are unreadable.
    """
    store = StateStore.open(run_dir / STATE_FILE, lock=lock, busy_timeout=_BUSY_TIMEOUT)
    options = store.options()
    try:
        source_data = dict(options.get("source") or {})
        if source_data.get("column_names") is not None:
            source_data["column_names"] = tuple(source_data["column_names"])
        source = SourceOptions(**source_data)
        input_path = Path(options["input"])
        mapping = str(options["mapping"])
        overrides = dict(options.get("source_overrides") or {})
        joins = {name: Path(path) for name, path in dict(options.get("joins") or {}).items()}
    except (KeyError, TypeError) as exc:
        store.close()
        raise StateError(f"{run_dir}: the state DB does not say what it was planned from") from exc
    return RunPlan(run_dir, store, input_path, mapping, source, overrides, True, joins)


async def run_pass(
    target: Target,
    plan: RunPlan,
    payloads: PayloadSource,
    settings: EngineSettings,
    *,
    window: RowWindow | None = None,
    stopper: Stopper | None = None,
    progress: Progress | None = None,
    client: ClerkClient | None = None,
    notice: Callable[[str], None] | None = None,
    on_started: Callable[[Pacer], None] | None = None,
    tenants: TenantSource | None = None,
) -> RunOutcome:
    """Reconcile, then send every pending row in ``window`` through one ``ClerkClient``.

    ``client`` (already open) replaces the one built from ``target``: the test seam.
    ``notice`` receives what the operator should hear mid-pass (long pauses, outages).
    ``on_started`` receives the pass's ``Pacer`` (e.g. ``progress.LiveRate.started``).
    ``tenants``: the organizations' bodies; with it the pass sends organizations, then users,
    then memberships, at one pace (``runner.phases``).
    """
    if client is not None:
        return await send_phases(
            client, plan.store, payloads, settings, tenants=tenants,
            window=window, stopper=stopper, progress=progress, notice=notice, on_started=on_started,
        )  # fmt: skip
    # At most one connection per worker: ClerkClient's transport opens no more than this.
    size = settings.concurrency or settings.max_concurrency
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    async with target.client(limits) as opened:
        return await send_phases(
            opened, plan.store, payloads, settings, tenants=tenants,
            window=window, stopper=stopper, progress=progress, notice=notice, on_started=on_started,
        )  # fmt: skip


async def development_room(target: Target, sending: int) -> tuple[int, int] | None:
    """``(users there, room left)`` when ``sending`` users would overfill a development
    instance's usual cap of ``DEVELOPMENT_USER_CAP``; None when they fit, when the target is
    production or the sandbox (whose rehearsals have no cap), or when the count is not known.

    One ``GET /users/count``, before the pass: a warning, not a refusal, since Clerk can raise
    the cap for an instance and the run stops cleanly (``user_quota_exceeded``) if it is met.
    """
    if target.production or target.sandbox or sending <= 0:
        return None
    async with target.client() as client:
        outcome = await client.count_users()
    if not isinstance(outcome, Counted) or outcome.total + sending <= DEVELOPMENT_USER_CAP:
        return None
    return outcome.total, max(0, DEVELOPMENT_USER_CAP - outcome.total)


def pass_stats(outcome: RunOutcome, target: Target, settings: EngineSettings) -> dict[str, Any]:
    """The statistics of one pass for ``summary.json`` (no secrets)."""
    return {
        "finished_at": time.time(),
        "instance": target.instance,
        "sandbox": target.sandbox,
        "duration_s": round(outcome.duration, 3),
        "rate_limit_per_s": settings.rate,
        "rate_in_force_per_s": round(outcome.pacing.rate_in_force, 2),
        "requests": outcome.pacing.requests,
        "achieved_rate_per_s": round(outcome.achieved_rate, 2),
        "sending_rate_per_s": round(outcome.pacing.sending_rate, 2),
        "startup_s": round(outcome.startup, 3),
        "drain_s": round(outcome.drain, 3),
        "max_latency_s": round(outcome.pacing.max_latency, 3),
        "rate_limited_429": outcome.pacing.rate_limited,
        "pauses": outcome.pacing.pauses,
        "paused_s": round(outcome.pacing.paused_seconds, 3),
        "retries": outcome.retries,
        "created": outcome.tally.created,
        "exists": outcome.tally.exists,
        "failed": outcome.tally.failed,
        "reconciled_found": outcome.reconciled.found,
        "reconciled_released": outcome.reconciled.released,
        "outages": outcome.pacing.outages,
        "outage_s": round(outcome.pacing.outage_seconds, 3),
        "interrupted": outcome.interrupted,
        "abandoned": outcome.abandoned,
        "aborted": outcome.abort_code,
        "kinds": {
            name: {"created": t.created, "exists": t.exists, "failed": t.failed}
            for name, t in outcome.kinds.items()
            if name != "users"
        },
    }


def record_pass(store: StateStore, stats: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Append a pass's statistics to the state DB's history; return the whole history."""
    history = list(store.get_meta("passes", []))
    history.append(dict(stats))
    store.set_meta("passes", history)
    return history


def write_reports(plan: RunPlan) -> ReportPaths:
    """Rewrite the run directory's reports from its state DB and pass history."""
    history = list(plan.store.get_meta("passes", []))
    stats: dict[str, Any] = {"passes": len(history)}
    if history:
        stats["last_pass"] = history[-1]
        for field in ("requests", "rate_limited_429", "retries", "duration_s"):
            stats[f"total_{field}"] = sum(p.get(field, 0) for p in history)
    return write_run_reports(
        plan.store, plan.run_dir, plan.input, plan.source, stats,
        redact_emails=bool(plan.store.get_meta(_REDACT_META, False)),
    )  # fmt: skip


def redact_reports(plan: RunPlan) -> None:
    """Mask email addresses in this run's error reports from now on (``--redact-emails``).

    Recorded in the state DB, so every later ``run``, ``retry`` or ``report`` on the run
    directory keeps them masked even without the option.
    """
    plan.store.set_meta(_REDACT_META, True)


def check_rate(rate: float | None, concurrency: int | None) -> None:
    """Refuse nonsense pacing options (``ConfigError``: exit 2)."""
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ConfigError("--rate must be a positive number of requests per second")
    if concurrency is not None and concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")


def check_waits(outage_limit: float | None, max_retry_after: float | None) -> None:
    """Refuse an outage limit or Retry-After cap that is not a positive, finite number of
    seconds (``ConfigError``: exit 2)."""
    for flag, value in (("--outage-limit", outage_limit), ("--max-retry-after", max_retry_after)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{flag} must be a positive number of seconds, got {value:g}")
