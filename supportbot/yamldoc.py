"""YAML documents that remember where every value came from.

Config errors must point at the offending node (`path:line:col`), so parsing keeps a map
from each value's path (`("knowledge", "snippets", 0, "id")`) to the position of its key and
of its value. Strings are interpolated (`${VAR}`, `${VAR:-default}`, `$$` for a literal `$`)
in the same walk, so a missing variable is reported where it is used.

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

from .errors import Problem

__all__ = ["Path", "Position", "YamlDoc", "interpolate", "parse_yaml"]

Path = tuple[str | int, ...]
Position = tuple[int, int]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_VAR = re.compile(r"\$\$|\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class YamlDoc:
    """A parsed YAML document: plain Python data plus the position of each part."""

    source: str
    data: Any
    key_positions: dict[Path, Position] = field(default_factory=dict)
    value_positions: dict[Path, Position] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def where(self, path: Path, *, key: bool = False) -> Position:
        """Best position for `path`: the node itself, else its nearest located parent."""
        table = self.key_positions if key else self.value_positions
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefix in table:
                return table[prefix]
            if prefix in self.value_positions:
                return self.value_positions[prefix]
        return (1, 1)

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
            errors.append(
                f"environment variable {name} is not set "
                f"(set it, or give a default: ${{{name}:-value}})"
            )
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
    doc = YamlDoc(source=source, data=None)
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1 + line_offset, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        doc.problems.append(
            Problem(source, line, column, f"YAML syntax error: {what} (fix the YAML syntax)")
        )
        return doc
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(source, 1, 1, f"YAML error: {exc} (fix the YAML syntax)"))
        return doc
    if root is not None:
        walker = _Walker(doc, env, line_offset)
        doc.data = walker.value(root, ())
    return doc


class _Walker:
    """Turns a composed node tree into plain data, recording positions as it goes."""

    def __init__(self, doc: YamlDoc, env: Mapping[str, str] | None, line_offset: int) -> None:
        self.doc = doc
        self.env = env
        self.line_offset = line_offset
        self.constructor = SafeConstructor()

    def position(self, node: Node) -> Position:
        return (node.start_mark.line + 1 + self.line_offset, node.start_mark.column + 1)

    def value(self, node: Node, path: Path) -> Any:
        self.doc.value_positions[path] = self.position(node)
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        return self.scalar(node, path)

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.doc.problems.append(self._problem(key_node, "YAML merge keys (<<) are not supported (write the keys out)"))
                continue
            if not isinstance(key_node, ScalarNode):
                self.doc.problems.append(self._problem(key_node, "a key must be a plain string"))
                continue
            key = key_node.value
            if key in result:
                first = self.doc.key_positions[(*path, key)]
                self.doc.problems.append(
                    self._problem(
                        key_node,
                        f"duplicate key '{key}' (first at line {first[0]}; each key may appear once)",
                    )
                )
                continue
            self.doc.key_positions[(*path, key)] = self.position(key_node)
            result[key] = self.value(value_node, (*path, key))
        return result

    def scalar(self, node: ScalarNode, path: Path) -> Any:
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
        line, column = self.position(node)
        return Problem(self.doc.source, line, column, message)
