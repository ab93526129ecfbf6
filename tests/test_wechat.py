# ruff: noqa: RUF001  # Chinese replies use full-width punctuation
"""WeChat: the published vectors, the wire format, and whole conversations over HTTP in plain and safe mode."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import count
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from application import init
from application.keys import DB
from application.services import polls
from application.web.access_log import AccessLogger
from application.wechat import callback as wechat
from application.wechat import crypto as wire
from config import Settings
from deploy.stack import WORKERS, Stack
from models import question, wechat_message
from models.clock import utcnow
from models.db import Database
from tests.conftest import make_settings
from tests.factories import make_question

TOKEN = "test-token"
APPID = "wx0123456789abcdef"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
OUR_ID = "gh_0123456789ab"
FOLLOWER = "oFollower-AbC_123"
WECHAT = {"wechat_token": TOKEN, "wechat_appid": APPID, "wechat_aes_key": AES_KEY}
PLAIN_MODE = {"wechat_aes_key": ""}  # an account in plain mode has no EncodingAESKey configured

XXE = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><ToUserName>us</ToUserName><FromUserName>them</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    b"<xml><ToUserName>us</ToUserName><FromUserName>them</FromUserName><CreateTime>1</CreateTime>"
    b"<MsgType>text</MsgType><Content>&d;</Content><MsgId>2</MsgId></xml>"
)


# --- A stand-in for the platform ---------------------------------------------------


class Platform:
    """Signs, encrypts (in safe mode) and posts messages as the platform does, and opens the replies."""

    msg_ids = count(10**17)

    def __init__(self, client: Any, safe: bool) -> None:
        self.client = client
        self.safe = safe
        self.cipher = wire.MessageCipher(AES_KEY, APPID)
        self.clock = count(int(time.time()))

    def query(self, encrypt: str = "", timestamp: int | None = None) -> dict[str, str]:
        """A signed query as the platform sends it: the current time and a fresh nonce."""
        timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
        params = self.signed(timestamp_text, str(secrets.randbelow(10**10)))
        if self.safe:
            msg_signature = wire.sign(TOKEN, params["timestamp"], params["nonce"], encrypt)
            params |= {"encrypt_type": "aes", "msg_signature": msg_signature}
        return params

    @staticmethod
    def signed(timestamp: str, nonce: str) -> dict[str, str]:
        return {"signature": wire.sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}

    async def post(self, message: str | bytes, clear: str | None = None, timestamp: int | None = None) -> Any:
        """POST one message; in safe mode encrypted and signed, in compatible mode with ``clear`` fields beside it."""
        if not self.safe:
            return await self.client.post("/WeiXin", params=self.query(timestamp=timestamp), data=message)
        encrypt = self.cipher.encrypt(message.decode() if isinstance(message, bytes) else message)
        outer = clear or f"<xml><ToUserName><![CDATA[{OUR_ID}]]></ToUserName></xml>"
        body = outer.removesuffix("</xml>") + f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return await self.client.post("/WeiXin", params=self.query(encrypt, timestamp), data=body)

    async def reply_to(self, message: str | bytes, timestamp: int | None = None) -> str:
        """The reply's Content, or "success" when the app had nothing to say."""
        response = await self.post(message, timestamp=timestamp)
        assert response.status == 200
        body = await response.text()
        if body == wechat.NO_REPLY:
            return body
        assert response.content_type == "application/xml"
        fields = wire.parse(body)
        if self.safe:
            assert fields["MsgSignature"] == wire.sign(TOKEN, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
            fields = wire.parse(self.cipher.decrypt(fields["Encrypt"]))
        assert (fields["ToUserName"], fields["FromUserName"], fields["MsgType"]) == (FOLLOWER, OUR_ID, "text")
        assert abs(int(fields["CreateTime"]) - time.time()) < 60
        return fields["Content"]

    def text(
        self,
        content: str,
        msg_id: int | None = None,
        kind: str = "text",
        field: str = "Content",
        sender: str = FOLLOWER,
    ) -> str:
        msg_id = next(self.msg_ids) if msg_id is None else msg_id
        return (
            f"<xml><ToUserName><![CDATA[{OUR_ID}]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{next(self.clock)}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>"
            f"<{field}>{wire.cdata(content)}</{field}><MsgId>{msg_id}</MsgId></xml>"
        )

    def event(self, event: str, create_time: int | None = None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{OUR_ID}]]></ToUserName><FromUserName><![CDATA[{FOLLOWER}]]></FromUserName>"
            f"<CreateTime>{create_time or next(self.clock)}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event></xml>"
        )

    async def say(self, content: str) -> str:
        return await self.reply_to(self.text(content))


def wechat_settings(settings: Settings, safe: bool = True, **overrides: str) -> Settings:
    """The callback switched on: with the EncodingAESKey for safe and compatible mode, without for plain."""
    return settings.model_copy(update={**WECHAT, **({} if safe else PLAIN_MODE), **overrides})


async def connect(aiohttp_client: Any, settings: Settings, safe: bool) -> Platform:
    """The app configured for the account's mode, and the platform that talks to it."""
    return Platform(await aiohttp_client(init(wechat_settings(settings, safe))), safe=safe)


@pytest.fixture(params=["plain", "safe"])
async def platform(request: pytest.FixtureRequest, settings: Settings, aiohttp_client: Any) -> Platform:
    """Each conversation test runs four times: plain and safe mode, on SQLite and on MariaDB + Redis."""
    return await connect(aiohttp_client, settings, safe=request.param == "safe")


@pytest.fixture
async def plain(settings: Settings, aiohttp_client: Any) -> Platform:
    return await connect(aiohttp_client, settings, safe=False)


async def votes_of(db: Database, question_id: int) -> list[int]:
    rows = await db.fetch_all("SELECT votes FROM choice WHERE question_id = %s ORDER BY id", (question_id,))
    return [row["votes"] for row in rows]


async def set_poll(db: Database, question_id: int, **columns: object) -> None:
    for column, value in columns.items():  # column names are this file's, never input
        await db.execute(f"UPDATE question SET {column} = %s WHERE id = %s", (value, question_id))


# --- The published vectors and the wire format --------------------------------------


def test_published_signature_vector() -> None:
    assert wire.sign("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    assert wire.signature_ok("f464b24fc39322e44b38aa78f5edd27bd1441696", "AAAAA", "1714036504", "1514711492")
    assert not wire.signature_ok("f464b24fc39322e44b38aa78f5edd27bd1441697", "AAAAA", "1714036504", "1514711492")
    assert not wire.signature_ok(None, "AAAAA", "1714036504", "1514711492")
    assert not wire.signature_ok("", "AAAAA", "1714036504", "1514711492")


def test_published_encryption_vector() -> None:
    cipher = wire.MessageCipher("A" * 43, "wxba5fad812f8e6fb9")
    encrypt = cipher.encrypt('{"demo_resp":"good luck"}', random_prefix=b"707722b803182950")
    assert encrypt == ("ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ==")
    assert wire.sign("AAAAA", "1713424427", "415670741", encrypt) == "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1"
    assert cipher.decrypt(encrypt) == '{"demo_resp":"good luck"}'


def test_round_trip_with_random_prefix() -> None:
    cipher = wire.MessageCipher(AES_KEY, APPID)
    message = "<xml><Content><![CDATA[投票 3 1]]></Content></xml>" * 7  # spans several 32-byte blocks
    first, second = cipher.encrypt(message), cipher.encrypt(message)
    assert first != second  # a fresh random prefix each time
    assert cipher.decrypt(first) == cipher.decrypt(second) == message
    assert cipher.decrypt(cipher.encrypt("")) == ""


def raw_encrypt(plain: bytes) -> str:
    """AES-CBC with the test key and no padding added: the caller brings its own."""
    key = base64.b64decode(AES_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


@pytest.mark.parametrize(
    "tail",
    [
        bytes([0]) * 32,  # zero is not a padding length
        bytes([33]) * 32,  # longer than WeChat's 32-byte block
        bytes([7]) * 31 + bytes([4]),  # the last byte disagrees with the others
        bytes([1]) * 30 + bytes([2, 3]),
    ],
)
def test_bad_padding_is_refused(tail: bytes) -> None:
    plain = b"0123456789abcdef" + (5).to_bytes(4, "big") + b"hello" + APPID.encode()
    plain += b"x" * (-len(plain) % 32)
    with pytest.raises(wire.BadMessage, match="padding"):
        wire.MessageCipher(AES_KEY, APPID).decrypt(raw_encrypt(plain + tail))


def test_good_padding_built_by_hand_is_accepted() -> None:
    plain = b"0123456789abcdef" + (5).to_bytes(4, "big") + b"hello" + APPID.encode()
    pad = 32 - len(plain) % 32
    assert wire.MessageCipher(AES_KEY, APPID).decrypt(raw_encrypt(plain + bytes([pad]) * pad)) == "hello"


@pytest.mark.parametrize(
    "encrypt",
    [
        wire.MessageCipher(AES_KEY, "wxSomeoneElse0000").encrypt("hello"),  # another account's AppID
        "not base64!",
        "",
        base64.b64encode(b"x" * 20).decode(),  # not whole blocks
    ],
)
def test_wrong_appid_and_malformed_ciphertext_are_refused(encrypt: str) -> None:
    with pytest.raises(wire.BadMessage):
        wire.MessageCipher(AES_KEY, APPID).decrypt(encrypt)


def test_a_length_past_the_end_is_refused() -> None:
    plain = b"0123456789abcdef" + (999).to_bytes(4, "big") + b"hello" + APPID.encode()
    pad = 32 - len(plain) % 32
    with pytest.raises(wire.BadMessage):
        wire.MessageCipher(AES_KEY, APPID).decrypt(raw_encrypt(plain + bytes([pad]) * pad))


def test_reply_xml_escapes_cdata_and_caps_content() -> None:
    tricky = "a]]>b<c>&d ]]]]>"
    fields = wire.parse(wire.text_reply("o]]>penid", OUR_ID, 1700000000, tricky))
    assert fields == {
        "ToUserName": "o]]>penid",
        "FromUserName": OUR_ID,
        "CreateTime": "1700000000",
        "MsgType": "text",
        "Content": tricky,
    }
    long = "投" * 1000  # 3 bytes each: 3000 bytes
    capped = wire.parse(wire.text_reply(FOLLOWER, OUR_ID, 1, long))["Content"]
    assert len(capped.encode()) <= wire.CONTENT_MAX_BYTES
    assert capped.endswith("…") and set(capped[:-1]) == {"投"}
    assert len(capped.encode()) > wire.CONTENT_MAX_BYTES - 6  # cut near the limit, not far before
    assert wire.cap("short") == "short"
    # Characters XML cannot carry are dropped rather than breaking the reply.
    assert wire.parse(wire.text_reply(FOLLOWER, OUR_ID, 1, "bell\x07 ok"))["Content"] == "bell ok"


def test_parse_reads_text_with_an_encoding_declaration() -> None:
    assert wire.parse('<?xml version="1.0" encoding="UTF-8"?><xml><A><![CDATA[投票]]></A><B/></xml>') == {
        "A": "投票",
        "B": "",
    }


@pytest.mark.parametrize("body", [XXE, LAUGHS, b"not xml", b"", b"\x00\xff\xfe" * 50, b"<other/>", b"<xml>"])
def test_parse_refuses_dtds_entities_and_garbage(body: bytes) -> None:
    with pytest.raises(wire.BadMessage):
        wire.parse(body)


# --- The route: feature switch, signatures, hostile and garbage bodies ---------------


async def test_feature_off_without_token(client: Any) -> None:
    params = Platform(client, safe=False).query()
    assert (await client.get("/WeiXin", params={**params, "echostr": "x"})).status == 404
    assert (await client.post("/WeiXin", params=params, data=b"<xml/>")).status == 404


async def test_get_echoes_echostr_when_signed(plain: Platform) -> None:
    response = await plain.client.get("/WeiXin", params={**plain.query(), "echostr": "7391740581234"})
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert await response.text() == "7391740581234"


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0" * 40},
        {"signature": None},
        {"timestamp": None},
        {"nonce": None},
        {"nonce": "other"},
        {"signature": None, "timestamp": None, "nonce": None},
    ],
)
async def test_bad_or_missing_signature_is_403(plain: Platform, change: dict[str, str | None]) -> None:
    params = {**plain.query(), "echostr": "x"}
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    assert (await plain.client.get("/WeiXin", params=params)).status == 403
    response = await plain.client.post("/WeiXin", params=params, data=plain.text("help"))
    assert response.status == 403
    assert "success" not in await response.text()


async def test_bad_msg_signature_is_403_in_safe_mode(plain: Platform) -> None:
    encrypt = plain.cipher.encrypt(plain.text("help"))
    body = f"<xml><ToUserName>{OUR_ID}</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
    params = {**plain.query(), "encrypt_type": "aes", "msg_signature": wire.sign(TOKEN, "1", "2", encrypt)}
    assert (await plain.client.post("/WeiXin", params=params, data=body)).status == 403
    params.pop("msg_signature")
    assert (await plain.client.post("/WeiXin", params=params, data=body)).status == 403


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
@pytest.mark.parametrize("body", [XXE, LAUGHS], ids=["xxe", "billion-laughs"])
async def test_xxe_and_billion_laughs_get_success_without_expansion(
    settings: Settings, aiohttp_client: Any, safe: bool, body: bytes
) -> None:
    wechat_platform = await connect(aiohttp_client, settings, safe)
    response = await wechat_platform.post(body)
    assert response.status == 200
    assert await response.text() == "success"
    assert await wechat_platform.client.app[DB].fetch_all("SELECT dedup_key FROM wechat_message") == []


@pytest.mark.parametrize(
    "body",
    [b"", b"hello", b"\x00\x01\x02\xff" * 100, b"<xml><unclosed>", b"<rss/>", b"<xml></xml>", "<xml>é</xml>".encode()],
    ids=["empty", "text", "binary", "broken", "other-root", "no-fields", "latin"],
)
async def test_garbage_bodies_get_success(plain: Platform, body: bytes) -> None:
    response = await plain.client.post("/WeiXin", params=plain.query(), data=body)
    assert response.status == 200
    assert await response.text() == "success"


async def test_body_over_64_kib_is_refused_without_a_500(plain: Platform) -> None:
    huge = plain.text("x" * (wechat.MAX_BODY + 1))
    response = await plain.client.post("/WeiXin", params=plain.query(), data=huge.encode())
    assert response.status == 413

    async def chunks() -> Any:  # no Content-Length: the cap is enforced while reading
        for _ in range(20):
            yield b"<" * 8192

    response = await plain.client.post("/WeiXin", params=plain.query(), data=chunks())
    assert response.status == 413
    # Just under the cap is read and answered.
    fits = plain.text("help" + " " * (wechat.MAX_BODY - len(plain.text("help")) - 200))
    assert "list" in await plain.reply_to(fits)


async def test_safe_mode_garbage_gets_success(settings: Settings, aiohttp_client: Any) -> None:
    wechat_platform = await connect(aiohttp_client, settings, safe=True)
    for inner in ("not xml", "<xml><MsgType>text</MsgType></xml>"):  # the second has no sender
        response = await wechat_platform.post(inner)
        assert (response.status, await response.text()) == (200, "success")
    # A message sealed for another account's AppID, correctly signed.
    encrypt = wire.MessageCipher(AES_KEY, "wxSomeoneElse0000").encrypt(wechat_platform.text("help"))
    body = f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    response = await wechat_platform.client.post("/WeiXin", params=wechat_platform.query(encrypt), data=body)
    assert (response.status, await response.text()) == (200, "success")


async def test_safe_mode_without_aes_key_answers_success(settings: Settings, aiohttp_client: Any) -> None:
    client = await aiohttp_client(init(wechat_settings(settings, wechat_aes_key="")))
    response = await Platform(client, safe=True).post(Platform(client, safe=True).text("help"))
    assert (response.status, await response.text()) == (200, "success")


# --- Replays of a signed query (the signature covers timestamp and nonce, not the body) ---


async def test_a_stale_timestamp_is_403_and_counts_nothing(settings: Settings, aiohttp_client: Any) -> None:
    """The reported forgery: one signed query from 2015 and invented senders added votes."""
    wechat_platform = await connect(aiohttp_client, settings, safe=False)
    qid = await make_question(wechat_platform.client.app[DB])
    now = int(time.time())
    for timestamp in (1420070400, now - wechat.FRESH_FOR_SECONDS - 5, now + wechat.FRESH_FOR_SECONDS + 5):
        signed = wechat_platform.query(timestamp=timestamp)
        for n in range(5):
            forged = wechat_platform.text(f"{qid} 1", sender=f"oForged{n}")
            response = await wechat_platform.client.post("/WeiXin", params=signed, data=forged)
            assert response.status == 403
    assert await votes_of(wechat_platform.client.app[DB], qid) == [0, 0]
    # A few minutes either way is clock drift, not a replay.
    for timestamp in (now - wechat.FRESH_FOR_SECONDS + 30, now + wechat.FRESH_FOR_SECONDS - 30):
        assert "list" in await wechat_platform.reply_to(wechat_platform.text("help"), timestamp=timestamp)


@pytest.mark.parametrize("timestamp", ["", "soon", "-5", "1e9", "9" * 5000, "１７００００００００"])
async def test_a_malformed_timestamp_is_403(plain: Platform, timestamp: str) -> None:
    response = await plain.client.post("/WeiXin", params=plain.signed(timestamp, "1"), data=plain.text("help"))
    assert response.status == 403


async def test_the_url_check_is_not_held_to_the_clock(plain: Platform) -> None:
    """The GET echo happens once, when the account is set up: an old timestamp still gets its echo."""
    params = {**plain.query(timestamp=1420070400), "echostr": "5838479218127813673"}
    response = await plain.client.get("/WeiXin", params=params)
    assert (response.status, await response.text()) == (200, "5838479218127813673")


async def test_a_signed_query_carries_one_body_only(settings: Settings, aiohttp_client: Any) -> None:
    """Five invented senders on one fresh signed query: the first body is the only one ever acted on."""
    wechat_platform = await connect(aiohttp_client, settings, safe=False)
    db = wechat_platform.client.app[DB]
    qid = await make_question(db)
    signed = wechat_platform.query()
    first = wechat_platform.text(f"{qid} 1")
    response = await wechat_platform.client.post("/WeiXin", params=signed, data=first)
    reply = await response.text()
    assert response.status == 200 and "counted" in wire.parse(reply)["Content"]
    for n in range(5):
        forged = wechat_platform.text(f"{qid} 2", sender=f"oForged{n}")
        assert (await wechat_platform.client.post("/WeiXin", params=signed, data=forged)).status == 403
    # The same query with one byte more in the body is another body.
    assert (await wechat_platform.client.post("/WeiXin", params=signed, data=first + " ")).status == 403
    # The platform's retry (same query, same body) gets the first reply, byte for byte, and counts nothing.
    retry = await wechat_platform.client.post("/WeiXin", params=signed, data=first)
    assert (retry.status, await retry.text()) == (200, reply)
    assert await votes_of(db, qid) == [1, 0]
    # The same timestamp with another nonce is another query.
    other_nonce = {**signed, **wechat_platform.signed(signed["timestamp"], signed["nonce"] + "1")}
    response = await wechat_platform.client.post("/WeiXin", params=other_nonce, data=wechat_platform.text("help"))
    assert response.status == 200 and "list" in wire.parse(await response.text())["Content"]


async def test_a_signed_query_is_bound_across_processes(settings: Settings, aiohttp_client: Any) -> None:
    """Two app processes on one database: bodies racing on one query, then a replay on the other process."""
    one = await connect(aiohttp_client, settings, safe=False)
    other = Platform(await aiohttp_client(init(wechat_settings(settings, safe=False))), safe=False)
    db = one.client.app[DB]
    qid = await make_question(db)
    signed = one.query()
    bodies = [one.text(f"{qid} 1", sender=f"oRacer{n}") for n in range(6)]
    responses = await asyncio.gather(
        *(
            side.client.post("/WeiXin", params=signed, data=body)
            for side, body in zip([one, other] * 3, bodies, strict=True)
        )
    )
    assert sorted(response.status for response in responses) == [200] + [403] * 5
    assert await votes_of(db, qid) == [1, 0]
    winner = bodies[[response.status for response in responses].index(200)]
    loser = next(body for body in bodies if body != winner)
    for side in (one, other):
        assert (await side.client.post("/WeiXin", params=signed, data=loser)).status == 403
        assert (await side.client.post("/WeiXin", params=signed, data=winner)).status == 200
    assert await votes_of(db, qid) == [1, 0]


async def test_plaintext_is_refused_when_the_aes_key_is_set(settings: Settings, aiohttp_client: Any) -> None:
    wechat_platform = await connect(aiohttp_client, settings, safe=True)
    db = wechat_platform.client.app[DB]
    qid = await make_question(db)
    plaintext = Platform(wechat_platform.client, safe=False)
    response = await plaintext.post(plaintext.text(f"{qid} 1"))
    assert response.status == 403
    # encrypt_type=aes without Encrypt: msg_signature would then equal signature and prove nothing.
    params = plaintext.query()
    params |= {"encrypt_type": "aes", "msg_signature": params["signature"]}
    assert (await plaintext.client.post("/WeiXin", params=params, data=plaintext.text(f"{qid} 1"))).status == 403
    assert await votes_of(db, qid) == [0, 0]
    assert "counted" in await wechat_platform.say(f"{qid} 1")  # the encrypted message is served
    assert await votes_of(db, qid) == [1, 0]


async def test_compatible_mode_acts_only_on_the_encrypted_copy(settings: Settings, aiohttp_client: Any) -> None:
    """The plaintext copy beside Encrypt is unsigned: a forged one (other sender, other choice) changes nothing."""
    wechat_platform = await connect(aiohttp_client, settings, safe=True)
    db = wechat_platform.client.app[DB]
    qid = await make_question(db)
    forged = wechat_platform.text(f"{qid} 2", sender="oForger")
    response = await wechat_platform.post(wechat_platform.text(f"{qid} 1"), clear=forged)
    assert response.status == 200
    content = wire.parse(wechat_platform.cipher.decrypt(wire.parse(await response.text())["Encrypt"]))["Content"]
    assert "1. red" in content and "counted" in content
    assert await votes_of(db, qid) == [1, 0]
    voters = await db.fetch_all("SELECT wechat_openid FROM ballot WHERE question_id = %s", (qid,))
    assert [row["wechat_openid"] for row in voters] == [FOLLOWER]


async def test_the_access_log_has_no_query_string(
    settings: Settings, aiohttp_server: Any, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The app's own access log, as main.py sets it up: the signed query (and any openid in it) is never written."""
    app = init(wechat_settings(settings, safe=False))
    server = await aiohttp_server(app, access_log_class=AccessLogger, access_log=logging.getLogger("aiohttp.access"))
    wechat_platform = Platform(await aiohttp_client(server), safe=False)
    params = {**wechat_platform.query(), "openid": FOLLOWER, "echostr": "42"}
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        assert (await wechat_platform.client.get("/WeiXin", params=params)).status == 200
        assert (
            await wechat_platform.client.post("/WeiXin", params=params, data=wechat_platform.text("help"))
        ).status == 200
    lines = [record.getMessage() for record in caplog.records if record.name == "aiohttp.access"]
    assert len(lines) == 2 and all('/WeiXin"' in line for line in lines), lines
    logged = "\n".join(lines)
    for secret in (params["signature"], params["nonce"], FOLLOWER, "timestamp", "?"):
        assert secret not in logged


async def test_nginx_logs_the_callback_without_its_query(sqlite_settings: Settings, nginx_site: Stack) -> None:
    runner = web.AppRunner(init(wechat_settings(sqlite_settings, safe=False)))
    await runner.setup()
    for index in range(WORKERS):  # every upstream server, so no request is logged as an error
        await web.UnixSite(runner, str(nginx_site.run_dir / f"vote_{index}.sock")).start()
    wechat_platform = Platform(None, safe=False)
    params = {**wechat_platform.query(), "openid": FOLLOWER}
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{nginx_site.port}") as session:
            async with session.get("/WeiXin", params={**params, "echostr": "42"}) as response:
                assert (response.status, await response.text()) == (200, "42")
            async with session.post("/WeiXin", params=params, data=wechat_platform.text("help")) as response:
                assert response.status == 200 and "list" in await response.text()
            async with session.get("/healthz", params={"probe": "1"}) as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
    logged = await asyncio.to_thread((nginx_site.log_dir / "nginx-access.log").read_text)
    callback = [line for line in logged.splitlines() if "/WeiXin" in line]
    assert len(callback) == 2 and '"GET /WeiXin HTTP/1.1" 200' in callback[0], callback
    assert '"POST /WeiXin HTTP/1.1" 200' in callback[1]
    for secret in (params["signature"], params["nonce"], FOLLOWER):
        assert secret not in logged
    assert '"GET /healthz?probe=1 HTTP/1.1" 200' in logged  # other paths keep nginx's usual line


# --- Conversations -------------------------------------------------------------------


async def test_whole_conversation(platform: Platform) -> None:
    db = platform.client.app[DB]
    qid = await make_question(db, "What's up?", ("Not much", "The sky", "Just hacking again"))
    await make_question(db, "Already closed?", closes_in=-timedelta(minutes=1))

    help_en, help_zh = await platform.say("help"), await platform.say("  帮助 ")
    assert "list" in help_en and "result <id>" in help_en
    assert "列表" in help_zh and "结果" in help_zh and "list" not in help_zh

    listing = await platform.say("list")
    assert f"#{qid} What's up?" in listing and "Already closed?" not in listing

    shown = await platform.say(str(qid))
    assert "1. Not much" in shown and "3. Just hacking again" in shown and f"{qid} 1" in shown

    vote = platform.text(f"{qid} 2")
    reply = await platform.reply_to(vote)
    assert "The sky" in reply and "counted" in reply
    assert await votes_of(db, qid) == [0, 1, 0]

    # The platform retries the same MsgId: the same reply, and the vote is not counted again.
    assert await platform.reply_to(vote) == reply
    assert await votes_of(db, qid) == [0, 1, 0]

    assert "already voted" in await platform.say(f"{qid} 3")
    assert "已经" in await platform.say(f"投票 {qid} 1")
    assert await votes_of(db, qid) == [0, 1, 0]

    results = await platform.say(f"result {qid}")
    assert "2. The sky: 1 (100.0%)" in results and "Total votes: 1" in results
    assert "The sky：1 票（100.0%）" in await platform.say(f"结果 {qid}")
    assert "Your vote: 2. The sky" in await platform.say(str(qid))

    welcome = await platform.reply_to(platform.event("subscribe"))
    assert "欢迎" in welcome and "Welcome" in welcome and "列表" in welcome and "list" in welcome
    for event in ("unsubscribe", "SCAN", "CLICK", "VIEW"):
        assert await platform.reply_to(platform.event(event)) == "success"
    assert "help" in await platform.say("what is this?")


async def test_closing_time_is_said_in_the_default_zone_named(settings: Settings, aiohttp_client: Any) -> None:
    shanghai = await connect(aiohttp_client, settings, safe=False)
    db = shanghai.client.app[DB]
    lunch, dinner = await make_question(db, "Lunch?"), await make_question(db, "晚饭吃什么？")
    for qid in (lunch, dinner):
        await set_poll(db, qid, closes_at=datetime(2099, 12, 1, 10, 0))
    assert "Closes 2099-12-01 18:00 (Asia/Shanghai)." in await shanghai.say(str(lunch))
    assert "截止时间 2099-12-01 18:00（Asia/Shanghai）" in await shanghai.say(str(dinner))

    london = wechat_settings(settings, safe=False, default_timezone="Europe/London")
    assert "Closes 2099-12-01 10:00 (Europe/London)." in await Platform(
        await aiohttp_client(init(london)), safe=False
    ).say(str(lunch))


async def test_compatible_mode_prefers_the_encrypted_copy(settings: Settings, aiohttp_client: Any) -> None:
    wechat_platform = await connect(aiohttp_client, settings, safe=True)
    response = await wechat_platform.post(wechat_platform.text("list"), clear=wechat_platform.text("help"))
    assert response.status == 200
    fields = wire.parse(await response.text())
    assert set(fields) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert "No polls are open" in wire.parse(wechat_platform.cipher.decrypt(fields["Encrypt"]))["Content"]


async def test_parallel_retries_count_once(platform: Platform) -> None:
    db = platform.client.app[DB]
    qid = await make_question(db)
    vote = platform.text(f"{qid} 1")
    replies = await asyncio.gather(*(platform.reply_to(vote) for _ in range(6)))
    assert await votes_of(db, qid) == [1, 0]
    counted = [reply for reply in replies if reply != "success"]
    assert counted and all("counted" in reply for reply in counted)  # retries of a running first attempt: success


async def test_retry_while_first_attempt_runs_answers_success_without_acting(plain: Platform) -> None:
    db = plain.client.app[DB]
    qid = await make_question(db)
    msg_id = 424242424242
    await wechat_message.claim(db, f"msg:{msg_id}", utcnow())  # the first attempt is still running
    assert await plain.reply_to(plain.text(f"{qid} 1", msg_id=msg_id)) == "success"
    assert await votes_of(db, qid) == [0, 0]


async def test_subscribe_retry_gets_the_same_welcome(plain: Platform) -> None:
    event = plain.event("SUBSCRIBE", create_time=1714036504)
    first = await plain.reply_to(event)
    assert "Welcome" in first and await plain.reply_to(event) == first
    rows = await plain.client.app[DB].fetch_all("SELECT dedup_key FROM wechat_message")
    # One delivery key for both tries, and one key per signed query (each try had its own).
    assert sorted(row["dedup_key"][:4] for row in rows) == ["evt:", "qry:", "qry:"]


def test_event_keys_tell_openids_apart_by_case() -> None:
    """MySQL compares dedup_key without case; openids differing only in case must not collide."""
    upper = wechat.dedup_key({"FromUserName": "oABC", "CreateTime": "1"})
    lower = wechat.dedup_key({"FromUserName": "oabc", "CreateTime": "1"})
    assert upper.lower() != lower.lower() and len(upper) < 191
    assert wechat.dedup_key({"MsgId": "1234567890123456789", "FromUserName": "o"}) == "msg:1234567890123456789"


async def test_voice_uses_recognition(plain: Platform) -> None:
    db = plain.client.app[DB]
    qid = await make_question(db)
    assert "counted" in await plain.reply_to(plain.text(f"{qid} 2。", kind="voice", field="Recognition"))
    assert await votes_of(db, qid) == [0, 1]
    # Without recognition (switched off for the account) there is nothing to read.
    unreadable = await plain.reply_to(plain.text("", kind="voice", field="Format"))
    assert "only read text" in unreadable and "文字" in unreadable
    assert "only read text" in await plain.reply_to(plain.text("http://img", kind="image", field="PicUrl"))


async def test_full_width_numbers_and_languages(plain: Platform) -> None:
    db = plain.client.app[DB]
    chinese = await make_question(db, "你最喜欢哪个颜色？", ("红", "绿"))
    english = await make_question(db, "Favourite colour?", ("red", "green"))
    # Full-width digits and space (as a Chinese keyboard types them) are plain numbers.
    full_width = "".join(chr(0xFF10 + int(digit)) for digit in str(chinese))
    assert "投票成功：2. 绿" in await plain.say(f"{full_width}\u3000\uff12")
    assert await votes_of(db, chinese) == [0, 1]
    # Bare numbers are answered in the poll's language; words in their own.
    assert "Thanks, your vote for 1. red" in await plain.say(f"{english},1")
    assert "1. red：1 票（100.0%）" in await plain.say(f"结果{english}")
    # Nothing to tell the language by: both.
    both = await plain.say("999999")
    assert "没有编号为 999999 的投票" in both and "There is no poll 999999" in both


async def test_multi_choice_and_choice_numbers(plain: Platform) -> None:
    db = plain.client.app[DB]
    qid = await make_question(db, "Pick two", ("a", "b", "c"))
    await set_poll(db, qid, max_choices=2)
    assert "up to 2" in await plain.say(str(qid))
    assert "from 1 to 3" in await plain.say(f"{qid} 4")
    assert "from 1 to 3" in await plain.say(f"{qid} 0")
    assert "at most 2" in await plain.say(f"{qid} 1 2 3")
    assert await votes_of(db, qid) == [0, 0, 0]
    assert "1. a, 3. c" in await plain.say(f"vote {qid} 3 1")
    assert await votes_of(db, qid) == [1, 0, 1]


async def test_long_polls_fit_in_one_reply(plain: Platform) -> None:
    db = plain.client.app[DB]
    qid = await make_question(db, "长" * 200, tuple(f"{n:02d}" + "选" * 198 for n in range(20)))
    for command in (str(qid), f"结果 {qid}"):
        reply = await plain.say(command)
        assert len(reply.encode()) <= wire.CONTENT_MAX_BYTES
        assert reply.startswith(f"#{qid} 长") and "1. 00选" in reply and "选…" in reply


@pytest.mark.parametrize("text", ["list 3", "help me", "3 x", "投票", "12345678901234567890", "result"])
async def test_unknown_commands_get_the_hint(plain: Platform, text: str) -> None:
    reply = await plain.say(text)
    assert "help" in reply or "帮助" in reply


async def test_unknown_unpublished_and_deleted_polls(plain: Platform) -> None:
    db = plain.client.app[DB]
    scheduled = await make_question(db, "Not yet", published=-timedelta(days=1))
    deleted = await make_question(db, "Gone")
    await question.set_deleted(db, deleted, True)
    for qid in (scheduled, deleted, 987654, 2**35):  # 2**35 overflows the INT id column
        for command in (f"{qid}", f"{qid} 1", f"vote {qid} 1", f"result {qid}"):
            assert f"There is no poll {qid}" in await plain.say(command), command
        assert f"没有编号为 {qid} 的投票" in await plain.say(f"结果 {qid}")
    assert await votes_of(db, scheduled) == [0, 0]
    assert "No polls are open" in await plain.say("list")


async def test_closed_poll_refuses_the_vote(plain: Platform) -> None:
    db = plain.client.app[DB]
    qid = await make_question(db, closes_in=-timedelta(minutes=1), votes=(2, 1))
    assert "closed" in await plain.say(str(qid))
    assert "closed" in await plain.say(f"{qid} 1")
    assert await votes_of(db, qid) == [2, 1]
    assert "1. red: 2 (66.7%)" in await plain.say(f"result {qid}")


async def test_hidden_results_stay_hidden_like_on_the_site(plain: Platform) -> None:
    db = plain.client.app[DB]
    after_vote = await make_question(db, "After vote", votes=(3, 1))
    await set_poll(db, after_vote, results_visibility="after_vote")
    after_close = await make_question(db, "After close", votes=(3, 1), closes_in=timedelta(days=1))
    await set_poll(db, after_close, results_visibility="after_close")

    hidden = await plain.say(f"result {after_vote}")
    assert "once you have voted" in hidden and "%" not in hidden
    await plain.say(f"{after_vote} 2")
    assert "2. green: 2 (40.0%)" in await plain.say(f"result {after_vote}")

    await plain.say(f"{after_close} 1")
    assert "when the poll closes" in await plain.say(f"result {after_close}")
    await polls.close_poll(plain.client.app, {"id": after_close})  # as the owner's Close button does
    assert "1. red: 4 (80.0%)" in await plain.say(f"result {after_close}")


async def test_results_waiting_for_the_reveal_stay_hidden_until_it(plain: Platform) -> None:
    db = plain.client.app[DB]
    qid = await make_question(db, "Revealed later", votes=(3, 1))
    await set_poll(db, qid, results_visibility="on_reveal")
    await plain.say(f"{qid} 1")
    hidden = await plain.say(f"result {qid}")
    assert "when the presenter reveals them" in hidden and "%" not in hidden
    poll = {"id": qid, "results_visibility": "on_reveal"}
    await polls.reveal_results(plain.client.app, poll)  # as the presenter's Reveal button does
    assert "1. red: 4 (80.0%)" in await plain.say(f"result {qid}")


async def test_list_shows_open_polls_newest_first_and_bounded(plain: Platform) -> None:
    db = plain.client.app[DB]
    ids = [await make_question(db, f"Poll {n}", published=timedelta(hours=30 - n)) for n in range(15)]
    await make_question(db, "Closed newest", published=timedelta(minutes=1), closes_in=-timedelta(seconds=1))
    listing = (await plain.say("列表")).splitlines()
    assert listing[0] == "进行中的投票："
    assert listing[1:11] == [f"#{qid} Poll {n}" for n, qid in reversed(list(enumerate(ids)))][:10]


async def test_internal_failure_answers_success(plain: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*args: object) -> bool:
        raise RuntimeError("a bug")

    monkeypatch.setattr(wechat_message, "claim", broken)
    response = await plain.post(plain.text("help"))
    assert (response.status, await response.text()) == (200, "success")


async def test_frozen_database_answers_success_in_time(
    clean_mysql: str, proxy: Callable[..., Any], aiohttp_client: Any
) -> None:
    db_url = urlsplit(clean_mysql)
    db_proxy = await proxy(db_url.hostname, db_url.port or 3306)
    proxied = clean_mysql.replace(db_url.netloc, f"{db_url.username or 'root'}@127.0.0.1:{db_proxy.port}")
    settings = make_settings({"VOTE_DATABASE_URL": proxied})  # production timeouts: 2 s + 3 s
    wechat_platform = await connect(aiohttp_client, settings, safe=False)
    assert "list" in await wechat_platform.say("help")
    db_proxy.freeze()
    started = time.monotonic()
    response = await wechat_platform.post(wechat_platform.text("list"))
    assert (response.status, await response.text()) == (200, "success")
    assert time.monotonic() - started < 5.0
    await db_proxy.restore()


async def test_old_message_keys_are_pruned(db: Database) -> None:
    now = utcnow()
    assert await wechat_message.claim(db, "msg:1", now - timedelta(days=3))
    assert await wechat_message.claim(db, "msg:2", now)
    assert not await wechat_message.claim(db, "msg:2", now)
    await wechat_message.save_reply(db, "msg:2", "<xml/>")
    assert await wechat_message.prune(db, now - wechat.DEDUP_KEEP) == 1
    assert await wechat_message.stored_reply(db, "msg:1") is None
    assert await wechat_message.stored_reply(db, "msg:2") == "<xml/>"
