"""Agents and customers at the same time: an agent's acknowledged move is never undone by a
customer turn that was running meanwhile, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from conftest import REPO
from pg import postgres_schema

from supportbot import Engine, load_bot
from supportbot.server.metrics import Metrics
from supportbot.server.service import SupportService
from supportbot.store import IllegalTransition, open_store

pytestmark = pytest.mark.anyio
ROUNDS = 50
CUSTOMER_STREAMS = 3


@pytest.fixture(params=["sqlite", "postgresql"])
async def service(request, tmp_path) -> AsyncIterator[SupportService]:
    bot = load_bot(REPO / "bots" / "bean-there.yaml", env={})
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'races.db'}"
        store = open_store(url)
        await store.open()
        yield SupportService([bot], {bot.id: Engine(bot, _provider(bot))}, store, Metrics())
        await store.close()
    else:
        with postgres_schema() as url:
            store = open_store(url)
            await store.open()
            yield SupportService([bot], {bot.id: Engine(bot, _provider(bot))}, store, Metrics())
            await store.close()


def _provider(bot):  # the offline provider: customer turns cost no model
    from supportbot.providers.offline import OfflineProvider

    return OfflineProvider(bot, {})


async def handed_off(service: SupportService) -> str:
    result = await service.run_turn("bean-there", None, "I want to talk to a human")
    assert result.state == "awaiting_agent"
    return result.decision.conversation_id


async def customers_write(service: SupportService, cid: str) -> None:
    await asyncio.gather(*(service.run_turn("bean-there", cid, f"hello? ({i})") for i in range(CUSTOMER_STREAMS)))


async def test_a_claim_made_during_customer_turns_stays_claimed(service):
    reverted = []
    for _ in range(ROUNDS):
        cid = await handed_off(service)
        await asyncio.gather(customers_write(service, cid), service.claim(cid, "maria"))
        row, *_ = await service.transcript(cid)
        if (row.state, row.agent) != ("agent_active", "maria"):
            reverted.append(row.state)
    assert reverted == []


async def test_a_close_made_during_customer_turns_is_not_undone(service):
    """A customer message that arrives after the close reopens the conversation to the bot
    (by design); one that was already running must not put it back with the agent."""
    reverted = []
    for _ in range(ROUNDS):
        cid = await handed_off(service)
        await service.claim(cid, "maria")
        await asyncio.gather(customers_write(service, cid), service.release(cid, resume_bot=False))
        row, messages, _ = await service.transcript(cid)
        reopened = any(
            m.decision and (m.decision["handoff"] or {}).get("rule") != "already_handed_off"
            for m in messages[2:]
            if m.role == "customer"
        )
        if row.state == "agent_active" or (row.state != "closed" and not reopened):
            reverted.append(row.state)
    assert reverted == []


async def test_of_two_claims_during_customer_turns_exactly_one_wins(service):
    for _ in range(ROUNDS):
        cid = await handed_off(service)
        outcomes = await asyncio.gather(
            customers_write(service, cid),
            service.claim(cid, "maria"),
            service.claim(cid, "omar"),
            return_exceptions=True,
        )
        claims = outcomes[1:]
        winners = [o for o in claims if not isinstance(o, BaseException)]
        assert len(winners) == 1 and sum(isinstance(o, IllegalTransition) for o in claims) == 1
        row, *_ = await service.transcript(cid)
        assert (row.state, row.agent) == ("agent_active", winners[0].agent)
