"""`supportbot init`: a new bot with knowledge files that validate as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..config.format import IDENTIFIER, bot_json_schema
from ..config.loader import load_bot
from ..retrieval.encoder import DEFAULT_MODEL, missing_requirement

__all__ = ["SCHEMA_FILE", "scaffold_bot"]

SCHEMA_FILE = "bot.schema.json"

_BOT = """\
# yaml-language-server: $schema={schema}
version: 1
id: {name}
name: {title} Support
description: What this bot helps customers with.

model:
  provider: offline                     # offline (no key) | openai (any OpenAI-compatible server)
  name: gpt-4o-mini
  api_key_env: OPENAI_API_KEY           # the variable that holds the key; never the key itself
  structured_output: auto               # the reply schema in the strongest form the server takes

system_prompt: |
  You are the support assistant of {title}. Answer only from the knowledge snippets you are
  given, in two to four friendly sentences. If they do not cover the question, hand off.

knowledge:
  include:
    - ../knowledge/{name}/*.yaml
    - ../knowledge/{name}/*.md
  top_k: 4
  engine: semantic                      # semantic (the default: understands paraphrases) | lexical

escalation:
  confidence_threshold: 0.55
  max_bot_turns: 12
  rules:
    - id: asks-for-human
      description: The customer asks for a person.
      # Requests, not the bare word: "are you human?" is small talk, answered with an offer of a
      # person. Requests in other words are handed off too (asked_for_person).
      if_user_says: [talk to a human, speak to a human, talk to an agent, talk to someone]
    - id: low-confidence-streak
      description: Two unsure replies in a row.
      if_low_confidence_turns: 2
  when_unsure: clarify                  # clarify: ask which answer they mean | handoff
  # Questions close to your FAQ that it does not answer, in your customers' words: they go to
  # a person instead of getting the nearest answer. With five example questions per snippet,
  # about three for each such topic cut wrong answers by a fifth (README, "Few example
  # questions per snippet"). A message is matched with the two nearest, so one alone on its
  # topic is averaged with another topic's and can lose even on its own words: write two or more.
  # handoff_examples:
  #   - Do you give a discount on large orders?
  #   - Is there a bulk discount?
  #   - Can I pay in instalments?
  #   - Can I spread the cost over a few months?
  handoff_message: >
    I'm passing you to a member of our team. They will reply here shortly.

offline:
  min_score: 0.55                       # the match a message needs to be answered (0..1), on this bot's
                                        # own scale; raise it if the bot answers questions it should not
  clarify_score: 0.50                   # from here up to min_score: ask "Did you mean ...?"

small_talk:                             # the bot's own replies; no model call, never a hand-off
  greeting: Hello! I'm the {title} assistant. What can I help you with?

limits:
  max_message_chars: 4000
  history_tokens: 3000
"""

_FAQ = """\
snippets:
  - id: opening-hours
    title: Opening hours
    questions:
      - When are you open?
      - What are your opening hours?
    answer: >
      Our support team is available Monday to Friday, 9:00 to 17:00.
    tags: [contact]
"""

_CONTACT = """\
---
id: contact-us
title: Contacting us
questions:
  - How can I contact you?
  - What is your email address?
tags: [contact]
---
Write to support@example.com and we will reply within one business day.
"""


def scaffold_bot(name: str, directory: Path) -> list[Path]:
    """Write the files of a new bot under `directory`; returns them, bot file first."""
    if not re.match(IDENTIFIER, name):
        raise ValueError(
            f"'{name}' is not a valid bot id (letters, digits and _ . : - ; starts with a letter or digit)"
        )
    bot_file = directory / "bots" / f"{name}.yaml"
    files = {
        bot_file: _BOT.format(name=name, title=name.replace("-", " ").replace("_", " ").title(), schema=SCHEMA_FILE),
        directory / "knowledge" / name / "faq.yaml": _FAQ,
        directory / "knowledge" / name / "contact.md": _CONTACT,
    }
    existing = [str(p) for p in files if p.exists()]
    if existing:
        raise FileExistsError(f"{', '.join(existing)} already exists (choose another name or remove it)")
    schema_file = directory / "bots" / SCHEMA_FILE
    if not schema_file.exists():
        files[schema_file] = json.dumps(bot_json_schema(), indent=2) + "\n"
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if missing_requirement(DEFAULT_MODEL) is None:  # else `init` says how to install it
        load_bot(bot_file)  # what init writes must load; a ConfigError here is our bug
    return list(files)
