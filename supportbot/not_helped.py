"""Whether a customer says the bot's answer did not help. Pure functions.

"that didn't help" or "that's not what I asked" after an answer used to go through retrieval
like a new question, match nothing, and reach the team as `no_match` ("None of our help
articles answers this question"), which tells the agent the wrong story: the bot answered,
and the customer says the answer missed. Said after an answer, such a message hands off as
`not_helped`.

Recognition wants the whole message to say so ("no, that's not what I asked!"): "the code
didn't help" or "I tried it and it didn't work for my card" are new questions.
"""

from __future__ import annotations

import re

from . import textnorm

__all__ = ["says_not_helped"]

_THAT = r"(?:that|this|it|that answer|this answer|the answer|your answer)"
_IS = r"(?:'s|s| is|'s not| isn't| isnt| is not| was| wasn't| wasnt| was not)"
_DID_NOT = r"(?:didn't|didnt|did not|doesn't|doesnt|does not|don't|dont|do not)"
_COMPLAINTS = (
    # "that didn't help", "this doesn't answer my question", "it did not work"
    rf"{_THAT}\s+{_DID_NOT}\s+(?:help(?: at all| me)?|answer (?:my|the) question|work|fix it|solve it)",
    # "that's not what i asked", "that isn't what i meant", "not what i was asking"
    rf"(?:{_THAT}{_IS}\s+)?not what i (?:asked|meant|was asking|wanted|need|needed)(?: for)?",
    rf"{_THAT}\s+(?:isn't|isnt|is not|wasn't|wasnt|was not) what i (?:asked|meant|was asking|wanted|need|needed)(?: for)?",
    # "that's not helpful", "not helpful", "unhelpful", "useless", "that's wrong"
    rf"(?:{_THAT}{_IS}\s+)?(?:not (?:helpful|useful|right|correct|it)|unhelpful|useless|no help|wrong|incorrect)",
    rf"{_THAT}\s+(?:isn't|isnt|is not|wasn't|wasnt|was not)\s+(?:helpful|useful|right|correct|it)",
    # "wrong answer", "you didn't answer my question", "you're not helping"
    r"(?:wrong|bad|unhelpful|useless) answer",
    rf"you\s+{_DID_NOT}\s+answer (?:my|the) question",
    r"(?:you're|youre|you are|this is|this isn't|this isnt|it's|its)\s+(?:not\s+)?(?:helping|no help|not helpful)",
    r"not helping",
    # "I already tried that", "did that already", "that's what I did"
    r"(?:i(?:'ve| have)?\s+)?already\s+(?:tried|did|done)\s+(?:that|this|it)",
    r"(?:i\s+)?(?:tried|did|done)\s+(?:that|this|it)\s+already",
    rf"{_THAT}{_IS}\s+what i (?:did|tried|already did|already tried)",
    # "that's not the problem", "you misunderstood (me)", "you don't understand"
    rf"{_THAT}{_IS}\s+not (?:the|my) (?:problem|issue|question)",
    rf"{_THAT}\s+(?:isn't|isnt|is not|wasn't|wasnt|was not)\s+(?:the|my) (?:problem|issue|question)",
    r"you\s+(?:misunderstood|misread|got it wrong|(?:don't|dont|do not|didn't|didnt|did not) understand)(?: me| my question)?",
    r"(?:still|it's still|its still) the same(?: problem)?",
    # "that makes no sense", "this doesn't make sense"
    rf"(?:{_THAT}\s+)?(?:makes no sense|{_DID_NOT} make (?:any )?sense)",
    r"(?:didn't|didnt|doesn't|doesnt|did not|does not) work",
    r"still (?:not working|doesn't work|doesnt work|does not work|didn't work|didnt work|broken)",
)
# A "no", "um" or "sorry, but" before it, "at all" or "sadly" after: the same complaint.
_BEFORE = r"(?:(?:no|nope|nah|um+|hmm+|sorry|but|well|unfortunately|afraid)[\s,.!]*)*"
_AFTER = r"(?:[\s,.]*(?:at all|sadly|unfortunately|though|i'm afraid|im afraid|sorry))*"
_COMPLAINT = re.compile(rf"^{_BEFORE}(?:{'|'.join(_COMPLAINTS)}){_AFTER}[\s.!?:(/\\]*$")


def says_not_helped(text: str) -> bool:
    """Whether the whole message says the answer it follows did not help."""
    return bool(_COMPLAINT.match(textnorm.clean(text).replace("’", "'").lower().strip()))
