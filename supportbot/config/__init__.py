"""The bot file: its format, and reading it from disk with every problem at its line.

    format.py      the format, version 1, as pydantic models (the single source of truth)
    loader.py      load_bot / load_bots / parse_bot: a whole Bot, or a ConfigError
    yamldoc.py     YAML that remembers where each value came from; ${VAR} interpolation
    validation.py  pydantic errors turned into path:line:col problems
    lint.py        warnings: what loads but will not behave as its author expects

This package's own namespace is the format; import the loader from config.loader.
"""

from .format import *  # noqa: F403
from .format import __all__ as _format_names

__all__ = list(_format_names)
