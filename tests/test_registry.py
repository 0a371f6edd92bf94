"""Providers are found through the entry point group `supportbot.providers`."""

from __future__ import annotations

import sys
import textwrap

import pytest

from supportbot import Conversation, Engine, ProviderError
from supportbot.providers import registry

pytestmark = pytest.mark.anyio


@pytest.fixture
def third_party_provider(tmp_path, monkeypatch):
    """An installed distribution (dist-info on sys.path) declaring a provider entry point."""
    (tmp_path / "echo_provider.py").write_text(
        textwrap.dedent("""
        import json
        from supportbot.providers.base import ModelResponse

        class EchoProvider:
            def __init__(self, bot, env):
                self.bot = bot

            async def complete(self, request, on_delta=None):
                reply = {"action": "answer", "reply": "echo: " + request.user_text, "confidence": 1.0,
                         "citations": [c.snippet.id for c in request.candidates[:1]]}
                return ModelResponse(json.dumps(reply))

            async def aclose(self):
                pass
    """)
    )
    dist = tmp_path / "echo_provider-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-provider\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[supportbot.providers]\necho = echo_provider:EchoProvider\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._targets.cache_clear()
    yield
    registry._targets.cache_clear()
    sys.modules.pop("echo_provider", None)


def test_the_builtin_providers_are_always_there():
    assert {"offline", "openai"} <= set(registry.provider_names())


async def test_a_third_party_provider_is_found_and_used(third_party_provider, bot):
    assert "echo" in registry.provider_names()
    async with Engine.for_bot(bot, {}, provider="echo") as engine:
        decision = await engine.turn(Conversation(bot.id), "Where is my package?")
    assert decision.reply == "echo: Where is my package?" and decision.citations == ["track-order"]


def test_an_unknown_provider_names_the_known_ones(bot):
    with pytest.raises(ProviderError, match=r"unknown provider 'nope' \(allowed: .*offline, openai"):
        registry.create_provider(bot, {}, name="nope")
