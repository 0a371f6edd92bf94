"""The model reply contract: its JSON Schema, its pydantic model, and how text is checked.

Validation runs in three steps, each with its own clear error for the repair request:
JSON parse -> JSON Schema (shape and types) -> pydantic (meaning across fields).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidReply

__all__ = [
    "MAX_REPLY_CHARS",
    "REPLY_SCHEMA",
    "ModelReply",
    "parse_reply",
    "strict_reply_schema",
]

MAX_REPLY_CHARS = 4000
# Anything longer than this cannot be a valid reply; refuse it before parsing.
_MAX_OUTPUT_CHARS = 4 * MAX_REPLY_CHARS + 2000
_FENCE = re.compile(r"\A\s*```(?:json)?\s*\n(.*?)\n?```\s*\Z", re.S | re.I)

REPLY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "supportbot model reply",
    "type": "object",
    # In the order a model should write them: what it does and on what it stands before the
    # text, so the text can stream once it is known to stand (streaming.py).
    "properties": {
        "action": {"enum": ["answer", "handoff"]},
        "citations": {"type": "array", "items": {"type": "string"}, "maxItems": 50},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reply": {"type": "string", "maxLength": MAX_REPLY_CHARS},
        "handoff_reason": {"type": ["string", "null"], "maxLength": 1000},
    },
    "required": ["action", "citations", "confidence", "reply"],
    "additionalProperties": False,
}
_VALIDATOR = Draft202012Validator(REPLY_SCHEMA)


class ModelReply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["answer", "handoff"]
    citations: list[str] = Field(max_length=50)
    confidence: float = Field(ge=0, le=1)
    reply: str = Field(max_length=MAX_REPLY_CHARS)
    handoff_reason: str | None = None

    @model_validator(mode="after")
    def _answer_has_text(self) -> ModelReply:
        if self.action == "answer" and not self.reply.strip():
            raise ValueError('an "answer" needs a non-empty "reply"')
        return self


def strict_reply_schema() -> dict[str, Any]:
    """The reply schema in the form OpenAI's strict structured outputs accept.

    Strict mode wants every property required (optional ones nullable) and no numeric
    bounds; the full schema is still enforced on the way back.
    """
    return {
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": ["answer", "handoff"]},
            "citations": {"type": "array", "items": {"type": "string"}},
            "confidence": {"type": "number"},
            "reply": {"type": "string"},
            "handoff_reason": {"type": ["string", "null"]},
        },
        "required": ["action", "citations", "confidence", "reply", "handoff_reason"],
        "additionalProperties": False,
    }


def parse_reply(text: str, finish_reason: str | None = "stop") -> ModelReply:
    """Check raw model output against the contract; raise InvalidReply saying what is wrong."""
    if finish_reason == "length":
        raise InvalidReply("the reply was cut off at the token limit; keep the reply short")
    if finish_reason == "content_filter":
        raise InvalidReply("the reply was withheld by the content filter")
    if len(text) > _MAX_OUTPUT_CHARS:
        raise InvalidReply(f"the output is {len(text)} characters long; a reply has at most {MAX_REPLY_CHARS}")
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidReply(f"the output is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise InvalidReply("; ".join(dict.fromkeys(_describe(e) for e in errors[:5])))
    try:
        return ModelReply.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise InvalidReply(str(first["msg"]).removeprefix("Value error, ")) from None


def _describe(error: Any) -> str:
    """What is wrong and where, never the value: a model that echoes the customer (an
    email, a card number) must not put that text into logs or repair requests."""
    where = "/".join(str(p) for p in error.absolute_path) or "the object"
    rule, allowed, found = error.validator, error.validator_value, error.instance
    if rule == "type":
        wanted = " or ".join(allowed) if isinstance(allowed, list) else allowed
        return f"{where}: must be of type {wanted}, not {_kind(found)}"
    if rule == "enum":
        return f"{where}: must be one of {', '.join(json.dumps(v) for v in allowed)}"
    if rule == "required":
        missing = [name for name in allowed if isinstance(found, dict) and name not in found]
        return f"{where}: missing {', '.join(repr(m) for m in missing)}"
    if rule == "additionalProperties":
        return f"{where}: has keys that are not allowed (allowed: {', '.join(REPLY_SCHEMA['properties'])})"
    bounds = {"minimum": "at least", "maximum": "at most", "maxLength": "at most {} characters long",
              "maxItems": "at most {} items long"}
    if rule in bounds:
        text = bounds[rule]
        return f"{where}: must be " + (text.format(allowed) if "{}" in text else f"{text} {allowed}")
    return f"{where}: breaks the reply schema's {rule!r} rule"


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
