"""Live results over WebSocket, across two app instances sharing MariaDB and Redis."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType

from application import init
from application.cluster import changes as change_bus
from application.cluster.live import CLOSE_NOT_VISIBLE, LiveHub, Watcher, text_frame
from application.keys import DB, HUB, POLL_CACHE, REDIS, SESSION_STORAGE, SETTINGS, VOTE_CHANNELS
from application.services import polls
from config import Settings
from models import api_token, user
from models.db import Database
from tests.browser import form_token, login, logout, register, session_id, use_session
from tests.factories import make_question, make_user


async def voter(db: Database) -> dict[str, str]:
    _, token = await api_token.create(db, await make_user(db), "live")
    return {"Authorization": f"Bearer {token}"}


async def first_choice(db: Database, question_id: int) -> int:
    row = await db.fetch_one("SELECT MIN(id) AS id FROM choice WHERE question_id = %s", (question_id,))
    return int(row["id"])


async def vote(client: Any, question_id: int, choice: int, headers: dict[str, str]) -> None:
    response = await client.post(
        f"/api/v1/questions/{question_id}/votes", json={"choice_ids": [choice]}, headers=headers
    )
    assert response.status == 201, await response.text()


async def next_total(ws: aiohttp.ClientWebSocketResponse, within: float = 1.0) -> int:
    message = await asyncio.wait_for(ws.receive_json(), within)
    return int(message["total"])


async def wait_for_total(ws: aiohttp.ClientWebSocketResponse, total: int, patience: float = 10.0) -> float:
    """Seconds until a message with this total arrives. The caller asserts its own bound on them:
    ``patience`` only stops a test whose message never comes (and fails it)."""
    started = time.monotonic()
    try:
        while (seen := await next_total(ws, max(0.01, started + patience - time.monotonic()))) != total:
            assert seen < total
    except TimeoutError:
        pytest.fail(f"no message with total {total} within {patience} s")
    return time.monotonic() - started


async def test_results_on_connect_and_after_each_vote(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, votes=(2, 1))
    async with client.ws_connect(f"/questions/{qid}/live") as ws:
        first = await ws.receive_json(timeout=1)
        assert first["question_id"] == qid and first["total"] == 3
        assert [(c["votes"], c["percent"]) for c in first["choices"]] == [(2, 66.7), (1, 33.3)]
        with pytest.raises(TimeoutError):
            await next_total(ws, within=0.3)  # one first message, not one per way it was read
        await vote(client, qid, await first_choice(db, qid), await voter(db))
        assert await next_total(ws) == 4


async def test_refusals(client: Any) -> None:
    db = client.app[DB]
    scheduled = await make_question(db, published=-timedelta(days=1))
    for path in ("/questions/999999/live", f"/questions/{scheduled}/live"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await client.ws_connect(path)
        assert caught.value.status == 404
    hidden = await make_question(db)
    await db.execute("UPDATE question SET results_visibility = 'after_close' WHERE id = %s", (hidden,))
    async with client.ws_connect(f"/questions/{hidden}/live") as ws:
        message = await ws.receive(timeout=1)
        assert message.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == CLOSE_NOT_VISIBLE
        assert "hidden" in message.extra
    qid = await make_question(db)
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(f"/questions/{qid}/live", headers={"Origin": "https://evil.example"})
    assert caught.value.status == 403


async def test_updates_are_coalesced_and_the_latest_state_arrives(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db)
    choice = await first_choice(db, qid)
    voters = [await voter(db) for _ in range(40)]
    async with client.ws_connect(f"/questions/{qid}/live") as ws:
        assert await next_total(ws) == 0
        started = time.monotonic()
        await asyncio.gather(*(vote(client, qid, choice, headers) for headers in voters))
        voting = time.monotonic() - started
        messages = 0
        while (total := await next_total(ws, within=2)) != 40:
            messages += 1
        messages += 1
        # At most one message per 100 ms window while the votes came in, plus the final one.
        assert messages <= voting / 0.1 + 2, (messages, voting)
        assert messages < 40
        with pytest.raises(TimeoutError):
            await next_total(ws, within=0.3)  # nothing more: the state is final
    assert total == 40


@pytest.fixture
async def two_instances(mysql_settings: Settings, aiohttp_client: Any) -> tuple[Any, Any]:
    return await aiohttp_client(init(mysql_settings)), await aiohttp_client(init(mysql_settings))


async def test_a_vote_on_b_reaches_a_socket_on_a_within_a_second(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    db = a.app[DB]
    qid = await make_question(db)
    async with a.ws_connect(f"/questions/{qid}/live") as ws:
        assert await next_total(ws) == 0
        await asyncio.sleep(0.1)  # let the first message's window pass
        await vote(b, qid, await first_choice(db, qid), await voter(db))
        assert await wait_for_total(ws, 1) < 1.0


async def test_a_client_that_stops_reading_does_not_hold_up_another(client: Any) -> None:
    db = client.app[DB]
    long_choices = tuple(f"{n:02d} " + "x" * 190 for n in range(20))
    qid = await make_question(db, choices=long_choices)
    stalled = stalled_websocket(client.make_url(f"/questions/{qid}/live"))
    try:
        async with client.ws_connect(f"/questions/{qid}/live") as ws:
            assert await next_total(ws) == 0
            choice = await first_choice(db, qid)
            for _ in range(30):
                await vote(client, qid, choice, await voter(db))
                await asyncio.sleep(0.11)  # one message per vote to every socket, ~6 KB each
            assert await wait_for_total(ws, 30) < 1.0
    finally:
        stalled.close()


def stalled_websocket(url: Any) -> socket.socket:
    """A real WebSocket client that completes the handshake and then never reads again."""
    sock = socket.create_connection((url.host, url.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {url.path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return sock


class FakeTransport:
    """A connection that holds ``buffered`` bytes it could not send yet."""

    def __init__(self, buffered: int) -> None:
        self.buffered = buffered
        self.written: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def write(self, data: bytes) -> None:
        self.written.append(data)


async def test_a_socket_that_is_behind_never_delays_the_others() -> None:
    """The mechanism, with a connection that takes nothing more: the others get every update at
    once, and it keeps only the newest, which it gets once it has room again."""

    class Open:
        closed = False

    full, free = FakeTransport(10**6), FakeTransport(0)
    behind, keeping_up = Watcher(Open(), full), Watcher(Open(), free)  # type: ignore[arg-type]
    for n in range(5):
        frame = text_frame(f"state {n}")
        assert behind.offer(frame) is False
        assert keeping_up.offer(frame) is True
    assert free.written == [text_frame(f"state {n}") for n in range(5)]
    assert full.written == [] and behind.pending == text_frame("state 4")  # memory stays bounded
    full.buffered = 0
    assert behind.offer(behind.pending) is True
    assert full.written == [text_frame("state 4")] and behind.pending is None


def test_frames_say_their_length_as_rfc_6455_does() -> None:
    """A final, unmasked text frame; its length in 7 bits, or 126 + 16 bits, or 127 + 64 bits."""
    for size, header in ((0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)):
        frame = text_frame("é" * (size // 2) + "x" * (size % 2))
        assert frame[0] == 0x81 and len(frame) == header + size
        said = frame[1] if header == 2 else int.from_bytes(frame[2:header])
        assert said == size and frame[1] == {2: size, 4: 126, 10: 127}[header]


async def test_a_hall_opening_costs_one_read_and_newcomers_see_the_latest(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = client.app[DB]
    qid = await make_question(db, votes=(2, 1))
    hub: LiveHub = client.app[HUB]
    reads = 0
    read = hub.read_results

    async def counted(question_id: int) -> Any:
        nonlocal reads
        reads += 1
        return await read(question_id)

    monkeypatch.setattr(hub, "read_results", counted)
    sockets = [await client.ws_connect(f"/questions/{qid}/live") for _ in range(20)]
    try:
        assert [(await ws.receive_json(timeout=1))["total"] for ws in sockets] == [3] * 20
        # One read for the hall, not one per phone; a change the hub hears while they open (a
        # recheck of who may watch) may cost one more on a busy machine, never twenty.
        assert reads <= 2
        await vote(client, qid, await first_choice(db, qid), await voter(db))
        for ws in sockets:
            assert await next_total(ws) == 4
        reads_after_vote = reads
        late = await client.ws_connect(f"/questions/{qid}/live")
        sockets.append(late)
        assert await next_total(late) == 4  # what the others were sent, without a read of its own
        assert reads == reads_after_vote
    finally:
        for ws in sockets:
            await ws.close()


async def test_the_live_socket_negotiates_no_compression(client: Any) -> None:
    qid = await make_question(client.app[DB])
    async with client.ws_connect(f"/questions/{qid}/live", compress=15) as ws:
        await ws.receive_json(timeout=1)
        assert ws.compress == 0


async def test_closed_sockets_are_forgotten_and_shutdown_closes_the_rest(
    settings: Settings, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(init(settings))
    qid = await make_question(client.app[DB])
    hub: LiveHub = client.app[HUB]
    async with client.ws_connect(f"/questions/{qid}/live") as ws:
        await ws.receive_json(timeout=1)
        assert sum(len(group) for group in hub.watchers.values()) == 1
    await asyncio.sleep(0.1)
    assert hub.watchers == {}

    ws = await client.ws_connect(f"/questions/{qid}/live")
    await ws.receive_json(timeout=1)
    await client.app.shutdown()
    message = await ws.receive(timeout=2)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
    assert hub.watchers == {}


# --- Redis restarted under a running app ------------------------------------------------


async def test_updates_resume_after_redis_restarts(
    instances_on_private_redis: tuple[Any, Any], private_redis: Any
) -> None:
    a, b = instances_on_private_redis
    db = a.app[DB]
    qid = await make_question(db)
    choice = await first_choice(db, qid)
    async with a.ws_connect(f"/questions/{qid}/live") as ws:
        assert await next_total(ws) == 0
        await vote(b, qid, choice, await voter(db))
        assert await wait_for_total(ws, 1) < 1.0

        private_redis.stop()
        await vote(b, qid, choice, await voter(db))  # counted; its live update is lost with Redis
        private_redis.start()
        # After re-subscribing, A re-sends the current state: the vote made during the outage shows.
        assert await wait_for_total(ws, 2) < 5.0
        await vote(b, qid, choice, await voter(db))
        assert await wait_for_total(ws, 3) < 2.0


async def test_one_redis_subscription_per_process_not_per_socket(
    two_instances: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_instances
    monkeypatch.setattr(change_bus, "SWEEP_SECONDS", 0.05)
    for client in (a, b):
        client.app[POLL_CACHE].lifetime = 0.2
    qid = await make_question(a.app[DB])
    redis = a.app[REDIS]
    changes, votes = a.app[SETTINGS].redis_prefix + "results", a.app[VOTE_CHANNELS].channel(qid)
    sockets = [await client.ws_connect(f"/questions/{qid}/live") for client in (a, a, a, b, b)]
    for ws in sockets:
        await ws.receive_json(timeout=1)
    assert await redis.pubsub_numsub(changes, votes) == [(changes.encode(), 2), (votes.encode(), 2)]
    await asyncio.sleep(0.5)  # the cached copies have expired; the sockets still watch
    assert await redis.pubsub_numsub(votes) == [(votes.encode(), 2)]
    for ws in sockets:
        await ws.close()
    deadline = time.monotonic() + 3
    while await redis.pubsub_numsub(votes) != [(votes.encode(), 0)]:  # nobody watches: both leave
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


# --- A socket closes (4403) once what it shows is no longer visible to its viewer -----------


async def closed_with(ws: aiohttp.ClientWebSocketResponse, within: float = 1.0) -> str:
    """Skip result messages until the server's close frame, with 4403, within ``within`` s; its reason.

    The code is read from the frame, as a browser reports it: the server drops the connection
    right after it, so aiohttp's client, failing to answer, would record 1006 of its own.
    """
    deadline = time.monotonic() + within
    while (message := await ws.receive(timeout=max(0.01, deadline - time.monotonic()))).type == WSMsgType.TEXT:
        pass
    assert (message.type, message.data) == (WSMsgType.CLOSE, CLOSE_NOT_VISIBLE), message
    return str(message.extra)


async def user_id(db: Database, email: str) -> int:
    found = await user.by_account(db, email)
    assert found is not None
    return int(found["id"])


async def watch(client: Any, question_id: int) -> aiohttp.ClientWebSocketResponse:
    """A socket on the poll, opened with the client's cookies, past its first message."""
    ws = await client.ws_connect(f"/questions/{question_id}/live")
    await ws.receive_json(timeout=1)
    return ws


async def make_admin(client: Any, n: int) -> str:
    """Register user ``n`` on this client as an administrator; their session id."""
    use_session(client, None)
    await register(client, n)
    db = client.app[DB]
    await db.execute("UPDATE user SET is_admin = 1 WHERE id = %s", (await user_id(db, f"voter{n}@example.com"),))
    return str(session_id(client))


async def disable(client: Any, account_id: int) -> None:
    token = await form_token(client, "/admin")
    path = f"/admin/users/{account_id}/disable"
    response = await client.post(path, data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 302


async def delete_poll(client: Any, question_id: int) -> None:
    token = await form_token(client, f"/questions/{question_id}")
    response = await client.post(f"/questions/{question_id}/delete", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 302


async def test_a_disabled_account_s_socket_closes_and_others_go_on(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db)
    await register(client, 1)
    watching = await watch(client, qid)
    use_session(client, None)
    bystander = await watch(client, qid)
    await make_admin(client, 2)
    await disable(client, await user_id(db, "voter1@example.com"))
    assert "disabled" in await closed_with(watching)
    await vote(client, qid, await first_choice(db, qid), await voter(db))
    assert await wait_for_total(bystander, 1) < 1.0
    await bystander.close()


async def test_logging_out_closes_the_sockets_of_that_session_only(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db)
    await register(client)
    first_session = session_id(client)
    watching = await watch(client, qid)
    use_session(client, None)
    assert (await login(client, "voter1@example.com")).status == 302  # the same user in another browser
    elsewhere = await watch(client, qid)
    use_session(client, first_session)
    assert (await logout(client)).status == 302
    assert "session has ended" in await closed_with(watching)
    await vote(client, qid, await first_choice(db, qid), await voter(db))
    assert await wait_for_total(elsewhere, 1) < 1.0
    await elsewhere.close()


async def owner_and_visitor_watching(client: Any) -> tuple[int, Any, Any]:
    """A poll, a socket on it for its owner and one for an anonymous visitor; the client is then
    the owner again, in another session."""
    db = client.app[DB]
    await register(client)
    qid = await make_question(db, owner=await user_id(db, "voter1@example.com"))
    owner = await watch(client, qid)
    use_session(client, None)
    anonymous = await watch(client, qid)
    use_session(client, None)
    await login(client, "voter1@example.com")
    return qid, owner, anonymous


async def test_deleting_a_poll_closes_its_sockets(client: Any) -> None:
    qid, owner, anonymous = await owner_and_visitor_watching(client)
    await delete_poll(client, qid)
    assert "no longer available" in await closed_with(anonymous)
    assert "no longer available" in await closed_with(owner)


async def test_results_hidden_by_an_edit_close_the_sockets_that_may_not_see_them(client: Any) -> None:
    db = client.app[DB]
    qid, owner, anonymous = await owner_and_visitor_watching(client)
    fields = {"question_text": "Favourite colour?", "choice": ["red", "green"], "results_visibility": "after_close"}
    token = await form_token(client, f"/questions/{qid}/edit")
    edited = await client.post(f"/questions/{qid}/edit", data={**fields, "csrf_token": token}, allow_redirects=False)
    assert edited.status == 302
    assert "hidden" in await closed_with(anonymous)
    await vote(client, qid, await first_choice(db, qid), await voter(db))
    assert await wait_for_total(owner, 1) < 1.0  # the owner still sees them
    await owner.close()


async def test_a_session_that_expired_is_noticed_at_the_poll_s_next_change(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db)
    await register(client)
    watching = await watch(client, qid)
    await client.app[SESSION_STORAGE].delete(str(session_id(client)))  # as its idle time running out does
    await polls.close_poll(client.app, {"id": qid})
    assert "session has ended" in await closed_with(watching)


async def test_sockets_on_b_close_when_a_disables_their_account(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    db = a.app[DB]
    qid = await make_question(db)
    await register(b, 1)
    watching = await watch(b, qid)
    await make_admin(a, 2)
    await disable(a, await user_id(db, "voter1@example.com"))
    assert "disabled" in await closed_with(watching)


async def test_sockets_on_b_close_when_their_session_logs_out_on_a(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    qid = await make_question(a.app[DB])
    await register(b)
    watching = await watch(b, qid)
    use_session(a, session_id(b))  # the same browser, its next request served by A
    assert (await logout(a)).status == 302
    assert "session has ended" in await closed_with(watching)


async def test_sockets_on_b_close_when_a_deletes_the_poll(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    db = a.app[DB]
    await register(a)
    qid = await make_question(db, owner=await user_id(db, "voter1@example.com"))
    watching = await watch(b, qid)
    await delete_poll(a, qid)
    assert "no longer available" in await closed_with(watching)
