"""A real SMTP server in the test process (aiosmtpd), on the test's event loop: it keeps every mail
it accepts, and can be started late to play a mail server that was down."""

from __future__ import annotations

import asyncio
import email
import re
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope

from tests.conftest import free_port

LINK_RE = re.compile(r"https?://\S+/password/reset/[A-Za-z0-9_-]+")


class MailServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.mails: list[EmailMessage] = []
        self.arrived = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.mails.append(read_mail(envelope.content))
        self.arrived.set()
        return "250 OK"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: SMTP(self), "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def next_mail(self, within: float = 10.0) -> EmailMessage:
        """The first mail not taken yet, waiting for it."""
        async with asyncio.timeout(within):
            while not self.mails:
                self.arrived.clear()
                await self.arrived.wait()
        return self.mails.pop(0)


def read_mail(raw: bytes) -> EmailMessage:
    """The mail with its headers and text decoded (a Chinese subject is encoded on the wire)."""
    mail = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def body_of(mail: EmailMessage) -> str:
    return str(mail.get_content())


def link_in(mail: EmailMessage) -> str:
    match = LINK_RE.search(body_of(mail))
    assert match, body_of(mail)
    return match.group(0)
