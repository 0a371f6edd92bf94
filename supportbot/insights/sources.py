"""Where the insights commands get their input: the store, the bot files, and the sentence
encoder that groups messages by meaning. The I/O edge of insights/."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from ..ages import iso_utc, parse_age
from ..bot import Bot
from ..retrieval.encoder import DEFAULT_MODEL, load_encoder
from ..store import ConversationActivity, open_store
from .gaps import Embed
from .report import BotFacts

__all__ = ["answers_of", "bot_facts", "embedder", "parse_since", "read_activity"]


def parse_since(text: str | None, now: datetime | None = None) -> str | None:
    """'7d', '12h', '30m', 'all' (None: everything), or a date (2026-11-30) as the UTC ISO
    8601 time a window starts; ValueError saying what is allowed."""
    if text is None or text.strip().lower() == "all":
        return None
    try:
        return iso_utc((now or datetime.now(UTC)) - parse_age(text, "--since"))
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.strip()).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    except ValueError:
        raise ValueError(f"--since {text!r}: give an age (7d, 12h, 30m), a date (2026-11-30), or 'all'") from None


async def read_activity(url: str, bot_id: str | None, since: str | None) -> list[ConversationActivity]:
    store = open_store(url)
    await store.open()
    try:
        return await store.activity(bot_id, since)
    finally:
        await store.close()


def bot_facts(bots: Iterable[Bot]) -> dict[str, BotFacts]:
    """What the report takes from bot files: the model that costs tokens, the snippets."""
    return {
        bot.id: BotFacts(
            model=bot.config.model.name if bot.config.model.provider != "offline" else None,
            snippets={s.id: s.title for s in bot.snippets},
        )
        for bot in bots
    }


def answers_of(bot: Bot | None) -> Mapping[str, str]:
    return {s.id: s.answer for s in bot.snippets} if bot else {}


def embedder() -> Embed:
    """Unit sentence vectors from the semantic engine's encoder (installed with supportbot's
    documented setup); a ConfigError saying the one install command when it is missing."""
    encoder = load_encoder(DEFAULT_MODEL, "supportbot gaps")
    # Short messages in batches of 16: 3.6 s instead of 4.7 s for the 642 messages of the
    # traffic simulation (medians of 3, side by side), as each batch's arrays stay in cache.
    return lambda texts: encoder.encode(texts, batch=16)
