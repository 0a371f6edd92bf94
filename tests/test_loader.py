"""Loading bots: the contract bot loads unchanged; every config error names its place."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import EXAMPLE_BOTS, MINIMAL_BOT, REPO

from supportbot import ConfigError, load_bot, load_bots, parse_bot
from supportbot.config import bot_json_schema
from supportbot.config.loader import display_path


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_bot(path, env=env or {})
    return [str(p) for p in caught.value.problems]


def test_the_contract_bot_loads_unchanged_with_its_includes(spec_bot_path):
    bot = load_bot(spec_bot_path, env={})
    assert bot.id == "acme-shop"
    ids = [s.id for s in bot.snippets]
    assert ids[:2] == ["track-order", "shipping-times"]
    assert {"return-policy", "exchange-size", "reset-password"} <= set(ids)
    assert bot.config.model.base_url is None  # ${ACME_MODEL_BASE_URL:-} is empty
    reset = bot.snippets_by_id["reset-password"]
    assert reset.tags == ["account"] and reset.answer.startswith('Click "Sign in"')


@pytest.mark.parametrize("path", EXAMPLE_BOTS, ids=lambda p: p.name)
def test_example_bots_load(path):
    bot = load_bot(path, env={})
    assert len(bot.snippets) >= 8
    assert bot.config.escalation.rules


def test_example_bots_use_both_yaml_and_markdown_knowledge():
    for path in EXAMPLE_BOTS:
        folder = REPO / "knowledge" / path.stem
        assert list(folder.rglob("*.yaml")) and list(folder.rglob("*.md")), folder


def test_markdown_snippet_takes_its_body_as_the_answer(write):
    write(
        "knowledge/x/faq.md",
        """\
        ---
        title: Opening hours
        questions: [When are you open?]
        ---
        Monday to Friday, 9 to 5.
        """,
    )
    bot_path = write(
        "bots/b.yaml", MINIMAL_BOT.replace("  top_k: 2\n", "  top_k: 2\n  include: [../knowledge/x/*.md]\n")
    )
    snippet = load_bot(bot_path, env={}).snippets_by_id["faq"]  # id defaults to the file name
    assert snippet.title == "Opening hours" and snippet.answer == "Monday to Friday, 9 to 5."


def test_a_hard_wrapped_markdown_answer_reaches_the_customer_in_whole_sentences(write):
    # The web chat keeps line breaks: a soft wrap in the file must not split a sentence.
    write(
        "knowledge/x/brewing.md",
        """\
        ---
        title: How much coffee to use
        questions: [How much coffee should I use?]
        ---
        Start with 60 g of coffee per litre of water and water just off
        the boil. Then:

        - grind finer if it tastes
          sour
        - grind coarser if bitter
        1. first step
        ## Still stuck?
        Write to us,{two_spaces}
        we answer within a day.\\
        Or call.
        > quoted
        | a | b |

        ```
        keep   this
        as written
        ```
        """.replace("{two_spaces}", "  "),
    )
    bot_path = write(
        "bots/b.yaml", MINIMAL_BOT.replace("  top_k: 2\n", "  top_k: 2\n  include: [../knowledge/x/*.md]\n")
    )
    assert load_bot(bot_path, env={}).snippets_by_id["brewing"].answer == (
        "Start with 60 g of coffee per litre of water and water just off the boil. Then:\n"
        "\n"
        "- grind finer if it tastes sour\n"
        "- grind coarser if bitter\n"
        "1. first step\n"
        "## Still stuck?\n"
        "Write to us,\n"
        "we answer within a day.\n"
        "Or call.\n"
        "> quoted\n"
        "| a | b |\n"
        "\n"
        "```\n"
        "keep   this\n"
        "as written\n"
        "```"
    )


def test_an_indented_code_block_in_a_markdown_answer_is_kept_as_written():
    from supportbot.config.markdown import unwrap

    assert unwrap("Run:\n\n    supportbot serve\n      --port 8000\n\nthen open\nthe page.") == (
        "Run:\n\n    supportbot serve\n      --port 8000\n\nthen open the page."
    )
    assert unwrap("one\r\ntwo") == "one two"


def test_loading_from_a_string_and_from_a_file_agree(bot_file):
    assert parse_bot(bot_file.read_text(), env={}).config == load_bot(bot_file, env={}).config


def test_unknown_keys_are_rejected_with_the_allowed_ones_and_a_suggestion(write):
    path = write("bots/b.yaml", MINIMAL_BOT.replace("  top_k: 2", "  topk: 2"))
    [problem] = problems_of(path)
    assert f"b.yaml:{line_of(MINIMAL_BOT, 'top_k')}:3: unknown key 'topk'" in problem
    assert "did you mean 'top_k'?" in problem and "allowed: include, top_k, engine, model, snippets" in problem


@pytest.mark.parametrize("key", ["v[rsion", "str", "list[str]"])
def test_an_unknown_key_that_looks_like_a_type_name_is_still_named(key):
    # pydantic puts tried union members ("list[str]") into error paths; a key of the
    # user's own spelt like one must still be reported as that key.
    with pytest.raises(ConfigError) as error:
        parse_bot(MINIMAL_BOT.replace("version: 1", f"'{key}': 1\nversion: 1"), source="b.yaml")
    assert f"b.yaml:1:1: unknown key '{key}'" in str(error.value)


def test_a_threshold_out_of_range_says_what_is_allowed(write):
    path = write("bots/b.yaml", MINIMAL_BOT.replace("confidence_threshold: 0.5", "confidence_threshold: 1.5"))
    [problem] = problems_of(path)
    line = line_of(MINIMAL_BOT, "confidence_threshold")
    assert (
        f":{line}:25: escalation.confidence_threshold: invalid value 1.5 (input should be less than or equal to 1)"
        in problem
    )


def test_a_missing_variable_is_named_and_stops_the_bot(write):
    path = write("bots/b.yaml", MINIMAL_BOT.replace("name: gpt-4o-mini", "name: ${MODEL_NAME}"))
    [problem] = problems_of(path)
    assert f":{line_of(MINIMAL_BOT, 'gpt-4o-mini')}:9: environment variable MODEL_NAME is not set" in problem
    assert load_bot(path, env={"MODEL_NAME": "llama3"}).config.model.name == "llama3"


def test_duplicate_snippet_ids_name_both_places(write):
    write(
        "knowledge/x/more.yaml",
        """\
        snippets:
          - id: track-order
            title: Again
            answer: Twice.
        """,
    )
    text = MINIMAL_BOT.replace("  top_k: 2\n", "  top_k: 2\n  include: [../knowledge/x/*.yaml]\n")
    [problem] = problems_of(write("bots/b.yaml", text))
    assert "more.yaml:2:9: duplicate snippet id 'track-order' (also defined at " in problem
    assert f"b.yaml:{line_of(text, 'id: track-order')}:11" in problem


def test_every_problem_of_a_run_is_reported_together(write):
    broken = (
        MINIMAL_BOT.replace("system_prompt:", "sytem_prompt:")
        .replace("(lawyer|sue)", "((lawyer|sue)")
        .replace("  top_k: 2\n", "  top_k: 2\n  include: [../knowledge/none/*.yaml]\n")
        .replace("provider: openai", "provider: openia")
        .replace("id: shipping-times", "id: track-order")
    )
    problems = problems_of(write("bots/b.yaml", broken))
    assert len(problems) == 5, problems
    for expected in (
        "unknown key 'sytem_prompt'",
        "invalid regular expression",
        "matches no file",
        "unknown provider 'openia' (allowed: offline, openai",
        "duplicate snippet id 'track-order'",
    ):
        assert any(expected in p for p in problems), expected


def test_knowledge_file_problems_point_into_the_knowledge_file(write):
    write("knowledge/x/bad.yaml", "snippets:\n  - id: a\n    title: A\n")
    write("knowledge/x/bad.md", "no front matter here\n")
    path = write("bots/b.yaml", MINIMAL_BOT.replace("  top_k: 2\n", "  top_k: 2\n  include: [../knowledge/x/*]\n"))
    problems = problems_of(path)
    assert any("bad.yaml:2:5: missing required key 'answer'" in p for p in problems), problems
    assert any("bad.md:1:1: a Markdown snippet starts with front matter" in p for p in problems), problems


def test_an_include_of_an_unsupported_file_type_is_an_error(write):
    write("knowledge/x/notes.txt", "hello")
    path = write("bots/b.yaml", MINIMAL_BOT.replace("  top_k: 2\n", "  top_k: 2\n  include: [../knowledge/x/*]\n"))
    [problem] = problems_of(path)
    assert "unsupported file type (allowed: .yaml, .yml, .md)" in problem


def test_a_rule_without_a_condition_is_an_error(write):
    text = MINIMAL_BOT.replace("      if_low_confidence_turns: 2\n", "")
    [problem] = problems_of(write("bots/b.yaml", text))
    assert (
        "rule 'unsure-twice' has no condition (give if_user_says, if_user_matches or if_low_confidence_turns)"
        in problem
    )


def test_rule_ids_are_unique(write):
    [problem] = problems_of(write("bots/b.yaml", MINIMAL_BOT.replace("id: legal", "id: asks-for-human")))
    assert "duplicate rule id 'asks-for-human' (rule ids must be unique)" in problem


def test_an_empty_file_and_a_list_are_not_bots(write):
    assert "expected a mapping" in problems_of(write("bots/empty.yaml", ""))[0]
    assert "found a list" in problems_of(write("bots/list.yaml", "- 1\n"))[0]


def test_load_bots_finds_bots_in_folders_and_skips_knowledge_files(write, bot_file):
    write("bots/knowledge.yaml", "snippets: []\n")
    write("bots/x.transcript.yaml", "version: 1\n")
    assert [b.id for b in load_bots([bot_file.parent], env={})] == ["test-shop"]


def test_two_bots_with_one_id_are_refused(write, bot_file):
    write("bots/copy.yaml", MINIMAL_BOT)
    with pytest.raises(ConfigError, match="bot id 'test-shop' is also used by"):
        load_bots([bot_file.parent], env={})


def test_the_committed_editor_schema_is_the_generated_one():
    committed = json.loads((REPO / "bots" / "bot.schema.json").read_text())
    assert committed == bot_json_schema(), "regenerate: supportbot schema > bots/bot.schema.json"


@pytest.mark.parametrize("path", EXAMPLE_BOTS, ids=lambda p: p.name)
def test_the_schema_accepts_the_example_bots_and_they_point_editors_at_it(path):
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=bot.schema.json\n")
    data = yaml.safe_load(text)
    jsonschema.validate(data, bot_json_schema())


def test_the_schema_rejects_unknown_keys():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"version": 1, "id": "x", "name": "X", "system_prompt": "p", "sytem": 1}, bot_json_schema())


def test_a_yaml_alias_bomb_is_a_config_error_at_its_line_within_a_second():
    """A 440-byte "billion laughs": nine levels of nine aliases each."""
    import time

    lines = ["version: 1", 'l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        parse_bot("\n".join(lines) + "\n", "bomb.yaml")
    assert time.monotonic() - started < 1.0
    [problem] = caught.value.problems
    assert problem.line == 7 and "expands to more than 100,000 values through YAML aliases" in problem.message


def test_an_alias_inside_the_value_it_names_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        parse_bot("version: 1\nx: &a [*a]\n", "loop.yaml")
    assert [(p.line, p.column) for p in caught.value.problems] == [(2, 4)]
    assert "refers to the value that contains it" in str(caught.value)


def test_a_few_aliases_for_reuse_still_load(write):
    path = write(
        "bots/reuse.yaml",
        """\
        version: 1
        id: reuse
        name: Reuse
        system_prompt: Hi.
        knowledge:
          snippets:
            - id: a
              title: A
              questions: &shared [Where is my order?, Has it shipped?]
              answer: Soon.
            - id: b
              title: B
              questions: *shared
              answer: Later.
        """,
    )
    assert load_bot(path, env={}).snippets[1].questions == ["Where is my order?", "Has it shipped?"]


def test_validate_warns_about_what_silently_breaks_matching(write):
    path = write(
        "bots/warn.yaml",
        """\
        version: 1
        id: warn
        name: Warn
        system_prompt: Hi.
        knowledge:
          engine: lexical  # the stop-word warning is the lexical engine's
          snippets:
            - id: hours
              title: Opening hours
              questions: [When are you open?, What are your opening hours?]
              answer: Nine to five.
            - id: times
              title: Opening times
              questions: [What are your opening hours?]
              answer: Nine to six.
            - id: greeting
              title: Hello
              questions: [Hi there, how are you?]
              answer: Hello!
            - id: bare
              title: Gift cards
              answer: We sell them.
        """,
    )
    warnings = [str(w) for w in load_bot(path, env={}).warnings]
    assert any("snippet 'times'" in w and "nearly the same as 'What are your opening hours?'" in w for w in warnings)
    assert any("snippet 'greeting'" in w and "only common words" in w for w in warnings)
    assert any("snippet 'bare' has no example questions" in w for w in warnings)
    assert all(w.split(":")[1].isdigit() and w.split(":")[2].isdigit() for w in warnings)


def test_validate_warns_about_a_hand_off_example_worded_as_a_snippets_question(write):
    examples = "  handoff_examples: [how do I return an item, my card was stolen]\n"
    bot = MINIMAL_BOT.replace(
        "  handoff_message: A person will take over.\n", "  handoff_message: A person will take over.\n" + examples
    )
    path = write("bots/b.yaml", bot)
    [warning] = [str(w) for w in load_bot(path, env={}).warnings if "hand-off example" in str(w)]
    line, column = (int(n) for n in warning.removeprefix(display_path(path) + ":").split(":")[:2])
    assert path.read_text().splitlines()[line - 1][column - 1 :].startswith("how do I return an item")
    assert "'how do I return an item' is nearly the same as 'How do I return an item?'" in warning
    assert "snippet 'return-policy'" in warning


def test_validate_warns_when_a_rule_would_hand_off_a_customer_asking_what_the_bot_is(write):
    rule = "    - id: person\n      if_user_says: [talk to a human, human, real person please]\n"
    bot = MINIMAL_BOT.split("escalation:")[0] + "escalation:\n  rules:\n" + rule
    path = write("bots/b.yaml", bot)
    [warning] = [str(w) for w in load_bot(path, env={}).warnings]
    line, column = (int(n) for n in warning.removeprefix(display_path(path) + ":").split(":")[:2])
    assert path.read_text().splitlines()[line - 1][column - 1 :].startswith("human,")  # the phrase itself
    assert 'rule \'person\': "human" also fires on "are you human?"' in warning and "talk to a human" in warning
    quiet = bot + "small_talk:\n  enabled: false\n"
    assert not load_bot(write("bots/c.yaml", quiet), env={}).warnings  # no small talk to answer it


def test_what_the_rule_warning_calls_asking_what_the_bot_is_is_small_talk():
    from supportbot.config.lint import _ASKING_WHAT_THE_BOT_IS
    from supportbot.smalltalk import SmallTalk, split_small_talk

    assert all(split_small_talk(q).small_talk == SmallTalk.BOT_QUESTION for q in _ASKING_WHAT_THE_BOT_IS)


def test_validate_warns_when_no_snippet_gives_the_semantic_engine_questions_to_learn_from(write):
    faq = """\
        version: 1
        id: faq
        name: FAQ
        system_prompt: Hi.
        knowledge:
          snippets:
            - id: hours
              title: When are you open?
              questions: [When are you open?]
              answer: Nine to five.
            - id: returns
              title: Returns
              questions: [Can I return an item?]
              answer: Within 30 days.
        """
    warnings = [str(w) for w in load_bot(write("bots/faq.yaml", faq), env={}).warnings]
    assert any("no snippet has two example questions besides its title" in w for w in warnings), warnings
    assert all(w.split(":")[1].isdigit() and w.split(":")[2].isdigit() for w in warnings)
    # One snippet with questions to learn from is enough; the lexical engine does not calibrate.
    fuller = faq.replace("[Can I return an item?]", "[Can I return an item?, How do returns work?]")
    assert not any("besides its title" in str(w) for w in load_bot(write("bots/f2.yaml", fuller), env={}).warnings)
    lexical = faq.replace("knowledge:\n", "knowledge:\n          engine: lexical\n")
    assert not any("besides its title" in str(w) for w in load_bot(write("bots/f3.yaml", lexical), env={}).warnings)


def test_validate_warns_when_a_model_on_this_machine_gets_a_cloud_models_time(write):
    bot = """\
        version: 1
        id: local
        name: Local
        model:
          provider: openai
          base_url: http://127.0.0.1:8080/v1
          timeout_s: 20
        system_prompt: Hi.
        """
    path = write("bots/local.yaml", bot)
    [warning] = [str(w) for w in load_bot(path, env={}).warnings]
    assert warning.startswith(f"{display_path(path)}:7:")  # the line of timeout_s
    assert "timeout_s is 20s for a model on this machine" in warning and "at least 120" in warning
    unset = bot.replace("          timeout_s: 20\n", "")
    assert load_bot(write("bots/local.yaml", unset), env={}).warnings == ()  # the default fits
