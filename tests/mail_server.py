"""A real SMTP server in the test process (aiosmtpd), on the test's event loop: it keeps every mail
it accepts, and can be started late to play a mail server that was down. Optionally it speaks TLS
from the first byte (smtps) or after STARTTLS, with a certificate of a CA made for the test, and
requires a login."""

from __future__ import annotations

import asyncio
import datetime
import email
import ipaddress
import re
import ssl
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port

LINK_RE = re.compile(r"https?://\S+/password/reset/[A-Za-z0-9_-]+")


class MailServer:
    def __init__(self, tls: ssl.SSLContext | None = None, starttls: bool = False, login: str = "") -> None:
        """``tls`` with ``starttls``: STARTTLS required; without: TLS from the first byte. ``login``:
        ``user:password`` required (over TLS only)."""
        self.port = free_port()
        self.tls, self.starttls, self.login = tls, starttls, login
        scheme = "smtps" if tls is not None and not starttls else "smtp"
        credentials = f"{login}@" if login else ""
        self.url = f"{scheme}://{credentials}127.0.0.1:{self.port}" + ("?starttls=1" if starttls else "")
        # Per recipient, the replies its next RCPT TO gets instead of 250 ("550 ...", "450 ..."), in turn.
        self.refusals: dict[str, list[str]] = {}
        self.mails: list[EmailMessage] = []
        self.logins: list[str] = []
        self.arrived = asyncio.Event()
        self.server: asyncio.Server | None = None

    def _authenticate(self, server: SMTP, session: Any, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        given = f"{data.login.decode()}:{data.password.decode()}"
        self.logins.append(given)
        return AuthResult(success=given == self.login, handled=False)  # aiosmtpd then answers 535

    def _protocol(self) -> SMTP:
        return SMTP(
            self,
            tls_context=self.tls if self.starttls else None,
            require_starttls=self.starttls,
            authenticator=self._authenticate if self.login else None,
            auth_required=bool(self.login),
            # aiosmtpd cannot tell a connection that was TLS from the first byte: it is, here.
            auth_require_tls=self.starttls,
        )

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if replies := self.refusals.get(address):
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.mails.append(read_mail(envelope.content))
        self.arrived.set()
        return "250 OK"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        tls = None if self.starttls else self.tls
        self.server = await loop.create_server(self._protocol, "127.0.0.1", self.port, ssl=tls)

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


def make_ca(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1, and the PEM file of the CA that signed it
    (what ``VOTE_SMTP_CA_FILE`` names)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vote test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, ca_file
