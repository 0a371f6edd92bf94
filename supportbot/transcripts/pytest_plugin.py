"""pytest plugin (entry point `pytest11`): every `*.transcript.yaml` file is a test item.

Failures are reported with the turn number and, for a stale turn, the diff of the
recorded and current model requests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ..errors import ConfigError
from .fixture import FIXTURE_SUFFIX, load_fixture
from .replay import BotCache, FixtureResult, replay_fixture

_CACHE = pytest.StashKey[BotCache]()


class TranscriptFailed(Exception):
    def __init__(self, result: FixtureResult) -> None:
        super().__init__(result.failure)
        self.result = result


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.name.endswith(FIXTURE_SUFFIX):
        return TranscriptFile.from_parent(parent, path=file_path)
    return None


class TranscriptFile(pytest.File):
    def collect(self) -> Any:
        yield TranscriptItem.from_parent(self, name=self.path.name)


class TranscriptItem(pytest.Item):
    def runtest(self) -> None:
        cache = self.config.stash.setdefault(_CACHE, BotCache())
        fixture = load_fixture(self.path)
        result = asyncio.run(replay_fixture(fixture, cache.get(fixture.bot_path)))
        if not result.passed:
            raise TranscriptFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        error = excinfo.value
        if isinstance(error, TranscriptFailed) and error.result.failure:
            failure = error.result.failure
            lines = [f"turn {failure.turn}: {failure.message}"]
            if failure.detail:
                lines.append(failure.detail)
            return "\n".join(lines)
        if isinstance(error, ConfigError):
            return str(error)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"transcript {self.name}"
