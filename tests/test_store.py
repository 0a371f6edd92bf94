"""One store test suite, run against SQLite and against PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from supportbot.store import (
    FeedbackRefused,
    HandoffRecord,
    IllegalTransition,
    NewMessage,
    Store,
    StoreError,
    UnknownConversation,
    open_store,
)
from supportbot.store.schema import MIGRATIONS

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(database_url) -> AsyncIterator[Store]:
    opened = open_store(database_url)
    await opened.open()
    yield opened
    await opened.close()


async def new_conversation(store: Store, cid: str = "c1", bot: str = "shop") -> str:
    await store.create_conversation(cid, bot, {"channel": "web"})
    return cid


def customer(text: str, decision: dict | None = None) -> NewMessage:
    return NewMessage("customer", text, 5, decision=decision or {"action": "answer"})


async def hand_off(store: Store, cid: str, text: str = "human", **changes: object) -> str:
    """Store a customer turn that handed the conversation to a person."""
    turn: dict[str, object] = {
        "from_state": "bot_active", "state": "awaiting_agent", "bot_turns": 0, "unsure_streak": 0,
        "handoff": HandoffRecord("asks-for-human", "wants a person"),
    }  # fmt: skip
    state, _ = await store.save_turn(cid, [customer(text)], **{**turn, **changes})  # type: ignore[arg-type]
    return state


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
    await store.save_turn(
        cid,
        [customer("hi"), NewMessage("bot", "hello", 3)],
        from_state="bot_active",
        state="bot_active",
        bot_turns=1,
        unsure_streak=0,
        handoff=None,
        webhook=None,
    )
    await hand_off(
        store,
        cid,
        "bye",
        bot_turns=1,
        handoff=HandoffRecord("asks-for-human", "wants a person"),
        webhook={"event": "handoff"},
    )
    messages = await store.messages(cid)
    assert [(m.seq, m.role, m.text) for m in messages] == [
        (1, "customer", "hi"),
        (2, "bot", "hello"),
        (3, "customer", "bye"),
    ]
    assert messages[0].decision == {"action": "answer"} and messages[1].tokens == 3
    row = await store.get_conversation(cid)
    assert (row.state, row.bot_turns, row.handoff_rule) == ("awaiting_agent", 1, "asks-for-human")
    assert [m.seq for m in await store.messages(cid, after_seq=2)] == [3]
    assert len(await store.outbox()) == 1


async def test_a_failed_turn_leaves_nothing_behind(store):
    cid = await new_conversation(store)
    with pytest.raises(Exception):  # noqa: B017 - each database raises its own NOT NULL error
        await store.save_turn(
            cid,
            [customer("hi"), NewMessage("bot", None, 3)],
            from_state="bot_active",
            state="bot_active",  # type: ignore[list-item]
            bot_turns=1,
            unsure_streak=0,
            handoff=None,
            webhook={"event": "x"},
        )
    assert await store.messages(cid) == [] and await store.outbox() == []


async def test_the_lifecycle_moves_only_along_allowed_transitions(store):
    cid = await new_conversation(store)
    with pytest.raises(IllegalTransition, match="conversation is bot_active; cannot claim"):
        await store.transition(cid, ["awaiting_agent"], "agent_active", "claim", agent="maria")
    await hand_off(
        store, cid, "human please", bot_turns=3, unsure_streak=1, handoff=HandoffRecord("asks-for-human", "r")
    )
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
        await hand_off(store, cid, "help", handoff=HandoffRecord("r", "why"))
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
        await store.save_turn(
            cid,
            [customer("a")],
            from_state="bot_active",
            state="bot_active",
            bot_turns=1,
            unsure_streak=0,
            handoff=None,
            webhook=None,
            ticket=first,
        )
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
    await hand_off(store, cid, "x", handoff=HandoffRecord("r", "why"), webhook={"event": "handoff", "n": 1})
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
        assert [(row.attempts, row.delivered_at is not None) for row in await store.outbox()] == [(2, True)]
    finally:
        await other.close()


async def test_an_unknown_database_url_is_refused_with_the_forms_allowed():
    with pytest.raises(StoreError, match=re.escape("use sqlite:///path/file.db or postgresql://")):
        open_store("mysql://x")


async def test_every_ticket_of_a_dead_process_is_freed_at_once(store):
    """A server killed with messages queued on a conversation: after the restart the next
    message runs at once, not after a grace period per ticket of the dead process."""
    cid = await new_conversation(store)
    dead = "host:999999:gone"
    statuses = [(await store.begin_turn(cid, dead, 300, 10))[1] for _ in range(5)]
    assert statuses == ["serving"] + ["waiting"] * 4
    live, status, _, _ = await store.begin_turn(cid, "me", 30, 10)
    assert status == "waiting"
    assert await store.abandon_tickets(lambda owner: owner == dead, 10) == 1
    assert (await store.try_serve(cid, live, "me", 30, 10))[0] == "serving"


async def test_a_waiting_ticket_behind_freed_ones_is_served_on_its_next_look(store):
    cid = await new_conversation(store)
    await store.begin_turn(cid, "host:999999:gone", 300, 10)
    live, _, _, _ = await store.begin_turn(cid, "me", 30, 10)
    await store.begin_turn(cid, "host:999999:gone", 300, 10)  # queued behind the live one
    await store.abandon_tickets(lambda owner: owner.startswith("host:999999"), 10)
    assert (await store.try_serve(cid, live, "me", 30, 10))[0] == "serving"
    assert (await store.begin_turn(cid, "me", 30, 10))[1] == "waiting"  # the live one still runs


async def test_a_turn_that_did_not_change_the_state_does_not_undo_an_agents_claim(store):
    cid = await new_conversation(store)
    await hand_off(store, cid)
    # A customer turn starts while the conversation waits for an agent...
    ticket, _, row, _ = await store.begin_turn(cid, "me", 30, 10)
    assert row.state == "awaiting_agent"
    # ...an agent claims it meanwhile...
    await store.transition(cid, ["awaiting_agent"], "agent_active", "claim", agent="maria")
    # ...and the turn, which changed nothing, is stored.
    after, _ = await store.save_turn(
        cid,
        [customer("hello?")],
        from_state="awaiting_agent",
        state="awaiting_agent",
        bot_turns=0,
        unsure_streak=0,
        ticket=ticket,
    )
    assert after == "agent_active"
    assert ((await store.get_conversation(cid)).state, (await store.get_conversation(cid)).agent) == (
        "agent_active",
        "maria",
    )


async def test_a_hand_off_that_lost_its_race_writes_neither_state_nor_webhook(store):
    cid = await new_conversation(store)
    await store.transition(cid, ["bot_active"], "agent_active", "claim", agent="maria")
    after = await hand_off(store, cid, webhook={"event": "handoff"})
    row = await store.get_conversation(cid)
    assert (after, row.state, row.handoff_rule) == ("agent_active", "agent_active", None)
    assert await store.outbox() == []


async def test_a_customer_message_reopens_a_closed_conversation_to_the_bot(store):
    cid = await new_conversation(store)
    await hand_off(store, cid, bot_turns=4, unsure_streak=1)
    await store.transition(cid, ["awaiting_agent"], "agent_active", "claim", agent="maria")
    await store.transition(cid, ["agent_active"], "closed", "close")
    _, status, row, _ = await store.begin_turn(cid, "me", 30, 10)
    assert status == "serving" and (row.state, row.bot_turns, row.unsure_streak, row.agent) == (
        "bot_active",
        0,
        0,
        None,
    )


async def test_the_queue_pages_with_a_cursor_in_waiting_order(store):
    ids = [f"c{i:02d}" for i in range(7)]
    for cid in ids:
        await new_conversation(store, cid)
        await hand_off(
            store, cid, "help", handoff=HandoffRecord("r", "why"), at=f"2026-01-01T00:00:0{ids.index(cid) % 3}Z"
        )
    seen: list[str] = []
    after = None
    while True:
        page = await store.handoffs("awaiting_agent", limit=3, after=after)
        if not page:
            break
        seen += [row.id for row in page]
        last = page[-1]
        after = (last.handoff_at or "", last.created_at, last.id)
    expected = sorted(ids, key=lambda c: (ids.index(c) % 3, ids.index(c)))
    assert seen == expected


async def test_deleting_a_conversation_removes_its_messages_tickets_and_webhook_rows_only(store):
    for cid in ("gone", "kept"):
        await new_conversation(store, cid)
        await hand_off(store, cid, f"human for {cid}", webhook={"event": "handoff", "conversation_id": cid})
    assert await store.delete_conversations(["gone", "nowhere"]) == 1
    assert await store.get_conversation("gone") is None and await store.messages("gone") == []
    assert [row.payload["conversation_id"] for row in await store.outbox()] == ["kept"]
    assert [m.text for m in await store.messages("kept")] == ["human for kept"]
    await new_conversation(store, "gone")  # the id is free again, its counters start over
    await store.save_turn(
        "gone", [customer("hello")], from_state="bot_active", state="bot_active", bot_turns=0, unsure_streak=0
    )
    assert [m.seq for m in await store.messages("gone")] == [1]


async def test_a_webhook_row_from_before_it_carried_its_conversation_goes_with_it(database_url, store):
    cid = await new_conversation(store)
    await hand_off(store, cid, webhook={"event": "handoff", "conversation_id": cid})
    # As written by schema version 3, which had no outbox.conversation_id.
    raw = open_store(database_url)
    await raw.open()
    try:
        await raw._run(lambda cursor: cursor.execute("UPDATE outbox SET conversation_id = NULL"))  # type: ignore[attr-defined]
    finally:
        await raw.close()
    assert await store.delete_conversations([cid]) == 1 and await store.outbox() == []


async def test_purge_removes_what_last_changed_before_the_cut_off(store):
    from supportbot.store.rows import utc_now

    await new_conversation(store, "old")
    await asyncio.sleep(0.01)
    cut_off = utc_now()
    await asyncio.sleep(0.01)
    await new_conversation(store, "new")
    assert await store.purge(cut_off) == 1
    assert await store.get_conversation("old") is None and await store.get_conversation("new") is not None
    assert await store.purge(cut_off) == 0


async def answered(store: Store, cid: str, text: str = "where is my order?") -> int:
    """A turn the bot answered; returns the seq of the bot's reply."""
    _, seqs = await store.save_turn(
        cid,
        [customer(text), NewMessage("bot", "It ships on Friday.", 4)],
        from_state="bot_active",
        state="bot_active",
        bot_turns=1,
        unsure_streak=0,
    )
    return seqs[1]


async def test_a_rating_of_a_bot_message_is_kept_and_a_new_one_replaces_it(store):
    cid = await new_conversation(store)
    reply = await answered(store, cid)
    await store.rate(cid, reply, "down", "too vague")
    changed = await store.rate(cid, reply, "up")
    assert (changed.seq, changed.rating, changed.comment) == (reply, "up", None)
    assert {seq: f.rating for seq, f in (await store.feedback(cid)).items()} == {reply: "up"}


async def test_only_the_bots_messages_of_an_existing_conversation_can_be_rated(store):
    cid = await new_conversation(store)
    reply = await answered(store, cid)
    with pytest.raises(FeedbackRefused, match="message 1 is the customer's"):
        await store.rate(cid, reply - 1, "up")
    with pytest.raises(FeedbackRefused, match="no message 99"):
        await store.rate(cid, 99, "up")
    with pytest.raises(UnknownConversation):
        await store.rate("nowhere", 1, "up")
    assert await store.feedback(cid) == {}


async def test_activity_reads_conversations_with_messages_and_feedback_by_bot_and_window(store):
    from supportbot.store.rows import utc_now

    await new_conversation(store, "early", bot="shop")
    await answered(store, "early")
    await asyncio.sleep(0.01)
    cut_off = utc_now()
    await asyncio.sleep(0.01)
    await new_conversation(store, "late", bot="shop")
    await store.rate("late", await answered(store, "late", "refund?"), "up")
    await new_conversation(store, "other", bot="bank")
    everything = await store.activity()
    assert [a.row.id for a in everything] == ["early", "late", "other"]
    [late] = await store.activity("shop", cut_off)
    assert late.row.id == "late" and [m.text for m in late.messages] == ["refund?", "It ships on Friday."]
    assert [f.rating for f in late.feedback.values()] == ["up"]
    assert [a.row.id for a in await store.activity("bank")] == ["other"]


async def test_deleting_a_conversation_removes_its_feedback(store):
    cid = await new_conversation(store)
    await store.rate(cid, await answered(store, cid), "down")
    assert await store.delete_conversations([cid]) == 1
    await new_conversation(store, cid)  # the same id again starts with no ratings
    assert await store.feedback(cid) == {}
