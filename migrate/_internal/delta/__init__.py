"""``sync``'s pure core: keyed fingerprints of mapped rows and the plan of a newer export.

``fingerprint``: canonical per-field texts and their HMAC-SHA256 prints (whole row, per field).
``index``: the run's users and stored print prefixes, found by key (``RunIndex``).
``plan``: the action per key (new, changed, unchanged, unknown, invalid, gone) and the counts.
No I/O: the key, the state DB and the input are the caller's (``migrate._internal.runner.syncing``).
"""

from migrate._internal.delta.fingerprint import changed_fields, field_prints, whole_prints
from migrate._internal.delta.plan import Action, count_actions, decide

__all__ = [
    "Action",
    "changed_fields",
    "count_actions",
    "decide",
    "field_prints",
    "whole_prints",
]
