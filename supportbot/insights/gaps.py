"""`supportbot gaps`: the questions a bot could not answer, grouped by meaning, each group a
draft FAQ entry; and the hand-offs an existing entry would have avoided. Pure: messages and
an embedding function in, groups out.

Which messages count: hand-offs for want of an answer (turns.NO_ANSWER_RULES), clarifications
the customer did not pick from, and answers the customer rated down.

Grouping is average-linkage agglomerative clustering on sentence vectors: two groups merge
while the mean cosine similarity between their messages is at least `threshold`. Unlike a
nearest-neighbour chain, one message between two topics cannot join them, and the number
of groups need not be known in advance.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import textnorm
from ..clarify import declines_options, says_too_little
from .masking import mask
from .turns import Turn

__all__ = [
    "DEFAULT_THRESHOLD",
    "Avoidable",
    "Cluster",
    "average_linkage",
    "drafts_yaml",
    "find_gaps",
    "gap_turns",
    "gaps_json",
]

Embed = Callable[[Sequence[str]], NDArray[np.float32]]

#: Mean cosine similarity (all-MiniLM-L6-v2) at which two groups are one topic: the lowest
#: that recovered all ten withheld intents on the traffic simulation's tuning seed (0.5 to
#: 0.6 merged near-identical intents); checked on its held-out seed (bench/traffic_sim.py).
DEFAULT_THRESHOLD = 0.65
#: An agent's reply this close to a snippet's answer (cosine) is that snippet's answer.
_SAME_ANSWER = 0.9
_MOST_MESSAGES = 5000  # the newest are clustered; the similarity matrix grows with the square


@dataclass(frozen=True)
class Cluster:
    title: str
    messages: list[str]
    turns: list[Turn]
    draft_answer: str | None  # the agents' most common reply, if they answered these

    @property
    def size(self) -> int:
        return len(self.messages)


@dataclass(frozen=True)
class Avoidable:
    """A hand-off whose agent replied with an existing snippet's answer."""

    snippet: str
    message: str  # the customer's wording: add it as an example question
    turn: Turn


def gap_turns(turns: Sequence[Turn]) -> list[Turn]:
    """The customer messages the bot did not answer, or answered to the customer's dislike."""
    return [
        t
        for t in turns
        if not t.withheld
        and not t.small_talk
        and _LETTER.search(t.text)  # "2" to a clarification that had one option asks nothing
        and not (t.after_clarification and declines_options(t.text))  # "no": the question asked is the gap
        and (t.unanswered or (t.action == "clarify" and not t.picked) or (t.rating and t.rating.rating == "down"))
    ]


_LETTER = re.compile(r"[^\W\d_]")


def in_context(turn: Turn) -> str:
    """The message as a gap: a follow-up of one word that says what it is about ("and for how
    long?") means nothing alone, so it carries the question it followed."""
    before = _followed(turn)
    return f"{textnorm.clean(turn.text)} (after: {before})" if before else textnorm.clean(turn.text)


def as_question(turn: Turn) -> str:
    """A gap as an example question of its own: a follow-up joined to the question it
    followed ("how do i pause my subscription, and for how long?"), not with a note on it
    that the bot would then match against."""
    before = _followed(turn)
    return f"{before}, {textnorm.clean(turn.text)}" if before else textnorm.clean(turn.text)


def _followed(turn: Turn) -> str | None:
    """The question a follow-up that says too little went on with, else None."""
    if turn.asked_before and says_too_little(textnorm.clean(turn.text)):
        return textnorm.clean(turn.asked_before)
    return None


def find_gaps(
    turns: Sequence[Turn],
    answers: Mapping[str, str],
    embed: Embed,
    threshold: float = DEFAULT_THRESHOLD,
) -> tuple[list[Cluster], list[Avoidable]]:
    """Groups of unanswered messages, biggest first, and the avoidable hand-offs apart.
    `answers`: the bot's snippets, id -> answer text."""
    gaps = gap_turns(turns)[-_MOST_MESSAGES:]
    avoidable = _avoidable(gaps, answers, embed)
    covered = {id(a.turn) for a in avoidable}
    rest = [t for t in gaps if id(t) not in covered]
    if not rest:
        return [], avoidable
    texts = [in_context(t) for t in rest]
    unique = list(dict.fromkeys(texts))
    encoded = embed(unique)
    row_of = {text: row for row, text in enumerate(unique)}
    vectors = encoded[[row_of[text] for text in texts]]
    groups = average_linkage(vectors, threshold)
    clusters = [_cluster([rest[i] for i in group], [texts[i] for i in group], vectors[group]) for group in groups]
    clusters.sort(key=lambda c: (-c.size, c.title))
    return clusters, avoidable


def average_linkage(vectors: NDArray[np.float32], threshold: float) -> list[list[int]]:
    """Groups of row indices whose mean pairwise cosine similarity stays >= threshold.

    Each step merges the two most similar groups, found from a cached best neighbour per
    row; a merge recomputes only the rows whose best neighbour took part in it."""
    n = len(vectors)
    sim = (vectors @ vectors.T).astype(np.float64)
    np.fill_diagonal(sim, -np.inf)
    sizes = np.ones(n)
    active = np.ones(n, dtype=bool)
    members: dict[int, list[int]] = {i: [i] for i in range(n)}
    best = sim.argmax(axis=1) if n > 1 else np.zeros(n, dtype=int)
    best_value = sim[np.arange(n), best] if n > 1 else np.full(n, -np.inf)
    while len(members) > 1:
        i = int(best_value.argmax())
        j = int(best[i])
        if best_value[i] < threshold:
            break
        merged = (sizes[i] * sim[i] + sizes[j] * sim[j]) / (sizes[i] + sizes[j])
        sim[i], sim[:, i] = merged, merged
        sim[i, i] = -np.inf
        sim[j], sim[:, j] = -np.inf, -np.inf
        sizes[i] += sizes[j]
        members[i] += members.pop(j)
        best_value[j], active[j] = -np.inf, False
        stale = np.flatnonzero(active & ((best == i) | (best == j)))
        for k in [i, *stale]:
            best[k] = int(sim[k].argmax())
            best_value[k] = sim[k, best[k]]
        closer = sim[:, i] > best_value
        best[closer], best_value[closer] = i, sim[closer, i]
    return list(members.values())


def _cluster(turns: list[Turn], texts: list[str], vectors: NDArray[np.float32]) -> Cluster:
    """Messages most typical of the group first; the most typical one is its title."""
    centrality = (vectors @ vectors.T).mean(axis=1)
    order = np.argsort(-centrality, kind="stable")
    ordered = [turns[i] for i in order]
    replies = Counter(t.agent_replies[0].strip() for t in ordered if t.agent_replies)
    return Cluster(
        title=suggest_title(texts[order[0]]),
        messages=[texts[i] for i in order],
        turns=ordered,
        draft_answer=replies.most_common(1)[0][0] if replies else None,
    )


def suggest_title(text: str) -> str:
    """A message as an entry title: one line, capitalised, at most 80 characters."""
    line = re.sub(r"\s+", " ", text).strip().rstrip("?!. ")
    if len(line) > 80:
        line = line[:77].rsplit(" ", 1)[0] + "..."
    return line[:1].upper() + line[1:] if line else "Untitled question"


def _avoidable(gaps: Sequence[Turn], answers: Mapping[str, str], embed: Embed) -> list[Avoidable]:
    """Gap turns an agent answered with a snippet's answer: the bot had the answer and
    missed the question."""
    answered = [t for t in gaps if t.agent_replies]
    matches = same_answer([t.agent_replies[0] for t in answered], answers, embed)
    return [Avoidable(snippet, turn.text, turn) for turn, snippet in zip(answered, matches, strict=True) if snippet]


def same_answer(replies: Sequence[str], answers: Mapping[str, str], embed: Embed) -> list[str | None]:
    """For each agent reply, the snippet whose answer it gives (the same text, or one this
    close in meaning), else None. `answers`: snippet id -> answer text."""
    if not replies or not answers:
        return [None] * len(replies)
    normal = {snippet: _normal(text) for snippet, text in answers.items()}
    # Agents paste answers, and reuse their own replies: compare each text once, and embed
    # only the replies that do not contain an answer word for word.
    by_text: dict[str, str | None] = {}
    for reply in dict.fromkeys(replies):
        by_text[reply] = next((snippet for snippet, text in normal.items() if text and text in _normal(reply)), None)
    unmatched = [reply for reply, snippet in by_text.items() if snippet is None]
    if unmatched:
        ids = list(answers)
        similarity = embed(unmatched) @ embed([answers[i] for i in ids]).T
        for row, reply in enumerate(unmatched):
            best = int(similarity[row].argmax())
            by_text[reply] = ids[best] if similarity[row, best] >= _SAME_ANSWER else None
    return [by_text[reply] for reply in replies]


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def gaps_json(clusters: Sequence[Cluster], avoidable: Sequence[Avoidable]) -> dict[str, Any]:
    """What `supportbot gaps --json` prints."""
    return {
        "clusters": [
            {
                "size": c.size,
                "title": c.title,
                "messages": c.messages,
                "conversations": sorted({t.conversation_id for t in c.turns}),
                "why": dict(Counter(_why(t) for t in c.turns)),
                "draft_answer": c.draft_answer,
            }
            for c in clusters
        ],
        "avoidable": _avoidable_json(avoidable),
    }


def _avoidable_json(avoidable: Sequence[Avoidable]) -> list[dict[str, Any]]:
    by_snippet: dict[str, list[Avoidable]] = {}
    for item in avoidable:
        by_snippet.setdefault(item.snippet, []).append(item)
    return [
        {
            "snippet": snippet,
            "handoffs": len(items),
            "add_questions": sorted({i.message for i in items}),
            "conversations": sorted({i.turn.conversation_id for i in items}),
        }
        for snippet, items in sorted(by_snippet.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


def _why(turn: Turn) -> str:
    if turn.rating and turn.rating.rating == "down":
        return "rated_down"
    if turn.action == "clarify":
        return "clarified_no_pick"
    return turn.rule or "handoff"


def drafts_yaml(clusters: Sequence[Cluster], min_size: int = 2, questions: int = 5) -> str:
    """Draft snippets in the bot format (a knowledge file), one per group of `min_size`
    messages or more, each `draft: true` so that `validate` warns until a person edits it."""
    import yaml

    used: set[str] = set()
    snippets = []
    for cluster in clusters:
        if cluster.size < min_size:
            continue
        typical = cluster.turns[0]  # the title's message
        title = suggest_title(as_question(typical)) if _followed(typical) else cluster.title
        snippet_id = _unique(_slug(title), used)
        answer = cluster.draft_answer or f"Write the answer to: {title}?"
        snippets.append(
            {
                "id": snippet_id,
                "title": title,
                "draft": True,
                "questions": list(dict.fromkeys(mask(as_question(t)) for t in cluster.turns))[:questions],
                "answer": answer,
            }
        )
    header = (
        "# Draft FAQ entries from `supportbot gaps`: questions customers asked that the bot could not answer.\n"
        "# The answers are what agents replied. Check each entry, then remove `draft: true`;\n"
        "# include this file from the bot (knowledge.include) once it is right.\n"
    )
    return header + yaml.safe_dump({"snippets": snippets}, sort_keys=False, allow_unicode=True, width=100)


def _slug(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())[:6]
    return "-".join(words) or "draft"


def _unique(slug: str, used: set[str]) -> str:
    candidate, n = slug, 2
    while candidate in used:
        candidate, n = f"{slug}-{n}", n + 1
    used.add(candidate)
    return candidate
