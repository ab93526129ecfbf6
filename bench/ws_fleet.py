"""A lean WebSocket client for holding tens of thousands of live-results sockets (bench only).

aiohttp's client costs tens of KiB and several objects per socket; this one is an
``asyncio.Protocol`` with a hand-written frame reader: a socket is one small object and its
transport. It only does what a phone watching ``/questions/{id}/live`` does: the upgrade, reading
text frames (it keeps each socket's latest ``total`` and when it changed), answering pings, and
noticing the server's close. Like a browser it offers permessage-deflate (unless told not to)
and inflates what comes compressed. Each ``Fleet`` runs in a process of its own (``start_fleet``), so
that several cores read the updates and no process needs more than its file limit; the parent
drives it over a pipe. Times are ``time.monotonic()``, which all processes share.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import multiprocessing
import os
import resource
import socket
import struct
import time
import zlib
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import uvloop

CONNECT_TIMEOUT = 20.0  # a socket not open by then is counted as failed ("timeout")
HEADER_LIMIT = 16384
# What Chrome and Safari send; the server then compresses each message with a context per socket.
DEFLATE_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
DEFLATE_TAIL = b"\x00\x00\xff\xff"
TOTAL = b'"total":'


class LiveSocket(asyncio.Protocol):
    __slots__ = (
        "changed",
        "fleet",
        "frames",
        "head",
        "inflater",
        "opened",
        "outcome",
        "rest",
        "started",
        "total",
        "transport",
    )

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.transport: asyncio.Transport | None = None
        self.head = b""  # the upgrade answer, until it is complete
        self.rest = b""  # an incomplete frame
        self.outcome = ""  # "", then "open" or why not
        self.started = 0.0
        self.opened = 0.0  # when the first results message arrived
        self.total = -1
        self.changed = 0.0  # when ``total`` last changed
        self.frames = 0
        self.inflater: zlib._Decompress | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.fleet.handshake)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        if self.outcome == "":
            data = self._upgrade(data)
        if data and self.outcome == "open":
            self._frames(self.rest + data if self.rest else data)

    def _upgrade(self, data: bytes) -> bytes:
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > HEADER_LIMIT:
                self._fail("bad answer")
            return b""
        status = self.head[9:12].decode("ascii", "replace")
        if status != "101":
            self._fail(f"HTTP {status}")
            return b""
        if b"permessage-deflate" in self.head[:end].lower():
            self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self.outcome, rest, self.head = "open", self.head[end + 4 :], b""
        return rest

    def _frames(self, data: bytes) -> None:
        fleet, end, pos = self.fleet, len(data), 0
        while end - pos >= 2:
            length, head = data[pos + 1] & 0x7F, 2
            if length == 126:
                if end - pos < 4:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 4]), 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, head = int.from_bytes(data[pos + 2 : pos + 10]), 10
            if end - pos < head + length:
                break
            first, start, pos = data[pos], pos + head, pos + head + length
            opcode = first & 0x0F
            if opcode == 1 and first & 0x40:  # RSV1: compressed
                self._results(self.inflater.decompress(data[start:pos] + DEFLATE_TAIL), 0)  # type: ignore[union-attr]
            elif opcode == 1:
                self._results(data, start)
            elif opcode == 9:  # ping: a client's frames are masked (here with a zero mask)
                self.transport.write(bytes((0x8A, 0x80 | (pos - start))) + b"\0\0\0\0" + data[start:pos])  # type: ignore[union-attr]
            elif opcode == 8:
                code = int.from_bytes(data[start : start + 2]) if pos - start >= 2 else 1005
                fleet.closed_by_server[code] += 1
                self.transport.close()  # type: ignore[union-attr]
        self.rest = data[pos:] if pos < end else b""

    def _results(self, data: bytes, start: int) -> None:
        """The payload names ``"question_id":N`` and ``"total":T`` before the choices (the method
        first): only T is read."""
        if data.find(self.fleet.prefix, start, start + 64) < 0 or (at := data.find(TOTAL, start)) < 0:
            self.fleet.unexpected += 1
            return
        at += len(TOTAL)
        total = int(data[at : data.index(b",", at)])
        self.frames += 1
        if total != self.total:
            self.total, self.changed = total, time.monotonic()
            if not self.opened:
                self.opened = self.changed

    def _fail(self, why: str) -> None:
        self.outcome = why
        self.transport.close()  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.outcome == "open" and not self.fleet.closing:
            self.outcome = "dropped"
        elif self.outcome == "":
            self.outcome = "closed before the upgrade"


class Fleet:
    """The sockets of one process, all on one poll."""

    def __init__(self, port: int, poll_id: int, sources: list[str], deflate: bool) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        self.handshake = (
            f"GET /questions/{poll_id}/live HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"{DEFLATE_OFFER if deflate else ''}\r\n"
        ).encode()
        self.prefix = f'"question_id":{poll_id},'.encode()
        self.port = port
        self.sources = sources
        self.sockets: list[LiveSocket] = []
        self.closed_by_server: Counter[int] = Counter()
        self.unexpected = 0
        self.closing = False

    async def open(self, count: int, rate: float) -> dict[str, Any]:
        """Opens ``count`` sockets, ``rate`` a second (0: all at once); waits until each shows
        its first results message or has failed (``CONNECT_TIMEOUT``)."""
        loop = asyncio.get_running_loop()
        new = [LiveSocket(self) for _ in range(count)]
        began = time.monotonic()
        tasks = []
        for index, live in enumerate(new):
            if rate and (ahead := began + index / rate - time.monotonic()) > 0.002:
                await asyncio.sleep(ahead)
            source = self.sources[(len(self.sockets) + index) % len(self.sources)]
            tasks.append(loop.create_task(self._connect(live, source)))
        issued = time.monotonic() - began
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while any(live.outcome in ("", "open") and not live.opened for live in new):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        for live in new:
            if live.outcome in ("", "open") and not live.opened:
                live.outcome = "timeout"
                if live.transport is not None:
                    live.transport.close()
        self.sockets += new
        opened = [live.opened - live.started for live in new if live.opened]
        return {
            "issued_seconds": issued,
            "outcomes": Counter("open" if live.opened else live.outcome for live in new),
            "open_seconds": opened,
        }

    async def _connect(self, live: LiveSocket, source: str) -> None:
        live.started = time.monotonic()
        try:
            await asyncio.get_running_loop().create_connection(
                lambda: live, "127.0.0.1", self.port, local_addr=(source, 0)
            )
        except OSError as exc:
            live.outcome = errno.errorcode.get(exc.errno or 0, type(exc).__name__)

    async def frames(self) -> int:
        return sum(live.frames for live in self.sockets)

    async def settle(self, total: int, seconds: float) -> dict[str, Any]:
        """Waits until every open socket shows ``total`` (``seconds`` at most); when each did."""
        deadline = time.monotonic() + seconds
        # Polled, not signalled: a wake-up per frame would cost more than the frames themselves.
        while any(live.total != total for live in self.open_sockets()) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        watching = self.open_sockets()
        return {
            "shown_at": [live.changed for live in watching if live.total == total],
            "behind": sum(live.total != total for live in watching),
            "frames": sum(live.frames for live in self.sockets),
            "dropped": self.dropped(),
            "closed_by_server": self.closed_by_server,
            "unexpected": self.unexpected,
        }

    def open_sockets(self) -> list[LiveSocket]:
        return [live for live in self.sockets if live.outcome == "open" and live.opened]

    def dropped(self) -> int:
        return sum(live.outcome == "dropped" for live in self.sockets)

    async def close(self) -> dict[str, Any]:
        """Closes every socket; what had been dropped before."""
        self.closing = True
        dropped = self.dropped()
        for live in self.sockets:
            if live.transport is not None and not live.transport.is_closing():
                # RST, not FIN: 20,000 closes leave no ports in TIME_WAIT.
                sock = live.transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                live.transport.close()
        self.sockets = []
        self.closed_by_server.clear()
        self.closing = False
        await asyncio.sleep(0.1)
        return {"dropped": dropped}

    async def cpu(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime


def _serve(conn: Connection, port: int, sources: list[str]) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        fleet: Fleet | None = None
        while True:
            command, args = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                return
            if command == "poll":
                fleet = Fleet(port, args[0], sources, args[1])
                conn.send(None)
                continue
            conn.send(await getattr(fleet, command)(*args))

    uvloop.run(run())


class FleetProcess:
    """One fleet in a child process; ``call`` sends it a command and waits for the answer."""

    def __init__(self, port: int, sources: list[str]) -> None:
        self.conn, child = multiprocessing.get_context("fork").Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(child, port, sources), daemon=True
        )
        self.process.start()

    async def call(self, command: str, *args: Any) -> Any:
        def exchange() -> Any:
            self.conn.send((command, args))
            return self.conn.recv()

        return await asyncio.to_thread(exchange)

    def stop(self) -> None:
        if self.process.is_alive():
            self.conn.send(("stop", ()))
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
