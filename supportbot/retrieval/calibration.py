"""Per-bot calibration of the semantic engine's decision, from the bot's own example
questions. Pure (NumPy only).

Authors write three to five example questions per snippet. With so few, how closely a new
message must match depends on the snippet: one whose questions are worded alike ("track my
order", "where is my order") is matched closely by its customers, one whose questions are
worded every which way is matched loosely. A single `min_score` then hands off the second
kind's customers and answers the first kind's neighbours. So each example question is
matched against the rest of the bot as if it were a customer message, leaving itself out,
and this tells, per snippet and per bot:

- how closely its own customers typically match it (the mean left-out score of its
  questions): a snippet's match is shifted by how far that lies from the bot's mean, so
  that `min_score` means "as close as this snippet's customers usually come";
- how closely the bot's questions typically match at all: the whole bot is shifted so that
  its mean left-out score sits at 0.55, the default `min_score`. That mean rises with the
  number of questions an author writes (0.50 at 3 per snippet on BANKING77, 0.55 at 5,
  0.61 at 10) and with how alike the snippets are worded (0.42 and 0.44 for the example
  bots), and a fixed threshold then swings with it: at 0.55, wrong answers went from 3.8%
  of in-scope queries at 3 questions per snippet to 8.5% at 10 (5.2% to 10.6% without
  hand-off examples). On the bot's own scale they stay between 4.0% and 5.4% (4.7% to 8.0%),
  id-oos handed off between 0.85 and 0.91 with the 0.05 clarification band, and the example
  bots need no threshold of their own. The price: at 10 questions per snippet the bot asks
  more and resolves fewer queries (0.72 against 0.82), at 3 it answers more, wrongly too.
  The move is kept between 0.06 stricter and 0.15 looser, the range of the bots above
  (-0.06 at 10 questions per intent to +0.13): a bot whose author wrote "When are you
  open?" three ways, near copies matching each other at 0.91, would otherwise be held to
  their closeness and hand off every customer who words it differently;
- how closely they typically match its answer text (the message's cosine with the
  passage, title and answer): a message that reads like the answer more than usual is
  surer, one that reads less like it is less sure;
- how often the best-matching snippet is the wrong one for a given lead over the runner-up:
  the bot answers only when its best snippet leads by enough to be right nine times in ten
  on its own left-out questions (a harder test than customers' messages, as each is matched
  with one question of its snippet fewer), and otherwise asks which snippet the customer
  meant (or hands off). The banking bot with ~120 questions per intent is right 95% of the
  time at any lead, so it needs none; at 5 questions per intent it is right 75% of the time,
  and 90% from a lead of 0.06;
- and, whatever the lead in evidence, the bot asks when the message matches the two best
  snippets almost equally (`TIE`): the shift and the answer text can carry one snippet of a
  near tie well past the other ("i moved, how do i change where the order goes" matched
  tracking at 0.428 and the address change at 0.419, and was answered with tracking). On
  the train rows the few-shot bots do not hold (3,000 of them), asking below a gap of 0.02
  turned 7 to 13% of wrong answers into clarifications at k = 3, 5 and 10, and 1.3 points
  of right answers too, most of which the customer's pick then resolves (right or resolved
  +0.003 to +0.005).

Measured on BANKING77-OOS (bench/few_shot.py), at 5 example questions per intent with 81
hand-off examples, tuned on the train rows the bot does not hold and checked on valid.jsonl:
wrong answers fell from 11.1% of in-scope queries to 3.1%, answered right or resolved by
clarifying rose from 0.586 to 0.77, with id-oos handed off 0.85-0.88 (0.885 before). With
~120 questions per snippet the snippets' typical scores barely differ, every lead is safe,
and the decision is what it was.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["LEADS", "TIE", "Calibration", "calibrate", "cautious", "clear_lead", "leads", "uncalibrated"]

#: How much of a snippet's distance from the bot's typical score is made up.
_SPREAD = 1.0
#: Where the bot's typical left-out score is put: its own questions then match at the
#: default `min_score`, however closely the author worded them alike (see `calibrate`).
_TYPICAL = 0.55
_STRICTER, _LOOSER = 0.06, 0.15  # how far at most (see `calibrate`)
_PRIOR = 2
#: How much a message reading more (or less) like the answer than usual counts.
_PASSAGE = 0.3
#: Leads tried, smallest first: the first whose left-out answers are wrong at most
#: `_WRONG` of the time is required. Capped, as a bot with few questions has few answers
#: to count and the largest lead would hold nearly every answer back.
LEADS = (0.0, 0.02, 0.04, 0.06)
_WRONG = 0.1
#: A lead is judged on at least this many left-out answers; fewer say nothing.
_ENOUGH = 20
#: Below this gap between the two best matches the bot asks, whatever the evidence says.
TIE = 0.02


@dataclass(frozen=True)
class Calibration:
    """What `calibrate` found for one bot (one entry per snippet)."""

    shift: NDArray[np.float64]  # added to the snippet's match
    passage_typical: NDArray[np.float64]  # its questions' mean cosine with its passage
    lead: float  # how far the best snippet must lead the runner-up to answer
    passage_weight: float = _PASSAGE
    tie: float = TIE  # how far its match must lead the runner-up's, before any shift

    def evidence(self, match: NDArray[np.float64], passages: NDArray[np.float64]) -> NDArray[np.float64]:
        """How surely a message is about each snippet, on the scale of `min_score`."""
        result: NDArray[np.float64] = match + self.shift + self.passage_weight * (passages - self.passage_typical)
        return result


def uncalibrated(snippets: int) -> Calibration:
    """No shift and no lead: for a bot whose example questions cover its customers' wording
    on their own (over 20 a snippet)."""
    import numpy as np

    return Calibration(np.zeros(snippets), np.zeros(snippets), 0.0, passage_weight=0.0, tie=0.0)


def cautious(snippets: int) -> Calibration:
    """No shift, and the largest lead in LEADS: for a bot with too few example questions to
    learn from, typically one per snippet that its title repeats (a FAQ page turned into
    snippets). Nothing tells how far its best snippet must lead to be right, so it asks
    whenever the lead is small rather than guess: on faq_covid (67 entries, one question
    each) wrong answers fell from 311 to 220 of 716 queries, and answered right or resolved
    by clarifying rose from 0.363 to 0.409."""
    return replace(uncalibrated(snippets), lead=LEADS[-1])


def calibrate(
    left_out: NDArray[np.float64],
    owner: NDArray[np.int64],
    passages: NDArray[np.float64],
    minimum: float,
) -> Calibration:
    """The calibration, from left-out scores of example questions.

    `left_out[i]` holds question i's match with every snippet, scored without question i
    itself; `owner[i]` is its snippet; `passages[i]` its cosine with every snippet's
    passage. `minimum` is the bot's `min_score`: leads are judged on the answers it lets
    through.
    """
    import numpy as np

    snippets = left_out.shape[1]
    if len(owner) == 0:
        return cautious(snippets)
    rows = np.arange(len(owner))
    own = left_out[rows, owner]
    counts = np.bincount(owner, minlength=snippets)
    # A snippet with one question has nothing to be matched against but its title.
    known = counts >= 2
    typical = np.bincount(owner, own, minlength=snippets) / np.maximum(counts, 1)
    typical_passage = np.bincount(owner, passages[rows, owner], minlength=snippets) / np.maximum(counts, 1)
    if not known.any():
        return cautious(snippets)
    centre = float(typical[known].mean())
    # A mean of few questions is a rough estimate: pulled towards the bot's centre, the
    # more so the fewer questions it has (two count as much as the centre).
    weight = counts / (counts + _PRIOR)
    to_own_scale = min(max(_TYPICAL - centre, -_STRICTER), _LOOSER)
    shift = np.where(known, -_SPREAD * weight * (typical - centre), 0.0) + to_own_scale
    typical_passage = np.where(counts > 0, typical_passage, float(typical_passage[counts > 0].mean()))
    calibration = Calibration(shift, typical_passage, 0.0)
    lead = _lead(left_out, owner, calibration.evidence(left_out, passages), minimum)
    return Calibration(shift, typical_passage, lead)


def clear_lead(match: NDArray[np.float64], evidence: NDArray[np.float64], calibration: Calibration) -> bool:
    """Whether one message's best match leads the runner-up by enough to answer without
    asking: in evidence by the calibration's `lead`, and in the match itself by its `tie`."""
    import numpy as np

    if float(leads(match[None, :], evidence[None, :])[0]) < calibration.lead:
        return False
    if len(match) < 2 or not calibration.tie:
        return True
    second, best = np.partition(match, -2)[-2:]
    return bool(best - second >= calibration.tie)


def leads(match: NDArray[np.float64], evidence: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per row: how far the best match's evidence leads every other snippet's (negative
    when another snippet has more)."""
    import numpy as np

    rows = np.arange(len(match))
    best = np.argmax(match, axis=1)
    own = evidence[rows, best]
    others = evidence.copy()
    others[rows, best] = -np.inf
    rest = others.max(axis=1) if match.shape[1] > 1 else own - 1.0
    result: NDArray[np.float64] = own - rest
    return result


def _lead(
    left_out: NDArray[np.float64], owner: NDArray[np.int64], evidence: NDArray[np.float64], minimum: float
) -> float:
    """The smallest lead in LEADS at which the left-out questions that would be answered
    are answered with the wrong snippet at most `_WRONG` of the time."""
    import numpy as np

    margins = leads(left_out, evidence)
    right = np.argmax(left_out, axis=1) == owner
    answered = evidence.max(axis=1) >= minimum
    for lead in LEADS:
        kept = answered & (margins >= lead)
        if kept.sum() >= _ENOUGH and 1 - right[kept].mean() <= _WRONG:
            return lead
    return LEADS[-1]
