"""Providers: the only way the engine talks to a model."""

from .base import Candidate, DeltaCallback, ModelRequest, ModelResponse, Provider, ProviderFactory
from .registry import create_provider, provider_names

__all__ = [
    "Candidate",
    "DeltaCallback",
    "ModelRequest",
    "ModelResponse",
    "Provider",
    "ProviderFactory",
    "create_provider",
    "provider_names",
]
