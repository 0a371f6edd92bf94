"""supportbot: customer-support bots driven by config files.

from supportbot import load_bot, Engine, Conversation

bot = load_bot("bots/shop.yaml")
async with Engine.for_bot(bot, provider="offline") as engine:
    decision = await engine.turn(Conversation(bot.id), "Where is my parcel?")
"""

from ._version import __version__
from .bot import Bot
from .config import BotConfig, bot_json_schema
from .config.loader import load_bot, load_bots, parse_bot
from .conversation import Conversation
from .decision import Decision, Handoff, Usage
from .engine import Engine
from .errors import (
    ConfigError,
    InvalidReply,
    MessageRejected,
    MissingApiKey,
    ModelUnavailable,
    Problem,
    ProviderError,
    SupportbotError,
)
from .reply import REPLY_SCHEMA, ModelReply, parse_reply

__all__ = [
    "REPLY_SCHEMA",
    "Bot",
    "BotConfig",
    "ConfigError",
    "Conversation",
    "Decision",
    "Engine",
    "Handoff",
    "InvalidReply",
    "MessageRejected",
    "MissingApiKey",
    "ModelReply",
    "ModelUnavailable",
    "Problem",
    "ProviderError",
    "SupportbotError",
    "Usage",
    "__version__",
    "bot_json_schema",
    "load_bot",
    "load_bots",
    "parse_bot",
    "parse_reply",
]
