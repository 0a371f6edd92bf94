"""What model tokens cost: a small table of list prices the user can override.

Prices are US dollars per million tokens: input, cached input (served from the provider's
prompt cache), output. They change; a price file (YAML or JSON, the same shape as PRICES)
given with `supportbot report --prices FILE` replaces or adds models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config.loader import display_path
from ..config.yamldoc import parse_yaml
from ..errors import ConfigError, Problem

__all__ = ["PRICES", "Price", "cost", "load_prices"]


@dataclass(frozen=True)
class Price:
    input: float
    cached_input: float
    output: float


#: OpenAI's list prices (USD per 1M tokens) when this table was written, 2026.
PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price(0.15, 0.075, 0.60),
    "gpt-4o": Price(2.50, 1.25, 10.00),
    "gpt-4.1": Price(2.00, 0.50, 8.00),
    "gpt-4.1-mini": Price(0.40, 0.10, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.025, 0.40),
    "gpt-5": Price(1.25, 0.125, 10.00),
    "gpt-5-mini": Price(0.25, 0.025, 2.00),
    "gpt-5-nano": Price(0.05, 0.005, 0.40),
}


def cost(price: Price, prompt: int, completion: int, cached: int) -> float:
    """Dollars for these tokens; cached prompt tokens at the cached rate."""
    fresh = max(prompt - cached, 0)
    return (fresh * price.input + cached * price.cached_input + completion * price.output) / 1_000_000


def load_prices(path: Path | None) -> dict[str, Price]:
    """The built-in table, with the models of `path` replacing or adding to it."""
    table = dict(PRICES)
    if path is None:
        return table
    source = display_path(path)
    try:
        doc = parse_yaml(path.read_text(encoding="utf-8"), source)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(source, 1, 1, f"cannot read the price file ({exc})")]) from None
    shape = "a mapping of model name to {input, cached_input, output} in USD per 1M tokens"
    if doc.problems:
        raise ConfigError(doc.problems)
    if not isinstance(doc.data, Mapping):
        raise ConfigError([Problem(source, 1, 1, f"the price file must be {shape}")])
    problems = []
    for model, entry in doc.data.items():
        fields = entry if isinstance(entry, Mapping) else {}
        values = [fields.get(k) for k in ("input", "cached_input", "output")]
        if values[1] is None and isinstance(values[0], int | float):
            values[1] = values[0]  # no cache discount given: cached tokens cost as much
        if not all(isinstance(v, int | float) and v >= 0 for v in values):
            problems.append(doc.problem((model,), f"model '{model}': give {shape}, e.g. {{input: 0.15, output: 0.6}}"))
            continue
        table[str(model)] = Price(*(float(v) for v in values))  # type: ignore[arg-type]
    if problems:
        raise ConfigError(problems)
    return table
