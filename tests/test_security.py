"""Security behaviour across processes: two app instances sharing MariaDB and Redis."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from application import init
from application.keys import DB, SETTINGS
from application.web.security import client_ip
from config import Settings
from tests.browser import PASSWORD, csrf_from, form_token, login, logout, register, session_id, use_session
from tests.conftest import make_settings
from tests.factories import make_question


@pytest.fixture
async def two_instances(mysql_settings: Settings, aiohttp_client: Callable[..., Any]) -> tuple[Any, Any]:
    """Two app instances, as two processes behind nginx: same database, same Redis."""
    return await aiohttp_client(init(mysql_settings)), await aiohttp_client(init(mysql_settings))


async def test_a_form_token_from_instance_a_works_on_b(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    await register(a)
    token = csrf_from(await (await a.get("/me")).text())
    use_session(b, session_id(a))
    assert (await b.get("/me")).status == 200  # the session itself is shared
    response = await b.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 302
    assert (await a.get("/me", allow_redirects=False)).status == 302  # logged out everywhere


async def test_a_visitor_token_from_instance_a_works_on_b(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    qid = await make_question(a.app[DB])
    page = await a.get(f"/questions/{qid}")
    assert session_id(a) is None  # the page made no session
    answer = await b.post(f"/questions/{qid}/vote", data={"csrf_token": csrf_from(await page.text())})
    assert answer.status == 200 and answer.url.path == "/login"  # sent to log in, not refused


async def test_session_rotated_on_a_is_dead_on_b(two_instances: tuple[Any, Any]) -> None:
    a, b = two_instances
    await register(a)
    await a.post("/logout", data={"csrf_token": csrf_from(await (await a.get("/me")).text())})
    await a.get("/login")
    before = session_id(a)
    await login(a, "voter1@example.com")
    use_session(b, before)
    assert (await b.get("/me", allow_redirects=False)).status == 302
    use_session(b, session_id(a))
    assert (await b.get("/me")).status == 200


async def test_failed_logins_are_throttled_across_instances(
    clean_mysql: str, redis_url: str, aiohttp_client: Callable[..., Any]
) -> None:
    settings = make_settings({"VOTE_DATABASE_URL": clean_mysql, "VOTE_REDIS_URL": redis_url, "VOTE_LOGIN_RATE": "3"})
    a, b = await aiohttp_client(init(settings)), await aiohttp_client(init(settings))
    await register(a)
    for client in (a, b, a):
        assert (await login(client, "voter1@example.com", "wrong password")).status == 400
    blocked = await login(b, "voter1@example.com", PASSWORD)  # even the right password waits now
    assert blocked.status == 429
    assert "Too many failed attempts" in await blocked.text()
    use_session(a, None)  # an API client with no cookie
    api = await a.post("/api/v1/tokens", json={"account": "voter1@example.com", "password": PASSWORD, "name": "x"})
    assert api.status == 429
    assert (await api.json())["error_code"] == 20012
    # Another account from the same address is not affected.
    await register(b, 2)
    await b.post("/logout", data={"csrf_token": csrf_from(await (await b.get("/me")).text())})
    assert (await login(b, "voter2@example.com")).status == 302


async def test_throttle_on_the_embedded_default(sqlite_settings: Settings, aiohttp_client: Any) -> None:
    client = await aiohttp_client(init(sqlite_settings.model_copy(update={"login_rate": 2})))
    for _ in range(2):
        assert (await login(client, "someone@example.com", "wrong password")).status == 400
    assert (await login(client, "someone@example.com", "wrong password")).status == 429


async def login_attempts(client: Any) -> Callable[[str, str], Awaitable[int]]:
    """A way to post logins as fast as a script can, all with one login page's token: each
    (account, password) gives the answer's status."""
    token = await form_token(client, "/login")

    async def attempt(account: str, password: str) -> int:
        data = {"account": account, "password": password, "csrf_token": token}
        return (await client.post("/login", data=data, allow_redirects=False)).status

    return attempt


async def login_burst(client: Any, attempts: list[tuple[str, str]]) -> list[int]:
    """Post these (account, password) logins all at once; their statuses."""
    attempt = await login_attempts(client)
    return list(await asyncio.gather(*(attempt(account, password) for account, password in attempts)))


async def burst_target(settings: Settings, aiohttp_client: Any, login_rate: int = 10) -> Any:
    """An app whose requests may wait longer for a database connection: on this busy 2-core
    machine, with passwords being hashed, a burst of requests can wait more than the usual 2 s for
    one of the ten MariaDB connections (503), and these tests are about the count, not the pool."""
    relaxed = {"login_rate": login_rate, "db_pool_min": 10, "db_acquire_timeout": 15.0}
    return await aiohttp_client(init(settings.model_copy(update=relaxed)))


async def test_a_parallel_burst_gets_no_more_guesses_than_a_sequence(settings: Settings, aiohttp_client: Any) -> None:
    client = await burst_target(settings, aiohttp_client)
    await register(client)
    await logout(client)
    statuses = await login_burst(client, [("voter1@example.com", f"wrong guess {n}") for n in range(40)])
    assert Counter(statuses) == {400: 10, 429: 30}  # VOTE_LOGIN_RATE is 10
    assert (await login(client, "voter1@example.com")).status == 429


async def test_the_right_password_late_in_a_burst_does_not_log_in(settings: Settings, aiohttp_client: Any) -> None:
    client = await burst_target(settings, aiohttp_client, login_rate=3)
    await register(client)
    await logout(client)
    attempt = await login_attempts(client)
    early = [asyncio.create_task(attempt("voter1@example.com", f"wrong guess {n}")) for n in range(24)]
    # The 25th of the burst goes once the burst's first refusal is back: the tries are taken
    # (their passwords may still be being checked), whatever order the server saw them in.
    for answer in asyncio.as_completed(early):
        if await answer == 429:
            break
    late = [attempt("voter1@example.com", PASSWORD), *(attempt("voter1@example.com", "wrong") for _ in range(5))]
    statuses = [*await asyncio.gather(*early), *await asyncio.gather(*late)]
    assert 302 not in statuses and statuses[24] == 429
    assert Counter(statuses) == {400: 3, 429: 27}
    assert (await client.get("/me", allow_redirects=False)).status == 302  # still anonymous


async def test_email_and_phone_of_one_account_share_its_count(settings: Settings, aiohttp_client: Any) -> None:
    client = await burst_target(settings, aiohttp_client)
    await register(client)  # voter1@example.com, phone 13700000001
    await logout(client)
    assert Counter(await login_burst(client, [("voter1@example.com", "wrong guess")] * 10)) == {400: 10}
    assert (await login(client, "13700000001")).status == 429  # the phone is the same account
    # An account that does not exist counts per identifier typed, and is refused alike.
    assert Counter(await login_burst(client, [("nobody@example.com", "wrong guess")] * 10)) == {400: 10}
    assert (await login(client, "nobody@example.com", "wrong guess")).status == 429
    assert (await login(client, "13900000009", "wrong guess")).status == 400


async def test_a_burst_on_the_token_endpoint_is_throttled_alike(settings: Settings, aiohttp_client: Any) -> None:
    client = await burst_target(settings, aiohttp_client, login_rate=3)
    await register(client)
    use_session(client, None)  # an API client with no cookie
    body = {"account": "13700000001", "password": "wrong guess", "name": "cli"}
    responses = await asyncio.gather(*(client.post("/api/v1/tokens", json=body) for _ in range(12)))
    assert Counter(response.status for response in responses) == {400: 3, 429: 9}
    right = await client.post("/api/v1/tokens", json={**body, "account": "voter1@example.com", "password": PASSWORD})
    assert right.status == 429
    assert (await right.json())["error_code"] == 20012


async def test_security_headers_on_pages_errors_and_redirects(client: Any) -> None:
    for path in ("/", "/no-such-page", "/me", "/static/css/app.css"):
        response = await client.get(path, allow_redirects=False)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]


async def test_bodies_over_one_mib_get_413(client: Any) -> None:
    token = await form_token(client, "/register")
    response = await client.post("/register", data={"csrf_token": token, "name": "x" * (1024 * 1024 + 10)})
    assert response.status == 413
    api = await client.post(
        "/api/v1/register", data=b"{" + b" " * (1024 * 1024 + 10) + b"}", headers={"Content-Type": "application/json"}
    )
    assert api.status == 413
    assert (await api.json())["error_code"] == 20015


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "", "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # an untrusted peer cannot claim another address
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client may forge the left part
        ("127.0.0.1", "198.51.100.7, 10.0.0.2", "198.51.100.7"),  # 10.0.0.2 is a trusted hop here
        ("127.0.0.1", "", "127.0.0.1"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_from_trusted_proxies(peer: str, forwarded: str, expected: str) -> None:
    app = web.Application()
    app[SETTINGS] = make_settings({"VOTE_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"})
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    request = make_mocked_request("GET", "/", headers=headers, app=app)
    request = request.clone(remote=peer)
    assert client_ip(request) == expected
