"""`supportbot eval`: labelled messages through the real engine, figures that add up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MINIMAL_BOT, REPO, SHARED
from typer.testing import CliRunner

from supportbot import load_bot
from supportbot.cli import app
from supportbot.evaluation import load_dataset

runner = CliRunner()
BEAN = str(REPO / "bots" / "bean-there.yaml")


def dataset(tmp_path: Path, rows: list[object]) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_figures_for_a_small_labelled_set(tmp_path):
    rows = [
        {"text": "Where is my order?", "expect": "track-order", "kind": "in-scope"},
        {"text": "how long does delivery take?", "expect": "delivery-times", "kind": "in-scope"},
        {
            "text": "how should I store my coffee?",
            "expect": "change-address",
            "kind": "in-scope",
        },  # answered wrongly
        {"text": "what's the weather in Paris?", "expect": "handoff", "kind": "ood-oos"},
        {"text": "I want a human", "expect": "handoff", "kind": "id-oos"},
    ]
    result = runner.invoke(app, ["eval", BEAN, str(dataset(tmp_path, rows)), "--json"])
    figures = json.loads(result.output)
    assert figures["examples"] == 5 and figures["in_scope_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["handoff_recall"] == {"id-oos": 1.0, "ood-oos": 1.0} and figures["handoff_precision"] == 1.0
    assert figures["answered_wrongly"] == 1 and figures["retrieval_recall_at_k"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["worst_snippets"][0]["snippet"] == "change-address"
    assert figures["latency_ms"]["p50"] >= 0


def test_the_table_names_every_figure(tmp_path):
    rows = [{"text": "Where is my order?", "expect": "track-order"}, {"text": "tell me a joke", "expect": "handoff"}]
    output = runner.invoke(app, ["eval", BEAN, str(dataset(tmp_path, rows))]).output
    for figure in (
        "in-scope answered correctly",
        "handed off",
        "hand-off precision",
        "answered wrongly",
        "retrieval recall@4",
        "latency p50 / p95",
        "Snippets answered worst",
    ):
        assert figure in output, figure


def test_misses_lists_what_went_wrong_wrong_answers_first_and_nothing_that_went_right(tmp_path):
    rows = [
        {"text": "Where is my order?", "expect": "track-order", "kind": "in-scope"},  # right
        {"text": "what trees change colour in autumn", "expect": "delivery-times", "kind": "in-scope"},
        {"text": "how should I store my coffee?", "expect": "change-address", "kind": "in-scope"},
        {"text": "how long does delivery take?", "expect": "handoff", "kind": "id-oos"},
    ]
    figures = json.loads(runner.invoke(app, ["eval", BEAN, str(dataset(tmp_path, rows)), "--json", "--misses"]).output)
    assert [(m["line"], m["miss"], m["did"]) for m in figures["misses"]] == [
        (3, "answered wrongly", "answered storing-coffee"),
        (4, "answered wrongly", "answered delivery-times"),
        (2, "handed off", "handed off (no_match)"),
    ]
    assert (
        figures["misses"][0]["text"] == "how should I store my coffee?" and figures["misses"][0]["kind"] == "in-scope"
    )
    without = json.loads(runner.invoke(app, ["eval", BEAN, str(dataset(tmp_path, rows)), "--json"]).output)
    assert "misses" not in without
    table = runner.invoke(app, ["eval", BEAN, str(dataset(tmp_path, rows)), "--misses"], env={"COLUMNS": "200"}).output
    assert "Messages not handled as labelled (3, wrong answers first)" in table and "answered storing-coffee" in table


def test_a_clarification_that_offers_the_expected_snippet_is_no_miss(tmp_path):
    from supportbot.decision import Decision, Option
    from supportbot.evaluation import Example, Outcome, misses

    asked = Decision(
        conversation_id="c",
        action="clarify",
        reply="Did you mean ...?",
        options=[Option(id="grind-options", title="Whole bean or ground coffee")],
    )
    outcomes = [
        Outcome(Example(1, "what grind for a french press", "grind-options", "in-scope"), asked, ()),
        Outcome(Example(2, "do you sell decaf", "handoff", "id-oos"), asked, ()),
        Outcome(Example(3, "pause sub", "subscription-pause", "in-scope"), asked, ()),
    ]
    assert [(m["line"], m["miss"], m["did"]) for m in misses(outcomes)] == [
        (3, "asked without it", "asked: grind-options"),
        (2, "asked instead of handing off", "asked: grind-options"),
    ]


def test_an_unknown_snippet_id_or_a_malformed_line_is_reported_with_its_line_and_exit_2(tmp_path):
    rows = [{"text": "Where is my order?", "expect": "track-ordr"}, "{not json", {"expect": "track-order"}]
    path = dataset(tmp_path, rows)
    result = subprocess.run(
        [sys.executable, "-m", "supportbot", "eval", BEAN, str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "set.jsonl:1:1: unknown snippet id 'track-ordr'" in result.stderr
        and "did you mean 'track-order'?" in result.stderr
    )
    assert "set.jsonl:2:2: not JSON" in result.stderr
    assert 'set.jsonl:3:1: a line needs "text" and "expect" strings' in result.stderr


def test_calibrate_prints_the_trade_off_and_the_value_for_the_bot_file(tmp_path):
    rows = [
        {"text": "Where is my order?", "expect": "track-order", "kind": "in-scope"},
        {"text": "order weather tomorrow", "expect": "handoff", "kind": "ood-oos"},
    ]
    report = json.loads(
        runner.invoke(app, ["eval", BEAN, str(dataset(tmp_path, rows)), "--calibrate", "--json"]).output
    )
    assert 0.2 <= report["recommended"]["offline"]["min_score"] <= 0.9
    assert {"min_score", "in-scope", "ood-oos", "lowest"} <= set(report["table"][0])
    table = runner.invoke(app, ["eval", BEAN, str(dataset(tmp_path, rows)), "--calibrate"]).output
    assert "offline:\n  min_score:" in table


def test_handoff_examples_send_similar_messages_to_a_person(write, tmp_path):
    text = MINIMAL_BOT.replace("provider: openai", "provider: offline").replace(
        "  handoff_message: A person will take over.\n",
        "  handoff_message: A person will take over.\n  handoff_examples: [my card was stolen, someone stole my wallet]\n",
    )
    bot_path = write("bots/b.yaml", text)
    rows = [
        {"text": "help, my card was stolen yesterday", "expect": "handoff"},
        {"text": "Where is my package?", "expect": "track-order"},
    ]
    figures = json.loads(runner.invoke(app, ["eval", str(bot_path), str(dataset(tmp_path, rows)), "--json"]).output)
    assert figures["handoff_recall"] == {"oos": 1.0} and figures["in_scope_accuracy"] == 1.0
    assert load_bot(bot_path, env={}).config.escalation.handoff_examples == [
        "my card was stolen",
        "someone stole my wallet",
    ]


@pytest.mark.parametrize("bot_id", ["bean-there", "ledgerly-billing"])
def test_the_example_bots_own_message_sets_load_and_keep_their_halves_apart(bot_id):
    bot = load_bot(REPO / "bots" / f"{bot_id}.yaml", env={})
    halves = [
        load_dataset(REPO / "bench" / "example_bots" / f"{bot_id}.{half}.jsonl", bot.snippets_by_id)
        for half in ("tune", "holdout")
    ]
    tune, holdout = ({example.text for example in half} for half in halves)
    assert len(tune) >= 25 and len(holdout) >= 25 and not tune & holdout
    kinds = {example.kind for half in halves for example in half}
    assert kinds == {"in-scope", "id-oos", "ood-oos", "rule"}


@pytest.mark.parametrize("script", ["eval_bots.py", "few_shot.py", "tie_sweep.py"])
def test_the_bench_scripts_on_the_shared_datasets_say_when_they_are_absent(tmp_path, script):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / script),
            "--datasets",
            str(tmp_path / "nope"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "the evaluation data is not at" in result.stderr


def test_the_eval_bots_build_and_load_from_the_shared_datasets(tmp_path):
    datasets = SHARED / "datasets"
    if not (datasets / "banking77_oos" / "train.jsonl").exists():
        pytest.skip(f"no evaluation data at {datasets}")
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "eval_bots.py"), "--out", str(tmp_path)],
        check=True,
        timeout=120,
        capture_output=True,
    )
    banking = load_bot(tmp_path / "banking77.yaml")
    assert len(banking.snippets) == 50 and len(banking.config.escalation.handoff_examples) == 2063
    assert len(load_bot(tmp_path / "faq_covid.yaml").snippets) == 67


def test_a_few_shot_bot_can_be_built_on_another_encoder_with_its_own_floor(tmp_path):
    datasets = SHARED / "datasets"
    if not (datasets / "banking77_oos" / "train.jsonl").exists():
        pytest.skip(f"no evaluation data at {datasets}")
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from few_shot import build
    finally:
        sys.path.remove(str(REPO / "bench"))
    standard = json.loads(build(datasets, tmp_path, 5, True, "semantic", 0.05).read_text())
    other = build(datasets, tmp_path, 5, True, "semantic", 0.05, model="models/tuned", min_score=0.6)
    bot = json.loads(other.read_text())
    assert "model" not in standard["knowledge"] and standard["offline"]["min_score"] == 0.55
    assert bot["knowledge"]["model"] == str((Path("models") / "tuned").resolve())
    assert bot["offline"] == {"min_score": 0.6, "clarify_score": 0.55}
    assert other.name != f"{standard['id']}.yaml"  # beside the standard bot, not over it


def test_model_tokens_and_those_from_the_servers_prompt_cache_are_counted(tmp_path, write):
    from supportbot.testing import FakeOpenAI

    bot = write("bots/model.yaml", MINIMAL_BOT)
    rows = [
        {"text": "Where is my package?", "expect": "track-order"},
        {"text": "How do I track my order?", "expect": "track-order"},
    ]
    with FakeOpenAI() as server:
        env = {"OPENAI_BASE_URL": server.url}
        figures = json.loads(
            runner.invoke(app, ["eval", str(bot), str(dataset(tmp_path, rows)), "--json"], env=env).output
        )
        table = runner.invoke(app, ["eval", str(bot), str(dataset(tmp_path, rows))], env=env).output
    tokens = figures["tokens"]
    assert tokens["prompt"] > tokens["cached"] > 0 and tokens["completion"] > 0
    assert tokens["cached_share"] == pytest.approx(tokens["cached"] / tokens["prompt"], abs=1e-3)
    assert "prompt tokens from the server's cache" in table
