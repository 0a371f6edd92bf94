"""Which snippets and escalation rules the fixtures exercise, per bot. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..bot import Bot
from .replay import FixtureResult

__all__ = ["BotCoverage", "compute_coverage"]


@dataclass(frozen=True)
class BotCoverage:
    bot_id: str
    source: str
    snippets: Mapping[str, int]  # every snippet id -> how many replayed answers cited it
    rules: Mapping[str, int]  # every escalation rule id -> how many times it fired
    builtin: Mapping[str, int]  # built-in hand-off reasons seen (model_requested, ...)

    @property
    def covered(self) -> int:
        return sum(1 for n in self.snippets.values() if n) + sum(1 for n in self.rules.values() if n)

    @property
    def total(self) -> int:
        return len(self.snippets) + len(self.rules)

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0

    def missing_snippets(self) -> list[str]:
        return [k for k, n in self.snippets.items() if not n]

    def missing_rules(self) -> list[str]:
        return [k for k, n in self.rules.items() if not n]

    def as_dict(self) -> dict[str, Any]:
        return {
            "bot": self.bot_id,
            "source": self.source,
            "percent": round(self.percent, 1),
            "snippets": dict(self.snippets),
            "rules": dict(self.rules),
            "builtin_handoffs": dict(self.builtin),
            "uncovered_snippets": self.missing_snippets(),
            "uncovered_rules": self.missing_rules(),
        }


def compute_coverage(bots: Iterable[Bot], results: Iterable[FixtureResult]) -> list[BotCoverage]:
    cited: dict[str, Counter[str]] = {}
    fired: dict[str, Counter[str]] = {}
    for result in results:
        for decision in result.decisions:
            cited.setdefault(result.bot_id, Counter()).update(decision.citations)
            if decision.handoff:
                fired.setdefault(result.bot_id, Counter())[decision.handoff.rule] += 1
    coverage = []
    for bot in bots:
        rule_ids = [r.id for r in bot.config.escalation.rules]
        seen = fired.get(bot.id, Counter())
        coverage.append(
            BotCoverage(
                bot.id,
                bot.source,
                {s.id: cited.get(bot.id, Counter())[s.id] for s in bot.snippets},
                {r: seen[r] for r in rule_ids},
                {r: n for r, n in sorted(seen.items()) if r not in rule_ids},
            )
        )
    return coverage
