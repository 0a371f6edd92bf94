"""The one exception hierarchy of supportbot.

    SupportbotError
    ├── ConfigError            a bot, knowledge file or fixture does not load; holds every Problem
    ├── MessageRejected        a customer message breaks the bot's limits (empty, too long)
    ├── ProviderError          something between us and the model went wrong
    │   ├── MissingApiKey      the provider needs a key and the named variable is empty
    │   └── ModelUnavailable   no usable response after bounded retries (network, 5xx, timeout)
    └── InvalidReply           the model's output is not a valid reply (json, schema, model)

Callers that face customers catch SupportbotError and never show a traceback; the engine
turns ModelUnavailable and InvalidReply into hand-offs, so they never reach a customer.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "InvalidReply",
    "MessageRejected",
    "MissingApiKey",
    "ModelUnavailable",
    "Problem",
    "ProviderError",
    "SupportbotError",
]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a config file, at the YAML node that is wrong."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class SupportbotError(Exception):
    """Base of every error supportbot raises on purpose."""


class ConfigError(SupportbotError):
    """A config does not load. All problems found in one run are reported together."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class MessageRejected(SupportbotError):
    """A customer message the bot refuses before doing anything with it."""


class ProviderError(SupportbotError):
    """A provider could not produce a model response."""


class MissingApiKey(ProviderError):
    """The provider needs an API key and the variable that should hold it is empty."""


class ModelUnavailable(ProviderError):
    """The model could not be reached, or kept failing, within the retry budget."""


class InvalidReply(SupportbotError):
    """The model's output is not a valid reply; the message says why, for the repair request."""


class UngroundedReply(InvalidReply):
    """A valid reply that states what the snippets it cites do not support; the message
    names what, for the repair request."""
