"""Keys: customers and agents each need theirs; nothing is readable without an id and a key."""

from __future__ import annotations

import pytest
from server_helpers import client_for

from supportbot.server import ServerSettings

CUSTOMER = {"Authorization": "Bearer ck-1"}
AGENT = {"Authorization": "Bearer ak-1"}


@pytest.fixture
def client(tmp_path):
    with client_for(tmp_path, api_keys=["ck-1", "ck-2"], agent_keys=["ak-1"]) as c:
        yield c


def start(client) -> str:
    return client.post("/v1/bots/bean-there/messages", json={"text": "I want a human"}, headers=CUSTOMER).json()[
        "conversation_id"
    ]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "ck-1"}, {"Authorization": "Basic ck-1"}]
)
def test_customer_endpoints_refuse_missing_or_wrong_keys(client, headers):
    response = client.post("/v1/bots/bean-there/messages", json={"text": "hi"}, headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_each_configured_customer_key_works(client):
    for key in ("ck-1", "ck-2"):
        response = client.post(
            "/v1/bots/bean-there/messages", json={"text": "hi"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 200


def test_agent_endpoints_need_an_agent_key_not_a_customer_key(client):
    cid = start(client)
    assert client.get("/v1/handoffs", headers=CUSTOMER).status_code == 401
    assert client.post(f"/v1/conversations/{cid}/claim", json={"agent": "x"}, headers=CUSTOMER).status_code == 401
    assert client.get("/v1/handoffs", headers=AGENT).status_code == 200
    assert client.post(f"/v1/conversations/{cid}/claim", json={"agent": "x"}, headers=AGENT).status_code == 200


def test_customers_cannot_post_with_an_agent_key(client):
    assert client.post("/v1/bots/bean-there/messages", json={"text": "hi"}, headers=AGENT).status_code == 401


def test_a_transcript_needs_a_key_and_the_id(client):
    cid = start(client)
    assert client.get(f"/v1/conversations/{cid}").status_code == 401
    assert client.get(f"/v1/conversations/{cid}", headers=CUSTOMER).status_code == 200
    assert client.get(f"/v1/conversations/{cid}", headers=AGENT).status_code == 200
    assert client.get(f"/v1/conversations/{cid[:-1]}x", headers=CUSTOMER).status_code == 404
    assert client.get(f"/v1/conversations/{cid}/events", headers={}).status_code == 401


def test_an_empty_agent_key_list_fails_closed_once_customer_keys_exist(tmp_path):
    with client_for(tmp_path, api_keys=["ck-1"]) as client:
        assert client.get("/v1/handoffs").status_code == 401
        assert client.get("/v1/handoffs", headers={"Authorization": "Bearer ck-1"}).status_code == 401


def test_operations_endpoints_and_pages_stay_open(client):
    for path in ("/healthz", "/readyz", "/metrics", "/", "/agent", "/static/chat.js"):
        assert client.get(path).status_code == 200, path
    assert client.get("/static/../server/app.py").status_code == 404


def test_cors_allows_only_configured_origins(tmp_path):
    with client_for(tmp_path, cors_origins=["https://shop.example"]) as client:
        allowed = client.options(
            "/v1/bots", headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
        )
        denied = client.options(
            "/v1/bots", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
    assert allowed.headers.get("access-control-allow-origin") == "https://shop.example"
    assert "access-control-allow-origin" not in denied.headers


# --- publishable keys (the chat widget) ------------------------------------------------------


def test_a_publishable_key_entry_names_its_bots_and_origins_or_the_server_says_what_is_wrong():
    from supportbot.server.publishable import parse_publishable

    key = parse_publishable(
        "pk_live_0123456789=bean-there,ledgerly-billing|https://shop.example,http://localhost:3000/"
    )
    assert key.bots == {"bean-there", "ledgerly-billing"}
    assert key.origins == {"https://shop.example", "http://localhost:3000"}
    for entry, says in [
        ("sk_live_0123456789=bean-there|https://shop.example", "starts with 'pk_'"),
        ("pk_live_0123456789=|https://shop.example", "name the bots"),
        ("pk_live_0123456789=bean-there|https://shop.example/chat", "'https://shop.example/chat' is not one"),
        ("pk_live_0123456789=bean-there", "list the web origins"),
    ]:
        settings = ServerSettings(publishable_keys=[entry])
        assert any(says in problem for problem in settings.problems()), (entry, settings.problems())
    both = ServerSettings(publishable_keys=["pk_live_0123456789=b|https://a.example"], api_keys=["pk_live_0123456789"])
    assert any("must not also be a secret key" in p for p in both.problems())


def test_a_publishable_key_needs_its_origin_and_is_rate_limited_per_client(tmp_path):
    entry = "pk_live_0123456789=bean-there|https://shop.example"
    assert ServerSettings(publishable_keys=[entry]).allowed_origins == ["https://shop.example"]
    with client_for(tmp_path, publishable_keys=[entry], publishable_messages_per_minute=2) as client:
        key = {"Authorization": "Bearer pk_live_0123456789"}
        body = {"text": "How long does delivery take?"}
        assert client.post("/v1/bots/bean-there/messages", json=body, headers=key).status_code == 403  # no Origin
        shop = {**key, "Origin": "https://shop.example"}
        assert client.post("/v1/bots/bean-there/messages", json=body, headers=shop).status_code == 200
        assert client.post("/v1/bots/bean-there/messages", json=body, headers=shop).status_code == 200
        limited = client.post("/v1/bots/bean-there/messages", json=body, headers=shop)
        assert limited.status_code == 429 and "with this key" in limited.json()["detail"]
        preflight = client.options(
            "/v1/bots/bean-there/messages",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"},
        )  # fmt: skip
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
