"""A provider that plays back scripted model outputs, for tests of the engine and policy.

It fails loudly both ways: a call with no step left raises, and `assert_done()` raises
when steps were left unused, so a test cannot pass while the engine skipped a call.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..decision import Usage
from ..providers.base import DeltaCallback, ModelRequest, ModelResponse

__all__ = ["ScriptedProvider", "UnusedSteps"]


class UnusedSteps(AssertionError):
    """The engine made fewer model calls than the script expected."""


class ScriptedProvider:
    """Each step is model text, a ModelResponse (to set finish_reason), or an exception to raise."""

    def __init__(self, steps: Iterable[str | ModelResponse | Exception] = ()) -> None:
        self.steps = list(steps)
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest, on_delta: DeltaCallback | None = None) -> ModelResponse:
        self.requests.append(request)
        if not self.steps:
            raise AssertionError(f"model call {len(self.requests)} was not scripted")
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        response = (
            step
            if isinstance(step, ModelResponse)
            else ModelResponse(step, "stop", Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15))
        )
        if on_delta is not None:
            await on_delta(response.text)
        return response

    def assert_done(self) -> None:
        if self.steps:
            raise UnusedSteps(f"{len(self.steps)} scripted step(s) left unused: {self.steps!r}")

    async def aclose(self) -> None:
        return None
