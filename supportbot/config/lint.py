"""Warnings about a bot that loads but will not behave as its author expects. Pure.

A warning never stops a bot: `supportbot validate` prints it with its `path:line:col` and
exits 0. Problems that stop a bot are ConfigErrors (loader.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

try:  # the parser behind `re`: private, so a Python without it just gives no regex warnings
    from re import _parser as sre_parse  # type: ignore[attr-defined]
    from re._constants import MAXREPEAT  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    sre_parse = None
    MAXREPEAT = None

from ..errors import Problem
from .format import BotConfig, SnippetConfig
from .timeouts import LOCAL_TIMEOUT_FLOOR_S, LOCAL_TIMEOUT_S, is_local
from .yamldoc import YamlDoc

__all__ = ["backtracking_risk", "lint_bot", "snippet_warnings"]

_REPEATS = ("MAX_REPEAT", "MIN_REPEAT")


def lint_bot(
    config: BotConfig, doc: YamlDoc, snippets: Sequence[SnippetConfig] = (), origins: Mapping[str, str] | None = None
) -> list[Problem]:
    """Every warning about a bot that loaded: its rules and its snippets (`origins`: where
    each snippet's id is written, "path:line:col")."""
    return [
        *_model_warnings(config, doc),
        *_rule_warnings(config, doc),
        *snippet_warnings(snippets, config.knowledge.engine, origins or {}),
        *_handoff_example_warnings(config, doc, snippets),
    ]


def _handoff_example_warnings(config: BotConfig, doc: YamlDoc, snippets: Sequence[SnippetConfig]) -> list[Problem]:
    """A hand-off example worded (nearly) as a snippet's example question: the engine cannot
    both hand off and answer the customers who ask that way."""
    from ..retrieval.lexical import terms

    examples = config.escalation.handoff_examples
    if not examples:
        return []
    questions: dict[frozenset[str], tuple[str, str]] = {}
    for snippet in snippets:
        for question in snippet.questions:
            questions.setdefault(frozenset(terms(question)), (snippet.id, question))
    pairwise = len(examples) * len(questions) <= _PAIRWISE_UP_TO * 10
    warnings = []
    for index, example in enumerate(examples):
        twin = _near(frozenset(terms(example)), questions, "", pairwise=pairwise)
        if twin:
            message = (
                f"hand-off example {example!r} is nearly the same as {twin[1]!r}, an example question of snippet "
                f"'{twin[0]}': customers who ask that way may be handed off or answered, whichever is nearer "
                "by a hair (reword one, or remove one)"
            )
            warnings.append(doc.problem(("escalation", "handoff_examples", index), message))
    return warnings


def _model_warnings(config: BotConfig, doc: YamlDoc) -> list[Problem]:
    """A model on this machine (a CPU one, most likely) given a cloud model's time."""
    model = config.model
    if not is_local(model.base_url) or model.timeout_s is None or model.timeout_s >= LOCAL_TIMEOUT_FLOOR_S:
        return []
    message = (
        f"timeout_s is {model.timeout_s:g}s for a model on this machine ({model.base_url}): a CPU model takes tens "
        f"of seconds a turn, and a timed-out request is handed off. Remove timeout_s (default "
        f"{LOCAL_TIMEOUT_S:g}s for local servers) or set it to at least {LOCAL_TIMEOUT_FLOOR_S:g}"
    )
    return [doc.problem(("model", "timeout_s"), message)]


# What customers ask to learn what they are talking to: small talk, answered with the bot's
# own reply and an offer of a person, unless a rule hands it off first.
_ASKING_WHAT_THE_BOT_IS = (
    "are you human?",
    "are you a real person?",
    "are you a bot?",
    "is this a real person?",
    "am I talking to a human?",
)


def _rule_warnings(config: BotConfig, doc: YamlDoc) -> list[Problem]:
    warnings = []
    if config.small_talk.enabled:
        warnings += _phrases_that_catch_small_talk(config, doc)
    for index, rule in enumerate(config.escalation.rules):
        risk = backtracking_risk(rule.if_user_matches) if rule.if_user_matches else None
        if risk:
            warnings.append(
                doc.problem(
                    ("escalation", "rules", index, "if_user_matches"),
                    f"rule '{rule.id}': the pattern can backtrack catastrophically ({risk}); some messages will "
                    "run it out of time, and a rule that times out hands off. Rewrite it without nested repetition "
                    "(e.g. '^(\\w+\\s?)*$' as '^[\\w\\s]*$')",
                )
            )
    return warnings


def _phrases_that_catch_small_talk(config: BotConfig, doc: YamlDoc) -> list[Problem]:
    """`if_user_says` phrases that also fire on a customer asking what the bot is: rules come
    first, so "human" hands off "are you human?" before small talk can answer it."""
    from .. import textnorm
    from ..policy import phrase_pattern  # here: policy imports this package

    warnings = []
    for index, rule in enumerate(config.escalation.rules):
        for place, phrase in enumerate(rule.if_user_says or []):
            pattern = phrase_pattern([phrase])
            caught = next((q for q in _ASKING_WHAT_THE_BOT_IS if pattern.search(textnorm.fold(q))), None)
            if caught:
                message = (
                    f'rule \'{rule.id}\': "{phrase}" also fires on "{caught}", which asks what the bot is (small '
                    'talk answers it and offers a person); list requests instead ("talk to a human"): a request '
                    "for a person in other words is handed off anyway (asked_for_person)"
                )
                warnings.append(doc.problem(("escalation", "rules", index, "if_user_says", place), message))
    return warnings


def backtracking_risk(pattern: str) -> str | None:
    """Why `pattern` may take exponential time on some input, or None.

    Two shapes cause it: a repetition inside a repetition ("(a+)+", "(\\w+\\s?)*"), and a
    repeated choice whose branches can start with the same character ("(a|aa)+")."""
    if sre_parse is None:
        return None
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    return _walk(list(parsed), inside_repeat=False)


def _walk(items: list[tuple[Any, Any]], inside_repeat: bool) -> str | None:
    for op, value in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = value
            repeats = _varies(low, high)
            if repeats and inside_repeat:
                return "a repetition inside a repetition"
            if repeats and _overlapping_branches(list(sub)):
                return "a repeated choice whose branches overlap"
            found = _walk(list(sub), inside_repeat or repeats)
        elif name == "SUBPATTERN":
            found = _walk(list(value[-1]), inside_repeat)
        elif name == "BRANCH":
            # `re` factors a shared prefix out: "(a|aa)+" becomes "a(?:|a)" repeated.
            if inside_repeat and any(not list(branch) for branch in value[1]):
                return "a repeated choice whose branches overlap"
            found = next((r for branch in value[1] if (r := _walk(list(branch), inside_repeat))), None)
        else:
            found = None
        if found:
            return found
    return None


def _varies(low: int, high: Any) -> bool:
    """A repetition that may match more than once, a number of times not fixed in advance
    ("+", "*", "{2,5}"; not "?" nor "{3}"): one that a regex engine may backtrack over."""
    return bool(high is MAXREPEAT or (high > 1 and high != low))


def _overlapping_branches(items: list[tuple[Any, Any]]) -> bool:
    for op, value in items:
        name = str(op)
        if name == "SUBPATTERN":
            return _overlapping_branches(list(value[-1]))
        if name == "BRANCH":
            starts = [_first(list(branch)) for branch in value[1]]
            known = [s for s in starts if s is not None]
            return len(known) != len(set(known)) or (None in starts and len(starts) > 1)
        return False
    return False


def _first(items: list[tuple[Any, Any]]) -> object:
    """What a branch starts with, as far as a cheap look tells (None: anything)."""
    if not items:
        return None
    op, value = items[0]
    name = str(op)
    if name == "LITERAL":
        return ("literal", value)
    if name == "IN":
        return ("in", tuple(str(v) for v in value))
    if name == "SUBPATTERN":
        return _first(list(value[-1]))
    if name in _REPEATS and value[0] > 0:
        return _first(list(value[2]))
    return None


#: Example questions this alike (shared words over all words) confuse the engine.
_NEAR_DUPLICATE = 0.8
_PAIRWISE_UP_TO = 3000


_DRAFT = (
    "snippet '{id}' is a draft written by `supportbot gaps`: the bot answers with it as it stands. Check its "
    "title, questions and answer, then remove `draft: true`"
)
_NO_QUESTIONS = (
    "snippet '{id}' has no example questions: customers' wording is matched against its title only "
    "(add three to five ways customers ask for it)"
)
_STOP_WORDS_ONLY = (
    "snippet '{id}': the example question {question!r} has only common words, which the lexical engine "
    "ignores, so it can never match (reword it, or use knowledge.engine: semantic)"
)
_CANNOT_CALIBRATE = (
    "no snippet has two example questions besides its title: the semantic engine cannot learn from the "
    "bot's own questions how sure to be, so it asks the customer whenever its best snippet leads the next "
    "by little (add three to five ways customers ask for each snippet)"
)
_NEAR_TWIN = (
    "snippet '{id}': the example question {question!r} is nearly the same as {twin!r} of snippet "
    "'{owner}'; the engine will confuse the two (make them differ, or merge the snippets)"
)


def snippet_warnings(snippets: Sequence[SnippetConfig], engine: str, origins: Mapping[str, str]) -> list[Problem]:
    """What silently breaks matching: a snippet without example questions, an example
    question no engine can match (only stop words, under the lexical engine), example
    questions of two snippets so alike that the engine will confuse them, and (semantic
    engine) a bot whose questions the calibration cannot learn from."""
    from ..retrieval.lexical import terms

    warnings = []
    if engine == "semantic" and snippets and all(len({*s.questions} - {s.title}) < 2 for s in snippets):
        warnings.append(_at(origins.get(snippets[0].id, ""))(_CANNOT_CALIBRATE))
    seen: dict[frozenset[str], tuple[str, str]] = {}  # terms -> (snippet id, question)
    # Comparing every pair costs time quadratic in the questions: a large bot (a generated
    # knowledge base) gets the exact check only, which is a lookup.
    near = sum(len(s.questions) for s in snippets) <= _PAIRWISE_UP_TO
    for snippet in snippets:
        where = _at(origins.get(snippet.id, ""))
        if snippet.draft:
            warnings.append(where(_DRAFT.format(id=snippet.id)))
        if not snippet.questions:
            warnings.append(where(_NO_QUESTIONS.format(id=snippet.id)))
        for question in snippet.questions:
            words = frozenset(terms(question))
            if not words and engine == "lexical":
                warnings.append(where(_STOP_WORDS_ONLY.format(id=snippet.id, question=question)))
                continue
            twin = _near(words, seen, snippet.id, pairwise=near)
            if twin:
                warnings.append(where(_NEAR_TWIN.format(id=snippet.id, question=question, owner=twin[0], twin=twin[1])))
            if words:
                seen.setdefault(words, (snippet.id, question))
    return warnings


def _near(
    words: frozenset[str], seen: Mapping[frozenset[str], tuple[str, str]], snippet_id: str, *, pairwise: bool
) -> tuple[str, str] | None:
    if not words:
        return None
    if words in seen and seen[words][0] != snippet_id:
        return seen[words]
    if not pairwise:
        return None
    for other, (owner, question) in seen.items():
        if owner != snippet_id and len(words & other) / len(words | other) >= _NEAR_DUPLICATE:
            return owner, question
    return None


def _at(origin: str) -> Callable[[str], Problem]:
    """A warning at `origin` ("path:line:col"), where the snippet's id is written."""
    path, _, rest = origin.rpartition(":")
    path, _, line = path.rpartition(":")
    column = rest

    def problem(message: str) -> Problem:
        if line.isdigit() and column.isdigit():
            return Problem(path, int(line), int(column), message)
        return Problem(origin or "<bot>", 1, 1, message)

    return problem
