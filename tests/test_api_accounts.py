"""The JSON API for accounts: register, tokens, bearer auth, and bad input that never 500s."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from application import init
from application.cluster import token_cache
from application.cluster.token_cache import LIFETIME_SECONDS as TOKEN_LIFETIME
from application.keys import DB
from config import Settings
from models import api_token, user
from tests.browser import PASSWORD, csrf_from, register

ACCOUNT = {"name": "Api User", "email": "api@example.com", "phone": "13600000001", "password": PASSWORD}


async def api_register(client: Any, **overrides: Any) -> Any:
    return await client.post("/api/v1/register", json={**ACCOUNT, **overrides})


async def new_token(client: Any, account: str = "api@example.com", name: str = "laptop") -> dict[str, Any]:
    response = await client.post("/api/v1/tokens", json={"account": account, "password": PASSWORD, "name": name})
    assert response.status == 201, await response.text()
    return await response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_register_then_duplicate(client: Any) -> None:
    response = await api_register(client)
    assert response.status == 201
    body = await response.json()
    assert body["email"] == "api@example.com" and body["name"] == "Api User" and isinstance(body["id"], int)
    assert "password" not in body
    again = await api_register(client, phone="13600000002")
    assert again.status == 409
    error = await again.json()
    assert error["error_code"] == 20001
    assert "email" in error["fields"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x"}, 400, 20002),
        ({**ACCOUNT, "email": "nope"}, 400, 20002),
        ({**ACCOUNT, "phone": 13600000001}, 400, 20002),
        ({**ACCOUNT, "name": None}, 400, 20002),
        ({**ACCOUNT, "password": "12345678"}, 400, 20002),
        (["not", "an", "object"], 400, 20005),
    ],
)
async def test_register_rejects_bad_input(client: Any, body: Any, status: int, code: int) -> None:
    response = await client.post("/api/v1/register", json=body)
    assert response.status == status
    assert (await response.json())["error_code"] == code
    assert await client.app[DB].fetch_all("SELECT id FROM user") == []


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b"{not json", "application/json", 400),
        (b'{"name": "\xff\xfe"}', "application/json", 400),
        (b"", "application/json", 400),
    ],
)
async def test_non_json_bodies(client: Any, data: bytes, content_type: str, status: int) -> None:
    response = await client.post("/api/v1/register", data=data, headers={"Content-Type": content_type})
    assert response.status == status
    body = await response.json()
    assert set(body) >= {"error_code", "error_msg"}


async def test_tokens_are_shown_once_stored_hashed_listed_and_revoked(client: Any) -> None:
    await api_register(client)
    created = await new_token(client)
    token = created["token"]
    assert created["name"] == "laptop" and token.startswith("vote_") and len(token) > 40
    stored = await client.app[DB].fetch_all("SELECT token_hash FROM api_token")
    assert token not in str(stored)

    listing = await client.get("/api/v1/tokens", headers=bearer(token))
    assert listing.status == 200
    items = (await listing.json())["items"]
    assert [item["name"] for item in items] == ["laptop"]
    assert "token" not in items[0] and "token_hash" not in items[0]

    other = await new_token(client, name="phone")
    revoked = await client.delete(f"/api/v1/tokens/{other['id']}", headers=bearer(token))
    assert revoked.status == 204
    dead = await client.get("/api/v1/tokens", headers=bearer(other["token"]))
    assert dead.status == 401
    assert (await dead.json())["error_code"] == 20007
    assert (await client.delete(f"/api/v1/tokens/{other['id']}", headers=bearer(token))).status == 404


async def test_tokens_of_another_user_cannot_be_revoked(client: Any) -> None:
    await api_register(client)
    await api_register(client, email="two@example.com", phone="13600000002")
    mine = await new_token(client)
    theirs = await new_token(client, account="two@example.com")
    assert (await client.delete(f"/api/v1/tokens/{theirs['id']}", headers=bearer(mine["token"]))).status == 404
    assert (await client.get("/api/v1/tokens", headers=bearer(theirs["token"]))).status == 200


async def test_token_errors_keep_the_seed_codes(client: Any) -> None:
    await api_register(client)
    wrong = await client.post(
        "/api/v1/tokens", json={"account": "api@example.com", "password": "nope nope", "name": "x"}
    )
    assert wrong.status == 400 and (await wrong.json())["error_code"] == 20004
    malformed = await client.post("/api/v1/tokens", json={"account": "@@", "password": PASSWORD, "name": "x"})
    assert malformed.status == 400 and (await malformed.json())["error_code"] == 20003
    missing = await client.post("/api/v1/tokens", json={"account": "api@example.com"})
    assert missing.status == 400 and set((await missing.json())["fields"]) == {"password", "name"}


async def test_api_without_credentials_is_401_and_bad_bearer_too(client: Any) -> None:
    assert (await client.get("/api/v1/tokens")).status == 401
    assert (await client.delete("/api/v1/tokens/1")).status == 401
    for header in ("Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz"):
        response = await client.get("/api/v1/tokens", headers={"Authorization": header})
        assert response.status == 401
        assert (await response.json())["error_code"] == 20007


async def test_disabled_users_tokens_stop_at_once(client: Any) -> None:
    await api_register(client)
    token = (await new_token(client))["token"]
    found = await user.by_account(client.app[DB], "api@example.com")
    await user.set_active(client.app[DB], found["id"], False)
    assert (await client.get("/api/v1/tokens", headers=bearer(token))).status == 401
    refused = await client.post(
        "/api/v1/tokens", json={"account": "api@example.com", "password": PASSWORD, "name": "x"}
    )
    assert refused.status == 403


async def test_session_cookie_on_the_api_needs_the_csrf_header(client: Any) -> None:
    await register(client)
    page = await (await client.get("/me")).text()
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    created = await client.post(
        "/api/v1/tokens", json={"account": "voter1@example.com", "password": PASSWORD, "name": "a"}
    )
    assert created.status == 403
    assert (await created.json())["error_code"] == 20013
    ok = await client.post(
        "/api/v1/tokens",
        json={"account": "voter1@example.com", "password": PASSWORD, "name": "a"},
        headers={"X-CSRF-Token": token},
    )
    assert ok.status == 201
    assert (await client.get("/api/v1/tokens")).status == 200  # reads need no token


async def eventually_refused(client: Any, token: str) -> bool:
    """401 well within the token cache's lifetime: only an announcement can explain it."""
    deadline = time.monotonic() + TOKEN_LIFETIME / 4
    while time.monotonic() < deadline:
        if (await client.get("/api/v1/tokens", headers=bearer(token))).status == 401:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_revoked_and_disabled_tokens_stop_on_every_process(mysql_settings: Settings, aiohttp_client: Any) -> None:
    a, b = await aiohttp_client(init(mysql_settings)), await aiohttp_client(init(mysql_settings))
    await api_register(a)
    keep, other = await new_token(a), await new_token(a, name="phone")
    assert (await b.get("/api/v1/tokens", headers=bearer(other["token"]))).status == 200  # b remembers it now
    assert (await a.delete(f"/api/v1/tokens/{other['id']}", headers=bearer(keep["token"]))).status == 204
    assert await eventually_refused(b, other["token"])

    assert (await b.get("/api/v1/tokens", headers=bearer(keep["token"]))).status == 200
    await register(a, 9)
    admin = await user.by_account(a.app[DB], "voter9@example.com")
    await a.app[DB].execute("UPDATE user SET is_admin = 1 WHERE id = %s", (admin["id"],))
    owner = await user.by_account(a.app[DB], "api@example.com")
    csrf = csrf_from(await (await a.get("/admin")).text())
    response = await a.post(f"/admin/users/{owner['id']}/disable", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 302
    assert await eventually_refused(b, keep["token"])


async def test_concurrent_requests_with_one_token_share_one_lookup(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api_register(client)
    token = (await new_token(client))["token"]
    looked_up: list[str] = []
    real_owners_of = api_token.owners_of

    async def counting_owners_of(db: Any, tokens: list[str]) -> Any:
        looked_up.extend(tokens)
        return await real_owners_of(db, tokens)

    monkeypatch.setattr(api_token, "owners_of", counting_owners_of)
    answers = await asyncio.gather(*(client.get("/api/v1/tokens", headers=bearer(token)) for _ in range(10)))
    assert [answer.status for answer in answers] == [200] * 10
    assert looked_up == [token]  # then remembered: no lookup at all
    assert (await client.get("/api/v1/tokens", headers=bearer(token))).status == 200
    assert looked_up == [token]


async def test_a_token_s_last_use_is_written_within_seconds(
    settings: Settings, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_cache, "USE_FLUSH_SECONDS", 0.05)
    client = await aiohttp_client(init(settings))
    await api_register(client)
    token = (await new_token(client))["token"]

    async def last_used() -> Any:
        listing = await client.get("/api/v1/tokens", headers=bearer(token))
        return (await listing.json())["items"][0]["last_used_at"]

    assert await last_used() is None  # the first use is not written by the request itself
    await asyncio.sleep(0.2)
    assert await last_used() is not None
