"""Property-based: no bot file mutation crashes the loader; no model output breaks a Decision."""

from __future__ import annotations

import asyncio
import json

from conftest import MINIMAL_BOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportbot import ConfigError, Conversation, Engine, parse_bot
from supportbot.reply import MAX_REPLY_CHARS
from supportbot.testing import ScriptedProvider

LINES = MINIMAL_BOT.splitlines()
BOT = parse_bot(MINIMAL_BOT, env={})


@st.composite
def mutated_bot(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "insert", "replace_char", "indent", "swap", "truncate"]))
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "insert":
            lines.insert(i, draw(st.text(max_size=40)))
        elif kind == "replace_char" and lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:j] + draw(st.characters()) + lines[i][j + 1 :]
        elif kind == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "  ", "\t", "    "])) + lines[i].lstrip()
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "truncate":
            lines = lines[: i + 1]
    return "\n".join(lines) + "\n"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bot())
def test_a_mutated_bot_file_loads_or_fails_with_problems_that_name_a_place(text):
    try:
        parse_bot(text, "bot.yaml", env={})
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.path == "bot.yaml" and problem.line >= 1 and problem.column >= 1 and problem.message
            assert str(problem).startswith(f"bot.yaml:{problem.line}:{problem.column}: ")


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
reply_like = st.fixed_dictionaries(
    {},
    optional={
        "action": st.sampled_from(["answer", "handoff", "ANSWER", ""]) | json_values,
        "reply": st.text(max_size=60) | json_values,
        "confidence": st.floats(-1, 2) | json_values,
        "citations": st.lists(
            st.sampled_from(["track-order", "shipping-times", "return-policy", "unknown", ""]), max_size=4
        )
        | json_values,
        "handoff_reason": st.text(max_size=20) | st.none(),
    },
)
model_outputs = st.one_of(
    reply_like.map(json.dumps),
    json_values.map(lambda v: json.dumps(v, allow_nan=True)),
    st.text(max_size=200),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_outputs, model_outputs)
def test_no_model_output_yields_an_answer_that_breaks_the_contract(first, second):
    provider = ScriptedProvider([first, second])
    decision = asyncio.run(
        Engine(BOT, provider).turn(Conversation(BOT.id), "Where is my package? How long does shipping take?")
    )
    offered = {c.snippet.id for c in provider.requests[0].candidates}
    if decision.action == "answer":
        assert decision.reply.strip() and len(decision.reply) <= MAX_REPLY_CHARS
        assert set(decision.citations) <= offered
        assert (
            decision.confidence is not None and BOT.config.escalation.confidence_threshold <= decision.confidence <= 1
        )
        assert decision.handoff is None
    else:
        assert decision.reply == "A person will take over." and decision.handoff is not None
