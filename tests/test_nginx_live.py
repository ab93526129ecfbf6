"""nginx as deployed in front of the live results, when a hall opens them all at once.

The app runs in this test process behind nginx rendered from deploy/ (``nginx_site``), on the four
unix sockets supervisor's processes would listen on. bench/live_sockets.py measures the same
through the whole stack with thousands of sockets (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import aiohttp
import pytest
from aiohttp import web

from application import init
from application.keys import DB
from config import Settings
from deploy.stack import WORKERS, Stack
from tests.factories import make_question


def listening(stack: Stack) -> list[socket.socket]:
    """The processes' unix sockets, each with the shortest accept queue the kernel allows."""
    sockets = []
    for index in range(WORKERS):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(stack.run_dir / f"vote_{index}.sock"))
        sock.listen(0)
        sockets.append(sock)
    return sockets


@contextlib.contextmanager
def queue_filled(server: socket.socket) -> Iterator[None]:
    """Connections wait in ``server``'s accept queue until it is full (the next connect() fails
    with EAGAIN, as when a burst outruns a busy process); afterwards they are accepted and closed."""
    waiting = []
    try:
        for _ in range(64):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.setblocking(False)
            waiting.append(client)
            try:
                client.connect(server.getsockname())
            except BlockingIOError:
                break
        else:
            pytest.fail("the accept queue never filled")
        yield
    finally:
        server.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while True:
                server.accept()[0].close()
        server.setblocking(True)
        for client in waiting:
            client.close()


async def test_full_accept_queues_take_no_process_out(sqlite_settings: Settings, nginx_site: Stack) -> None:
    """Every process's queue full: that upgrade fails. The moment they accept again, live results
    and pages are answered: nginx did not take the processes out (max_fails=1 took all four out
    for 2 s, and pages with them)."""
    runner = web.AppRunner(init(sqlite_settings))
    await runner.setup()
    question_id = await make_question(runner.app[DB], "Scan now?")
    servers = listening(nginx_site)
    live = f"http://127.0.0.1:{nginx_site.port}/questions/{question_id}/live"
    try:
        async with aiohttp.ClientSession() as session:
            with contextlib.ExitStack() as full:
                for server in servers:
                    full.enter_context(queue_filled(server))
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(live)
                assert refused.value.status == 502
            for server in servers:
                await web.SockSite(runner, server).start()
            async with session.ws_connect(live) as ws:
                assert (await ws.receive_json(timeout=5))["question_id"] == question_id
            async with session.get(f"http://127.0.0.1:{nginx_site.port}/hello") as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
        for server in servers:
            server.close()


async def test_refused_upgrades_keep_their_status_through_nginx(sqlite_settings: Settings, nginx_site: Stack) -> None:
    """The live location's small proxy buffer (1 KiB a way, per socket) still holds the app's
    answers: the upgrade, and the refusals with every security header."""
    runner = web.AppRunner(init(sqlite_settings))
    await runner.setup()
    question_id = await make_question(runner.app[DB], "Scan now?")
    for index in range(WORKERS):
        await web.UnixSite(runner, str(nginx_site.run_dir / f"vote_{index}.sock")).start()
    base = f"http://127.0.0.1:{nginx_site.port}/questions"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{base}/{question_id}/live") as ws:
                assert (await ws.receive_json(timeout=5))["total"] == 0
            for url, origin, status in [
                (f"{base}/{question_id}/live", "http://elsewhere.example", 403),
                (f"{base}/{question_id + 1}/live", None, 404),
            ]:
                headers = {"Origin": origin} if origin else {}
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(url, headers=headers)
                assert refused.value.status == status
                assert refused.value.headers is not None and "Content-Security-Policy" in refused.value.headers
    finally:
        await runner.cleanup()
