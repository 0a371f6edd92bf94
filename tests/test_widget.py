"""The chat widget on another site's page, in Chromium: a plain static page on its own origin
loads /widget.js with a publishable key; a question is answered, a hand-off happens, an agent
replies from the console and the widget shows it, and a reload resumes the conversation.
The key works only from the origins it lists and only for its bots."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from conftest import REPO
from server_helpers import ServerProcess, free_port
from test_pages import browser  # noqa: F401  (the Chromium fixture)

KEY = "pk_test_widget_0001"
AGENT_KEY = "ak-widget-test-1"
SECRET_KEY = "ck-widget-test-1"


@pytest.fixture
def site(tmp_path) -> Iterator[tuple[str, Path]]:
    """A plain static site on its own port: (its origin, its folder)."""
    folder = tmp_path / "site"
    folder.mkdir()
    port = free_port()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", folder
    httpd.shutdown()


@pytest.fixture
def server(tmp_path, site) -> Iterator[ServerProcess]:
    origin, _ = site
    env = {
        "SUPPORTBOT_PUBLISHABLE_KEYS": f"{KEY}=bean-there|{origin}",
        "SUPPORTBOT_AGENT_KEYS": AGENT_KEY,
        "SUPPORTBOT_API_KEYS": SECRET_KEY,
    }
    process = ServerProcess([str(REPO / "bots"), "--db", f"sqlite:///{tmp_path / 'widget.db'}"], env=env)
    yield process
    process.stop()


def shop_page(folder: Path, server: ServerProcess) -> None:
    (folder / "index.html").write_text(
        "<!doctype html><html><head><title>Bean There</title></head><body><h1>Our coffee</h1>"
        f'<script src="{server.url}/widget.js" data-bot="bean-there" data-key="{KEY}"></script></body></html>'
    )


def ask(page: object, text: str) -> None:
    page.fill("[data-testid=widget-text]", text)  # type: ignore[attr-defined]
    page.click("[data-testid=widget-send]")  # type: ignore[attr-defined]


def test_the_widget_answers_hands_off_shows_the_agents_reply_and_resumes(browser, server, site):  # noqa: F811
    from playwright.sync_api import expect  # the browser fixture has it, or the test was skipped

    origin, folder = site
    shop_page(folder, server)
    customer = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    customer.on("pageerror", lambda error: errors.append(str(error)))
    customer.goto(origin + "/")
    customer.click("[data-testid=widget-open]")
    ask(customer, "How long does delivery take?")
    customer.wait_for_selector(".msg.bot >> text=working days")
    customer.wait_for_selector("[data-testid=widget-thumb-up]")
    assert customer.locator("[data-testid=widget-thumb-up] svg").count() == 1
    ask(customer, "can I speak to a real person")
    customer.wait_for_selector("[data-testid=widget-notice] >> text=A person from our team")
    shown = " ".join(customer.locator("[data-testid=widget-log]").all_inner_texts())
    assert "asks-for-human" not in shown and "rule" not in shown  # nothing internal

    agent = browser.new_page()  # type: ignore[attr-defined]
    agent.goto(server.url + "/agent")
    agent.fill("#key", AGENT_KEY)
    agent.dispatch_event("#key", "change")
    agent.click("[data-testid=queue-item]")
    agent.click("[data-testid=claim]")
    agent.wait_for_selector("[data-testid=state][data-state=agent_active]")
    agent.fill("[data-testid=reply-text]", "Hi, Maria here: your parcel is with the courier.")
    agent.click("[data-testid=reply-send]")
    customer.wait_for_selector(".msg.agent >> text=your parcel is with the courier", timeout=15_000)
    # What the customer writes to Maria is hers to answer: the bot does not repeat its hand-off.
    bots = customer.locator(".msg.bot").count()
    ask(customer, "thanks Maria, when will it arrive?")
    expect(customer.locator(".msg.bot")).to_have_count(bots)
    assert customer.locator("[data-testid=widget-notice]").count() == 1

    customer.reload()
    customer.click("[data-testid=widget-open]")
    customer.wait_for_selector(".msg.agent >> text=your parcel is with the courier")
    assert customer.locator(".msg.customer").count() == 3
    customer.set_viewport_size({"width": 375, "height": 700})  # a phone: the chat fills the screen
    box = customer.locator(".panel").bounding_box()
    assert box is not None and box["width"] == 375
    assert errors == []


def test_a_page_on_an_unlisted_origin_cannot_use_the_key(browser, server, site):  # noqa: F811
    origin, folder = site
    shop_page(folder, server)
    elsewhere = origin.replace("127.0.0.1", "localhost")  # same files, another origin
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(elsewhere + "/")
    page.click("[data-testid=widget-open]")
    ask(page, "How long does delivery take?")
    page.wait_for_selector(".msg.bot >> text=Something went wrong")  # the browser refused: no CORS for it
    body = {"text": "How long does delivery take?"}
    refused = httpx.post(
        f"{server.url}/v1/bots/bean-there/messages",
        json=body,
        headers={"Authorization": f"Bearer {KEY}", "Origin": elsewhere},
    )
    assert refused.status_code == 403 and "web origin" in refused.json()["detail"]


def test_a_publishable_key_reaches_only_its_bots_and_no_agent_endpoint(server, site):
    origin, _ = site
    headers = {"Authorization": f"Bearer {KEY}", "Origin": origin}
    bots = httpx.get(f"{server.url}/v1/bots", headers=headers).json()
    assert [b["id"] for b in bots] == ["bean-there"]
    other = httpx.post(f"{server.url}/v1/bots/ledgerly-billing/messages", json={"text": "hi"}, headers=headers)
    assert other.status_code == 404
    assert httpx.get(f"{server.url}/v1/handoffs", headers=headers).status_code == 401
    # A conversation of another bot, started by a server with its secret key, is not found.
    secret = {"Authorization": f"Bearer {SECRET_KEY}"}
    started = httpx.post(f"{server.url}/v1/bots/ledgerly-billing/messages", json={"text": "hi"}, headers=secret)
    cid = started.json()["conversation_id"]
    assert httpx.get(f"{server.url}/v1/conversations/{cid}", headers=headers).status_code == 404
    assert httpx.get(f"{server.url}/v1/conversations/{cid}", headers=secret).status_code == 200
