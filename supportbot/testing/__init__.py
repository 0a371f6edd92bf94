"""Helpers for testing bots: a fake OpenAI-compatible server and a scripted provider."""

from .fake_openai import Drop, FakeOpenAI, RecordedRequest, Reply, Status, answer_from_prompt
from .scripted import ScriptedProvider, UnusedSteps

__all__ = [
    "Drop",
    "FakeOpenAI",
    "RecordedRequest",
    "Reply",
    "ScriptedProvider",
    "Status",
    "UnusedSteps",
    "answer_from_prompt",
]
