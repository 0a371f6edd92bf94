"""Shared fixtures: bots written on the fly, the contract bot, and a fake OpenAI server."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from supportbot import Bot, load_bot
from supportbot.retrieval.encoder import DEFAULT_MODEL, missing_requirement
from supportbot.testing import FakeOpenAI

_NO_MODEL = missing_requirement(DEFAULT_MODEL)
#: For tests that run the semantic engine's model; the reason is the engine's own error.
needs_model = pytest.mark.skipif(_NO_MODEL is not None, reason=_NO_MODEL or "")


@pytest.fixture(autouse=True, scope="session")
def own_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The semantic engine's caches (probe vectors per bot, the int8 graph) go to a folder of
    the test session's: a test run leaves nothing in the user's ~/.cache (it used to leave a
    file for every bot written on the fly), and nothing stale there can decide a test.
    Servers the tests start inherit it."""
    folder = tmp_path_factory.mktemp("supportbot-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUPPORTBOT_CACHE_DIR", str(folder))
        yield folder


REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SPEC_BOT = SHARED / "spec" / "bots" / "acme-shop.yaml"
EXAMPLE_BOTS = sorted((REPO / "bots").glob("*.yaml"))

MINIMAL_BOT = """\
version: 1
id: test-shop
name: Test Shop
model:
  provider: openai
  name: gpt-4o-mini
  timeout_s: 2
  max_retries: 2
system_prompt: You are the assistant of Test Shop.
knowledge:
  top_k: 2
  engine: lexical
  snippets:
    - id: track-order
      title: Track an order
      questions: [Where is my package?, How do I track my order?]
      answer: Open "My Orders" to see the tracking link.
    - id: shipping-times
      title: Shipping times
      questions: [How long does delivery take?]
      answer: Standard shipping takes 3 to 5 business days.
    - id: return-policy
      title: Returns
      questions: [How do I return an item?]
      answer: Unworn items can be returned within 30 days.
escalation:
  confidence_threshold: 0.5
  rules:
    - id: asks-for-human
      if_user_says: [human, agent, real person]
    - id: legal
      description: Legal threats go to a person.
      if_user_matches: '(?i)\\b(lawyer|sue)\\b'
    - id: unsure-twice
      if_low_confidence_turns: 2
  handoff_message: A person will take over.
offline:
  # The retrieval gate lets through any message that shares a word with a snippet: the
  # tests on this bot are about the model path.
  min_score: 0.0
"""

#: MINIMAL_BOT with answers streamed as the model writes them: the grounding check, which
#: needs the whole answer before any of it is shown, is off.
STREAMING_BOT = MINIMAL_BOT.replace("escalation:\n", "escalation:\n  grounding: off\n", 1)

#: A model's answer to "Where is my package?" on MINIMAL_BOT, for ScriptedProvider.
TRACKING_ANSWER = json.dumps(
    {
        "action": "answer",
        "citations": ["track-order"],
        "confidence": 0.9,
        "reply": 'Open "My Orders" to see the tracking link.',
        "handoff_reason": None,
    }
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test that takes it runs twice: on a SQLite file, and in a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        from pg import postgres_schema

        with postgres_schema() as url:
            yield url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def spec_bot_path() -> Path:
    if not SPEC_BOT.exists():
        pytest.skip(f"the contract bot is not here ({SPEC_BOT}); check out ../shared beside the repo")
    return SPEC_BOT


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a file under tmp_path (dedented) and return its path."""

    def _write(relative: str, text: str) -> Path:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def bot_file(write: Callable[[str, str], Path]) -> Path:
    return write("bots/test-shop.yaml", MINIMAL_BOT)


@pytest.fixture
def bot(bot_file: Path) -> Bot:
    return load_bot(bot_file, env={})


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


async def run(bot: Bot, steps: list, *messages: str):
    """Messages through one conversation of `bot`, the model scripted by `steps` (all of
    which must be used): the decisions, the provider (its requests) and the conversation."""
    from supportbot import Conversation, Engine
    from supportbot.testing import ScriptedProvider

    provider = ScriptedProvider(steps)
    engine = Engine(bot, provider)
    conversation = Conversation(bot.id)
    decisions = [await engine.turn(conversation, m) for m in messages]
    provider.assert_done()
    return decisions, provider, conversation
