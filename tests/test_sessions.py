"""Session storage: server-side data under a random id, real expiry, real deletion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp_session
from aiohttp import web

from application import init
from application.keys import DB, REDIS, SETTINGS
from application.web.sessions import COOKIE_NAME
from config import Settings
from models.clock import utcnow
from tests.browser import use_session


async def remember(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    session["colour"] = request.query["colour"]
    return web.Response(text="saved")


async def recall(request: web.Request) -> web.Response:
    session = await aiohttp_session.get_session(request)
    return web.Response(text=session.get("colour", "nothing"))


async def forget(request: web.Request) -> web.Response:
    (await aiohttp_session.get_session(request)).invalidate()
    return web.Response(text="gone")


async def stored(app: web.Application, session_id: str) -> bool:
    redis = app[REDIS]
    if redis is not None:
        return await redis.exists(f"{app[SETTINGS].redis_prefix}session:{session_id}") == 1
    row = await app[DB].fetch_one(
        "SELECT id FROM web_session WHERE id = %s AND expires_at > %s", (session_id, utcnow())
    )
    return row is not None


async def test_session_round_trip_and_server_side_deletion(settings: Settings, aiohttp_client: Any) -> None:
    app = init(settings)
    app.router.add_get("/_test/remember", remember)
    app.router.add_get("/_test/recall", recall)
    app.router.add_get("/_test/forget", forget)
    client = await aiohttp_client(app)

    assert await (await client.get("/")).text()
    assert COOKIE_NAME not in client.session.cookie_jar.filter_cookies(client.make_url("/"))  # no session for reads

    response = await client.get("/_test/remember", params={"colour": "teal"})
    cookie = response.cookies[COOKIE_NAME]
    session_id = cookie.value
    assert len(session_id) >= 43  # 256 random bits, url-safe base64
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == str(settings.session_idle_seconds)
    assert not cookie["secure"]
    assert await stored(app, session_id)
    assert "teal" not in session_id

    assert await (await client.get("/_test/recall")).text() == "teal"
    await client.get("/_test/forget")
    assert not await stored(app, session_id)

    # A copy of the old cookie is worthless once the session is gone.
    use_session(client, session_id)
    assert await (await client.get("/_test/recall")).text() == "nothing"


async def test_expired_database_sessions_are_purged(sqlite_settings: Settings, aiohttp_client: Any) -> None:
    app = init(sqlite_settings)
    app.router.add_get("/_test/remember", remember)
    client = await aiohttp_client(app)
    await app[DB].execute(
        "INSERT INTO web_session (id, data, expires_at) VALUES (%s, %s, %s)",
        ("old", "{}", utcnow() - timedelta(days=1)),
    )
    await client.get("/_test/remember", params={"colour": "red"})
    ids = [row["id"] for row in await app[DB].fetch_all("SELECT id FROM web_session")]
    assert "old" not in ids and len(ids) == 1
