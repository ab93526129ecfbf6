"""Sending mail off the request path: a page queues a message and answers at once; a background
task hands it to the SMTP server (``VOTE_SMTP_URL``), trying again with growing delays while the
server does not answer or answers "try later" (4xx); a mail it refuses for good (5xx to the
sender, a recipient or the message) is kept under ``unsent/`` at once, and the next one goes.
Without a server each mail is written as an ``.eml`` file under ``mail_dir`` and the log says
where, so a newcomer can follow a reset link with no mail server.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
from contextlib import suppress
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib

from config import Settings, SmtpTarget
from models.clock import utcnow
from models.metrics import MAILS_QUEUED

log = logging.getLogger(__name__)

# What a failed delivery can raise: the server refused, the connection failed or timed out.
DELIVERY_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError, ssl.SSLError)
# Refusals of the envelope or the message that a 5xx code makes final (RFC 5321 4.2.1).
ENVELOPE_REFUSALS = (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError)
UNSENT_DIR = "unsent"


def message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(body)
    return mail


def is_permanent(exc: BaseException) -> bool:
    """A 5xx answer to MAIL, RCPT or DATA: the same mail would be refused again, so it is not retried."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):  # what send() raises when every recipient is
        return bool(exc.recipients) and all(is_permanent(refused) for refused in exc.recipients)
    return isinstance(exc, ENVELOPE_REFUSALS) and 500 <= exc.code < 600


def write_eml(directory: Path, mail: EmailMessage) -> Path:
    """The mail as a file a mail program opens (``.eml``); its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.eml"
    path.write_bytes(mail.as_bytes())
    return path


class Mailer:
    """One queue and one sending task per process, started and stopped with the app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = Path(settings.mail_dir)
        self.queue: asyncio.Queue[EmailMessage] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.sending = False

    def send(self, mail: EmailMessage) -> None:
        """Queue the mail; never waits for the server."""
        self.queue.put_nowait(mail)
        self._count()

    def _count(self) -> None:
        """``vote_mails_queued``: the mails not sent yet, the one being tried included."""
        MAILS_QUEUED.set(self.queue.qsize() + (1 if self.sending else 0))

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="mailer")

    async def stop(self) -> None:
        """Give the queue a moment to drain; what is left is written under ``mail_dir/unsent``."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self.queue.join(), timeout=min(self.settings.shutdown_timeout, 5.0))
        if self.task is not None:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task
        while not self.queue.empty():
            self._give_up(self.queue.get_nowait())

    async def _run(self) -> None:
        while True:
            mail = await self.queue.get()
            self.sending = True
            try:
                await self._deliver(mail)
            except asyncio.CancelledError:
                self._give_up(mail)  # stopping while it waits for another attempt: kept, not lost
                raise
            finally:
                self.sending = False
                self._count()
                self.queue.task_done()

    async def _deliver(self, mail: EmailMessage) -> None:
        target = self.settings.smtp
        if target is None:
            log.info("mail to %s written to %s (no VOTE_SMTP_URL)", mail["To"], write_eml(self.directory, mail))
            return
        delay = self.settings.mail_retry_delay
        for attempt in range(1, self.settings.mail_retry_attempts + 1):
            try:
                await self._smtp(target, mail)
            except DELIVERY_ERRORS as exc:
                if is_permanent(exc):
                    # Retrying would hold every later mail behind this one until their links expire.
                    log.error("mail to %s refused by the server, not retried: %s", mail["To"], exc)
                    break
                log.warning("mail to %s not sent (attempt %s): %s", mail["To"], attempt, exc)
            else:
                log.info("mail to %s sent", mail["To"])
                return
            if attempt < self.settings.mail_retry_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.mail_retry_max_delay)
        self._give_up(mail)

    async def _smtp(self, target: SmtpTarget, mail: EmailMessage) -> None:
        await aiosmtplib.send(
            mail,
            hostname=target.host,
            port=target.port,
            username=target.username or None,
            password=target.password or None,
            use_tls=target.tls,
            start_tls=target.starttls,
            cert_bundle=self.settings.smtp_ca_file or None,
            timeout=self.settings.smtp_timeout,
        )

    def _give_up(self, mail: EmailMessage) -> None:
        path = write_eml(self.directory / UNSENT_DIR, mail)
        log.error("mail to %s could not be sent; it is kept in %s", mail["To"], path)
