"""What an instance's settings say about an input, before anything is sent (pure).

``row_findings(mapped, settings)``: one line per (row, reason) for rows the instance would
refuse, like a validation error (``row, key, field, reason, message``; stage ``instance``), as
polars expressions over the mapped frame. ``file_findings(mapped, settings)``: whole-file
findings, each naming the setting and where to change it in the Dashboard. Each rule mirrors
what the sandbox enforces for the same setting (``migrate/sandbox/validation.py``,
``restrictions.py``), so a mirrored rehearsal refuses the rows predicted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import polars as pl

from migrate._internal.instance.settings import InstanceSettings

__all__ = ["Finding", "Rule", "file_findings", "row_findings", "row_rules", "summarize_rows"]

Level = Literal["refuse", "block", "warn", "info"]

_IDENTIFIERS: Final = ("email_address", "phone_number", "username", "web3_wallet")
_REQUIRABLE: Final = (*_IDENTIFIERS, "first_name", "last_name", "password")
_LISTS: Final = frozenset({"email_address", "phone_number", "web3_wallet", "backup_codes"})
_DASH_IDENTIFIERS: Final = "User & authentication → Email, phone, username"
_DASH_MFA: Final = "User & authentication → Multi-factor"
_DASH_RESTRICTIONS: Final = "User & authentication → Restrictions"
_DASH_SOCIAL: Final = "User & authentication → Social connections"
_LABELS: Final = {
    "email_address": "Email address",
    "phone_number": "Phone number",
    "username": "Username",
    "web3_wallet": "Web3 wallet",
    "first_name": "First and last name",
    "last_name": "First and last name",
    "password": "Password",
    "authenticator_app": "Authenticator application",
    "backup_code": "Backup codes",
}
_EXAMPLES: Final = 5


@dataclass(frozen=True)
class Finding:
    """One thing the operator must know before the run.

    ``level``: ``refuse`` (rows the instance would refuse), ``block`` (a whole-file problem:
    ``run`` will not start on one unless told to go on), ``warn``, ``info``. ``setting`` names
    the instance setting and ``dashboard`` where to change it.
    """

    code: str
    level: Level
    message: str
    setting: str = ""
    dashboard: str = ""
    rows: int = 0
    examples: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out: dict[str, Any] = {
            "code": self.code,
            "level": self.level,
            "message": self.message,
            "setting": self.setting,
            "dashboard": self.dashboard,
            "rows": self.rows,
            "examples": list(self.examples),
        }
        if self.details:
            out["details"] = self.details
        return out


@dataclass(frozen=True)
class Rule:
    """A per-row rule: the bad-row expression and how to report it."""

    reason: str
    field: str
    bad: pl.Expr
    message: str
    setting: str
    dashboard: str
    summary: str  # "{n} rows carry one" style, completed by ``summarize_rows``


def _present(columns: Sequence[str], name: str) -> pl.Expr:
    if name not in columns:
        return pl.lit(False)
    if name in _LISTS:
        return pl.col(name).list.len().fill_null(0) > 0
    return pl.col(name).is_not_null() & (pl.col(name) != "")


def _flag(columns: Sequence[str], name: str) -> pl.Expr:
    return pl.col(name).fill_null(False) if name in columns else pl.lit(False)


def row_rules(columns: Sequence[str], settings: InstanceSettings) -> list[Rule]:
    """The per-row rules that apply to a mapped frame with ``columns`` on this instance."""
    rules: list[Rule] = []
    disabled = (
        ("email_address", "email_disabled", "email addresses"),
        ("phone_number", "phone_disabled", "phone numbers"),
        ("web3_wallet", "web3_wallet_disabled", "web3 wallets"),
    )
    for name, reason, what in disabled:
        if name in columns and not settings.enabled(name):
            rules.append(
                Rule(
                    reason,
                    name,
                    _present(columns, name),
                    f"{what} are disabled on this instance, so Clerk refuses the whole row; "
                    f"enable {_LABELS[name]} ({_DASH_IDENTIFIERS}) or drop the field in the "
                    "mapping.",
                    name,
                    _DASH_IDENTIFIERS,
                    f"{what} are disabled on this instance: {{n}} rows carry one; enable "
                    f"{_LABELS[name]}, or drop the field in the mapping",
                )
            )
    for column, attribute, reason, what in (
        ("totp_secret", "authenticator_app", "totp_disabled", "TOTP secrets"),
        ("backup_codes", "backup_code", "backup_codes_disabled", "backup codes"),
    ):
        if column in columns and not settings.enabled(attribute):
            rules.append(
                Rule(
                    reason,
                    column,
                    _present(columns, column),
                    f"the row carries {what} but {_LABELS[attribute]} is off on this instance; "
                    f"enable it ({_DASH_MFA}) or drop {column} in the mapping.",
                    attribute,
                    _DASH_MFA,
                    f"{_LABELS[attribute]} is off on this instance: {{n}} rows carry {what}; "
                    f"enable it, or drop {column} in the mapping",
                )
            )
    rules += _requirement_rules(columns, settings)
    if "username" in columns and settings.enabled("username"):
        lo = settings.username_min_length
        hi = settings.username_max_length
        if lo is not None or hi is not None:
            length = pl.col("username").str.len_chars()
            bad = _present(columns, "username") & ~length.is_between(lo or 1, hi or 10**6)
            rules.append(
                Rule(
                    "username_length_instance",
                    "username",
                    bad,
                    f"this instance takes usernames of {lo or 1} to {hi or 'any'} characters; "
                    f"change the username or the limits ({_DASH_IDENTIFIERS} → Username).",
                    "username_settings",
                    _DASH_IDENTIFIERS,
                    f"usernames must be {lo or 1} to {hi or 'any'} characters on this "
                    "instance: {n} rows fall outside",
                )
            )
    if "password" in columns and settings.password_min_length:
        n = settings.password_min_length
        bad = (
            _present(columns, "password")
            & ~_flag(columns, "skip_password_checks")
            & (pl.col("password").str.len_chars() < n)
        )
        rules.append(
            Rule(
                "password_too_short_instance",
                "password",
                bad,
                f"this instance needs passwords of at least {n} characters; set "
                "skip_password_checks for imported passwords or lower the minimum "
                "(User & authentication → Password).",
                "password_settings.min_length",
                "User & authentication → Password",
                f"passwords must be at least {n} characters on this instance: {{n}} rows are "
                "shorter",
            )
        )
    if "email_address" in columns and settings.block_email_subaddresses:
        local = pl.col("email_address").list.eval(
            pl.element().str.replace(r"@[^@]*$", "").str.contains(r"[+=#]")
        )
        rules.append(
            Rule(
                "email_subaddress_blocked",
                "email_address",
                local.list.any().fill_null(False),
                "an email address has a subaddress (+, = or #) and this instance blocks them "
                f"(not_allowed_access); turn off Block email subaddresses ({_DASH_RESTRICTIONS}) "
                "for the import.",
                "restrictions.block_email_subaddresses",
                _DASH_RESTRICTIONS,
                "email subaddresses are blocked on this instance: {n} rows carry one",
            )
        )
    return rules


def _requirement_rules(columns: Sequence[str], settings: InstanceSettings) -> list[Rule]:
    """Required fields a row lacks (``form_data_missing``), with Clerk's escape hatches."""
    rules: list[Rule] = []
    skip_user = _flag(columns, "skip_user_requirement")
    for name in _REQUIRABLE:
        if not settings.required(name):
            continue
        bad = ~_present(columns, name)
        if name in _IDENTIFIERS:
            bad = bad & ~skip_user
        if name == "password":
            bad = (
                bad
                & ~_present(columns, "password_digest")
                & ~_flag(columns, "skip_password_requirement")
            )
        rules.append(
            Rule(
                f"{name}_required",
                name,
                bad,
                f"this instance requires {_LABELS[name].lower()} and the row has none "
                f"(form_data_missing); fill it, or make it optional ({_DASH_IDENTIFIERS}).",
                name,
                _DASH_IDENTIFIERS,
                f"{_LABELS[name]} is required on this instance: {{n}} rows lack it",
            )
        )
    enabled = [i for i in _IDENTIFIERS if settings.enabled(i)]
    if "skip_user_requirement" in columns:
        bad = skip_user
        for name in enabled:
            bad = bad & ~_present(columns, name)
        rules.append(
            Rule(
                "no_enabled_identifier",
                "skip_user_requirement",
                bad,
                "skip_user_requirement still needs one identifier the instance has enabled ("
                f"{', '.join(enabled) or 'none is'}); map one, or enable another.",
                "attributes",
                _DASH_IDENTIFIERS,
                "{n} rows skip the user requirement but carry no enabled identifier",
            )
        )
    return rules


def row_findings(mapped: pl.LazyFrame, settings: InstanceSettings) -> pl.DataFrame:
    """``row, key, field, reason, message`` for every (row, rule) the instance would refuse."""
    columns = mapped.collect_schema().names()
    rules = row_rules(columns, settings)
    empty = pl.DataFrame(
        schema={
            "row": pl.Int64,
            "key": pl.Utf8,
            "field": pl.Utf8,
            "reason": pl.Utf8,
            "message": pl.Utf8,
        }
    )
    if not rules:
        return empty
    hits = mapped.select(
        pl.col("_row").alias("row"),
        pl.col("_key").alias("key"),
        *(r.bad.fill_null(False).alias(f"_r{i}") for i, r in enumerate(rules)),
    ).collect()
    parts = [
        hits.filter(pl.col(f"_r{i}")).select(
            "row",
            "key",
            pl.lit(r.field).alias("field"),
            pl.lit(r.reason).alias("reason"),
            pl.lit(r.message).alias("message"),
        )
        for i, r in enumerate(rules)
    ]
    return pl.concat([empty, *parts]).sort("row", maintain_order=True)


def summarize_rows(lines: pl.DataFrame, rules: Sequence[Rule]) -> list[Finding]:
    """One ``refuse`` finding per rule that hit: how many rows, and a few row numbers."""
    findings = []
    by_reason = {r.reason: r for r in rules}
    for reason, group in lines.group_by("reason", maintain_order=True):
        rule = by_reason.get(str(reason[0]))
        if rule is None:
            continue
        rows = group["row"].unique(maintain_order=True)
        findings.append(
            Finding(
                rule.reason,
                "refuse",
                rule.summary.format(n=f"{rows.len():,}"),
                rule.setting,
                rule.dashboard,
                rows.len(),
                tuple(rows.head(_EXAMPLES).to_list()),
            )
        )
    return findings


def file_findings(mapped: pl.LazyFrame, settings: InstanceSettings) -> list[Finding]:
    """Whole-file findings: what is wrong for the file as a whole on this instance."""
    columns = mapped.collect_schema().names()
    counts = mapped.select(
        *(
            _present(columns, c).sum().alias(c)
            for c in ("password", "password_digest", "username", "email_address")
        ),
        pl.len().alias("_rows"),
    ).collect()
    count = {c: int(counts[c][0] or 0) for c in counts.columns}
    found: list[Finding] = []
    carrying = count["password"] + count["password_digest"]
    if carrying and not settings.enabled("password"):
        found.append(
            Finding(
                "password_sign_in_off",
                "block",
                f"password sign-in is off on this instance but {carrying:,} rows carry a "
                "password or digest: Clerk stores them, yet nobody could sign in with them; "
                "enable Password (User & authentication → Password), or drop the password "
                "fields in the mapping.",
                "password",
                "User & authentication → Password",
                rows=carrying,
            )
        )
    for name in _REQUIRABLE:
        if not settings.required(name):
            continue
        mapped_here = name in columns or (name == "password" and "password_digest" in columns)
        if not mapped_here:
            found.append(
                Finding(
                    "required_field_unmapped",
                    "block",
                    f"{_LABELS[name]} is required on this instance but the mapping never fills "
                    f"{name}: every row would be refused; map it, or make it optional "
                    f"({_DASH_IDENTIFIERS}).",
                    name,
                    _DASH_IDENTIFIERS,
                    rows=count["_rows"],
                )
            )
    if count["username"] and not settings.enabled("username"):
        found.append(
            Finding(
                "usernames_disabled",
                "warn",
                f"usernames are disabled on this instance but {count['username']:,} rows carry "
                "one: Clerk stores them, yet nobody can sign in with them; enable Username "
                f"({_DASH_IDENTIFIERS}) or drop the field in the mapping.",
                "username",
                _DASH_IDENTIFIERS,
                rows=count["username"],
            )
        )
    if settings.allowlist:
        found.append(
            Finding(
                "allowlist_on",
                "block",
                "the allowlist is on: Clerk may refuse (not_allowed_access) every row whose "
                "email or phone is not on it, and the Frontend API does not say what it holds; "
                "add the users' identifiers or domains, or turn the allowlist off for the "
                f"import ({_DASH_RESTRICTIONS}).",
                "restrictions.allowlist",
                _DASH_RESTRICTIONS,
                rows=count["_rows"],
            )
        )
    if settings.blocklist:
        found.append(
            Finding(
                "blocklist_on",
                "warn",
                "the blocklist is on: rows whose email or phone is on it will be refused "
                f"(not_allowed_access); review it before the run ({_DASH_RESTRICTIONS}).",
                "restrictions.blocklist",
                _DASH_RESTRICTIONS,
                rows=count["_rows"],
            )
        )
    return found
