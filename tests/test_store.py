"""One store test suite, run against SQLite and against PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from pg import postgres_schema
from supportbot.store import IllegalTransition, SqlStore, StoreError, UnknownConversation, open_store
from supportbot.store.schema import MIGRATIONS

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture
async def store(database_url) -> AsyncIterator[SqlStore]:
    opened = open_store(database_url)
    await opened.open()
    yield opened
    await opened.close()


async def new_conversation(store: SqlStore, cid: str = "c1", bot: str = "shop") -> str:
    await store.create_conversation(cid, bot, {"channel": "web"})
    return cid


def customer(text: str, decision: dict | None = None):
    return ("customer", text, 5, None, decision or {"action": "answer"})


async def test_migrations_are_versioned_and_running_them_again_changes_nothing(database_url, store):
    assert await store.schema_version() == len(MIGRATIONS)
    again = open_store(database_url)
    await again.open()
    assert await again.schema_version() == len(MIGRATIONS)
    await again.close()


async def test_a_conversation_starts_bot_active_with_its_metadata(store):
    row = await store.create_conversation("c1", "shop", {"channel": "web"})
    assert (row.state, row.bot_id, row.metadata, row.bot_turns) == ("bot_active", "shop", {"channel": "web"}, 0)
    assert (await store.get_conversation("c1")) == row
    assert await store.get_conversation("missing") is None


async def test_a_turn_is_stored_whole_with_ordered_messages_and_new_counters(store):
    cid = await new_conversation(store)
    await store.save_turn(cid, [customer("hi"), ("bot", "hello", 3, None, None)], state="bot_active",
                          bot_turns=1, unsure_streak=0, handoff=None, webhook=None)
    await store.save_turn(cid, [customer("bye")], state="awaiting_agent", bot_turns=1, unsure_streak=0,
                          handoff=("asks-for-human", "wants a person"), webhook={"event": "handoff"})
    messages = await store.messages(cid)
    assert [(m.seq, m.role, m.text) for m in messages] == [(1, "customer", "hi"), (2, "bot", "hello"), (3, "customer", "bye")]
    assert messages[0].decision == {"action": "answer"} and messages[1].tokens == 3
    row = await store.get_conversation(cid)
    assert (row.state, row.bot_turns, row.handoff_rule) == ("awaiting_agent", 1, "asks-for-human")
    assert [m.seq for m in await store.messages(cid, after_seq=2)] == [3]
    assert len(await store.webhook_rows()) == 1


async def test_a_failed_turn_leaves_nothing_behind(store):
    cid = await new_conversation(store)
    with pytest.raises(Exception):
        await store.save_turn(cid, [customer("hi"), ("bot", None, 3, None, None)], state="bot_active",  # type: ignore[list-item]
                              bot_turns=1, unsure_streak=0, handoff=None, webhook={"event": "x"})
    assert await store.messages(cid) == [] and await store.webhook_rows() == []


async def test_the_lifecycle_moves_only_along_allowed_transitions(store):
    cid = await new_conversation(store)
    with pytest.raises(IllegalTransition, match="conversation is bot_active; cannot claim"):
        await store.transition(cid, ["awaiting_agent"], "agent_active", "claim", agent="maria")
    await store.save_turn(cid, [customer("human please")], state="awaiting_agent", bot_turns=3, unsure_streak=1,
                          handoff=("asks-for-human", "r"), webhook=None)
    claimed = await store.transition(cid, ["awaiting_agent"], "agent_active", "claim", agent="maria")
    assert (claimed.state, claimed.agent) == ("agent_active", "maria")
    message = await store.add_agent_message(cid, "maria", "Hello, Maria here.", 7)
    assert (message.seq, message.role, message.author) == (2, "agent", "maria")
    resumed = await store.transition(cid, ["agent_active"], "bot_active", "release", resume=True)
    assert (resumed.state, resumed.bot_turns, resumed.unsure_streak) == ("bot_active", 0, 0)
    with pytest.raises(IllegalTransition) as caught:
        await store.add_agent_message(cid, "maria", "too late", 2)
    assert caught.value.current == "bot_active"


async def test_the_queue_lists_the_longest_waiting_first(store):
    for cid in ("a", "b", "c"):
        await new_conversation(store, cid)
        await store.save_turn(cid, [customer("help")], state="awaiting_agent", bot_turns=0, unsure_streak=0,
                              handoff=("r", "why"), webhook=None)
        await asyncio.sleep(0.01)
    await store.transition("b", ["awaiting_agent"], "agent_active", "claim", agent="x")
    assert [r.id for r in await store.handoffs("awaiting_agent")] == ["a", "c"]
    assert [r.id for r in await store.handoffs("agent_active")] == ["b"]


async def test_tickets_serve_a_conversation_in_arrival_order_across_stores(database_url, store):
    cid = await new_conversation(store)
    other = open_store(database_url)  # a second process's store on the same database
    await other.open()
    try:
        first, status, row, messages = await store.begin_turn(cid, "one", 30, 10)
        assert (first, status, row.id, messages) == (0, "serving", cid, [])
        second, status, _, _ = await other.begin_turn(cid, "two", 30, 10)
        third, status_third, _, _ = await store.begin_turn(cid, "one", 30, 10)
        assert (second, status, third, status_third) == (1, "waiting", 2, "waiting")
        await store.save_turn(cid, [customer("a")], state="bot_active", bot_turns=1, unsure_streak=0,
                              handoff=None, webhook=None, ticket=first)
        assert (await store.try_serve(cid, third, "one", 30, 10))[0] == "waiting"
        status, _, messages = await other.try_serve(cid, second, "two", 30, 10)
        assert status == "serving" and [m.text for m in messages] == ["a"]  # loaded with the turn
        await other.finish_ticket(cid, second, 10)  # a failed turn also lets the next one run
        assert (await store.try_serve(cid, third, "one", 30, 10))[0] == "serving"
    finally:
        await other.close()


async def test_a_turn_for_another_bots_or_a_missing_conversation_is_refused(store):
    cid = await new_conversation(store, bot="shop")
    for conversation, bot in ((cid, "billing"), ("missing", "shop")):
        with pytest.raises(UnknownConversation):
            await store.begin_turn(conversation, "me", 30, 10, bot_id=bot)
    ticket, status, row, _ = await store.begin_turn("fresh", "me", 30, 10, create_for="shop", metadata={"a": 1})
    assert (ticket, status, row.bot_id, row.metadata) == (0, "serving", "shop", {"a": 1})


async def test_an_abandoned_ticket_is_skipped_once_its_time_is_up(store):
    cid = await new_conversation(store)
    dead, status, _, _ = await store.begin_turn(cid, "crashed", 0.05, 10)
    assert status == "serving"
    alive, status, _, _ = await store.begin_turn(cid, "me", 30, 10)
    assert status == "waiting"
    await asyncio.sleep(0.1)
    assert (await store.try_serve(cid, alive, "me", 30, 10))[0] == "waiting"  # skips the dead ticket...
    assert (await store.try_serve(cid, alive, "me", 30, 10))[0] == "serving"  # ...and serves the next
    assert (await store.try_serve(cid, dead, "crashed", 30, 10))[0] == "skipped"


async def test_tickets_of_dead_owners_are_freed_at_once(store):
    cid = await new_conversation(store)
    _, status, _, _ = await store.begin_turn(cid, "host:999999:gone", 300, 10)
    assert status == "serving"
    assert await store.abandon_tickets(lambda owner: owner.startswith("host:999999"), 10) == 1
    assert (await store.begin_turn(cid, "me", 30, 10))[1] == "serving"


async def test_concurrent_appends_never_share_a_sequence_number(store):
    cid = await new_conversation(store)
    await store.transition(cid, ["bot_active"], "agent_active", "claim", agent="a")
    await asyncio.gather(*(store.add_agent_message(cid, "a", f"m{i}", 1) for i in range(20)))
    assert sorted(m.seq for m in await store.messages(cid)) == list(range(1, 21))


async def test_a_webhook_is_claimed_by_one_sender_and_retried_until_delivered(database_url, store):
    cid = await new_conversation(store)
    await store.save_turn(cid, [customer("x")], state="awaiting_agent", bot_turns=0, unsure_streak=0,
                          handoff=("r", "why"), webhook={"event": "handoff", "n": 1})
    other = open_store(database_url)
    await other.open()
    try:
        [row] = await store.due_webhooks(10, lease_seconds=30)
        assert row.payload == {"event": "handoff", "n": 1} and await other.due_webhooks(10, 30) == []
        await store.webhook_failed(row.id, 0.0, "HTTP 500")
        [again] = await other.due_webhooks(10, 30)
        assert again.attempts == 1
        await other.webhook_delivered(again.id)
        assert await store.due_webhooks(10, 30) == []
        assert [(a, d is not None) for _, a, d in await store.webhook_rows()] == [(2, True)]
    finally:
        await other.close()


async def test_an_unknown_database_url_is_refused_with_the_forms_allowed():
    with pytest.raises(StoreError, match="use sqlite:///path/file.db or postgresql://"):
        open_store("mysql://x")
