"""Load bots from disk: the bot file, its knowledge includes, and every check a config needs.

A bot that does not load never runs: every function here either returns a complete,
valid Bot or raises ConfigError with all the problems it found, each at its YAML node.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..bot import Bot
from ..errors import ConfigError, Problem
from ..gcpause import gc_paused
from .format import BotConfig, KnowledgeFile, SnippetConfig, SnippetFrontMatter
from .lint import lint_bot
from .markdown import unwrap
from .validation import validate_doc
from .yamldoc import YamlDoc, parse_yaml

__all__ = ["display_path", "find_bot_files", "load_bot", "load_bots", "parse_bot"]

YAML_SUFFIXES = (".yaml", ".yml")
MARKDOWN_SUFFIXES = (".md", ".markdown")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.S | re.M)
_BOT_MARKER = re.compile(r"^version\s*:", re.M)


def display_path(path: str | os.PathLike[str]) -> str:
    """The path as a user would type it: relative to the working folder when inside it or
    beside it ("../knowledge/faq.yaml" from bots/), else absolute."""
    text = os.path.normpath(os.fspath(path))
    try:
        rel = os.path.relpath(text)
    except ValueError:
        return text
    return text if rel.startswith(".." + os.sep + ".." + os.sep) else rel


def load_bot(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Bot:
    """Read a bot file and everything it includes. Raises ConfigError."""
    source = display_path(path)
    text, problem = _read(Path(path), source)
    if problem:
        raise ConfigError([problem])
    with gc_paused():
        return parse_bot(text, source, base_dir=Path(path).parent, env=env)


def load_bots(paths: Iterable[str | os.PathLike[str]], env: Mapping[str, str] | None = None) -> list[Bot]:
    """Load every bot under `paths` (files or folders); all problems of all bots together."""
    files, problems = find_bot_files(paths)
    bots: list[Bot] = []
    seen: dict[str, str] = {}
    for file in files:
        try:
            bot = load_bot(file, env)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if bot.id in seen:
            problems.append(
                Problem(bot.source, 1, 1, f"bot id '{bot.id}' is also used by {seen[bot.id]} (bot ids must be unique)")
            )
        seen[bot.id] = bot.source
        bots.append(bot)
    if problems:
        raise ConfigError(problems)
    return bots


def find_bot_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Problem]]:
    """Bot files named, or found in folders: YAML files with a top-level `version:` key.

    Knowledge files and transcript fixtures in the same folders are skipped; they are
    checked through the bots that use them.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if _looks_like_bot(candidate):
                    files.append(candidate)
        elif path.exists():
            files.append(path)
        else:
            problems.append(
                Problem(display_path(path), 1, 1, "no such file or folder (give a bot file or a folder of bots)")
            )
    return files, problems


def _looks_like_bot(path: Path) -> bool:
    if path.suffix not in YAML_SUFFIXES or path.name.endswith((".transcript.yaml", ".transcript.yml")):
        return False
    try:
        with path.open(encoding="utf-8") as handle:
            head = handle.read(4096)
    except (OSError, UnicodeDecodeError):
        return False
    return bool(_BOT_MARKER.search(head))


def parse_bot(
    text: str,
    source: str = "<string>",
    *,
    base_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Bot:
    """Parse a bot from text. Includes are resolved against `base_dir` (none: no includes)."""
    env = os.environ if env is None else env
    doc = parse_yaml(text, source, env=env)
    problems = list(doc.problems)
    if doc.problems and doc.data is None:
        raise ConfigError(problems)
    config, errors = validate_doc(BotConfig, doc, doc.data)
    problems.extend(errors)
    if config is None:
        problems.extend(_salvage_checks(doc, base_dir, env))
        raise ConfigError(problems)
    snippets, origins, found = _collect_snippets(config, doc, base_dir, env)
    problems.extend(found)
    problems.extend(_provider_problem(config.model.provider, doc))
    problems.extend(_engine_problem(config, doc, base_dir))
    if problems:
        raise ConfigError(problems)
    return Bot(config, tuple(snippets), source, origins, tuple(lint_bot(config, doc, snippets, origins)))


def _salvage_checks(doc: YamlDoc, base_dir: str | os.PathLike[str] | None, env: Mapping[str, str]) -> list[Problem]:
    """Checks that still make sense when the bot file itself is invalid.

    Reporting every problem of a run together means looking at the includes and the
    provider even when, say, a key elsewhere is misspelled.
    """
    data = doc.data if isinstance(doc.data, dict) else {}
    collector = _Snippets(env)
    knowledge = data.get("knowledge")
    if isinstance(knowledge, dict):
        inline = knowledge.get("snippets")
        for index, item in enumerate(inline if isinstance(inline, list) else []):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                collector.note_id(item["id"], doc, ("knowledge", "snippets", index, "id"))
        includes = knowledge.get("include")
        if isinstance(includes, list) and base_dir is not None:
            for index, pattern in enumerate(includes):
                if isinstance(pattern, str):
                    collector.include(doc, index, pattern, base_dir)
    model = data.get("model")
    if isinstance(model, dict) and isinstance(model.get("provider"), str):
        collector.problems.extend(_provider_problem(model["provider"], doc))
    return collector.problems


def _collect_snippets(
    config: BotConfig, doc: YamlDoc, base_dir: str | os.PathLike[str] | None, env: Mapping[str, str]
) -> tuple[list[SnippetConfig], dict[str, str], list[Problem]]:
    collector = _Snippets(env)
    for index, snippet in enumerate(config.knowledge.snippets):
        collector.add(snippet, doc, ("knowledge", "snippets", index, "id"))
    if config.knowledge.include and base_dir is None:
        message = "includes need a bot loaded from a file (use load_bot, or pass base_dir)"
        collector.problems.append(doc.problem(("knowledge", "include"), message))
    elif base_dir is not None:
        for index, pattern in enumerate(config.knowledge.include):
            collector.include(doc, index, pattern, base_dir)
    return collector.snippets, collector.origins, collector.problems


def _read(path: Path, source: str) -> tuple[str, Problem | None]:
    try:
        return path.read_text(encoding="utf-8"), None
    except FileNotFoundError:
        return "", Problem(source, 1, 1, "no such file (check the path)")
    except UnicodeDecodeError as exc:
        return "", Problem(source, 1, 1, f"not UTF-8 text ({exc.reason} at byte {exc.start}; save the file as UTF-8)")
    except OSError as exc:
        return "", Problem(source, 1, 1, f"cannot read the file ({exc.strerror})")


class _Snippets:
    """Gathers a bot's snippets from every source, keeping ids unique and problems listed."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.snippets: list[SnippetConfig] = []
        self.origins: dict[str, str] = {}  # snippet id -> "path:line:col" of its definition
        self.files: set[Path] = set()
        self.problems: list[Problem] = []

    def note_id(self, snippet_id: str, doc: YamlDoc, id_path: tuple[str | int, ...]) -> bool:
        line, col = doc.where(id_path)
        if snippet_id in self.origins:
            self.problems.append(
                Problem(
                    doc.source,
                    line,
                    col,
                    f"duplicate snippet id '{snippet_id}' (also defined at {self.origins[snippet_id]}; snippet ids must be unique across a bot)",
                )
            )
            return False
        self.origins[snippet_id] = f"{doc.source}:{line}:{col}"
        return True

    def add(self, snippet: SnippetConfig, doc: YamlDoc, id_path: tuple[str | int, ...]) -> None:
        if self.note_id(snippet.id, doc, id_path):
            self.snippets.append(snippet)

    def include(self, doc: YamlDoc, index: int, pattern: str, base_dir: str | os.PathLike[str]) -> None:
        at = ("knowledge", "include", index)
        full = os.path.join(os.fspath(base_dir), pattern)
        matches = sorted(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))
        if not matches:
            where = display_path(os.path.abspath(base_dir)) or "."
            self.problems.append(
                doc.problem(
                    at, f"include '{pattern}' matches no file (globs are relative to the bot file's folder, {where})"
                )
            )
        for file in matches:
            if file.resolve() in self.files:
                continue  # two globs naming one file add it once
            self.files.add(file.resolve())
            if file.suffix in YAML_SUFFIXES:
                self.yaml_file(file)
            elif file.suffix in MARKDOWN_SUFFIXES:
                self.markdown_file(file)
            else:
                self.problems.append(
                    doc.problem(
                        at,
                        f"include '{pattern}' matches {display_path(file)}, an unsupported file type (allowed: .yaml, .yml, .md)",
                    )
                )

    def yaml_file(self, file: Path) -> None:
        source = display_path(file)
        text, problem = _read(file, source)
        if problem:
            self.problems.append(problem)
            return
        doc = parse_yaml(text, source, env=self.env)
        self.problems.extend(doc.problems)
        if doc.data is None and doc.problems:
            return
        parsed, problems = validate_doc(KnowledgeFile, doc, doc.data)
        self.problems.extend(problems)
        for index, snippet in enumerate(parsed.snippets if parsed else []):
            self.add(snippet, doc, ("snippets", index, "id"))

    def markdown_file(self, file: Path) -> None:
        source = display_path(file)
        text, problem = _read(file, source)
        match = None if problem else _FRONT_MATTER.match(text)
        if problem or not match:
            self.problems.append(
                problem
                or Problem(
                    source,
                    1,
                    1,
                    "a Markdown snippet starts with front matter between '---' lines (id, title, questions, tags)",
                )
            )
            return
        # Like the body, front matter is content: no ${VAR} interpolation.
        doc = parse_yaml(match.group(1), source, line_offset=1)
        front, problems = (None, []) if doc.problems else validate_doc(SnippetFrontMatter, doc, doc.data)
        body = text[match.end() :].strip()
        if not body:
            line = text[: match.end()].count("\n") + 1
            problems.append(
                Problem(
                    source, line, 1, "the Markdown body (the answer) is empty (write the answer below the front matter)"
                )
            )
        self.problems.extend(doc.problems + problems)
        if front is None or problems:
            return
        snippet = SnippetConfig(
            id=front.id or file.stem, title=front.title, questions=front.questions, answer=unwrap(body), tags=front.tags
        )
        self.add(snippet, doc, ("id",) if front.id else ())


def _provider_problem(name: str, doc: YamlDoc) -> list[Problem]:
    from ..providers.registry import provider_names

    names = provider_names()
    if name in names:
        return []
    return [doc.problem(("model", "provider"), f"unknown provider '{name}' (allowed: {', '.join(names)})")]


def _engine_problem(config: BotConfig, doc: YamlDoc, base_dir: str | os.PathLike[str] | None) -> list[Problem]:
    """A semantic bot whose engine is not installed fails at load, not at its first message."""
    if config.knowledge.engine != "semantic":
        return []
    from ..retrieval.encoder import missing_package, missing_requirement

    message = missing_package()
    if message:
        return [doc.problem(("knowledge", "engine"), message)]
    message = missing_requirement(config.knowledge.model, Path(base_dir or "."))
    where = ("knowledge", "model") if "model" in config.knowledge.model_fields_set else ("knowledge", "engine")
    return [doc.problem(where, message)] if message else []
