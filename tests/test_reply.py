"""Model replies: json parse -> JSON Schema -> pydantic, each failure saying what is wrong."""

import json

import pytest

from supportbot import InvalidReply, parse_reply

VALID = {"action": "answer", "reply": "Here.", "confidence": 0.8, "citations": ["a"], "handoff_reason": None}


def reply_text(**changes):
    return json.dumps({**VALID, **changes})


def test_a_valid_reply_parses():
    reply = parse_reply(reply_text())
    assert reply.action == "answer" and reply.citations == ["a"] and reply.confidence == 0.8


def test_handoff_reason_may_be_left_out():
    data = {k: v for k, v in VALID.items() if k != "handoff_reason"}
    assert parse_reply(json.dumps(data)).handoff_reason is None


def test_a_json_code_fence_around_the_object_is_accepted():
    assert parse_reply("```json\n" + reply_text() + "\n```").reply == "Here."


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Sure, your package is on its way!", "not JSON"),
        ('{"action": "answer", "reply": "x"', "not JSON"),
        (reply_text(action="maybe"), 'action: must be one of "answer", "handoff"'),
        (reply_text(confidence=1.5), "confidence: must be at most 1"),
        (reply_text(confidence="high"), "confidence: must be of type number, not a string"),
        (reply_text(citations="a"), "citations: must be of type array, not a string"),
        (reply_text(extra=1), "has keys that are not allowed"),
        (json.dumps({"reply": "x"}), "missing 'action', 'citations', 'confidence'"),
        (json.dumps([1, 2]), "must be of type object, not a list"),
        (reply_text(reply="   "), 'an "answer" needs a non-empty "reply"'),
    ],
)
def test_invalid_output_is_refused_with_a_reason(text, error):
    with pytest.raises(InvalidReply, match=None) as caught:
        parse_reply(text)
    assert error in str(caught.value)


def test_a_cut_off_or_filtered_reply_is_invalid_even_if_it_parses():
    with pytest.raises(InvalidReply, match="cut off at the token limit"):
        parse_reply(reply_text(), "length")
    with pytest.raises(InvalidReply, match="content filter"):
        parse_reply(reply_text(), "content_filter")


def test_a_megabyte_of_output_is_refused_before_parsing():
    with pytest.raises(InvalidReply, match="characters long"):
        parse_reply(reply_text(reply="x" * 1_000_000))


def test_errors_name_the_place_and_the_kind_never_the_value():
    """A small model may echo the customer's text back in a wrong shape; that text must not
    reach the logs or the repair request through the error message."""
    echoed = {"email": "jane@example.com", "card": "4111 1111 1111 1111"}
    output = json.dumps(
        {
            "action": echoed,
            "reply": echoed,
            "confidence": "4111 1111 1111 1111",
            "citations": ["jane@example.com", 4111],
            "jane@example.com": 1,
        }
    )
    with pytest.raises(InvalidReply) as caught:
        parse_reply(output)
    message = str(caught.value)
    assert "reply: must be of type string, not an object" in message
    assert "jane" not in message and "4111" not in message


def test_a_raw_newline_inside_a_string_is_read_as_one():
    # Grammar-constrained servers (llama.cpp) let raw newlines through inside strings.
    raw = '{"action": "answer", "citations": ["a"], "confidence": 0.9, "reply": "Line one.\nLine two.", "handoff_reason": null}'
    assert parse_reply(raw).reply == "Line one.\nLine two."


def test_the_grammar_schema_keeps_string_limits_small_and_citations_to_those_offered():
    from supportbot.reply import grammar_reply_schema, strict_reply_schema

    schema = grammar_reply_schema(strict_reply_schema(["track-order", "returns"]))
    assert schema["properties"]["reply"]["maxLength"] <= 1000  # ~2,000 broke llama.cpp's grammar parser
    assert schema["properties"]["citations"] == {
        "type": "array",
        "items": {"type": "string", "enum": ["track-order", "returns"]},
        "maxItems": 2,
    }


@pytest.mark.parametrize("gap", ["[insert date]", "[Your Name]", "[amount]"])
def test_an_answer_with_a_template_gap_left_in_it_is_invalid(gap):
    # Seen from Qwen2.5-Coder-1.5B: "Your missing cheque was deposited on [insert date] ..."
    raw = json.dumps(
        {"action": "answer", "citations": ["a"], "confidence": 0.9, "reply": f"Done on {gap}.", "handoff_reason": None}
    )
    with pytest.raises(InvalidReply, match="gap left to fill"):
        parse_reply(raw)
    assert parse_reply(raw.replace(gap, "[Cards] > [Replace card]")).reply  # brackets of the app's own are fine
