"""Find, load and replay fixtures: what `supportbot replay`, `coverage` and the pytest plugin share."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..bot import Bot
from ..errors import ConfigError, Problem
from .fixture import Fixture, find_fixtures, load_fixture
from .replay import BotCache, FixtureResult, replay_fixture

__all__ = ["ReplayRun", "junit_xml", "load_fixtures", "replay_paths"]


@dataclass
class ReplayRun:
    results: list[FixtureResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    bots: dict[str, Bot] = field(default_factory=dict)

    @property
    def failed(self) -> list[FixtureResult]:
        return [r for r in self.results if not r.passed]


def load_fixtures(
    paths: Iterable[str | os.PathLike[str]], cache: BotCache
) -> tuple[list[tuple[Fixture, Bot]], list[Problem]]:
    """Every fixture under `paths` with its bot; fixture or bot problems listed, not raised."""
    files, problems = find_fixtures(paths)
    loaded: list[tuple[Fixture, Bot]] = []
    for file in files:
        try:
            fixture = load_fixture(file)
            loaded.append((fixture, cache.get(fixture.bot_path)))
        except ConfigError as exc:
            problems.extend(exc.problems)
    return loaded, problems


async def replay_paths(paths: Iterable[str | os.PathLike[str]]) -> ReplayRun:
    run = ReplayRun()
    loaded, run.problems = load_fixtures(paths, BotCache())
    for fixture, bot in loaded:
        run.bots.setdefault(bot.id, bot)
        run.results.append(await replay_fixture(fixture, bot))
    return run


def junit_xml(results: Iterable[FixtureResult], path: Path) -> None:
    """A JUnit XML report: one testcase per fixture."""
    results = list(results)
    root = ET.Element("testsuites")
    suite = ET.SubElement(
        root,
        "testsuite",
        name="supportbot transcripts",
        tests=str(len(results)),
        failures=str(sum(1 for r in results if not r.passed)),
        errors="0",
        time=f"{sum(r.seconds for r in results):.4f}",
    )
    for result in results:
        case = ET.SubElement(
            suite, "testcase", classname=f"transcripts.{result.bot_id}", name=result.path, time=f"{result.seconds:.4f}"
        )
        if result.failure:
            failure = ET.SubElement(
                case,
                "failure",
                message=f"turn {result.failure.turn}: {result.failure.message}",
                type=result.failure.kind,
            )
            failure.text = result.failure.detail
    root.attrib.update({k: suite.attrib[k] for k in ("tests", "failures", "errors", "time")})
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
