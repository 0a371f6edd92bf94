"""Whether a customer asks for a person, in words of their own. Pure functions.

Every bot should hand off "can I speak with someone?" or "get me a manager", however its
author worded its own `asks-for-human` rule: customers ask in too many ways for a phrase
list to keep up ("speak to someone" in the rule misses "speak with someone", and the FAQ's
opening hours then answer a customer who wanted a person). The bot's own rules still run
first, so a rule of the author's names the hand-off where it fires.

Recognition wants the request, not the word: "get me a manager" and "human please" ask for
a person; "the delivery person left it outside" and "my agent told me to write" do not.
"""

from __future__ import annotations

import re

from . import textnorm

__all__ = ["asks_for_person"]

# Who works for the business, named by role.
_STAFF_ROLE = (
    r"human being|human|person|agent|representative|rep|manager|supervisor|operator|staff member|member of staff"
)
# Who: someone who works for the business.
_WHO = (
    r"(?:(?:a|an|the|some|your|one of your)\s+)?(?:(?:real|live|actual|human)\s+)?"
    rf"(?:{_STAFF_ROLE}|people|someone|somebody|advisor|adviser|staff|team member|member of your team|"
    r"customer (?:service|support|care)(?: agent| rep| representative| team)?|support (?:agent|staff|team|person))"
)
# Who, named by role (not "someone").
_STAFF = rf"(?:(?:a|an|the|one of your)\s+)?(?:(?:real|live|actual)\s+)?(?:{_STAFF_ROLE})"
_TALK = r"(?:speak|talk|chat|get through)\s+(?:to|with)"
_PLEASE = r"(?:\s*(?:please|pls|plz|now|asap|right now))*"
_REQUESTS = (
    # "can I speak with someone", "could we talk to a manager please"
    rf"(?:can|could|may)\s+(?:i|we)\s+(?:please\s+)?{_TALK}\s+{_WHO}",
    # "I'd like to talk to a person", "i want a human", "we need a real person"
    rf"(?:i|we)\s*(?:'d like|would like|want|wanna|need|'d rather|would rather)\s+(?:to\s+{_TALK}\s+)?{_WHO}",
    # "let me talk to an agent", "put me through to someone", "get me a manager"
    rf"(?:please\s+)?(?:let me\s+{_TALK}|put me through to|connect me (?:to|with)|transfer me to|"
    rf"get me|give me|find me|pass me to)\s+{_WHO}",
    # "talk to a human", "speak to someone please"
    rf"(?:please\s+)?{_TALK}\s+{_WHO}",
    # "is there a person I can talk to", "is there a real human"
    rf"is there\s+{_WHO}",
    # "can I get a human", "could we have a real person"
    rf"(?:can|could|may)\s+(?:i|we)\s+(?:please\s+)?(?:get|have)\s+{_WHO}",
    # "can a real person help me", "could an agent look at this": not "can someone help me",
    # which asks for help, from whoever answers
    rf"(?:can|could)\s+{_STAFF}\s+(?:help|look|check|call|contact|get back)",
)
# The request opens the message (after a greeting or "hi, um"); the rest may say why.
_OPENING = r"^(?:(?:hi|hello|hey|ok|okay|so|um+|uh+|excuse me|sorry)[\s,.!]*)*"
_REQUEST = re.compile(rf"{_OPENING}(?:{'|'.join(_REQUESTS)})(?!\w)")
# Only the person: "human", "agent please", "a real person!", "yes, get me someone" (the
# answer to a clarification's "shall I get a person?").
_ONLY = re.compile(rf"^(?:(?:yes|yeah|yep|please)[\s,!.]*)?(?:(?:get|give|find)\s+(?:me\s+)?)?{_WHO}{_PLEASE}[\s.!?]*$")


def asks_for_person(text: str) -> bool:
    """Whether `text` asks to be put through to a person."""
    said = re.sub(r"\s+", " ", textnorm.fold(text).replace("’", "'")).strip()
    return bool(_ONLY.match(said) or _REQUEST.match(said))
