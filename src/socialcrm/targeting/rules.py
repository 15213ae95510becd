"""Targeting rules as data: a small TOML file of value tiers, segments and actions.

The shipped ``rules.toml`` is the default; ``Settings.targeting_rules`` points at a
user's own. Conditions compile to Ibis expressions, so the same rules run on DuckDB and
Spark, and each rule's reason quotes the values that made it match.

>>> r = load_rules()
>>> r.segments[0].name, r.tiers[-1].when
('detractor', ())
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import ibis
from ibis.expr import types as ir

from socialcrm.store.rounding import round_half_away

OPS = ("==", "!=", ">", ">=", "<", "<=", "in", "not_in", "is_null", "not_null")
VALUES = ("clv_if_retained", "clv", "none")


class RulesError(ValueError):
    """A rules file that cannot be used, with the rule and the reason."""


@dataclass(frozen=True)
class ColumnRef:
    """A condition's value that is another column of the same row."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: object = None


@dataclass(frozen=True)
class Rule:
    name: str
    reason: str
    when: tuple[Condition, ...]


@dataclass(frozen=True)
class Action:
    name: str
    segments: tuple[str, ...]
    marketing: bool
    uplift: float
    value: str
    cost: float
    reason: str
    uplift_sd: float | None = None
    """How far the true uplift may be from the assumed one (τ): the prior's spread when
    finished campaigns measure it (programs' learning; its default when None)."""


@dataclass(frozen=True)
class Rules:
    tiers: tuple[Rule, ...]
    segments: tuple[Rule, ...]
    actions: tuple[Action, ...]
    source: str


def _condition(where: str, raw: object) -> Condition:
    if not isinstance(raw, list) or not 2 <= len(raw) <= 3 or not isinstance(raw[0], str):
        raise RulesError(f"{where}: a condition is [column, op, value], got {raw!r}")
    op = raw[1]
    if op not in OPS:
        raise RulesError(f"{where}: unknown op {op!r}; use {' '.join(OPS)}")
    needs_value = op not in ("is_null", "not_null")
    if needs_value != (len(raw) == 3):
        raise RulesError(f"{where}: op {op!r} {'needs' if needs_value else 'takes no'} value")
    if op in ("in", "not_in") and not isinstance(raw[2], list):
        raise RulesError(f"{where}: op {op!r} needs a list")
    value = raw[2] if needs_value else None
    if isinstance(value, dict):
        if set(value) != {"column"} or not isinstance(value["column"], str):
            raise RulesError(f'{where}: a table value must be {{ column = "name" }}')
        value = ColumnRef(value["column"])
    return Condition(raw[0], op, value)


def _rules(doc: dict[str, Any], key: str) -> tuple[Rule, ...]:
    out = []
    for i, r in enumerate(doc.get(key, [])):
        where = f"{key} #{i + 1} ({r.get('name', '?')})"
        if not isinstance(r.get("name"), str):
            raise RulesError(f"{where}: needs a name")
        when = r.get("when", [])
        if not isinstance(when, list):
            raise RulesError(f"{where}: when must be a list of conditions")
        out.append(
            Rule(
                r["name"],
                str(r.get("reason", r["name"])),
                tuple(_condition(where, c) for c in when),
            )
        )
    if not out:
        raise RulesError(f"no [[{key}]] rules")
    return tuple(out)


def parse_rules(text: str, source: str = "<string>") -> Rules:
    """Parse and validate rules from TOML text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RulesError(f"{source}: not valid TOML: {e}") from None
    try:
        tiers, segments = _rules(doc, "tier"), _rules(doc, "segment")
        names = {s.name for s in segments}
        actions = []
        for i, a in enumerate(doc.get("action", [])):
            where = f"action #{i + 1} ({a.get('name', '?')})"
            segs = tuple(a.get("segments", []))
            unknown = set(segs) - names
            if not segs or unknown:
                raise RulesError(f"{where}: unknown or no segments {sorted(unknown)}")
            if a.get("value", "none") not in VALUES:
                raise RulesError(f"{where}: value must be one of {', '.join(VALUES)}")
            sd = a.get("uplift_sd")
            if sd is not None and (isinstance(sd, bool) or not float(sd) > 0):
                raise RulesError(f"{where}: uplift_sd must be a number > 0, got {sd!r}")
            actions.append(
                Action(
                    str(a["name"]),
                    segs,
                    bool(a.get("marketing", True)),
                    float(a.get("uplift", 0.0)),
                    str(a.get("value", "none")),
                    float(a.get("cost", 0.0)),
                    str(a.get("reason", a["name"])),
                    None if sd is None else float(sd),
                )
            )
    except RulesError as e:
        raise RulesError(f"{source}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise RulesError(f"{source}: malformed rule: {e}") from None
    return Rules(tiers, segments, tuple(actions), source)


def load_rules(path: Path | None = None) -> Rules:
    """The rules at ``path``, or the shipped defaults."""
    if path is None:
        text = resources.files("socialcrm.targeting").joinpath("rules.toml").read_text()
        return parse_rules(text, "socialcrm/targeting/rules.toml")
    try:
        return parse_rules(Path(path).read_text(), str(path))
    except OSError as e:
        raise RulesError(f"{path}: cannot read rules: {e.strerror}") from None


def _test(t: ir.Table, c: Condition) -> ir.BooleanValue:
    col = t[c.column]
    v = t[c.value.name] if isinstance(c.value, ColumnRef) else c.value
    match c.op:
        case "is_null":
            return col.isnull()
        case "not_null":
            return col.notnull()
        case "in":
            return col.isin(list(v))  # type: ignore[arg-type]
        case "not_in":
            return ~col.isin(list(v))  # type: ignore[arg-type]
        case "==":
            return col == v
        case "!=":
            return col != v
        case ">":
            return col > v
        case ">=":
            return col >= v
        case "<":
            return col < v
        case _:
            return col <= v


def _shown(col: ir.Value) -> ir.StringValue:
    if col.type().is_floating():
        col = round_half_away(col, 2)
    return col.cast("string").fill_null("null")


def compile_rule(t: ir.Table, rule: Rule) -> tuple[ir.BooleanValue, ir.StringValue]:
    """(matches, reason) of a rule on table ``t``; the reason quotes the values used."""
    used = [c.column for c in rule.when]
    used += [c.value.name for c in rule.when if isinstance(c.value, ColumnRef)]
    missing = [c for c in used if c not in t.columns]
    if missing:
        raise RulesError(
            f"rule {rule.name!r}: unknown column {missing[0]!r}; known: {', '.join(t.columns)}"
        )
    match: ir.BooleanValue = ibis.literal(True)
    reason: ir.StringValue = ibis.literal(rule.reason)
    for i, c in enumerate(rule.when):
        match = match & _test(t, c).fill_null(False)
        if isinstance(c.value, ColumnRef):
            shown = f" {c.value.name}=" + _shown(t[c.value.name])
        else:
            shown = ibis.literal("" if c.value is None else f" {c.value}")
        sep = " (" if i == 0 else ", "
        reason = reason + sep + f"{c.column}=" + _shown(t[c.column]) + f" {c.op}" + shown
    if rule.when:
        reason = reason + ")"
    return match, reason


def first_match(t: ir.Table, rules: tuple[Rule, ...]) -> tuple[ir.StringValue, ir.StringValue]:
    """(name, reason) of the first rule that matches each row; null if none does."""
    compiled = [(compile_rule(t, r), r.name) for r in rules]
    name = ibis.cases(*[(m, n) for (m, _), n in compiled], else_=ibis.null("string"))
    why = ibis.cases(*[(m, r) for (m, r), _ in compiled], else_=ibis.null("string"))
    return name, why


__all__ = [
    "Action",
    "ColumnRef",
    "Condition",
    "Rule",
    "Rules",
    "RulesError",
    "compile_rule",
    "first_match",
    "load_rules",
    "parse_rules",
]
