"""Transcript fixtures: replay through the real engine, record, the pytest plugin, coverage."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from typer.testing import CliRunner

from supportbot.cli import app
from supportbot.testing import FakeOpenAI

pytest_plugins = ["pytester"]
runner = CliRunner()
FIXTURES = REPO / "tests" / "transcripts"
GOOD = '{"action": "answer", "reply": "Open My Orders.", "confidence": 0.9, "citations": ["track-order"], "handoff_reason": null}'


def invoke(*args: str, stdin: str | None = None, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), input=stdin, env=env, catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example bots, knowledge and fixtures, free to edit."""
    for name in ("bots", "knowledge"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copytree(FIXTURES, tmp_path / "tests" / "transcripts")
    return tmp_path


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_the_example_fixtures_pass():
    result = invoke("replay", str(FIXTURES))
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith(" passed, 0 failed")


def test_a_changed_system_prompt_makes_turns_stale_with_a_diff_and_record_mends_it(project):
    edit(project / "bots" / "bean-there.yaml", "warmly and briefly", "warmly and concisely")
    fixture = project / "tests" / "transcripts" / "bean-there" / "orders.transcript.yaml"
    failed = invoke("replay", str(fixture))
    assert failed.exit_code == 1
    assert "orders.transcript.yaml: turn 1: stale" in failed.output
    assert "-Answer only from the knowledge snippets you are given, warmly and briefly" in failed.output
    assert "+Answer only from the knowledge snippets you are given, warmly and concisely" in failed.output
    assert (
        f"re-record with: supportbot record {fixture}" in failed.output
        or "re-record with: supportbot record" in failed.output
    )
    assert invoke("record", str(fixture)).exit_code == 0
    assert invoke("replay", str(fixture)).exit_code == 0


def test_a_changed_knowledge_snippet_makes_turns_stale(project):
    edit(project / "knowledge" / "bean-there" / "orders.yaml", "ship the same afternoon", "ship the next morning")
    result = invoke("replay", str(project / "tests" / "transcripts" / "bean-there" / "orders.transcript.yaml"))
    assert result.exit_code == 1 and "turn 1: stale" in result.output


def test_a_recorded_action_changed_to_handoff_fails_the_expectation_showing_both(project):
    fixture = project / "tests" / "transcripts" / "ledgerly-billing" / "plans.transcript.yaml"
    edit(fixture, '{"action": "answer"', '{"action": "handoff"')
    result = invoke("replay", str(fixture))
    assert result.exit_code == 1
    assert "turn 1: expected action 'answer', got 'handoff'" in result.output


def test_a_deleted_recorded_output_is_a_model_call_not_recorded(project):
    fixture = project / "tests" / "transcripts" / "ledgerly-billing" / "plans.transcript.yaml"
    lines = fixture.read_text().splitlines(keepends=True)
    second_output = [i for i, line in enumerate(lines) if line.lstrip().startswith("model:")][1]
    fixture.write_text("".join(lines[:second_output] + lines[second_output + 1 :]))
    result = invoke("replay", str(fixture))
    assert result.exit_code == 1 and "turn 2: model call not recorded" in result.output


def test_an_output_the_engine_no_longer_asks_for_is_reported_unused(project):
    fixture = project / "tests" / "transcripts" / "bean-there" / "orders.transcript.yaml"
    edit(fixture, "user: Where is my order?", "user: Where is my order? I want a human")
    result = invoke("replay", str(fixture))
    assert "turn 1: 1 recorded output(s) left unused (the engine made 0 model call(s))" in result.output


def test_junit_xml_has_one_testcase_per_fixture(tmp_path):
    report = tmp_path / "junit.xml"
    invoke("replay", str(FIXTURES), "--junit-xml", str(report))
    root = ET.parse(report).getroot()
    cases = root.findall("./testsuite/testcase")
    assert root.tag == "testsuites" and len(cases) == len(list(FIXTURES.rglob("*.transcript.yaml")))
    assert root.get("failures") == "0"


def test_json_output_lists_every_fixture():
    report = json.loads(invoke("replay", str(FIXTURES), "--json").output)
    assert report["failed"] == 0 and report["passed"] == len(report["results"]) > 0


def test_a_fixture_format_error_names_the_line_and_exits_2(write):
    path = write("t/bad.transcript.yaml", "format: 1\nbot: nope.yaml\nturns:\n  - usr: hi\n")
    result = invoke("replay", str(path))
    assert result.exit_code == 2
    assert "bad.transcript.yaml:2:6: bot file 'nope.yaml' not found" in result.output
    assert "bad.transcript.yaml:4:5: unknown key 'usr'" in result.output


def test_record_keeps_comments_and_expectations_and_writes_no_secret(project):
    fixture = project / "tests" / "transcripts" / "bean-there" / "orders.transcript.yaml"
    text = fixture.read_text().replace("turns:\n", "turns:\n  # the happy path\n", 1)
    fixture.write_text(text.replace("\n    model: '", "\n    model: 'stale ", 1))
    with FakeOpenAI() as server:
        env = {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "sk-very-secret-key"}
        result = invoke("record", str(fixture), "--provider", "openai", env=env)
    assert result.exit_code == 0, result.output
    written = fixture.read_text()
    assert "  # the happy path\n" in written and "citations: [track-order]" in written
    assert "We roast on Monday, Wednesday and Friday" in written  # the live server's output
    sidecar = fixture.with_name("orders.transcript.requests.json").read_text()
    assert "sk-very-secret-key" not in written + sidecar


def test_record_update_expectations_rewrites_expect_from_the_decisions(project):
    fixture = project / "tests" / "transcripts" / "bean-there" / "orders.transcript.yaml"
    edit(fixture, "citations: [track-order]", "citations: [wrong-id]")
    # A comment between two turns belongs to the turn after it, and stays when the turn
    # before is rewritten, even where that turn's last expectation goes (small_talk).
    edit(
        fixture, "  - user: how long does delivery take?", "  # delivery, next\n  - user: how long does delivery take?"
    )
    edit(fixture, "  - user: do you ship to the USA?", "  # abroad\n  - user: do you ship to the USA?")
    edit(fixture, "      citations: [delivery-times]\n", "      citations: [delivery-times]\n      small_talk: null\n")
    assert invoke("replay", str(fixture)).exit_code == 1
    assert invoke("record", str(fixture), "--update-expectations").exit_code == 0
    assert invoke("replay", str(fixture)).exit_code == 0
    written = fixture.read_text()
    assert "citations: [track-order]\n  # delivery, next\n  - user: how long does delivery take?" in written
    assert "citations: [delivery-times]\n  # abroad\n  - user: do you ship to the USA?" in written


def test_record_new_turns_a_chat_session_into_a_fixture(tmp_path):
    out = tmp_path / "new.transcript.yaml"
    bot = REPO / "bots" / "bean-there.yaml"
    result = invoke("record", "--new", str(bot), "--out", str(out), stdin="Where is my order?\nI want a human\n")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "action: answer" in text and "rule: asks-for-human" in text
    assert invoke("replay", str(out)).exit_code == 0


def test_record_new_writes_messages_that_read_back_as_text(tmp_path):
    # "yes" and "no" are booleans to the loader's YAML, "2" a number, "a: b" a mapping.
    out = tmp_path / "new.transcript.yaml"
    bot = REPO / "bots" / "bean-there.yaml"
    said = ["ground or whole?", "yes", "no", "2", "on", "a: b", "[1]"]
    result = invoke("record", "--new", str(bot), "--out", str(out), stdin="\n".join(said) + "\n")
    assert result.exit_code == 0, result.output
    assert [turn["user"] for turn in yaml.safe_load(out.read_text())["turns"]] == said
    assert invoke("replay", str(out)).exit_code == 0


def test_record_new_refuses_a_script_of_several_conversations_and_stops_at_quit(tmp_path):
    out = tmp_path / "new.transcript.yaml"
    bot = str(REPO / "bots" / "bean-there.yaml")
    refused = invoke("record", "--new", bot, "--out", str(out), stdin="hi\n/reset\nWhere is my order?\n")
    assert refused.exit_code == 2 and not out.exists()
    assert "stdin line 2: /reset starts a new conversation, and a fixture holds one" in refused.output
    ended = invoke("record", "--new", bot, "--out", str(out), stdin="Where is my order?\n/quit\nnever sent\n")
    assert ended.exit_code == 0 and [t["user"] for t in yaml.safe_load(out.read_text())["turns"]] == [
        "Where is my order?"
    ]


def test_a_scripted_fixture_keeps_its_hand_written_outputs_when_recorded(project):
    fixture = project / "tests" / "transcripts" / "bean-there" / "invalid-twice.transcript.yaml"
    before = fixture.read_text()
    assert invoke("record", str(fixture)).exit_code == 0
    assert fixture.read_text() == before


def test_coverage_reports_snippets_and_rules_per_bot():
    report = json.loads(invoke("coverage", str(FIXTURES), "--json").output)
    by_bot = {b["bot"]: b for b in report["bots"]}
    assert by_bot["bean-there"]["percent"] == 100.0 and by_bot["ledgerly-billing"]["uncovered_rules"] == []


def test_coverage_fail_under_fails_when_something_is_never_exercised():
    only_orders = FIXTURES / "bean-there" / "orders.transcript.yaml"
    result = invoke("coverage", str(only_orders), "--fail-under", "90")
    assert result.exit_code == 1 and "coverage below 90%: bean-there" in result.output
    assert "subscription-pause" in result.output


def test_plain_pytest_collects_fixtures_and_reports_the_failing_turn(pytester, project):
    fixture = project / "tests" / "transcripts" / "ledgerly-billing" / "plans.transcript.yaml"
    edit(fixture, '{"action": "answer"', '{"action": "handoff"')
    result = pytester.runpytest(str(project / "tests" / "transcripts"), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=len(list(FIXTURES.rglob("*.transcript.yaml"))) - 1, failed=1)
    result.stdout.fnmatch_lines(["*turn 1: expected action 'answer', got 'handoff'*"])
