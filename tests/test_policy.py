"""Escalation policy: rules decided by code, before and after the model."""

import pytest

from supportbot.config import Escalation, Rule
from supportbot.policy import ConversationFacts, compile_rules, decide_post_model, decide_pre_model
from supportbot.reply import ModelReply

RULES = compile_rules(
    Escalation(
        confidence_threshold=0.55,
        max_bot_turns=3,
        rules=[
            Rule(id="asks-for-human", if_user_says=["agent", "real person", "talk to someone"]),
            Rule(id="legal", description="Legal threats.", if_user_matches=r"(?i)\b(lawyer|sue)\b"),
            Rule(id="streak", if_low_confidence_turns=2),
        ],
    )
)
FRESH = ConversationFacts()


def answer(confidence=0.9, citations=("a",), action="answer", reason=None):
    return ModelReply(
        action=action, reply="Text.", confidence=confidence, citations=list(citations), handoff_reason=reason
    )


@pytest.mark.parametrize("text", ["I want an AGENT", "let me talk to  someone", "a real\nperson please", "agent!"])
def test_words_and_phrases_fire_case_insensitively_on_word_boundaries(text):
    assert decide_pre_model(RULES, FRESH, text).rule == "asks-for-human"


@pytest.mark.parametrize("text", ["what's on the agenda?", "agents", "reagent", "a realperson"])
def test_words_inside_other_words_do_not_fire(text):
    assert decide_pre_model(RULES, FRESH, text) is None


def test_a_regex_rule_fires_with_its_description_as_reason():
    handoff = decide_pre_model(RULES, FRESH, "I will call my lawyer")
    assert (handoff.rule, handoff.reason) == ("legal", "Legal threats.")


def test_the_bot_turn_limit_hands_off_before_the_model():
    assert decide_pre_model(RULES, ConversationFacts(bot_turns=2), "hello") is None
    assert decide_pre_model(RULES, ConversationFacts(bot_turns=3), "hello").rule == "max_bot_turns"


def test_a_handed_off_conversation_never_reaches_the_model():
    assert decide_pre_model(RULES, ConversationFacts(bot_active=False), "hi").rule == "already_handed_off"


def test_the_model_may_ask_for_a_person_and_its_note_is_for_the_team_only():
    post = decide_post_model(RULES, FRESH, answer(action="handoff", reason="angry customer"), frozenset("a"))
    assert (post.handoff.rule, post.handoff.detail) == ("model_requested", "angry customer")
    assert "angry" not in post.handoff.reason and "angry" not in post.handoff.model_dump_json()


def test_a_reply_below_the_threshold_hands_off_as_low_confidence():
    post = decide_post_model(RULES, FRESH, answer(confidence=0.3), frozenset("a"))
    assert post.handoff.rule == "low_confidence" and "0.30 is below the threshold 0.55" in post.handoff.detail
    assert decide_post_model(RULES, FRESH, answer(confidence=0.55), frozenset("a")).handoff is None


def test_citations_of_snippets_not_in_the_prompt_are_dropped():
    post = decide_post_model(RULES, FRESH, answer(citations=("a", "made-up", "a")), frozenset({"a", "b"}))
    assert post.citations == ["a"] and not post.unsure and post.handoff is None


def test_an_answer_citing_only_unknown_snippets_hands_off_at_once():
    post = decide_post_model(RULES, FRESH, answer(citations=("no-such-snippet",)), frozenset({"a"}))
    assert post.handoff.rule == "unknown_citations" and post.citations == []
    assert "no-such-snippet" in post.handoff.detail and "no-such-snippet" not in post.handoff.reason


def test_an_answer_without_citations_is_unsure_and_unsure_answers_in_a_row_hand_off():
    first = decide_post_model(RULES, FRESH, answer(citations=()), frozenset({"a"}))
    assert first.unsure and first.citations == [] and first.handoff is None
    second = decide_post_model(RULES, ConversationFacts(unsure_streak=1), answer(citations=()), frozenset({"a"}))
    assert second.handoff.rule == "streak" and "2 unsure replies in a row" in second.handoff.detail


def test_a_bot_that_requires_citations_hands_off_an_answer_that_cites_nothing():
    strict = compile_rules(Escalation(require_citations=True))
    assert decide_post_model(strict, FRESH, answer(citations=()), frozenset({"a"})).handoff.rule == "no_citations"
    assert decide_post_model(strict, FRESH, answer(citations=("a",)), frozenset({"a"})).handoff is None


def test_a_sure_answer_is_not_affected_by_an_earlier_streak():
    post = decide_post_model(RULES, ConversationFacts(unsure_streak=1), answer(), frozenset({"a"}))
    assert post.handoff is None and not post.unsure


@pytest.mark.parametrize(
    "text",
    [
        "I want a hu\u200bman",  # zero-width space
        "I want a hu\u00adman",  # soft hyphen
        "I want a \uff48\uff55\uff4d\uff41\uff4e",  # fullwidth
        "I want a hum\u0430n",  # Cyrillic a
        "talk to an \u0391GENT",  # Greek capital alpha
        "real\u200d person",  # zero-width joiner
    ],
)
def test_invisible_and_look_alike_characters_do_not_hide_a_phrase(text):
    rules = compile_rules(Escalation(rules=[Rule(id="human", if_user_says=["human", "agent", "real person"])]))
    assert decide_pre_model(rules, FRESH, text).rule == "human"


def test_a_phrase_written_in_cyrillic_still_matches_cyrillic_text():
    rules = compile_rules(Escalation(rules=[Rule(id="operator", if_user_says=["оператор"])]))
    assert decide_pre_model(rules, FRESH, "Позовите ОПЕРАТОРА пожалуйста") is None  # whole words only
    assert decide_pre_model(rules, FRESH, "нужен оператор").rule == "operator"


def test_a_card_number_split_by_invisible_characters_is_still_caught():
    rules = compile_rules(Escalation(rules=[Rule(id="card", if_user_matches=r"\b(?:\d[ -]?){13,19}\b")]))
    assert decide_pre_model(rules, FRESH, "my card 4111\u200b1111\u200b1111\u200b1111").rule == "card"
    assert decide_pre_model(rules, FRESH, "my card \uff14\uff11\uff11\uff11 1111 1111 1111").rule == "card"


@pytest.mark.parametrize("pattern,text", [(r"(a+)+$", "a" * 2000 + "!"), (r"^(a|aa)+$", "a" * 60 + "!")])
def test_a_catastrophic_regex_runs_out_of_time_on_the_loop_and_fires_off_it(pattern, text):
    import time

    from supportbot.policy import FAST_RULE_S, SLOW_RULE_S, TIMED_OUT, RuleTimedOut

    rules = compile_rules(Escalation(rules=[Rule(id="slow", if_user_matches=pattern)]))
    started = time.monotonic()
    with pytest.raises(RuleTimedOut):
        decide_pre_model(rules, FRESH, text)
    assert time.monotonic() - started < FAST_RULE_S + 0.2
    handoff = decide_pre_model(rules, FRESH, text, slow=True)
    assert (handoff.rule, handoff.detail) == ("slow", TIMED_OUT)
    # Generous, for a loaded machine: uncut, these patterns would run for hours.
    assert time.monotonic() - started < FAST_RULE_S + SLOW_RULE_S + 2.0
