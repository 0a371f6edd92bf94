"""Customers' misspellings are mended towards the bot's own words before matching."""

from __future__ import annotations

from conftest import needs_model

from supportbot import load_bot
from supportbot.retrieval.spelling import Respeller

ENGLISH = {"i", "need", "to", "my", "bag", "the", "for", "cart", "card", "how", "do", "return", "an", "item"}


def respeller(*texts: str) -> Respeller:
    return Respeller(texts, known=ENGLISH.__contains__)


def test_a_misspelt_word_becomes_the_bots_word_one_edit_away():
    mend = respeller("How do I cancel my subscription?", "Cancelling a subscription")
    # a swap (cancle), a letter left out (subscripton), a letter added, a letter changed
    assert mend.respell("i need to cancle my subscripton") == "i need to cancel my subscription"
    assert mend.respell("Cancell the subscriptiom!") == "cancel the subscription!"


def test_only_one_edit_is_mended():
    mend = respeller("Change the delivery address")
    assert mend.respell("delivrey adress") == "delivery address"
    assert mend.respell("adres") == "adres"  # two letters left out


def test_words_the_encoder_knows_whole_short_words_and_ties_are_left_alone():
    mend = respeller("The bay is open", "card, cart")
    assert mend.respell("my bag") == "my bag"  # "bag" is an English word, not a typo of "bay"
    assert mend.respell("bya") == "bya"  # under four letters: too many neighbours to guess between
    assert mend.respell("carx") == "carx"  # "card" and "cart" are equally close and equally common
    # Over thirty letters is no word: a long run of letters costs nothing and stays as it is.
    assert respeller("a" * 30).respell("a" * 31) == "a" * 31


def test_the_most_frequent_of_equally_close_words_wins():
    mend = respeller("order status", "your order", "the order", "orders, border")
    assert mend.respell("ordr") == "order"


def test_chat_shorthand_is_spelled_out_only_to_a_word_the_bot_uses():
    mend = respeller("How do I cancel my subscription?", "Reset your account password")
    assert mend.respell("cancel my sub pls") == "cancel my subscription pls"  # the bot never says "please"
    assert mend.respell("forgot my acct pw") == "forgot my account password"
    assert mend.respell("change my addr") == "change my addr"  # the bot says nothing of addresses
    # A bot that uses the short form itself keeps it: its "sub" is a sandwich.
    assert respeller("Which sub is the spiciest?", "a subscription").respell("a meatball sub") == "a meatball sub"


@needs_model
def test_the_example_bot_answers_a_misspelt_question_it_would_otherwise_hand_off(tmp_path, monkeypatch):
    import asyncio

    from conftest import REPO

    from supportbot import Conversation, Engine

    monkeypatch.setenv("SUPPORTBOT_CACHE_DIR", str(tmp_path / "cache"))
    bot = load_bot(REPO / "bots" / "bean-there.yaml", env={})

    async def ask(message: str):
        async with Engine.for_bot(bot, {}, provider="offline") as engine:
            return await engine.turn(Conversation(bot.id), message)

    # Unmended, "cancle" and "subscripton" matched the cancellation snippet at 0.31: no_match.
    decision = asyncio.run(ask("i need to cancle my subscripton"))
    assert decision.action == "answer" and decision.citations == ["subscription-cancel"]
    # "sub" matched it at 0.57, under the bot's floor: handed off.
    decision = asyncio.run(ask("i want to cancel my sub pls"))
    assert decision.action == "answer" and decision.citations == ["subscription-cancel"]
