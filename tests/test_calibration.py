"""The semantic engine calibrates its decision per bot, from the bot's own example
questions each matched with the rest as if it were a customer message."""

from __future__ import annotations

import numpy as np
import pytest

from supportbot.clarify import Evidence, judge_retrieval
from supportbot.config import SnippetConfig
from supportbot.retrieval import Candidate
from supportbot.retrieval.blas import one_thread
from supportbot.retrieval.calibration import LEADS, TIE, Calibration, calibrate, clear_lead, leads, uncalibrated


def rows(*scores: list[float]) -> np.ndarray:
    return np.array(scores, dtype=np.float64)


def test_a_snippet_its_customers_match_loosely_is_judged_by_a_looser_standard():
    # Snippet 0's questions match each other at 0.8, snippet 1's at 0.4: the same match
    # of 0.5 is weak evidence for 0 and strong evidence for 1.
    left_out = rows([0.8, 0.1], [0.8, 0.1], [0.8, 0.1], [0.1, 0.4], [0.1, 0.4], [0.1, 0.4])
    owner = np.array([0, 0, 0, 1, 1, 1])
    calibration = calibrate(left_out, owner, np.zeros((6, 2)), minimum=0.5)
    evidence = calibration.evidence(np.array([0.5, 0.5]), np.zeros(2))
    assert evidence[1] > 0.5 > evidence[0]
    # Between snippets the shift is centred: it moves the bot as a whole only to its own scale.
    assert abs(calibration.shift.mean() - (0.55 - 0.6)) < 1e-9


def test_a_bot_is_judged_on_its_own_scale_however_alike_its_questions_are_worded():
    # One author's questions match each other at 0.45, another's at 0.6 (more questions, or
    # worded more alike): a message matching as closely as each bot's own questions
    # typically do has the same evidence in both, the default min_score.
    owner = np.array([0, 0, 1, 1])
    for typical in (0.45, 0.6):
        left_out = rows([typical, 0.1], [typical, 0.1], [0.1, typical], [0.1, typical])
        calibration = calibrate(left_out, owner, np.zeros((4, 2)), minimum=0.55)
        assert calibration.evidence(np.array([typical, 0.1]), np.zeros(2))[0] == pytest.approx(0.55)


def test_a_message_reading_more_like_the_answer_than_usual_is_surer():
    left_out = rows([0.55, 0.1], [0.55, 0.1], [0.1, 0.55], [0.1, 0.55])  # on the default scale already
    passages = rows([0.3, 0.0], [0.3, 0.0], [0.0, 0.3], [0.0, 0.3])
    calibration = calibrate(left_out, np.array([0, 0, 1, 1]), passages, minimum=0.5)
    plain, like_the_answer = (calibration.evidence(np.array([0.55, 0.1]), np.array([p, 0.0]))[0] for p in (0.3, 0.6))
    assert like_the_answer > plain == 0.55


def test_a_bot_whose_best_match_is_often_wrong_needs_a_clear_lead_and_one_that_is_right_needs_none():
    owner = np.repeat(np.arange(2), 20)
    right = np.where(owner[:, None] == np.arange(2), 0.7, 0.5)  # always right, by 0.2
    assert calibrate(right, owner, np.zeros((40, 2)), minimum=0.5).lead == 0.0
    # Right by a wide lead half the time, wrong by a hair the other half.
    wrong = right.copy()
    wrong[::2] = np.where(owner[::2, None] == np.arange(2), 0.69, 0.7)
    assert calibrate(wrong, owner, np.zeros((40, 2)), minimum=0.5).lead > 0.0
    assert calibrate(wrong, owner, np.zeros((40, 2)), minimum=0.5).lead in LEADS


def test_one_question_per_snippet_teaches_nothing_so_nothing_is_shifted_and_a_small_lead_is_not_trusted():
    calibration = calibrate(rows([0.9, 0.1], [0.1, 0.2]), np.array([0, 1]), np.zeros((2, 2)), minimum=0.5)
    assert not calibration.shift.any() and calibration.lead == LEADS[-1]
    assert calibrate(np.zeros((0, 3)), np.zeros(0, dtype=np.int64), np.zeros((0, 3)), minimum=0.5).lead == LEADS[-1]
    assert uncalibrated(3).evidence(np.array([0.1, 0.2, 0.3]), np.ones(3)).tolist() == [0.1, 0.2, 0.3]
    # A bot with questions enough on its own (over 20 a snippet) needs no lead at all.
    assert uncalibrated(3).lead == 0.0


def test_the_lead_is_what_the_best_match_has_over_every_other_snippet():
    assert leads(rows([0.7, 0.5, 0.6]), rows([0.7, 0.5, 0.6])).round(3).tolist() == [0.1]
    # Another snippet has more evidence than the best match: a negative lead.
    assert leads(rows([0.7, 0.6]), rows([0.5, 0.6])).round(3).tolist() == [-0.1]


def test_a_near_tie_in_the_match_is_no_clear_lead_however_far_the_evidence_carries_one():
    # Shifted and read against its answer, snippet 0 leads by 0.1 in evidence; the message
    # itself matched the two almost equally.
    calibration = Calibration(shift=np.array([0.1, 0.0]), passage_typical=np.zeros(2), lead=0.06)
    near_tie = np.array([0.428, 0.419])
    assert leads(near_tie[None, :], calibration.evidence(near_tie, np.zeros(2))[None, :])[0] > calibration.lead
    assert not clear_lead(near_tie, calibration.evidence(near_tie, np.zeros(2)), calibration)
    apart = np.array([0.428 + TIE, 0.419])
    assert clear_lead(apart, calibration.evidence(apart, np.zeros(2)), calibration)
    # A bot whose questions cover its customers' wording (uncalibrated) answers a near tie.
    assert clear_lead(near_tie, near_tie, uncalibrated(2))


def snippet_candidate(snippet_id: str, match: float, clear: bool = True) -> Candidate:
    return Candidate(SnippetConfig(id=snippet_id, title=snippet_id, answer="x"), match, match, match, clear)


def test_a_best_match_without_a_clear_lead_is_a_question_not_an_answer():
    close = [snippet_candidate("a", 0.7, clear=False), snippet_candidate("b", 0.68)]
    verdict = judge_retrieval(close, 0.0, 0.5, 0.5)
    assert verdict.evidence == Evidence.UNSURE and [c.snippet.id for c in verdict.options] == ["a", "b"]
    assert "does not lead" in verdict.detail
    assert judge_retrieval([snippet_candidate("a", 0.7)], 0.0, 0.5, 0.5).evidence == Evidence.MATCH


def test_one_messages_arithmetic_runs_on_one_blas_thread():
    from threadpoolctl import threadpool_info  # type: ignore[import-untyped]

    with one_thread():
        inside = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    assert inside <= {1}


def test_a_bot_of_near_copies_is_held_at_most_a_little_stricter_and_a_loose_one_a_little_looser():
    # Questions matching each other at 0.95 are copies of the author's words, not what a
    # customer writes; at 0.2 they say little about customers either.
    owner = np.array([0, 0, 1, 1])
    for typical, most in ((0.95, 0.55 - 0.06), (0.2, 0.55 + 0.15)):
        left_out = rows([typical, 0.1], [typical, 0.1], [0.1, typical], [0.1, typical])
        calibration = calibrate(left_out, owner, np.zeros((4, 2)), minimum=0.55)
        assert calibration.evidence(np.array([0.55, 0.1]), np.zeros(2))[0] == pytest.approx(most)
