"""The provider interface: one async method that turns a request into model text.

A provider never decides anything: it returns the model's raw text (plus usage and
finish reason) and the engine validates it. Failures to reach the model are raised as
ModelUnavailable after the provider's own bounded retries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ..decision import Usage
from ..retrieval.base import Candidate

if TYPE_CHECKING:
    from ..bot import Bot

__all__ = ["Candidate", "DeltaCallback", "ModelRequest", "ModelResponse", "Provider", "ProviderFactory"]

#: Called with each piece of model text as it streams in.
DeltaCallback = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class ModelRequest:
    messages: list[dict[str, str]]
    model: str
    temperature: float
    max_tokens: int
    response_format: Literal["json_object", "json_schema"]
    #: The turn's reply schema, citations limited to the snippets offered (reply.py).
    reply_schema: Mapping[str, Any]
    #: Seconds for the whole request, and for the server's silence (first byte); None: the
    #: provider's default for its server (config/timeouts.py).
    timeout_s: float | None
    max_retries: int
    first_byte_timeout_s: float | None = None
    #: How the reply schema goes to the server (config: model.structured_output).
    structured_output: Literal["auto", "json_schema", "json_object_schema", "off"] = "off"
    #: The customer's message and the snippets in the prompt, for providers that answer
    #: without a language model (offline). Model-backed providers read only `messages`.
    user_text: str = ""
    candidates: tuple[Candidate, ...] = field(default=())
    #: True when retrieval has judged that the knowledge answers the message (the engine
    #: asks a provider only then): a retrieval-only provider answers with the best snippet.
    gated: bool = False


@dataclass(frozen=True)
class ModelResponse:
    text: str
    finish_reason: str | None = "stop"
    usage: Usage = field(default_factory=Usage)
    model: str = ""


@runtime_checkable
class Provider(Protocol):
    async def complete(self, request: ModelRequest, on_delta: DeltaCallback | None = None) -> ModelResponse:
        """Ask the model once (retrying transport failures); raise ModelUnavailable when it cannot."""
        ...

    async def aclose(self) -> None:
        """Release connections. Called once when the provider is no longer needed."""
        ...


#: What an entry point in the group `supportbot.providers` names: a class or function that
#: builds a provider for one bot. `env` holds the environment (API keys are read from it).
ProviderFactory = Callable[["Bot", Mapping[str, str]], Provider]
