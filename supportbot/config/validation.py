"""Validate located YAML data with a pydantic model; report errors at the offending node."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import Problem
from .yamldoc import Path, YamlDoc

__all__ = ["validate_doc"]

M = TypeVar("M", bound=BaseModel)


def validate_doc(model: type[M], doc: YamlDoc, data: Any, at: Path = ()) -> tuple[M | None, list[Problem]]:
    """Validate `data`, found at path `at` in `doc`, with `model`."""
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {_kind(data)}"
        allowed = ", ".join(model.model_fields)
        return None, [doc.problem(at, f"expected a mapping with keys ({allowed}), found {found}")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    # A misspelled required key shows up twice: unknown 'sytem_prompt' and missing
    # 'system_prompt'. The "did you mean" already says it, so drop the second.
    suggested = {
        (*err["loc"][:-1], hint)
        for err in errors
        if err["type"] == "extra_forbidden"
        for hint in _suggest(str(err["loc"][-1]), _allowed_keys(model, tuple(err["loc"][:-1])))
    }
    kept = [err for err in errors if not (err["type"] == "missing" and tuple(err["loc"]) in suggested)]
    # A node already reported while reading (an unset ${VAR}) needs no second message.
    reported = {(p.line, p.column) for p in doc.problems}
    problems = [_problem(model, doc, data, at, err) for err in kept]
    return None, [p for p in problems if (p.line, p.column) not in reported]


def _suggest(key: str, allowed: list[str]) -> list[str]:
    return difflib.get_close_matches(key, allowed, n=1)


def _problem(model: type[BaseModel], doc: YamlDoc, data: object, at: Path, err: Any) -> Problem:
    loc = _document_loc(data, err["loc"])
    path = (*at, *loc)
    dotted = ".".join(str(p) for p in path) or "document"
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(model, loc[:-1])
        hint = _suggest(key, allowed)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        return doc.problem(path, f"unknown key '{key}' (allowed: {', '.join(allowed)}{suggestion})", key=True)
    if kind == "missing":
        parent = ".".join(str(p) for p in path[:-1]) or "the top level"
        return doc.problem(path[:-1], f"missing required key '{loc[-1]}' in {parent}")
    message = str(err["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
        return doc.problem(path, f"{dotted}: {message}")
    shown = _short(err.get("input"))
    if kind == "string_type" and isinstance(err.get("input"), bool):
        message += "; YAML reads yes/no/on/off/true/false as booleans, so quote the text"
    elif kind == "string_type" and isinstance(err.get("input"), int | float):
        message += "; quote the text to keep it a string"
    return doc.problem(path, f"{dotted}: invalid value {shown} ({message[:1].lower()}{message[1:]})")


def _allowed_keys(model: type[BaseModel], loc: Path) -> list[str]:
    """Field names of the (nested) model that `loc` leads to."""
    current: Any = model
    for part in loc:
        current = _inner_model(current, part)
        if current is None:
            return []
    return list(current.model_fields) if _is_model(current) else []


def _inner_model(annotation: Any, part: str | int) -> Any:
    if _is_model(annotation) and isinstance(part, str):
        field = annotation.model_fields.get(part)
        return _unwrap(field.annotation) if field else None
    if isinstance(part, int):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if args else None
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional and Annotated so list[Model] | None yields list[Model]."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _is_model(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, BaseModel)


def _document_loc(data: object, loc: Path) -> Path:
    """`loc` without the union members pydantic puts in it ("list[str]", "function-after[...]").

    Walked along the document, so that a key of the user's own that looks like one (an
    unknown key 'v[rsion') stays in the path."""
    node = data
    kept: list[str | int] = []
    for part in loc:
        child = _child(node, part)
        if child is _ABSENT and _is_union_tag(part):
            continue
        kept.append(part)
        node = child
    return tuple(kept)


_ABSENT = object()


def _child(node: object, part: str | int) -> object:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool"})


def _kind(value: object) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
