"""Helpers for testing bots: a fake OpenAI-compatible server, a fake Chatwoot, and a scripted provider."""

from .fake_chatwoot import FakeChatwoot
from .fake_openai import Body, Drop, FakeOpenAI, RecordedRequest, Reply, Status, answer_from_prompt
from .scripted import ScriptedProvider, UnusedSteps

__all__ = [
    "Body",
    "Drop",
    "FakeChatwoot",
    "FakeOpenAI",
    "RecordedRequest",
    "Reply",
    "ScriptedProvider",
    "Status",
    "UnusedSteps",
    "answer_from_prompt",
]
