"""Transcript fixtures: record whole conversations once, replay them through the real engine."""

from .coverage import BotCoverage, compute_coverage
from .fixture import FIXTURE_SUFFIX, SCRIPTED, Expect, Fixture, FixtureConfig, Turn, fingerprint, load_fixture
from .record import RecordResult, record_fixture, record_new
from .replay import FixtureResult, ReplayProvider, TurnFailure, check_expectations, replay_fixture
from .run import ReplayRun, junit_xml, load_fixtures, replay_paths

__all__ = [
    "FIXTURE_SUFFIX",
    "SCRIPTED",
    "BotCoverage",
    "Expect",
    "Fixture",
    "FixtureConfig",
    "FixtureResult",
    "RecordResult",
    "ReplayProvider",
    "ReplayRun",
    "Turn",
    "TurnFailure",
    "check_expectations",
    "compute_coverage",
    "fingerprint",
    "junit_xml",
    "load_fixture",
    "load_fixtures",
    "record_fixture",
    "record_new",
    "replay_fixture",
    "replay_paths",
]
