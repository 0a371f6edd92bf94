"""YAML documents that remember where every value came from.

Config errors must point at the offending node (`path:line:col`), so a document keeps its
node tree and finds the position of a path (`("knowledge", "snippets", 0, "id")`), its key's
or its value's, when a problem is reported. Looking positions up only then, rather than
recording a million of them for a large knowledge file that has no problem, halves the walk.
Strings are interpolated (`${VAR}`, `${VAR:-default}`, `$$` for a literal `$`) in the same
walk, so a missing variable is reported where it is used.

The composer is libyaml's when available: knowledge files can hold many thousands of
snippets, and the text is parsed exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..errors import Problem

__all__ = ["Path", "Position", "YamlDoc", "interpolate", "parse_yaml"]

Path = tuple[str | int, ...]
Position = tuple[int, int]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class YamlDoc:
    """A parsed YAML document: plain Python data plus the position of each part."""

    source: str
    data: Any
    problems: list[Problem] = field(default_factory=list)
    root: Node | None = None
    line_offset: int = 0

    def where(self, path: Path, *, key: bool = False) -> Position:
        """Best position for `path` (its key's with `key`): the node itself, else its
        nearest parent that exists."""
        located = self._located(path)
        if not located:
            return (1, 1)
        key_node, value_node = located[-1]
        return self.position(key_node if key and key_node is not None else value_node)

    def _located(self, path: Path) -> list[tuple[Node | None, Node]]:
        """(key node, value node) for the root and each part of `path` that exists."""
        if self.root is None:
            return []
        node = self.root
        located: list[tuple[Node | None, Node]] = [(None, node)]
        for part in path:
            if isinstance(node, MappingNode) and isinstance(part, str):
                # The first occurrence: later duplicates are reported and ignored.
                pair = next(
                    (
                        (k, v)
                        for k, v in node.value
                        if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG and k.value == part
                    ),
                    None,
                )
                if pair is None:
                    break
                located.append(pair)
                node = pair[1]
            elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                located.append((None, node))
            else:
                break
        return located

    def position(self, node: Node) -> Position:
        """1-based line and column of a node of this document."""
        return (node.start_mark.line + 1 + self.line_offset, node.start_mark.column + 1)

    def problem(self, path: Path, message: str, *, key: bool = False) -> Problem:
        line, column = self.where(path, key=key)
        return Problem(self.source, line, column, message)


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand `${VAR}` and `${VAR:-default}`; return the text and the errors found."""
    errors: list[str] = []

    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, has_default, default = match.group(1).partition(":-")
        if not _VAR_NAME.match(name):
            errors.append(
                f"invalid variable reference '${{{match.group(1)}}}' "
                "(use ${NAME} or ${NAME:-default}; write $$ for a literal $)"
            )
            return match.group(0)
        value = env.get(name)
        if value is None or (value == "" and has_default):
            if has_default:
                return default
            errors.append(f"environment variable {name} is not set (set it, or give a default: ${{{name}:-value}})")
            return ""
        return value

    return _VAR.sub(expand, text), errors


def parse_yaml(
    text: str,
    source: str,
    *,
    env: Mapping[str, str] | None = None,
    line_offset: int = 0,
) -> YamlDoc:
    """Parse one YAML document. Problems are collected in `doc.problems`, never raised.

    `env` turns on interpolation of string values; `line_offset` shifts reported lines
    (for YAML front matter inside a Markdown file).
    """
    doc = YamlDoc(source=source, data=None, line_offset=line_offset)
    root, problem = _compose(text, source, line_offset)
    if problem is None and root is not None:
        problem = _alias_problem(root, doc)
    if problem is not None:
        doc.problems.append(problem)
    elif root is not None:
        doc.root = root
        doc.data = _Walker(doc, env).value(root)
    return doc


def _compose(text: str, source: str, line_offset: int) -> tuple[Node | None, Problem | None]:
    """The node tree of one YAML document, or the problem that stops reading it."""
    try:
        return yaml.compose(text, Loader=_Loader), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1 + line_offset, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        return None, Problem(source, line, column, f"YAML syntax error: {what} (fix the YAML syntax)")
    except yaml.YAMLError as exc:
        return None, Problem(source, 1, 1, f"YAML error: {exc} (fix the YAML syntax)")
    except UnicodeEncodeError as exc:  # a lone surrogate: possible in a str, never in a UTF-8 file
        before = text[: exc.start]
        line, column = before.count("\n") + 1 + line_offset, exc.start - (before.rfind("\n") + 1) + 1
        return None, Problem(
            source, line, column, "a character that is not valid Unicode (a lone surrogate); remove it"
        )
    except RecursionError:
        return None, Problem(source, 1, 1, "the YAML is nested too deeply to read (flatten it)")


#: Values a document may expand to through aliases (`*name`). Real bot files reuse a list
#: or two; a 440-byte "billion laughs" expands to hundreds of millions.
MAX_EXPANDED_NODES = 100_000


def _alias_problem(root: Node, doc: YamlDoc) -> Problem | None:
    """A problem when aliases make the document refer to itself or expand to more than
    MAX_EXPANDED_NODES values; found by counting, in time linear in the file."""
    sizes: dict[int, int] = {}  # id(node) -> values it expands to
    open_nodes: set[int] = set()
    # Iterative post-order walk: a deep document must not hit Python's recursion limit.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_EXPANDED_NODES:
                line, column = doc.position(node)
                return Problem(
                    doc.source,
                    line,
                    column,
                    f"this value expands to more than {MAX_EXPANDED_NODES:,} values through YAML aliases "
                    "(*name); write the values out, or reuse less",
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:  # an alias inside the value it names
            line, column = doc.position(node)
            return Problem(
                doc.source,
                line,
                column,
                "a YAML alias refers to the value that contains it (a value cannot contain itself)",
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return None


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


class _Walker:
    """Turns a composed node tree into plain data, interpolating strings as it goes."""

    def __init__(self, doc: YamlDoc, env: Mapping[str, str] | None) -> None:
        self.doc = doc
        self.env = env
        self.constructor = SafeConstructor()

    def value(self, node: Node) -> Any:
        if isinstance(node, MappingNode):
            return self.mapping(node)
        if isinstance(node, SequenceNode):
            return [self.value(item) for item in node.value]
        assert isinstance(node, ScalarNode)
        return self.scalar(node)

    def mapping(self, node: MappingNode) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self.doc.problems.append(
                    self._problem(key_node, "YAML merge keys (<<) are not supported (write the keys out)")
                )
                continue
            if not isinstance(key_node, ScalarNode):
                self.doc.problems.append(self._problem(key_node, "a key must be a plain string"))
                continue
            key = key_node.value
            if key in first:
                line = self.doc.position(first[key])[0]
                self.doc.problems.append(
                    self._problem(key_node, f"duplicate key '{key}' (first at line {line}; each key may appear once)")
                )
                continue
            first[key] = key_node
            result[key] = self.value(value_node)
        return result

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag != _STR_TAG:
            try:
                return self.constructor.construct_object(node, deep=True)
            except yaml.YAMLError as exc:
                self.doc.problems.append(self._problem(node, f"cannot read this value: {exc}"))
                return None
        text: str = node.value
        if self.env is not None and "$" in text:
            text, errors = interpolate(text, self.env)
            self.doc.problems.extend(self._problem(node, e) for e in errors)
        return text

    def _problem(self, node: Node, message: str) -> Problem:
        line, column = self.doc.position(node)
        return Problem(self.doc.source, line, column, message)
