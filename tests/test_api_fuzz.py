"""API fuzzing from the server's own OpenAPI document: no 5xx, and every 4xx explains itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from supportbot import load_bots
from supportbot.server import ServerSettings, create_app

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -e '.[test]')")

# Event streams never end by themselves; every other operation is fuzzed.
STREAMS = {"/v1/conversations/{conversation_id}/events"}


@pytest.fixture(scope="module")
def operations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[object]]:
    config = ServerSettings(
        bot_paths=[str(REPO / "bots")], database_url=f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'f.db'}"
    )
    app = create_app(config, load_bots(config.bot_paths), env={})
    with TestClient(app):  # runs the lifespan: store open, engines built
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        yield [result.ok() for result in schema.get_all_operations() if result.ok().path not in STREAMS]


def test_every_operation_is_fuzzed(operations):
    paths = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {
        "POST /v1/bots/{bot_id}/messages",
        "POST /v1/conversations/{conversation_id}/claim",
        "GET /v1/handoffs",
    } <= paths


def test_no_request_gets_a_server_error_and_every_refusal_explains_itself(operations):
    failures: list[str] = []
    for operation in operations:

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(operation.as_strategy())
        def check(case: object) -> None:
            response = case.call()  # type: ignore[attr-defined]
            where = f"{case.method} {case.formatted_path}"  # type: ignore[attr-defined]
            if response.status_code >= 500:
                failures.append(f"{where} -> {response.status_code}: {response.text[:200]}")
            elif response.status_code >= 400 and not response.json().get("detail"):
                failures.append(f"{where} -> {response.status_code} without a detail: {response.text[:200]}")

        check()
    assert not failures, "\n".join(failures[:10])
