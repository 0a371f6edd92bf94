"""The response cache: decisions on first messages, kept for `response_cache.ttl_s`.

Many customers open with the same question ("where is my order?"). A first message has no
history, so its decision depends only on the message, the snippets retrieval offered and
the bot itself: the key is exactly those three (the message normalised: case, spacing and
trailing punctuation do not count). Only what the model decided is kept: answers, and the
model's own hand-offs. A rule's hand-off never is (rules run before the cache is asked, on
every message), nor a failure (an unreachable model, an invalid or ungrounded reply),
which the next customer should not inherit. In memory, per process, bounded in entries.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from .bot import Bot
from .decision import Decision

__all__ = ["CACHEABLE_HANDOFFS", "ResponseCache", "cache_key", "cacheable", "content_hash"]

#: Hand-offs that are the model's judgement of the message, not a failure of the moment.
CACHEABLE_HANDOFFS = frozenset({"model_requested", "low_confidence", "no_citations", "unknown_citations"})
_SPACE = re.compile(r"\s+")


def content_hash(bot: Bot) -> str:
    """Identifies what a bot says: its whole config and every snippet."""
    digest = hashlib.sha256(bot.config.model_dump_json().encode())
    for snippet in bot.snippets:
        digest.update(snippet.model_dump_json().encode())
    return digest.hexdigest()


def cache_key(message: str, offered: Sequence[str], bot_hash: str) -> str:
    normal = _SPACE.sub(" ", message.casefold()).strip().rstrip("?!. ")
    return hashlib.sha256("\0".join([bot_hash, normal, *offered]).encode("utf-8", "surrogatepass")).hexdigest()


def cacheable(decision: Decision) -> bool:
    if decision.action == "answer":
        return decision.attempts > 0  # asked the model (small talk and picks are not)
    return decision.action == "handoff" and decision.handoff is not None and decision.handoff.rule in CACHEABLE_HANDOFFS


class ResponseCache:
    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Decision, bool]] = OrderedDict()

    def get(self, key: str) -> tuple[Decision, bool] | None:
        """The decision kept under `key`, and whether its turn counted as unsure."""
        found = self._entries.get(key)
        if found is None:
            return None
        stored_at, decision, unsure = found
        if self._clock() - stored_at > self.ttl_s:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return decision, unsure

    def put(self, key: str, decision: Decision, unsure: bool) -> None:
        if not cacheable(decision):
            return
        self._entries[key] = (self._clock(), decision, unsure)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
