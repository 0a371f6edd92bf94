"""The bot as a Chatwoot Agent Bot, end to end against a fake Chatwoot over real HTTP:
answers, a clarification click, a hand-off with its note and status, an agent's reply,
resolve, back to pending, redelivery, signatures, and Chatwoot down then up."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from fastapi.testclient import TestClient

from supportbot import load_bot
from supportbot.server import ServerSettings, create_app
from supportbot.testing.fake_chatwoot import FakeChatwoot, conversation_event, message_created, option_clicked, signed

TOKEN = "cw-bot-token-1"
SECRET = "cw-webhook-secret-1"
URL = "/v1/channels/chatwoot/bean-there"
BASE = "/api/v1/accounts/1/conversations"


def connected_bot(folder: Path, chatwoot_url: str, **extra: object) -> Path:
    """The example bot, connected to Chatwoot."""
    data = yaml.safe_load((REPO / "bots" / "bean-there.yaml").read_text())
    data["knowledge"]["include"] = [
        str(REPO / "knowledge" / "bean-there" / p.split("/")[-1]) for p in data["knowledge"]["include"]
    ]
    data["model"] = {"provider": "offline"}
    data["channels"] = {
        "chatwoot": {"url": chatwoot_url, "account_id": 1, "api_token_env": "CW_TOKEN", "team_id": 4, **extra}
    }
    path = folder / "bean-there.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def chatwoot() -> Iterator[FakeChatwoot]:
    with FakeChatwoot() as fake:
        yield fake


def server(tmp_path: Path, chatwoot: FakeChatwoot, database_url: str | None = None, **extra: object) -> TestClient:
    bot = load_bot(connected_bot(tmp_path, chatwoot.url, **extra))
    settings = ServerSettings(bot_paths=[], database_url=database_url or f"sqlite:///{tmp_path / 'cw.db'}")
    env = {"CW_TOKEN": TOKEN, "CW_SECRET": SECRET}
    return TestClient(create_app(settings, [bot], env=env))


def state(client: TestClient, conversation: int) -> str:
    return client.get(f"/v1/conversations/chatwoot-1-{conversation}").json()["state"]


def wait_state(client: TestClient, conversation: int, wanted: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = client.get(f"/v1/conversations/chatwoot-1-{conversation}")
        if found.status_code == 200 and found.json()["state"] == wanted:
            return
        time.sleep(0.05)
    raise AssertionError(f"conversation {conversation} never became {wanted}")


def test_a_conversation_from_answer_to_hand_off_agent_reply_resolve_and_back_to_the_bot(
    tmp_path, chatwoot, database_url
):
    with server(tmp_path, chatwoot, database_url) as client:
        assert client.post(URL, json=message_created(42, 1, "How should I store my coffee?")).json() == {"ok": True}
        [answer] = chatwoot.wait_for(1)
        assert answer.path == f"{BASE}/42/messages" and answer.token == TOKEN
        assert answer.body["content"].startswith("Keep coffee") and answer.body["message_type"] == "outgoing"

        client.post(URL, json=message_created(42, 2, "can I speak to a real person"))
        calls = chatwoot.wait_for(5)[1:]
        assert [c.path.removeprefix(f"{BASE}/42") for c in calls] == [
            "/messages",
            "/messages",
            "/assignments",
            "/toggle_status",
        ]
        handoff, note, team, status = calls
        assert "someone on the Bean There team" in handoff.body["content"] and handoff.body["private"] is False
        assert note.body["private"] is True and "rule asks-for-human" in note.body["content"]
        assert team.body == {"team_id": 4} and status.body == {"status": "open"}
        assert state(client, 42) == "awaiting_agent"

        # Chatwoot now has it open: the customer's next message is for the agents, not the bot.
        client.post(URL, json=message_created(42, 3, "hello?", status="open"))
        agent_reply = message_created(
            42, 4, "Hi Jo, Maria here.", message_type="outgoing", sender_type="user", sender_name="Maria", status="open"
        )
        client.post(URL, json=agent_reply)
        wait_state(client, 42, "agent_active")
        transcript = client.get("/v1/conversations/chatwoot-1-42").json()
        assert transcript["agent"] == "Maria" and transcript["messages"][-1]["text"] == "Hi Jo, Maria here."

        client.post(URL, json=conversation_event("conversation_resolved", 42, "resolved"))
        wait_state(client, 42, "closed")
        # An agent toggles it back to pending: the bot answers again.
        client.post(URL, json=message_created(42, 5, "How long does delivery take?", status="pending"))
        assert "working days" in chatwoot.wait_for(6)[-1].body["content"]
        assert state(client, 42) == "bot_active"
        assert len(chatwoot.calls) == 6  # "hello?" while open got no reply from the bot


def test_a_clarification_goes_out_as_buttons_and_a_click_is_the_pick(tmp_path, chatwoot):
    with server(tmp_path, chatwoot) as client:
        client.post(URL, json=message_created(7, 1, "ground or whole?"))
        [question] = chatwoot.wait_for(1)
        assert question.body["content_type"] == "input_select"
        items = question.body["content_attributes"]["items"]
        assert {"title": "Whole bean or ground coffee", "value": "grind-options"} in items
        client.post(URL, json=option_clicked(7, 2, "Whole bean or ground coffee", "grind-options"))
        answer = chatwoot.wait_for(2)[-1]
        assert answer.body["content_type"] == "text" and "grind" in answer.body["content"].lower()


def test_a_redelivered_message_is_answered_once_and_other_messages_are_left_alone(tmp_path, chatwoot):
    with server(tmp_path, chatwoot) as client:
        event = message_created(9, 11, "How should I store my coffee?")
        client.post(URL, json=event)
        client.post(URL, json=event)  # Chatwoot retried
        for ignored in (
            message_created(9, 12, "Our bot's own reply", message_type="outgoing", sender_type="agent_bot"),
            message_created(
                9, 13, "internal: check the order", message_type="outgoing", sender_type="user", private=True
            ),
            message_created(10, 14, "How should I store my coffee?", status="open"),  # a person has it
        ):
            client.post(URL, json=ignored)
        chatwoot.wait_for(1)
        time.sleep(0.5)
        assert len(chatwoot.calls) == 1
        assert client.get("/v1/conversations/chatwoot-1-10").status_code == 404


def test_a_signed_bot_refuses_unsigned_wrong_and_old_deliveries(tmp_path, chatwoot):
    with server(tmp_path, chatwoot, secret_env="CW_SECRET") as client:
        body = json.dumps(message_created(5, 1, "How should I store my coffee?")).encode()
        assert client.post(URL, content=body, headers={"content-type": "application/json"}).status_code == 401
        assert client.post(URL, content=body, headers=signed("wrong-secret", body)).status_code == 401
        old = signed(SECRET, body, timestamp=int(time.time()) - 3600)
        assert client.post(URL, content=body, headers=old).status_code == 401
        assert client.post(URL, content=body, headers=signed(SECRET, body)).status_code == 200
        assert len(chatwoot.wait_for(1)) == 1
        assert client.post("/v1/channels/chatwoot/ledgerly-billing", json={}).status_code == 404


def test_chatwoot_down_loses_no_reply_and_one_failing_conversation_holds_up_no_other(tmp_path, chatwoot):
    with server(tmp_path, chatwoot) as client:
        chatwoot.down = True
        client.post(URL, json=message_created(1, 1, "How should I store my coffee?"))
        deadline = time.monotonic() + 5
        while chatwoot.refused == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert chatwoot.refused >= 1 and chatwoot.calls == []
        chatwoot.down = False
        chatwoot.failing = {f"{BASE}/2/"}  # only conversation 2's calls fail now
        client.post(URL, json=message_created(2, 2, "How long does delivery take?"))
        client.post(URL, json=message_created(3, 3, "How long does delivery take?"))
        delivered = chatwoot.wait_for(2, timeout_s=15)  # 1's retry (after 1 s) and 3's
        assert {c.path for c in delivered} == {f"{BASE}/1/messages", f"{BASE}/3/messages"}
        chatwoot.failing = set()
        assert chatwoot.wait_for(3, timeout_s=15)[-1].path == f"{BASE}/2/messages"


def test_serve_refuses_to_start_when_the_chatwoot_token_is_not_set(tmp_path, chatwoot):
    from typer.testing import CliRunner

    from supportbot.cli.main import app

    bot = connected_bot(tmp_path, chatwoot.url, secret_env="CW_SECRET")
    result = CliRunner().invoke(
        app, ["serve", str(bot), "--db", f"sqlite:///{tmp_path / 'x.db'}"], env={"CW_TOKEN": ""}
    )
    assert result.exit_code == 2
    assert "channels.chatwoot.api_token_env names CW_TOKEN, which is not set" in result.output
    assert "channels.chatwoot.secret_env names CW_SECRET, which is not set" in result.output


def test_a_person_opening_the_conversation_in_chatwoot_silences_the_bot(tmp_path, chatwoot):
    with server(tmp_path, chatwoot) as client:
        client.post(URL, json=message_created(8, 1, "How should I store my coffee?"))
        chatwoot.wait_for(1)
        client.post(URL, json={"event": "webwidget_triggered", "id": 8, "contact": {"id": 501}})  # ignored
        client.post(URL, json=conversation_event("conversation_opened", 8, "open"))
        wait_state(client, 8, "awaiting_agent")
        client.post(URL, json=message_created(8, 2, "How long does delivery take?", status="open"))
        time.sleep(0.5)
        assert len(chatwoot.calls) == 1  # the agents answer now, not the bot
