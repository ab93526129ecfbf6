"""The WeChat callback's wire format: signatures, safe-mode AES and the XML in and out.

Pure functions, written from the platform's documentation with ``cryptography``
and ``defusedxml`` (the one SDK, wechatpy, compares signatures in variable time
and does not check padding). Nothing here touches HTTP or the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
from xml.etree.ElementTree import ParseError

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16
RANDOM_PREFIX = 16
CONTENT_MAX_BYTES = 2000
ELLIPSIS = "…"
# Characters XML 1.0 cannot carry: a reply containing one would not parse on the platform.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class BadMessage(Exception):
    """The body is not a message we can read: malformed, hostile, or not for us."""


def sign(token: str, *parts: str) -> str:
    """sha1 of the token and the parts, sorted and joined, in lowercase hex."""
    return hashlib.sha1("".join(sorted([token, *parts])).encode()).hexdigest()


def signature_ok(given: str | None, token: str, *parts: str) -> bool:
    """Constant-time check of a signature from the request; a missing one is wrong."""
    if not given:
        return False
    return hmac.compare_digest(given.encode(), sign(token, *parts).encode())


# --- Safe mode (AES) -------------------------------------------------------------


class MessageCipher:
    """AES-256-CBC with the key from the EncodingAESKey, IV = key[:16], PKCS#7 to 32 bytes.

    Plaintext = 16 random bytes + 4-byte big-endian length + message + AppID.
    """

    def __init__(self, encoding_aes_key: str, appid: str) -> None:
        self.key = base64.b64decode(encoding_aes_key + "=")
        if len(self.key) != 32:
            raise ValueError("an EncodingAESKey decodes to 32 bytes")
        self.appid = appid.encode()

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random_prefix: bytes | None = None) -> str:
        """Base64 ciphertext; the random prefix is injectable for the published test vectors."""
        prefix = os.urandom(RANDOM_PREFIX) if random_prefix is None else random_prefix
        body = message.encode()
        plain = _pad(prefix + struct.pack(">I", len(body)) + body + self.appid)
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        """The message inside, or BadMessage for anything malformed or meant for another AppID."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise BadMessage("Encrypt is not base64") from None
        if not data or len(data) % 16:
            raise BadMessage("ciphertext is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(data) + decryptor.finalize())
        if len(plain) < RANDOM_PREFIX + 4:
            raise BadMessage("plaintext too short")
        (length,) = struct.unpack(">I", plain[RANDOM_PREFIX : RANDOM_PREFIX + 4])
        start = RANDOM_PREFIX + 4
        body, appid = plain[start : start + length], plain[start + length :]
        if len(body) != length or not hmac.compare_digest(appid, self.appid):
            raise BadMessage("length or AppID does not match")
        try:
            return body.decode()
        except UnicodeDecodeError:
            raise BadMessage("message is not UTF-8") from None


def _pad(data: bytes) -> bytes:
    size = BLOCK - len(data) % BLOCK
    return data + bytes([size]) * size


def _unpad(data: bytes) -> bytes:
    """Strict PKCS#7: the last byte n is 1..32 and the last n bytes all equal n."""
    size = data[-1]
    if not 1 <= size <= BLOCK or size > len(data) or data[-size:] != bytes([size]) * size:
        raise BadMessage("bad padding")
    return data[:-size]


# --- XML -------------------------------------------------------------------------


def parse(body: bytes | str) -> dict[str, str]:
    """The fields of ``<xml>...</xml>``; DTDs, entities and anything malformed are refused."""
    if isinstance(body, str):
        body = body.encode()  # the parser refuses text that carries an encoding declaration
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise BadMessage(f"unreadable XML: {type(exc).__name__}") from None
    if root.tag != "xml":
        raise BadMessage("the root element is not <xml>")
    return {child.tag: (child.text or "") for child in root if isinstance(child.tag, str)}


def cdata(text: str) -> str:
    """A CDATA section; ``]]>`` inside is split across two sections."""
    return "<![CDATA[" + _NOT_XML.sub("", text).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def cap(text: str, limit: int = CONTENT_MAX_BYTES) -> str:
    """At most ``limit`` UTF-8 bytes, cut on a character boundary, marked with an ellipsis."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    # A slice can end inside a character; "ignore" drops only that partial tail.
    return data[:room].decode("utf-8", "ignore").rstrip() + ELLIPSIS


def text_reply(to_user: str, from_user: str, create_time: int, content: str) -> str:
    return (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName><FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{cdata(cap(content))}</Content></xml>"
    )


def encrypted_reply(encrypt: str, signature: str, timestamp: str, nonce: str) -> str:
    return (
        f"<xml><Encrypt>{cdata(encrypt)}</Encrypt><MsgSignature>{cdata(signature)}</MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp><Nonce>{cdata(nonce)}</Nonce></xml>"
    )
