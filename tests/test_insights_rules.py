"""The rules behind `report`, `gaps` and `export`, on conversations written out by hand:
what counts as a hand-off, a pick, a gap, a confirmed outcome; what is masked."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import yaml

from supportbot.errors import ConfigError
from supportbot.insights.export import confirmed_outcomes, eval_lines, fixture_document
from supportbot.insights.gaps import average_linkage, drafts_yaml, find_gaps, suggest_title
from supportbot.insights.masking import mask
from supportbot.insights.prices import PRICES, Price, cost, load_prices
from supportbot.insights.report import BotFacts, build_report
from supportbot.insights.sources import parse_since
from supportbot.insights.turns import turns_of
from supportbot.store import ConversationActivity, ConversationRow, Feedback, MessageRow

DAY = "2026-12-01T10:00:00.000Z"


def answer(snippet: str, latency: float = 5.0, tokens: tuple[int, int, int] = (0, 0, 0)) -> dict:
    usage = {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "cached_tokens": tokens[2]}
    return {"action": "answer", "citations": [snippet], "latency_ms": latency, "usage": usage}


def handoff(rule: str) -> dict:
    return {"action": "handoff", "citations": [], "handoff": {"rule": rule, "reason": f"because {rule}"}}


def clarify(*ids: str) -> dict:
    return {"action": "clarify", "options": [{"id": i, "title": i.title()} for i in ids]}


def conversation(
    cid: str, *steps: tuple[str, str, dict | None], ratings: dict[int, str] | None = None
) -> ConversationActivity:
    """Steps of (role, text, decision); a customer step is followed by the bot's reply when
    its decision answers, clarifies or hands off for the first time."""
    messages = [
        MessageRow(cid, seq, role, text, DAY, decision=decision) for seq, (role, text, decision) in enumerate(steps, 1)
    ]  # type: ignore[arg-type]
    feedback = {seq: Feedback(seq, rating, None, DAY) for seq, rating in (ratings or {}).items()}  # type: ignore[arg-type]
    return ConversationActivity(ConversationRow(cid, "shop", "bot_active", DAY, DAY), messages, feedback)


def report_of(*conversations: ConversationActivity, facts: BotFacts | None = None) -> dict:
    return build_report(list(conversations), None, DAY, {"shop": facts or BotFacts()}, PRICES)["bots"][0]


# --- report ----------------------------------------------------------------------------------


def test_a_conversation_is_contained_when_no_turn_handed_it_off():
    contained = conversation("a", ("customer", "where is it?", answer("track")), ("bot", "Here.", None))
    handed = conversation(
        "b",
        ("customer", "human please", handoff("asks-for-human")),
        ("bot", "A person will help.", None),
        ("customer", "hello?", handoff("already_handed_off")),  # waiting: a turn, not a new hand-off
    )
    totals = report_of(contained, handed)["totals"]
    assert (totals["conversations"], totals["contained"], totals["containment"]) == (2, 1, 0.5)
    assert (totals["turns"], totals["handoffs"], totals["unanswered"]) == (3, 1, 0)


def test_a_clarification_is_picked_when_the_next_message_is_answered_with_an_offered_snippet():
    picked = conversation(
        "a", ("customer", "grind?", clarify("grind", "brew")), ("bot", "Did you mean...", None),
        ("customer", "1", answer("grind")), ("bot", "We grind.", None),
    )  # fmt: skip
    dropped = conversation(
        "b", ("customer", "grind?", clarify("grind", "brew")), ("bot", "Did you mean...", None),
        ("customer", "never mind, refunds?", answer("refunds")), ("bot", "Refunds...", None),
    )  # fmt: skip
    hesitated = conversation(
        "c", ("customer", "grind?", clarify("grind", "brew")), ("bot", "Did you mean...", None),
        ("customer", "hmm", {"action": "answer", "citations": [], "small_talk": "hesitation"}), ("bot", "Take...", None),
        ("customer", "2", answer("brew")), ("bot", "We brew.", None),
    )  # fmt: skip
    asked_again = conversation(
        "d", ("customer", "grind?", clarify("grind")), ("bot", "Did you mean...", None),
        ("customer", "2", clarify("grind")), ("bot", "There is only one option...", None),
        ("customer", "yes", answer("grind")), ("bot", "We grind.", None),
    )  # fmt: skip
    totals = report_of(picked, dropped, hesitated, asked_again)["totals"]
    # Asked again after a number it did not offer, the clarification is still one, and picked.
    assert (totals["clarifications_offered"], totals["clarifications_picked"]) == (4, 3)


def test_unanswered_counts_hand_offs_for_want_of_an_answer_not_a_bots_own_rules():
    missing = conversation("a", ("customer", "gift cards?", handoff("no_match")), ("bot", "A person...", None))
    rule = conversation("b", ("customer", "it arrived broken", handoff("damaged")), ("bot", "A person...", None))
    report = report_of(missing, rule)
    assert report["totals"]["unanswered"] == 1
    assert {h["rule"]: h["count"] for h in report["handoffs"]} == {"no_match": 1, "damaged": 1}


def test_tokens_are_priced_by_the_bots_model_and_cached_tokens_at_the_cached_rate():
    talk = conversation("a", ("customer", "q", answer("s", tokens=(1_000_000, 100_000, 400_000))), ("bot", "a", None))
    totals = report_of(talk, facts=BotFacts(model="gpt-4o-mini"))["totals"]
    assert totals["cost_usd"] == pytest.approx(0.6 * 0.15 + 0.4 * 0.075 + 0.1 * 0.60)
    unknown = report_of(talk, facts=BotFacts(model="my-own-model"))
    assert unknown["totals"]["cost_usd"] is None and unknown["price_known"] is False
    assert cost(Price(1, 1, 1), prompt=10, completion=0, cached=20) == pytest.approx(20 / 1_000_000)


def test_answers_the_next_message_said_missed_or_rated_down_are_the_ones_that_did_not_help():
    missed = conversation(
        "a", ("customer", "delivery?", answer("delivery")), ("bot", "3 days.", None),
        ("customer", "that's not what i asked", handoff("not_helped")), ("bot", "A person...", None),
    )  # fmt: skip
    rated = conversation(
        "b", ("customer", "delivery?", answer("delivery")), ("bot", "3 days.", None), ratings={2: "down"}
    )
    helped = conversation(
        "c", ("customer", "track?", answer("track")), ("bot", "Here.", None),
        ("customer", "and returns?", handoff("no_match")), ("bot", "A person...", None),
    )  # fmt: skip
    report = report_of(missed, rated, helped, facts=BotFacts(snippets={"delivery": "Delivery", "track": "Tracking"}))
    assert report["did_not_help"] == [
        {"snippet": "delivery", "title": "Delivery", "answers": 2, "not_helped": 1, "rated_down": 1}
    ]


def test_snippets_never_cited_are_the_least_cited_when_the_bot_file_is_known():
    talk = conversation("a", ("customer", "q", answer("track")), ("bot", "a", None))
    report = report_of(talk, facts=BotFacts(snippets={"track": "Tracking", "refunds": "Refunds"}))
    assert report["most_cited"] == [{"snippet": "track", "title": "Tracking", "answers": 1}]
    assert report["least_cited"][0] == {"snippet": "refunds", "title": "Refunds", "answers": 0}


def test_a_window_is_an_age_a_date_or_all():
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert parse_since("7d", now) == "2026-11-26T12:00:00.000Z"
    assert parse_since("12h", now) == "2026-12-03T00:00:00.000Z"
    assert parse_since("2026-11-30") == "2026-11-30T00:00:00.000Z"
    assert parse_since("all") is None
    with pytest.raises(ValueError, match="give an age"):
        parse_since("last week")


def test_a_price_file_adds_models_and_a_wrong_entry_names_its_line(tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "my-model: {input: 1.0, output: 2.0}\ngpt-4o-mini: {input: 0.1, cached_input: 0.05, output: 0.4}\n"
    )
    table = load_prices(prices)
    assert table["my-model"] == Price(1.0, 1.0, 2.0) and table["gpt-4o-mini"].input == 0.1
    prices.write_text("fine: {input: 1, output: 2}\nbroken: {input: cheap}\n")
    with pytest.raises(ConfigError) as raised:
        load_prices(prices)
    assert raised.value.problems[0].line == 2 and "model 'broken'" in raised.value.problems[0].message


# --- gaps --------------------------------------------------------------------------------------


def unit(*angles: float) -> np.ndarray:
    return np.array([[np.cos(a), np.sin(a)] for a in angles], dtype=np.float32)


def test_average_linkage_keeps_two_topics_apart_even_with_a_message_between_them():
    # Two tight topics at 0 and 90 degrees, one message half-way: single linkage would chain
    # all of them; average linkage keeps the topics and leaves the middle one on its own side.
    vectors = unit(0.0, 0.05, 0.1, np.pi / 4, np.pi / 2, np.pi / 2 - 0.05)
    groups = sorted(sorted(g) for g in average_linkage(vectors, threshold=0.8))
    assert [0, 1, 2] in [g[:3] for g in groups] and any(g[-2:] == [4, 5] for g in groups)
    assert not any({0, 5} <= set(g) for g in groups)
    assert sorted(i for g in groups for i in g) == list(range(6))


def test_gaps_are_unanswered_questions_rated_down_answers_and_clarifications_nobody_picked():
    vectors = {"gift card?": (1, 0), "gift voucher?": (0.99, 0.1), "wrong answer": (0, 1), "which one?": (0.7, 0.7)}

    def embed(texts):
        return np.array([vectors.get(t, (0.6, 0.8)) for t in texts], dtype=np.float32)

    talks = [
        conversation("a", ("customer", "gift card?", handoff("no_match")), ("bot", "A person...", None), ("agent", "Yes, from £10.", None)),
        conversation("b", ("customer", "gift voucher?", handoff("no_match")), ("bot", "A person...", None)),
        conversation("c", ("customer", "wrong answer", answer("s")), ("bot", "No.", None), ratings={2: "down"}),
        conversation("d", ("customer", "which one?", clarify("x", "y")), ("bot", "Did you mean", None)),
        conversation("e", ("customer", "fine question", answer("s")), ("bot", "Yes.", None), ratings={2: "up"}),
        conversation("f", ("customer", "human", handoff("asks-for-human")), ("bot", "A person...", None)),
    ]  # fmt: skip
    clusters, avoidable = find_gaps(turns_of(talks), {}, embed, threshold=0.9)
    # Biggest first, then by title.
    assert [sorted(c.messages) for c in clusters] == [["gift card?", "gift voucher?"], ["which one?"], ["wrong answer"]]
    assert clusters[0].draft_answer == "Yes, from £10." and avoidable == []
    drafts = drafts_yaml(clusters)
    assert "draft: true" in drafts and drafts.count("- id:") == 1  # groups of two or more only


def test_a_follow_up_gap_carries_the_question_it_followed_and_a_bare_number_is_no_gap():
    def embed(texts):
        return np.array([(1.0, 0.0) for _ in texts], dtype=np.float32)

    talk = conversation(
        "a", ("customer", "how do i pause my subscription", answer("pause")), ("bot", "Under Account...", None),
        ("customer", "thanks", {"action": "answer", "citations": [], "small_talk": "thanks"}), ("bot", "You're...", None),
        ("customer", "and for how long?", clarify("pause")), ("bot", "Did you mean...", None),
        ("customer", "2", handoff("no_match")), ("bot", "A person...", None),
    )  # fmt: skip
    clusters, _ = find_gaps(turns_of([talk]), {}, embed)
    assert [c.messages for c in clusters] == [["and for how long? (after: how do i pause my subscription)"]]
    # As a draft snippet, the two are one question, with no note for the bot to match against.
    drafted = yaml.safe_load(drafts_yaml(clusters, min_size=1))["snippets"][0]
    assert drafted["questions"] == ["how do i pause my subscription, and for how long?"]
    assert drafted["title"] == "How do i pause my subscription, and for how long"


def test_no_to_a_clarification_is_no_gap_of_its_own_the_question_asked_is():
    def embed(texts):
        return np.array([(1.0, 0.0) for _ in texts], dtype=np.float32)

    talk = conversation(
        "a", ("customer", "what grind for a french press", clarify("grind")), ("bot", "Did you mean...", None),
        ("customer", "no", handoff("unsure_twice")), ("bot", "A person...", None),
    )  # fmt: skip
    clusters, _ = find_gaps(turns_of([talk]), {}, embed)
    assert [c.messages for c in clusters] == [["what grind for a french press"]]


def test_a_hand_off_an_agent_answered_with_a_snippets_answer_is_avoidable():
    def embed(texts):
        return np.array([(1.0, 0.0) for _ in texts], dtype=np.float32)

    talk = conversation(
        "a", ("customer", "my beans are stale", handoff("no_match")), ("bot", "A person...", None),
        ("agent", "Hi! Keep coffee in its bag, away from light.", None),
    )  # fmt: skip
    clusters, avoidable = find_gaps(turns_of([talk]), {"storing": "Keep coffee in its bag, away from light."}, embed)
    assert clusters == [] and [(a.snippet, a.message) for a in avoidable] == [("storing", "my beans are stale")]


def test_a_title_is_one_tidy_line():
    assert suggest_title("  do you sell\ngift vouchers??") == "Do you sell gift vouchers"
    assert len(suggest_title("word " * 40)) <= 80


# --- export --------------------------------------------------------------------------------------


def test_personal_data_is_masked_and_dates_and_amounts_stay():
    assert mask("write to jo.doe+x@mail.example.co.uk") == "write to [email]"
    assert mask("card 4111 1111 1111 1111 or 4111-1111-1111-1111") == "card [card] or [card]"
    assert mask("call +44 20 7946 0958 or (555) 123-4567") == "call [phone] or [phone]"
    assert mask("order 12345 of 2026-12-01 for £25.00") == "order 12345 of 2026-12-01 for £25.00"


def test_only_what_a_person_confirmed_is_exported_and_a_fixture_ends_at_the_first_hand_off():
    def embed(texts):  # the agent's reply is nothing like the snippet's answer
        return np.array([(1.0, 0.0) if t == "Keep them sealed." else (0.0, 1.0) for t in texts], dtype=np.float32)

    talk = conversation(
        "a",
        ("customer", "how do I store beans? jo@example.com", answer("storing")),
        ("bot", "Keep them sealed.", None),
        ("customer", "gift cards?", handoff("no_match")),
        ("bot", "A person...", None),
        ("agent", "Yes, from £10.", None),
        ("customer", "thanks, and refunds?", answer("refunds")),
        ("bot", "Refunds...", None),
        ratings={2: "up"},
    )
    turns = turns_of([talk])
    confirmed = confirmed_outcomes(turns, {"storing": "Keep them sealed."}, embed)
    lines = eval_lines([confirmed[id(t)] for t in turns if id(t) in confirmed])
    assert [(line["text"], line["expect"]) for line in lines] == [
        ("how do I store beans? [email]", "storing"),
        ("gift cards?", "handoff"),
    ]
    document = fixture_document("../bots/shop.yaml", turns, confirmed)
    assert document is not None and [t["user"] for t in document["turns"]] == [
        "how do I store beans? [email]",
        "gift cards?",
    ]
    assert document["turns"][1]["expect"] == {"action": "handoff"}
    unconfirmed = conversation("b", ("customer", "hello", answer("s")), ("bot", "Hi", None))
    assert fixture_document("../bots/shop.yaml", turns_of([unconfirmed]), {}) is None
