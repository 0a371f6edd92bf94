"""Snippet selection: the most relevant snippets, best first, ids kept."""

from supportbot.config import SnippetConfig
from supportbot.retrieval.lexical import KnowledgeIndex, terms


def snippet(id: str, title: str, questions: list[str], answer: str = "An answer.") -> SnippetConfig:
    return SnippetConfig(id=id, title=title, questions=questions, answer=answer)


INDEX = KnowledgeIndex(
    [
        snippet("track-order", "Track an order", ["Where is my package?", "Has my order shipped yet?"]),
        snippet(
            "shipping-times", "Shipping times and costs", ["How long does delivery take?", "How much is shipping?"]
        ),
        snippet("return-policy", "Returns and refunds", ["How do I return an item?", "Can I get a refund?"]),
        snippet("reset-password", "Reset a password", ["I forgot my password", "I can't log in"]),
    ]
)


def ids(candidates):
    return [c.snippet.id for c in candidates]


def test_terms_fold_case_accents_plurals_and_stop_words():
    assert terms("Where are my Packages?") == ["package"]
    assert terms("shipped shipping ships") == ["ship", "ship", "ship"]
    assert terms("Café refunds") == ["cafe", "refund"]


def test_the_best_snippet_comes_first_and_k_bounds_the_list():
    assert ids(INDEX.search("where is my package", k=2))[0] == "track-order"
    assert len(INDEX.search("shipping refund password package", k=2)) == 2


def test_a_message_sharing_no_term_selects_nothing():
    assert INDEX.search("can you recommend a restaurant nearby?", k=4) == []


def test_match_is_a_score_from_0_to_1_that_is_1_for_an_exact_question():
    [best, *_] = INDEX.search("I forgot my password", k=4)
    assert best.snippet.id == "reset-password" and best.match == 1.0
    for candidate in INDEX.search("password refund shipping package delivery", k=4):
        assert 0.0 <= candidate.match <= 1.0


def test_recent_history_steers_a_vague_follow_up():
    follow_up = "and how much does it cost?"
    assert "shipping-times" in ids(INDEX.search(follow_up, k=1, history=["How long does shipping take?"]))


def test_history_weighs_less_than_the_message_itself():
    chosen = INDEX.search("I want a refund", k=1, history=["where is my package"])
    assert ids(chosen) == ["return-policy"]


def test_an_empty_knowledge_base_selects_nothing():
    assert KnowledgeIndex([]).search("anything", 4) == []
