"""Supabase's auth.users as Parquet (typed timestamps) works with the supabase preset."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from preset_cases import NOW, SAMPLES, manifest

from migrate._internal.mapping.load import load_mapping
from migrate._internal.prepare import PrepareOptions, prepare

_TIMES = ("created_at", "updated_at", "email_confirmed_at", "phone_confirmed_at", "confirmed_at")


def _parquet_export(tmp_path: Path) -> Path:
    """The CSV sample rewritten as Parquet with timestamp columns typed, as a database dump is."""
    frame = pl.read_csv(SAMPLES / "supabase" / "auth_users.csv", infer_schema=False)
    typed = frame.with_columns(
        pl.col(c).str.replace(r"\+00$", "+00:00").str.to_datetime(time_zone="UTC") for c in _TIMES
    )
    path = tmp_path / "auth_users.parquet"
    typed.write_parquet(path)
    return path


def test_supabase_parquet_gives_the_same_users_as_the_csv(tmp_path: Path) -> None:
    """With --format parquet the bad rows, the bodies (created_at, reserved e-mails) match."""
    m = manifest("supabase")
    spec = load_mapping("supabase", {})
    results = []
    for path, source in (
        (SAMPLES / "supabase" / "auth_users.csv", {}),
        (_parquet_export(tmp_path), {"format": "parquet"}),
    ):
        prepared = prepare(path, spec, PrepareOptions(source=source, now=NOW))
        plan = prepared.plan()
        bad = plan.filter(plan["_errors"].list.len() > 0)["_row"].to_list()
        valid = plan.filter(plan["_errors"].list.len() == 0)["_row"].to_list()
        bodies = {p.key: p.body for p in prepared.payloads(valid)}
        results.append((bad, bodies))
    (csv_bad, csv_bodies), (pq_bad, pq_bodies) = results
    # Parquet rows are numbered from 1, CSV data rows from 2 (the header is row 1).
    assert [r - 1 for r in csv_bad] == pq_bad
    assert csv_bodies == pq_bodies
    status = "email_address_identification_status"
    reserved = {k for k, b in pq_bodies.items() if b.get(status) == ["reserved"]}
    assert reserved == set(m["reserved_email"])
