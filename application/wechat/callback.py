"""The WeChat Official Account callback: followers list, read, vote on and see results of polls by message.

``GET /WeiXin`` is the platform's URL check; ``POST /WeiXin`` delivers messages.
Both are authenticated by their signature (so CSRF does not apply). What a message says and
its reply are the conversation's (``conversation.py``); the wire format is ``crypto.py``'s.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from application.keys import DB, SETTINGS, WECHAT_PRUNING
from application.web.errors import AppError
from application.wechat import crypto as wire
from application.wechat.conversation import Conversation
from models import wechat_message
from models.clock import utcnow

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # the platform's messages are a few hundred bytes
# The platform gives up after 5 seconds and retries; answer well before that, whatever the database does.
REPLY_DEADLINE = 4.0
# A signed query is good this long either side of our clock: a copy from a log is useless after it.
FRESH_FOR_SECONDS = 300
# Retries stop within a minute; keys are kept for two days, pruned at most once an hour per process.
DEDUP_KEEP = timedelta(days=2)
PRUNE_EVERY = 3600.0

NO_REPLY = "success"  # what the platform takes for "nothing to say"


class WeChatCallback(web.View):
    csrf_exempt = True  # authenticated by the platform's signature instead

    async def get(self) -> web.Response:
        self._verify_signature()
        return web.Response(text=self.request.query.get("echostr", ""))

    async def post(self) -> web.Response:
        token = self._verify_signature()
        _refuse_stale(self.request.query)
        safe = self.request.query.get("encrypt_type", "").lower() == "aes"
        if not safe and self.request.app[SETTINGS].wechat_aes_key:  # plaintext is unsigned: refused in safe mode
            log.warning("wechat: plaintext message refused, VOTE_WECHAT_AES_KEY is set")
            raise AppError(403, "Plaintext messages are refused.")
        body = await _read_body(self.request)
        try:
            fields = wire.parse(body)
            if safe:
                fields = self._decrypt(fields, token)
        except wire.BadMessage as exc:
            log.warning("wechat: unreadable message answered with success: %s", exc)
            return _no_reply()
        reply = await _answer_in_time(self.request.app, fields, SignedQuery.of(self.request.query, body))
        if reply is None:
            return _no_reply()
        if safe:
            reply = self._seal(reply)
        return web.Response(text=reply, content_type="application/xml")

    def _verify_signature(self) -> str:
        """The token, once the request's signature matches it: 404 when the feature is off, 403 when wrong."""
        token = self.request.app[SETTINGS].wechat_token
        if not token:
            raise web.HTTPNotFound()
        if not wire.signature_ok(self.request.query.get("signature"), token, *_stamp(self.request.query)):
            log.warning("wechat: bad or missing signature")
            raise AppError(403, "Bad signature.")
        return token

    def _decrypt(self, fields: dict[str, str], token: str) -> dict[str, str]:
        """The encrypted copy, once msg_signature vouches for it: 403 when it does not."""
        # Compatible mode sends the plaintext fields as well; only the encrypted copy is signed.
        encrypt, given = fields.get("Encrypt", ""), self.request.query.get("msg_signature")
        # Without Encrypt, msg_signature would equal signature and vouch for nothing in the body.
        if not encrypt or not wire.signature_ok(given, token, *_stamp(self.request.query), encrypt):
            log.warning("wechat: bad msg_signature or no Encrypt")
            raise AppError(403, "Bad signature.")
        return wire.parse(self._cipher().decrypt(encrypt))

    def _cipher(self) -> wire.MessageCipher:
        settings = self.request.app[SETTINGS]
        if not settings.wechat_aes_key:
            raise wire.BadMessage("safe mode, but VOTE_WECHAT_AES_KEY is not set")
        return wire.MessageCipher(settings.wechat_aes_key, settings.wechat_appid)

    def _seal(self, reply: str) -> str:
        """The safe-mode envelope around a reply, signed with a fresh timestamp and nonce."""
        encrypt = self._cipher().encrypt(reply)
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        signature = wire.sign(self.request.app[SETTINGS].wechat_token, timestamp, nonce, encrypt)
        return wire.encrypted_reply(encrypt, signature, timestamp, nonce)


def _stamp(query: Mapping[str, str]) -> tuple[str, str]:
    return query.get("timestamp", ""), query.get("nonce", "")


def _refuse_stale(query: Mapping[str, str]) -> None:
    """403 unless the signed timestamp is within FRESH_FOR_SECONDS of our clock (messages only)."""
    timestamp = query.get("timestamp", "")
    well_formed = timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    if well_formed and abs(int(timestamp) - time.time()) <= FRESH_FOR_SECONDS:
        return
    log.warning("wechat: stale or malformed timestamp refused")
    raise AppError(403, "The timestamp is stale.")


@dataclass(frozen=True)
class SignedQuery:
    """One use of a signed query: its key in wechat_message and the body it came with.

    The signature covers the timestamp and nonce but not the body: a copy of the query
    (a log line) must not carry any other body than the one it was first used with.
    """

    key: str
    body_digest: str

    @classmethod
    def of(cls, query: Mapping[str, str], body: bytes) -> SignedQuery:
        timestamp, nonce = _stamp(query)  # the timestamp is all digits: "\n" cannot be forged into it
        key = "qry:" + hashlib.sha256(f"{timestamp}\n{nonce}".encode()).hexdigest()
        return cls(key, hashlib.sha256(body).hexdigest())


class QueryReused(Exception):
    """A signed query seen before with another body."""


def _no_reply() -> web.Response:
    return web.Response(text=NO_REPLY)


async def _read_body(request: web.Request) -> bytes:
    """At most MAX_BODY bytes, without reading more than one byte past it."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise AppError(413, "The message is too large.")
    data = b""
    while len(data) <= MAX_BODY:
        chunk = await request.content.read(MAX_BODY + 1 - len(data))
        if not chunk:
            return data
        data += chunk
    raise AppError(413, "The message is too large.")


async def _answer_in_time(app: web.Application, fields: dict[str, str], signed: SignedQuery) -> str | None:
    """The reply, or None ("success") on any failure: the platform would show the follower an error.

    A signed query already used with another body is the one refusal (403): nothing is acted on.
    """
    deadline = asyncio.get_running_loop().time() + REPLY_DEADLINE
    try:
        async with asyncio.timeout_at(deadline):
            if not await wechat_message.bind_once(app[DB], signed.key, signed.body_digest, utcnow()):
                raise QueryReused
            reply = await answer_once(app, fields)
    except QueryReused:
        log.warning("wechat: a signed query came back with another body; refused")
        raise AppError(403, "This signature was already used for another message.") from None
    except wire.BadMessage as exc:
        log.warning("wechat: message without sender answered with success: %s", exc)
        return None
    except Exception:
        log.exception("wechat: %s message failed; answered success", fields.get("MsgType", "?"))
        return None
    await _prune_now_and_then(app, deadline)
    return reply


class Pruning:
    """When this app next forgets old message keys."""

    def __init__(self) -> None:
        self.next_at = 0.0


async def _prune_now_and_then(app: web.Application, deadline: float) -> None:
    """Forget old keys, in whatever time the reply left (the reply is ready: it must not wait long)."""
    pruning = app[WECHAT_PRUNING]
    if time.monotonic() < pruning.next_at:
        return
    pruning.next_at = time.monotonic() + PRUNE_EVERY
    try:
        async with asyncio.timeout_at(min(deadline, asyncio.get_running_loop().time() + 1.0)):
            await wechat_message.prune(app[DB], utcnow() - DEDUP_KEEP)
    except Exception as exc:  # housekeeping only: the next hour tries again
        log.warning("wechat: pruning old message keys failed: %r", exc)


def dedup_key(fields: dict[str, str]) -> str:
    """``msg:<MsgId>``, or ``evt:`` for events (sender + CreateTime), as stored in wechat_message."""
    msg_id = fields.get("MsgId", "")
    if msg_id.isdecimal() and len(msg_id) <= 20:
        return f"msg:{msg_id}"
    basis = f"msg:{msg_id}" if msg_id else f"evt:{fields['FromUserName']}:{fields.get('CreateTime', '')}"
    # openids are case-sensitive but MySQL compares this column without case (and holds 191 characters).
    return basis[:4] + hashlib.sha256(basis.encode()).hexdigest()


async def answer_once(app: web.Application, fields: dict[str, str]) -> str | None:
    """The reply XML to a delivery; a retry gets the first attempt's reply, never a second action."""
    openid, our_id = fields.get("FromUserName", ""), fields.get("ToUserName", "")
    if not openid or not our_id:
        raise wire.BadMessage("no FromUserName or ToUserName")
    kind = fields.get("MsgType", "").lower()
    if kind == "event" and fields.get("Event", "").lower() != "subscribe":
        return None  # unsubscribe, SCAN, CLICK...: nothing to say
    db = app[DB]
    key = dedup_key(fields)
    if not await wechat_message.claim(db, key, utcnow()):
        log.info("wechat: retry of %s answered from the first attempt", key[:4])
        return await wechat_message.stored_reply(db, key) or None
    conversation = Conversation(app, openid, _said(fields))
    text = conversation.welcome() if kind == "event" else await conversation.reply()
    reply = wire.text_reply(openid, our_id, int(time.time()), text)
    await wechat_message.save_reply(db, key, reply)
    return reply


def _said(fields: dict[str, str]) -> str | None:
    """What the follower said: a text's Content, a voice's Recognition; None when we cannot read it."""
    kind = fields.get("MsgType", "").lower()
    if kind == "text":
        return fields.get("Content", "")
    if kind == "voice":
        # Only when voice recognition is on for the account; it ends with a full stop ("3 1。").
        return fields.get("Recognition") or None
    return None
