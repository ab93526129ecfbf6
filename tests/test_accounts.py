"""Accounts in the browser: register, log in, log out, sessions, the user's page, admins."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from application import init
from application.keys import DB
from application.web.sessions import COOKIE_NAME
from config import Settings
from models import user
from tests.browser import PASSWORD, csrf_from, form_token, login, logout, register, session_id, use_session


async def test_register_logs_in_and_stores_only_a_hash(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    response = await register(client, email="New.Voter@Example.com")
    assert response.status == 302
    assert response.headers["Location"] == "/"
    me = await client.get("/me")
    assert me.status == 200
    assert "new.voter@example.com" in await me.text()

    rows = await client.app[DB].fetch_all("SELECT * FROM user")
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert PASSWORD not in stored
    assert rows[0]["password"].startswith("$argon2id$")
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 41}, "name", "Use at most 40 characters."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address"),
        ({"email": "a" * 250 + "@example.com"}, "email", "Use at most 254 characters."),
        ({"phone": "12345"}, "phone", "Enter a mainland mobile number"),
        ({"phone": "12000000000"}, "phone", "Enter a mainland mobile number"),
        ({"password": "short"}, "password", "Use at least 8 characters."),
        ({"password": "x" * 129}, "password", "Use at most 128 characters."),
        ({"password": "password123"}, "password", "too common"),
        ({"password": "Qwertyuiop"}, "password", "too common"),
    ],
)
async def test_registration_errors_are_shown_per_field_and_nothing_is_stored(
    client: Any, overrides: dict[str, str], field: str, message: str
) -> None:
    response = await register(client, **overrides)
    assert response.status == 400
    html = await response.text()
    assert f'id="{field}-error"' in html
    assert message in html
    assert await client.app[DB].fetch_all("SELECT id FROM user") == []


async def test_any_unicode_password_within_limits_works(client: Any) -> None:
    password = "密码🔑 with spaces and ünïcödé"
    assert (await register(client, password=password)).status == 302
    await logout(client)
    assert (await login(client, "voter1@example.com", password)).status == 302


async def test_duplicate_email_or_phone_is_refused(client: Any) -> None:
    await register(client, 1)
    await logout(client)
    again = await register(client, 2, email="voter1@example.com")
    assert again.status == 409
    assert "already registered" in await again.text()
    phone_again = await register(client, 3, phone="13700000001")
    assert phone_again.status == 409
    assert len(await client.app[DB].fetch_all("SELECT id FROM user")) == 1


async def test_login_by_email_or_phone_rotates_the_session_and_kills_the_old_one(client: Any) -> None:
    await register(client)
    await logout(client)
    for account in ("voter1@example.com", "13700000001"):
        await client.get("/login")
        before = session_id(client)
        assert before  # the login form started a session for its CSRF token
        response = await login(client, account)
        assert response.status == 302
        after = session_id(client)
        assert after and after != before
        # Replaying the pre-login id gets nothing: it was deleted server-side.
        use_session(client, before)
        assert (await client.get("/me", allow_redirects=False)).status == 302
        use_session(client, after)
        assert (await client.get("/me")).status == 200
        await logout(client)


async def test_failed_login_gives_one_message_whether_or_not_the_account_exists(client: Any) -> None:
    await register(client)
    await logout(client)
    wrong_password = await login(client, "voter1@example.com", "wrong password!")
    unknown = await login(client, "nobody@example.com", PASSWORD)
    assert wrong_password.status == unknown.status == 400
    message = "The account or password is incorrect."
    assert message in await wrong_password.text()
    assert message in await unknown.text()
    malformed = await login(client, "not an account", PASSWORD)
    assert malformed.status == 400
    assert "Enter an email address or a mobile number." in await malformed.text()


@pytest.mark.parametrize(
    ("target", "lands"),
    [
        ("/questions?page=1", "/questions?page=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/path", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
async def test_next_only_to_same_site_paths(client: Any, target: str, lands: str) -> None:
    await register(client)
    await logout(client)
    response = await login(client, "voter1@example.com", next=target)
    assert response.headers["Location"] == lands


async def test_login_required_pages_send_anonymous_visitors_to_login(client: Any) -> None:
    response = await client.get("/me", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/me"
    assert 'name="next" value="/me"' in await (await client.get("/login?next=/me")).text()


async def test_cookie_copied_before_logout_no_longer_works(client: Any) -> None:
    await register(client)
    copied = session_id(client)
    assert (await logout(client)).status == 302
    assert session_id(client) is None
    use_session(client, copied)
    assert (await client.get("/me", allow_redirects=False)).status == 302


async def test_session_cookie_flags(settings: Settings, aiohttp_client: Any) -> None:
    secure = settings.model_copy(update={"cookie_secure": True})
    client = await aiohttp_client(init(secure))
    response = await client.get("/login")
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["secure"] is True
    assert int(cookie["max-age"]) == settings.session_idle_seconds
    assert cookie["path"] == "/"


async def test_absolute_session_lifetime(settings: Settings, aiohttp_client: Any) -> None:
    short = settings.model_copy(update={"session_absolute_seconds": 1, "session_idle_seconds": 1})
    client = await aiohttp_client(init(short))
    await register(client)
    assert (await client.get("/me")).status == 200
    await asyncio.sleep(2.1)
    assert (await client.get("/me", allow_redirects=False)).status == 302


async def test_anonymous_reads_create_no_session(client: Any) -> None:
    for path in ("/", "/questions", "/hello", "/no-such-page"):
        response = await client.get(path)
        assert COOKIE_NAME not in response.cookies, path


async def test_forms_need_the_csrf_token_and_a_same_site_origin(client: Any) -> None:
    await register(client)
    token = csrf_from(await (await client.get("/me")).text())
    missing = await client.post("/logout", allow_redirects=False)
    assert missing.status == 403
    assert "security token" in await missing.text()
    wrong = await client.post("/logout", data={"csrf_token": "forged"}, allow_redirects=False)
    assert wrong.status == 403
    foreign = await client.post(
        "/logout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}, allow_redirects=False
    )
    assert foreign.status == 403
    assert (await client.get("/me")).status == 200  # still logged in: nothing happened
    same = await client.post(
        "/logout",
        data={"csrf_token": token},
        headers={"Origin": str(client.make_url("/")).rstrip("/")},
        allow_redirects=False,
    )
    assert same.status == 302


async def test_login_form_needs_its_token_too(client: Any) -> None:
    await client.get("/login")
    response = await client.post("/login", data={"account": "a@example.com", "password": "whatever1"})
    assert response.status == 403


async def test_non_utf8_form_is_a_clear_400(client: Any) -> None:
    token = await form_token(client, "/register")
    body = b"csrf_token=" + token.encode() + b"&name=%FF%FE&email=a%40example.com&phone=13700000001&password=xx"
    response = await client.post("/register", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 400
    assert "not valid UTF-8" in await response.text()
    assert await client.app[DB].fetch_all("SELECT id FROM user") == []


async def test_admin_disables_a_user_and_their_session_stops_at_once(settings: Settings, aiohttp_client: Any) -> None:
    admin_client = await aiohttp_client(init(settings))
    voter_client = await aiohttp_client(init(settings))
    await register(admin_client, 1)
    db = admin_client.app[DB]
    admin_row = await user.by_account(db, "voter1@example.com")
    await db.execute("UPDATE user SET is_admin = 1 WHERE id = %s", (admin_row["id"],))
    await register(voter_client, 2)
    voter = await user.by_account(db, "voter2@example.com")
    assert (await voter_client.get("/admin")).status == 403

    page = await admin_client.get("/admin")
    assert page.status == 200
    token = csrf_from(await page.text())
    response = await admin_client.post(
        f"/admin/users/{voter['id']}/disable", data={"csrf_token": token}, allow_redirects=False
    )
    assert response.status == 302
    assert (await voter_client.get("/me", allow_redirects=False)).status == 302
    again = await login(voter_client, "voter2@example.com")
    assert again.status == 403
    assert "disabled" in await again.text()

    await admin_client.post(f"/admin/users/{voter['id']}/enable", data={"csrf_token": token})
    assert (await login(voter_client, "voter2@example.com")).status == 302
    self_disable = await admin_client.post(f"/admin/users/{admin_row['id']}/disable", data={"csrf_token": token})
    assert self_disable.status == 400
