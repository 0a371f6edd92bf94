"""Building the Chat Completions message array for one turn. Pure functions.

Layout: one system message (the bot's system prompt, the JSON reply contract, the selected
snippets with their ids), then past turns trimmed to the token budget (oldest dropped
first, the system message never), then the customer's message. Customer text only ever
appears in user messages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from .reply import REPLY_CONTRACT, REPLY_EXAMPLE, ModelReply
from .retrieval.base import Candidate

__all__ = [
    "REPLY_CONTRACT",
    "HistoryTurn",
    "build_grounding_repair_messages",
    "build_messages",
    "build_repair_messages",
    "build_system_message",
    "trim_history",
]

Message = dict[str, str]

# A complete valid reply for the repair request (a small model copies the shape it is shown).
_REPAIR_EXAMPLE = json.dumps(
    REPLY_EXAMPLE.model_copy(update={"confidence": 0.8, "reply": "Your answer here."}).model_dump()
)
_KEYS = [f'"{name}"' for name in ModelReply.model_fields]
_NO_SNIPPETS = "No snippet matches this message. If you cannot answer it without one, hand off."


@dataclass(frozen=True)
class HistoryTurn:
    """A past exchange as it goes into the prompt, with its token count computed once."""

    messages: tuple[Message, ...]
    tokens: int


def build_system_message(system_prompt: str, candidates: Sequence[Candidate]) -> str:
    parts = [system_prompt.strip(), REPLY_CONTRACT, "# Knowledge snippets"]
    if candidates:
        parts.append("Only these snippets may be used and cited. The customer cannot see them.")
        parts.extend(f"[{c.snippet.id}] {c.snippet.title}\n{c.snippet.answer.strip()}" for c in candidates)
    else:
        parts.append(_NO_SNIPPETS)
    return "\n\n".join(parts)


def trim_history(history: Sequence[HistoryTurn], budget: int) -> list[HistoryTurn]:
    """The most recent whole turns whose tokens fit in `budget`."""
    kept: list[HistoryTurn] = []
    used = 0
    for turn in reversed(history):
        if used + turn.tokens > budget:
            break
        kept.append(turn)
        used += turn.tokens
    kept.reverse()
    return kept


def build_messages(
    system_prompt: str,
    candidates: Sequence[Candidate],
    history: Sequence[HistoryTurn],
    user_text: str,
    history_tokens: int,
) -> list[Message]:
    messages: list[Message] = [{"role": "system", "content": build_system_message(system_prompt, candidates)}]
    for turn in trim_history(history, history_tokens):
        messages.extend(turn.messages)
    messages.append({"role": "user", "content": user_text})
    return messages


def build_repair_messages(messages: Sequence[Message], bad_output: str, error: str) -> list[Message]:
    """The original request plus the invalid output and what was wrong with it."""
    shown = bad_output if len(bad_output) <= 2000 else bad_output[:2000] + " [...]"
    note = (
        f"Your previous output was not a valid reply: {error}. "
        "Answer the same customer message again with one JSON object and nothing else, "
        f"with exactly the keys {', '.join(_KEYS[:-1])} and {_KEYS[-1]}, "
        "as the reply format in the system message says. "
        '"reply" is a string, "confidence" a number, "citations" a list of snippet id strings. '
        f"For example: {_REPAIR_EXAMPLE}"
    )
    return [*messages, {"role": "assistant", "content": shown}, {"role": "user", "content": note}]


def build_grounding_repair_messages(messages: Sequence[Message], output: str, problems: str) -> list[Message]:
    """The original request plus a valid reply that its snippets do not support, and what
    in it they do not support."""
    note = (
        f"Your previous reply is not supported by the snippets it cites: {problems}. "
        "Answer the same customer message again using only what the knowledge snippets say, "
        "citing the snippets you use, in the same JSON format. "
        'If the snippets do not answer the message, reply with "action": "handoff".'
    )
    return [*messages, {"role": "assistant", "content": output[:2000]}, {"role": "user", "content": note}]
