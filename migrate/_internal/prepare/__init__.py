"""Prepare a run: read, map and validate an input lazily, and hand out what later stages need.

One pipeline, shared by ``validate`` and ``run``: sources (the input as bounded pieces) ->
mapping (``inputs.MappedInput``) -> validation (``verdicts``: a rule mask per row, then
duplicates across the whole input) -> the plan and the reports (``lines``). ``prepare(input,
mapping, options)`` (or ``prepare_input``, as the commands call it) loads the mapping and sets
up the read (so a bad mapping or an unreadable file fails here, before any row is processed).
``Prepared`` (``prepared``) gives:

- ``iter_plan(batch_size)``: one row per non-empty input row (``_row, _key, external_id, email,
  _errors``), no payloads and no secrets, in file order and in batches; what the state DB is
  planned from. ``plan()`` is the same rows as one frame (for callers that want it whole);
- ``counts()``, ``errors()`` (one line per reason), ``warnings()``, ``skipped()``:
  ``validate``'s reports, from the same pass;
- ``payloads(rows)`` / ``preview(n)`` / ``values(rows)`` (``lookups``): CreateUser bodies and
  report values, re-read from the input a piece at a time (only the pieces holding the rows
  asked for), never all in memory;
- ``fingerprints``: sha256 of each input file and of the mapping file, for resume checks.

Memory stays flat as the input grows. The input is read as bounded pieces
(``sources.SourceReader``: polars reads a lazy scan's whole file ahead of a slow consumer, so a
scan would not do), mapped and validated up to 50,000 rows per query (join files are read
once and kept). The one verdict pass writes, per row, its number, key, contacts, a 64-bit rule
mask and the 64-bit hashes of the values that must be unique to temporary Parquet files (one
per query); duplicates across the whole input are found from one key column's hashes at a
time, sorted; the plan and the reports read the files back. The files live in a private
temporary directory (``TMPDIR``) owned by the ``Prepared``: removed by ``close()``, when the
object is garbage collected, or at interpreter exit. They hold no secrets (no passwords,
digests, TOTP secrets or backup codes). The pass also records where each piece lies, so
``payloads(rows)`` for a run of consecutive rows parses only the pieces holding them.
"""

from __future__ import annotations

from migrate._internal.prepare.lines import mapping_messages, with_messages
from migrate._internal.prepare.model import Counts, PrepareOptions, RowPayload
from migrate._internal.prepare.prepared import Prepared, prepare, prepare_input

__all__ = [
    "Counts",
    "PrepareOptions",
    "Prepared",
    "RowPayload",
    "mapping_messages",
    "prepare",
    "prepare_input",
    "with_messages",
]
