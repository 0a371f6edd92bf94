"""The web chat and the agent console, driven in a real headless Chromium (Debian's)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from conftest import REPO
from server_helpers import ServerProcess

CHROMIUM = os.environ.get("SUPPORTBOT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SUPPORTBOT_CHROMIUM)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def say(page: object, text: str) -> None:
    """The customer types a message and sends it."""
    page.fill("[data-testid=text]", text)  # type: ignore[attr-defined]
    page.click("[data-testid=send]")  # type: ignore[attr-defined]


@pytest.fixture
def server(tmp_path) -> Iterator[ServerProcess]:
    process = ServerProcess([str(REPO / "bots"), "--db", f"sqlite:///{tmp_path / 'pages.db'}"])
    yield process
    process.stop()


def test_handoff_agent_reply_release_and_the_bot_answers_again(browser, server, tmp_path):
    from playwright.sync_api import expect  # the browser fixture has it, or the test was skipped

    customer = browser.new_page()  # type: ignore[attr-defined]
    agent = browser.new_page()  # type: ignore[attr-defined]
    customer.goto(server.url + "/")
    customer.select_option("[data-testid=bot]", "bean-there")

    say(customer, "How long does delivery take?")
    customer.wait_for_selector("text=Sources: delivery-times")
    say(customer, "can I speak to a real person")
    customer.wait_for_selector("[data-testid=handoff-notice]")
    customer.wait_for_selector("[data-testid=state][data-state=awaiting_agent]")

    agent.goto(server.url + "/agent")
    agent.fill("[data-testid=agent-name]", "Maria")
    agent.dispatch_event("[data-testid=agent-name]", "change")
    agent.wait_for_selector("[data-testid=queue-item] [data-testid=waited] >> text=waiting just now")
    agent.click("[data-testid=queue-item]")
    agent.wait_for_selector("[data-testid=packet] >> text=asks-for-human")
    agent.click("[data-testid=claim]")
    agent.wait_for_selector("[data-testid=state][data-state=agent_active]")
    agent.wait_for_selector("[data-testid=waited] >> text=with Maria, handed off just now")
    agent.fill("[data-testid=reply-text]", "Hi, this is Maria. How can I help?")
    agent.click("[data-testid=reply-send]")

    customer.wait_for_selector(".msg.agent >> text=Hi, this is Maria. How can I help?", timeout=15_000)
    customer.wait_for_selector("[data-testid=state][data-state=agent_active]")
    # What the customer writes to Maria is hers to answer: the bot does not repeat its hand-off.
    bots = customer.locator(".msg.bot").count()
    say(customer, "my parcel is late, can you check it?")
    expect(customer.locator(".msg.bot")).to_have_count(bots)
    customer.wait_for_selector(".msg.customer >> text=my parcel is late, can you check it?")
    assert customer.locator("[data-testid=handoff-notice]").count() == 1
    customer.screenshot(path=str(tmp_path / "chat.png"))
    agent.screenshot(path=str(tmp_path / "agent.png"))

    agent.click("[data-testid=resume]")
    agent.wait_for_selector("[data-testid=state][data-state=bot_active]")
    customer.wait_for_selector("[data-testid=state][data-state=bot_active]", timeout=15_000)
    say(customer, "How should I store my coffee?")
    customer.wait_for_selector("text=Sources: storing-coffee")
    bot_replies = customer.locator(".msg.bot .text").all_inner_texts()
    assert bot_replies[-1].startswith("Keep coffee in its resealable bag")


def test_small_talk_is_answered_and_a_clarification_is_picked_with_a_button(browser, server):
    customer = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    customer.on("pageerror", lambda error: errors.append(str(error)))
    customer.goto(server.url + "/")
    customer.select_option("[data-testid=bot]", "bean-there")

    say(customer, "hi")
    customer.wait_for_selector(".msg.bot >> text=What can I help you with today?")
    assert customer.locator("[data-testid=thumb-up]").count() == 0  # a greeting is not rated
    say(customer, "ground or whole?")
    customer.wait_for_selector("[data-testid=option]")
    customer.click("[data-testid=option] >> text=Whole bean or ground coffee")
    customer.wait_for_selector("text=Sources: grind-options")
    assert customer.locator("[data-testid=option]").count() == 0  # the buttons go once one is used
    assert customer.locator("[data-testid=state][data-state=bot_active]").count() == 1
    assert errors == []


def test_a_customer_rates_an_answer_the_agent_sees_it_and_opens_the_report(browser, server):
    customer = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    customer.on("pageerror", lambda error: errors.append(str(error)))
    customer.goto(server.url + "/")
    customer.select_option("[data-testid=bot]", "bean-there")
    say(customer, "How should I store my coffee?")
    customer.wait_for_selector("text=Sources: storing-coffee")
    # Drawn, not an emoji: no font on the customer's machine can turn it into an empty box.
    assert customer.locator("[data-testid=thumb-up] svg").count() == 1
    assert customer.locator("[data-testid=thumb-up]").inner_text().strip() == ""
    customer.click("[data-testid=thumb-down]")
    customer.wait_for_selector("[data-testid=thumb-down][aria-pressed=true]")
    customer.click("[data-testid=thumb-up]")  # changed: one rating per answer
    customer.wait_for_selector("[data-testid=thumb-up][aria-pressed=true]")
    assert customer.locator("[data-testid=thumb-down][aria-pressed=true]").count() == 0
    say(customer, "can I speak to a real person")
    customer.wait_for_selector("[data-testid=handoff-notice]")

    agent = browser.new_page()  # type: ignore[attr-defined]
    agent.on("pageerror", lambda error: errors.append(str(error)))
    agent.goto(server.url + "/agent")
    agent.click("[data-testid=queue-item]")
    agent.wait_for_selector("[data-testid=rating] >> text=Customer rated this helpful")

    with agent.context.expect_page() as opened:
        agent.click("[data-testid=report]")
    report = opened.value
    report.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    report.wait_for_selector("section[data-bot=bean-there]")
    assert report.locator("figure svg").count() == 3
    cards = report.locator(".card").all_inner_texts()
    assert any(
        card.startswith("Feedback up / down") and card.endswith("1 / 0")
        for card in (c.replace("\n", "") for c in cards)
    )
    # The page's own style block applies (the policy allows it by hash): cards are a grid.
    assert report.eval_on_selector(".cards", "e => getComputedStyle(e).display") == "grid"
    assert errors == []
