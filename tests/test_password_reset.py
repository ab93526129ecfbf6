"""Password reset by mail, against a real SMTP server in the test process (tests/mail_server.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from application import init
from application.keys import DB
from config import Settings
from tests.browser import PASSWORD, form_token, login, logout, register
from tests.conftest import make_settings
from tests.mail_server import MailServer, body_of, link_in, make_ca
from tests.test_account_settings import post_account
from tests.test_metrics import scrape, value

PUBLIC = "https://vote.example.test"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
async def mail_server() -> AsyncIterator[MailServer]:
    server = MailServer()
    await server.start()
    yield server
    await server.stop()


def with_mail(settings: Settings, smtp_url: str, tmp_path: Path, **more: str) -> Settings:
    env = {
        "VOTE_DATABASE_URL": settings.database_url,
        "VOTE_REDIS_URL": settings.redis_url,
        "VOTE_PUBLIC_URL": PUBLIC,
        "VOTE_SMTP_URL": smtp_url,
        "VOTE_MAIL_DIR": str(tmp_path / "mail"),
        "VOTE_MAIL_RETRY_DELAY": "0.2",
        "VOTE_MAIL_RETRY_MAX_DELAY": "0.5",
        **more,
    }
    return make_settings(env)


@pytest.fixture
async def mailing(
    settings: Settings, mail_server: MailServer, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> Any:
    return await aiohttp_client(init(with_mail(settings, mail_server.url, tmp_path)))


async def forgot(client: Any, account: str, **headers: str) -> Any:
    token = await form_token(client, "/password/forgot")
    return await client.post(
        "/password/forgot", data={"account": account, "csrf_token": token}, headers=headers, allow_redirects=False
    )


async def reset(client: Any, path: str, password: str = NEW_PASSWORD, password2: str | None = None) -> Any:
    token = await form_token(client, "/password/forgot")  # the session's; the link's page may have no form
    data = {"password": password, "password2": password if password2 is None else password2, "csrf_token": token}
    return await client.post(path, data=data, allow_redirects=False)


async def test_the_mailed_link_sets_a_new_password_once(mailing: Any, mail_server: MailServer) -> None:
    await register(mailing)
    await logout(mailing)
    asked = await forgot(mailing, "voter1@example.com", Host="evil.example", **{"X-Forwarded-Host": "evil.example"})
    assert asked.status == 200
    assert "on its way" in await asked.text()
    mail = await mail_server.next_mail()
    assert mail["To"] == "voter1@example.com"
    link = link_in(mail)
    assert link.startswith(PUBLIC + "/password/reset/")  # VOTE_PUBLIC_URL, never the forged Host
    assert "evil.example" not in body_of(mail)
    path = urlsplit(link).path

    assert (await reset(mailing, path)).headers["Location"] == "/login"
    assert (await login(mailing, "voter1@example.com")).status == 400  # the old password is gone
    assert (await login(mailing, "voter1@example.com", NEW_PASSWORD)).status == 302
    await logout(mailing)

    again = await mailing.get(path)
    assert again.status == 410
    assert "expired or was used already" in await again.text()
    reused = await reset(mailing, path, "yet another passphrase")
    assert reused.status == 410
    for weak in (("short", "short"), ("password", "password"), (NEW_PASSWORD, "not the same")):
        # A dead link says so before anything about the password typed into its form.
        assert (await reset(mailing, path, *weak)).status == 410, weak
    assert (await login(mailing, "voter1@example.com", NEW_PASSWORD)).status == 302


async def test_known_and_unknown_accounts_get_the_same_answer_in_the_same_time(
    mailing: Any, mail_server: MailServer
) -> None:
    await register(mailing)
    await logout(mailing)
    answers = []
    for account in ("voter1@example.com", "nobody@example.com", "13900000000"):
        started = time.monotonic()
        response = await forgot(mailing, account)
        answers.append((response.status, await response.text(), time.monotonic() - started))
    statuses = {status for status, _, _ in answers}
    assert statuses == {200}
    texts = {
        text.replace("nobody@example.com", "X").replace("13900000000", "X").replace("voter1@example.com", "X")
        for _, text, _ in answers
    }
    assert len(texts) == 1
    spent = [seconds for _, _, seconds in answers]
    assert max(spent) - min(spent) < 0.15, spent
    await mail_server.next_mail()
    await asyncio.sleep(0.3)
    assert mail_server.mails == []  # one mail only: for the account that exists


async def test_an_expired_link_is_refused(mailing: Any, mail_server: MailServer) -> None:
    await register(mailing)
    await logout(mailing)
    await forgot(mailing, "voter1@example.com")
    path = urlsplit(link_in(await mail_server.next_mail())).path
    await mailing.app[DB].execute("UPDATE password_reset SET expires_at = %s", ("2020-01-01 00:00:00",))
    assert (await mailing.get(path)).status == 410
    assert (await reset(mailing, path)).status == 410
    assert (await login(mailing, "voter1@example.com")).status == 302  # the password did not change


async def test_a_reset_ends_every_session(mailing: Any, mail_server: MailServer, another_browser: Any) -> None:
    await register(mailing)
    assert (await mailing.get("/me", allow_redirects=False)).status == 200
    await forgot(mailing, "voter1@example.com")
    path = urlsplit(link_in(await mail_server.next_mail())).path
    other = await another_browser(mailing)
    assert (await reset(other, path)).status == 302
    assert (await mailing.get("/me", allow_redirects=False)).status == 302  # signed out


async def test_bad_new_passwords_are_refused_and_the_link_still_works(mailing: Any, mail_server: MailServer) -> None:
    await register(mailing)
    await logout(mailing)
    await forgot(mailing, "voter1@example.com")
    path = urlsplit(link_in(await mail_server.next_mail())).path
    short = await reset(mailing, path, "short")
    assert short.status == 400
    assert "Use at least 8 characters." in await short.text()
    differ = await reset(mailing, path, NEW_PASSWORD, "something else entirely")
    assert differ.status == 400
    assert "The two passwords are not the same." in await differ.text()
    assert (await reset(mailing, path)).status == 302


async def test_two_uses_of_one_link_at_once_set_one_password(mailing: Any, mail_server: MailServer) -> None:
    await register(mailing)
    await logout(mailing)
    await forgot(mailing, "voter1@example.com")
    path = urlsplit(link_in(await mail_server.next_mail())).path
    answers = await asyncio.gather(reset(mailing, path, "first passphrase"), reset(mailing, path, "second passphrase"))
    assert sorted(answer.status for answer in answers) == [302, 410]
    winner = "first passphrase" if answers[0].status == 302 else "second passphrase"
    assert (await login(mailing, "voter1@example.com", winner)).status == 302


async def test_unknown_or_malformed_links_are_refused(mailing: Any) -> None:
    for token in ("x" * 43, "short", "%00" * 10):
        response = await mailing.get(f"/password/reset/{token}")
        assert response.status == 410


async def test_a_mail_server_that_is_down_delays_the_mail_but_never_the_page(
    sqlite_settings: Settings, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> None:
    server = MailServer()  # not started yet: nothing listens on its port
    client = await aiohttp_client(init(with_mail(sqlite_settings, server.url, tmp_path)))
    await register(client)
    await logout(client)
    started = time.monotonic()
    response = await forgot(client, "voter1@example.com")
    assert response.status == 200
    assert time.monotonic() - started < 1.0
    await asyncio.sleep(0.5)  # a couple of attempts fail meanwhile
    await server.start()
    try:
        mail = await server.next_mail(within=5)
        assert link_in(mail).startswith(PUBLIC)
    finally:
        await server.stop()


async def test_without_a_mail_server_mails_are_files_and_the_log_says_where(
    sqlite_settings: Settings, tmp_path: Path, aiohttp_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = await aiohttp_client(init(with_mail(sqlite_settings, "", tmp_path)))
    await register(client)
    await logout(client)
    await forgot(client, "voter1@example.com")
    for _ in range(50):
        files = list((tmp_path / "mail").glob("*.eml"))
        if files:
            break
        await asyncio.sleep(0.05)
    assert len(files) == 1
    assert "/password/reset/" in files[0].read_text()
    assert str(files[0]) in caplog.text


async def test_the_mail_is_in_the_language_the_user_chose_last(mailing: Any, mail_server: MailServer) -> None:
    await register(mailing)
    await mailing.get("/language/zh-Hans", allow_redirects=False)
    await logout(mailing)
    await forgot(mailing, "voter1@example.com")
    mail = await mail_server.next_mail()
    assert mail["Subject"] == "重置密码"


async def test_reset_requests_are_limited_per_account_and_per_address(
    sqlite_settings: Settings, mail_server: MailServer, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> None:
    limits = {"VOTE_RESET_RATE_ACCOUNT": "2", "VOTE_RESET_RATE_ADDRESS": "4"}
    client = await aiohttp_client(init(with_mail(sqlite_settings, mail_server.url, tmp_path, **limits)))
    await register(client)
    await logout(client)
    for _ in range(3):
        assert (await forgot(client, "voter1@example.com")).status == 200  # the third answers the same...
    await asyncio.sleep(0.5)
    assert len(mail_server.mails) == 2  # ...but mails nothing
    assert (await forgot(client, "nobody@example.com")).status == 200
    refused = await forgot(client, "nobody@example.com")
    assert refused.status == 429
    assert "Too many reset requests" in await refused.text()


async def test_the_login_page_links_to_the_reset(client: Any) -> None:
    page = await (await client.get("/login")).text()
    assert 'href="/password/forgot"' in page


@pytest.mark.parametrize("starttls", [False, True], ids=["smtps", "starttls"])
async def test_mail_goes_over_tls_with_a_login(
    sqlite_settings: Settings, tmp_path: Path, aiohttp_client: Callable[..., Any], starttls: bool
) -> None:
    context, ca_file = make_ca(tmp_path)
    server = MailServer(context, starttls=starttls, login="vote:s3cret")
    await server.start()
    try:
        settings = with_mail(sqlite_settings, server.url, tmp_path, VOTE_SMTP_CA_FILE=str(ca_file))
        client = await aiohttp_client(init(settings))
        await register(client)
        await logout(client)
        await forgot(client, "voter1@example.com")
        assert link_in(await server.next_mail()).startswith(PUBLIC)
        assert server.logins == ["vote:s3cret"]
    finally:
        await server.stop()


async def test_a_mail_the_server_keeps_refusing_is_kept_and_logged(
    sqlite_settings: Settings, tmp_path: Path, aiohttp_client: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    context, ca_file = make_ca(tmp_path)
    server = MailServer(context, starttls=True, login="vote:s3cret")
    await server.start()
    try:
        wrong = server.url.replace("s3cret", "wrong")
        more = {"VOTE_SMTP_CA_FILE": str(ca_file), "VOTE_MAIL_RETRY_ATTEMPTS": "2"}
        client = await aiohttp_client(init(with_mail(sqlite_settings, wrong, tmp_path, **more)))
        await register(client)
        await logout(client)
        assert (await forgot(client, "voter1@example.com")).status == 200
        unsent = tmp_path / "mail" / "unsent"
        for _ in range(50):
            if list(unsent.glob("*.eml")):
                break
            await asyncio.sleep(0.1)
        kept = list(unsent.glob("*.eml"))
        assert len(kept) == 1
        assert "/password/reset/" in kept[0].read_text()
        assert set(server.logins) == {"vote:wrong"}  # tried, refused, given up after two attempts
        assert f"could not be sent; it is kept in {kept[0]}" in caplog.text
    finally:
        await server.stop()


async def test_a_mail_still_waiting_when_the_app_stops_is_kept(
    sqlite_settings: Settings, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> None:
    down = MailServer()  # never started
    client = await aiohttp_client(init(with_mail(sqlite_settings, down.url, tmp_path, VOTE_SHUTDOWN_TIMEOUT="0")))
    await register(client)
    await logout(client)
    await forgot(client, "voter1@example.com")
    await asyncio.sleep(0.3)  # the first attempt failed; the mail waits for the next one
    await client.close()
    kept = list((tmp_path / "mail" / "unsent").glob("*.eml"))
    assert len(kept) == 1
    assert "/password/reset/" in kept[0].read_text()


@pytest.mark.parametrize("path", ["/password/forgot", "/password/reset/" + "x" * 43])
async def test_the_reset_forms_need_their_csrf_token(client: Any, path: str) -> None:
    await client.get("/password/forgot")  # a session with a token exists: the form must carry it
    data = {"account": "voter1@example.com", "password": "new passphrase", "password2": "new passphrase"}
    response = await client.post(path, data=data, allow_redirects=False)
    assert response.status == 403


async def test_mails_waiting_are_counted_for_the_metrics(
    sqlite_settings: Settings, tmp_path: Path, aiohttp_client: Callable[..., Any]
) -> None:
    server = MailServer()  # down at first
    client = await aiohttp_client(init(with_mail(sqlite_settings, server.url, tmp_path)))
    await register(client)
    await logout(client)
    await forgot(client, "voter1@example.com")
    assert value(await scrape(client), "vote_mails_queued") == 1  # what the operator's Prometheus reads
    await server.start()
    try:
        await server.next_mail()
        await asyncio.sleep(0.05)
        assert value(await scrape(client), "vote_mails_queued") == 0
    finally:
        await server.stop()


async def test_a_password_change_on_the_account_page_kills_the_links_mailed_before(
    mailing: Any, mail_server: MailServer
) -> None:
    await register(mailing)
    await forgot(mailing, "voter1@example.com")
    path = urlsplit(link_in(await mail_server.next_mail())).path
    changed = await post_account(
        mailing, "/account/password", current_password=PASSWORD, password=NEW_PASSWORD, password2=NEW_PASSWORD
    )
    assert changed.status == 302
    dead = await mailing.get(path)
    assert dead.status == 410
    assert "expired or was used already" in await dead.text()
    assert (await reset(mailing, path, "an attacker's passphrase")).status == 410
    await logout(mailing)
    assert (await login(mailing, "voter1@example.com", NEW_PASSWORD)).status == 302


async def test_an_email_change_kills_the_links_mailed_to_the_old_address(mailing: Any, mail_server: MailServer) -> None:
    await register(mailing)
    await forgot(mailing, "voter1@example.com")
    path = urlsplit(link_in(await mail_server.next_mail())).path
    details = {"name": "Voter 1", "email": "new@example.com", "phone": "", "current_password": PASSWORD}
    assert (await post_account(mailing, "/account/profile", **details)).status == 302
    assert (await mailing.get(path)).status == 410
    assert (await reset(mailing, path, "an attacker's passphrase")).status == 410
    await logout(mailing)
    assert (await login(mailing, "new@example.com")).status == 302  # the password did not change


async def test_a_recipient_refused_for_good_is_not_retried_and_the_next_mail_goes_at_once(
    sqlite_settings: Settings,
    mail_server: MailServer,
    tmp_path: Path,
    aiohttp_client: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Retries 1 s apart: the refused mail retried 12 times would hold the next one 11 s.
    more = {"VOTE_MAIL_RETRY_DELAY": "1", "VOTE_MAIL_RETRY_MAX_DELAY": "1"}
    client = await aiohttp_client(init(with_mail(sqlite_settings, mail_server.url, tmp_path, **more)))
    mail_server.refusals["gone@example.com"] = ["550 5.1.1 No such mailbox"] * 20
    mail_server.refusals["voter2@example.com"] = ["450 4.2.1 Mailbox busy, try later"]  # this one is retried
    await register(client, 1, email="gone@example.com")
    await logout(client)
    await register(client, 2)
    await logout(client)
    await forgot(client, "gone@example.com")
    await forgot(client, "voter2@example.com")
    mail = await mail_server.next_mail(within=4)
    assert mail["To"] == "voter2@example.com"
    assert mail_server.refusals["voter2@example.com"] == []  # refused for now once, then sent
    assert len(mail_server.refusals["gone@example.com"]) == 19  # asked once, never again
    kept = list((tmp_path / "mail" / "unsent").glob("*.eml"))
    assert len(kept) == 1
    assert "gone@example.com" in kept[0].read_text()
    assert "refused by the server, not retried" in caplog.text
    assert "/password/reset/" not in caplog.text  # the log never holds a link
