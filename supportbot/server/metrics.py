"""Prometheus metrics of one server process (each process exposes its own /metrics)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from ..decision import Decision
from ..providers.base import DeltaCallback, ModelRequest, ModelResponse, Provider

__all__ = ["Metrics", "TimedProvider"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter("supportbot_turns", "Customer turns handled.", ["bot", "action"], registry=self.registry)
        self.handoffs = Counter(
            "supportbot_handoffs", "Hand-offs, by the rule that fired.", ["bot", "rule"], registry=self.registry
        )
        self.model_latency = Histogram(
            "supportbot_model_latency_seconds",
            "Model call latency, retries included.",
            ["bot"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.turn_latency = Histogram(
            "supportbot_turn_latency_seconds",
            "Engine time per turn.",
            ["bot"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "supportbot_tokens",
            "Model tokens used (kind: prompt, completion, and cached: prompt tokens from the server's cache).",
            ["bot", "kind"],
            registry=self.registry,
        )
        self.response_cache_hits = Counter(
            "supportbot_response_cache_hits",
            "Turns answered from the response cache (no model call).",
            ["bot"],
            registry=self.registry,
        )
        self.feedback = Counter(
            "supportbot_feedback",
            "Customer ratings of bot answers (a changed rating counts again).",
            ["bot", "rating"],
            registry=self.registry,
        )
        self.errors = Counter("supportbot_errors", "Errors, by kind.", ["kind"], registry=self.registry)

    def observe_turn(self, bot_id: str, decision: Decision) -> None:
        self.turns.labels(bot_id, decision.action).inc()
        if decision.handoff:
            self.handoffs.labels(bot_id, decision.handoff.rule).inc()
        self.turn_latency.labels(bot_id).observe(decision.latency_ms / 1000)
        self.tokens.labels(bot_id, "prompt").inc(decision.usage.prompt_tokens)
        self.tokens.labels(bot_id, "completion").inc(decision.usage.completion_tokens)
        self.tokens.labels(bot_id, "cached").inc(decision.usage.cached_tokens)
        if decision.cached:
            self.response_cache_hits.labels(bot_id).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class TimedProvider:
    """Wraps a provider to record how long each model call takes."""

    def __init__(self, inner: Provider, metrics: Metrics, bot_id: str) -> None:
        self.inner = inner
        self._histogram = metrics.model_latency.labels(bot_id)
        self._errors = metrics.errors.labels("model_call")

    async def complete(self, request: ModelRequest, on_delta: DeltaCallback | None = None) -> ModelResponse:
        started = time.perf_counter()
        try:
            return await self.inner.complete(request, on_delta)
        except Exception:
            self._errors.inc()
            raise
        finally:
            self._histogram.observe(time.perf_counter() - started)

    async def aclose(self) -> None:
        await self.inner.aclose()
