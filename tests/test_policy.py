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
    return ModelReply(action=action, reply="Text.", confidence=confidence, citations=list(citations), handoff_reason=reason)


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


def test_the_model_may_ask_for_a_person():
    post = decide_post_model(RULES, FRESH, answer(action="handoff", reason="angry customer"), frozenset("a"))
    assert (post.handoff.rule, post.handoff.reason) == ("model_requested", "angry customer")


def test_a_reply_below_the_threshold_hands_off_as_low_confidence():
    post = decide_post_model(RULES, FRESH, answer(confidence=0.3), frozenset("a"))
    assert post.handoff.rule == "low_confidence" and "0.30 is below the threshold 0.55" in post.handoff.reason
    assert decide_post_model(RULES, FRESH, answer(confidence=0.55), frozenset("a")).handoff is None


def test_citations_of_snippets_not_in_the_prompt_are_dropped():
    post = decide_post_model(RULES, FRESH, answer(citations=("a", "made-up", "a")), frozenset({"a", "b"}))
    assert post.citations == ["a"] and not post.unsure and post.handoff is None


def test_an_answer_left_without_citations_is_unsure_and_unsure_answers_in_a_row_hand_off():
    first = decide_post_model(RULES, FRESH, answer(citations=("made-up",)), frozenset({"a"}))
    assert first.unsure and first.citations == [] and first.handoff is None
    second = decide_post_model(RULES, ConversationFacts(unsure_streak=1), answer(citations=()), frozenset({"a"}))
    assert second.handoff.rule == "streak" and "2 unsure replies in a row" in second.handoff.reason


def test_a_sure_answer_is_not_affected_by_an_earlier_streak():
    post = decide_post_model(RULES, ConversationFacts(unsure_streak=1), answer(), frozenset({"a"}))
    assert post.handoff is None and not post.unsure
