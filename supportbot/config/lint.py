"""Warnings about a bot that loads but will not behave as its author expects. Pure.

A warning never stops a bot: `supportbot validate` prints it with its `path:line:col` and
exits 0. Problems that stop a bot are ConfigErrors (loader.py).
"""

from __future__ import annotations

import re
from typing import Any

try:  # the parser behind `re`: private, so a Python without it just gives no regex warnings
    from re import _parser as sre_parse  # type: ignore[attr-defined]
    from re._constants import MAXREPEAT  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    sre_parse = None
    MAXREPEAT = None

from ..errors import Problem
from .format import BotConfig
from .yamldoc import YamlDoc

__all__ = ["backtracking_risk", "lint_bot"]

_REPEATS = ("MAX_REPEAT", "MIN_REPEAT")


def lint_bot(config: BotConfig, doc: YamlDoc) -> list[Problem]:
    """Every warning about a bot file that loaded."""
    warnings = []
    for index, rule in enumerate(config.escalation.rules):
        risk = backtracking_risk(rule.if_user_matches) if rule.if_user_matches else None
        if risk:
            warnings.append(
                doc.problem(
                    ("escalation", "rules", index, "if_user_matches"),
                    f"rule '{rule.id}': the pattern can backtrack catastrophically ({risk}); some messages will "
                    "run it out of time, and a rule that times out hands off. Rewrite it without nested repetition "
                    "(e.g. '^(\\w+\\s?)*$' as '^[\\w\\s]*$')",
                )
            )
    return warnings


def backtracking_risk(pattern: str) -> str | None:
    """Why `pattern` may take exponential time on some input, or None.

    Two shapes cause it: a repetition inside a repetition ("(a+)+", "(\\w+\\s?)*"), and a
    repeated choice whose branches can start with the same character ("(a|aa)+")."""
    if sre_parse is None:
        return None
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    return _walk(list(parsed), inside_repeat=False)


def _walk(items: list[tuple[Any, Any]], inside_repeat: bool) -> str | None:
    for op, value in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = value
            repeats = _varies(low, high)
            if repeats and inside_repeat:
                return "a repetition inside a repetition"
            if repeats and _overlapping_branches(list(sub)):
                return "a repeated choice whose branches overlap"
            found = _walk(list(sub), inside_repeat or repeats)
        elif name == "SUBPATTERN":
            found = _walk(list(value[-1]), inside_repeat)
        elif name == "BRANCH":
            # `re` factors a shared prefix out: "(a|aa)+" becomes "a(?:|a)" repeated.
            if inside_repeat and any(not list(branch) for branch in value[1]):
                return "a repeated choice whose branches overlap"
            found = next((r for branch in value[1] if (r := _walk(list(branch), inside_repeat))), None)
        else:
            found = None
        if found:
            return found
    return None


def _varies(low: int, high: Any) -> bool:
    """A repetition that may match more than once, a number of times not fixed in advance
    ("+", "*", "{2,5}"; not "?" nor "{3}"): one that a regex engine may backtrack over."""
    return bool(high is MAXREPEAT or (high > 1 and high != low))


def _overlapping_branches(items: list[tuple[Any, Any]]) -> bool:
    for op, value in items:
        name = str(op)
        if name == "SUBPATTERN":
            return _overlapping_branches(list(value[-1]))
        if name == "BRANCH":
            starts = [_first(list(branch)) for branch in value[1]]
            known = [s for s in starts if s is not None]
            return len(known) != len(set(known)) or (None in starts and len(starts) > 1)
        return False
    return False


def _first(items: list[tuple[Any, Any]]) -> object:
    """What a branch starts with, as far as a cheap look tells (None: anything)."""
    if not items:
        return None
    op, value = items[0]
    name = str(op)
    if name == "LITERAL":
        return ("literal", value)
    if name == "IN":
        return ("in", tuple(str(v) for v in value))
    if name == "SUBPATTERN":
        return _first(list(value[-1]))
    if name in _REPEATS and value[0] > 0:
        return _first(list(value[2]))
    return None
