"""`supportbot export`: real conversations as `supportbot eval` datasets and as transcript
fixtures, with what a person confirmed as the expected outcome, and personal data masked.
Pure: turns and the bot's answers in, lines and fixture documents out.

A turn's outcome counts as confirmed when
- the customer rated the bot's answer up: that answer, citing what it cited;
- an agent answered the hand-off with a snippet's answer: that snippet (the bot should
  have answered);
- an agent answered the hand-off with anything else: a hand-off (the FAQ does not cover it).
Other turns (unrated answers, hand-offs nobody answered, answers rated down) confirm
nothing; fixtures replay them for context and expect nothing of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..evaluation import HANDOFF
from .gaps import Embed, same_answer
from .masking import mask
from .turns import Turn

__all__ = ["Confirmed", "confirmed_outcomes", "eval_lines", "fixture_document"]


@dataclass(frozen=True)
class Confirmed:
    turn: Turn
    expect: str  # a snippet id, or "handoff"


def confirmed_outcomes(turns: Sequence[Turn], answers: Mapping[str, str], embed: Embed) -> dict[int, Confirmed]:
    """What a person confirmed, by the identity of the turn (id(turn))."""
    found: dict[int, Confirmed] = {}
    handed = [t for t in turns if t.new_handoff and t.agent_replies and not t.withheld]
    matches = same_answer([t.agent_replies[0] for t in handed], answers, embed)
    for turn, snippet in zip(handed, matches, strict=True):
        found[id(turn)] = Confirmed(turn, snippet or HANDOFF)
    for turn in turns:
        if turn.action == "answer" and turn.rating and turn.rating.rating == "up" and turn.citations:
            found[id(turn)] = Confirmed(turn, turn.citations[0])
    return found


def eval_lines(confirmed: Sequence[Confirmed]) -> list[dict[str, Any]]:
    """`supportbot eval` lines, one per distinct masked message (the first confirmation
    of a message wins)."""
    lines: dict[str, dict[str, Any]] = {}
    for item in confirmed:
        text = mask(item.turn.text)
        if text in lines:
            continue
        kind = "in-scope" if item.expect != HANDOFF else "id-oos"
        source = f"conversation {item.turn.conversation_id} message {item.turn.seq}"
        lines[text] = {"text": text, "expect": item.expect, "kind": kind, "source": source}
    return list(lines.values())


def fixture_document(
    bot_path: str, conversation: Sequence[Turn], confirmed: Mapping[int, Confirmed]
) -> dict[str, Any] | None:
    """A transcript fixture of one conversation, up to its first hand-off (after it, the
    conversation is a person's); None when no turn of it was confirmed."""
    turns: list[dict[str, Any]] = []
    any_confirmed = False
    for turn in conversation:
        if turn.withheld:  # masked, a text rule would no longer catch it: the replay ends here
            break
        entry: dict[str, Any] = {"user": mask(turn.text)}
        item = confirmed.get(id(turn))
        if item:
            any_confirmed = True
            entry["expect"] = (
                {"action": "handoff"} if item.expect == HANDOFF else {"action": "answer", "citations": [item.expect]}
            )
        turns.append(entry)
        if turn.new_handoff:
            break
    if not any_confirmed:
        return None
    first = conversation[0]
    description = f"exported from conversation {first.conversation_id} ({first.at[:10]})"
    return {"format": 1, "bot": bot_path, "description": description, "turns": turns}
