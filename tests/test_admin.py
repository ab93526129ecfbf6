"""/admin with many users and polls: pages of 50, a search box, actions that come back to the page."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import quote

import pytest

from application.keys import DB
from models import user
from tests.browser import PASSWORD, csrf_from, register
from tests.factories import make_question, make_user


async def as_admin(client: Any) -> int:
    await register(client)
    admin = await user.by_account(client.app[DB], "voter1@example.com")
    await client.app[DB].execute("UPDATE user SET is_admin = 1 WHERE id = %s", (admin["id"],))
    return int(admin["id"])


async def page(client: Any, query: str = "") -> str:
    response = await client.get(f"/admin?{query}")
    assert response.status == 200, await response.text()
    return await response.text()


def emails(html: str) -> list[str]:
    return re.findall(r"<td>([^<@]+@[^<]+)</td>", html)


def poll_texts(html: str) -> list[str]:
    return re.findall(r'<a href="/questions/\d+">([^<]+)</a>', html)


async def test_users_come_50_a_page(client: Any) -> None:
    await as_admin(client)
    for _ in range(60):
        await make_user(client.app[DB])
    first, second = emails(await page(client)), emails(await page(client, "users_page=2"))
    assert len(first) == 50 and len(second) == 11
    assert not set(first) & set(second) and "voter1@example.com" in first
    html = await page(client, "users_page=2")
    assert "Page 2 of 2" in html and 'rel="next"' not in html.split('id="admin-polls"')[0]
    assert (await client.get("/admin?users_page=3")).status == 404


async def test_polls_come_50_a_page_newest_first(client: Any) -> None:
    await as_admin(client)
    owner = await make_user(client.app[DB])
    for n in range(55):
        await make_question(client.app[DB], f"Poll number {n}?", owner=owner)
    first, second = poll_texts(await page(client)), poll_texts(await page(client, "polls_page=2"))
    assert first[0] == "Poll number 54?" and len(first) == 50
    assert second == [f"Poll number {n}?" for n in range(4, -1, -1)]


async def test_search_finds_users_by_email_name_or_phone_and_polls_by_text(client: Any) -> None:
    await as_admin(client)
    db = client.app[DB]
    await make_user(db, email="needle.person@corp.test", name="Someone")
    await make_user(db, name="Haystack Needleman")
    await make_user(db, phone="13712345678")
    await make_question(db, "Where is the needle?")
    await make_question(db, "Something else?")
    html = await page(client, "q=NEEDLE")
    assert len(emails(html)) == 2 and "needle.person@corp.test" in emails(html)
    assert "<td>Haystack Needleman</td>" in html and "Someone" in html
    assert poll_texts(html) == ["Where is the needle?"]
    assert 'value="NEEDLE"' in html  # the box keeps what was searched
    assert len(emails(await page(client, "q=2345"))) == 1
    nothing = await page(client, "q=no-such-thing")
    assert emails(nothing) == [] and "No user matches your search." in nothing
    assert "No poll matches your search." in nothing


async def test_percent_underscore_and_the_escape_character_are_searched_literally(client: Any) -> None:
    await as_admin(client)
    db = client.app[DB]
    for text in ("Is 100% enough?", "Is 1000 enough?", "Pick a_b?", "Pick axb?", "Hey!?", "Hey?"):
        await make_question(db, text)
    assert poll_texts(await page(client, "q=" + quote("0%"))) == ["Is 100% enough?"]
    assert poll_texts(await page(client, "q=" + quote("%"))) == ["Is 100% enough?"]
    assert poll_texts(await page(client, "q=a_b")) == ["Pick a_b?"]
    assert poll_texts(await page(client, "q=" + quote("y!"))) == ["Hey!?"]


async def test_an_action_comes_back_to_the_page_and_search_it_was_taken_on(client: Any) -> None:
    await as_admin(client)
    for _ in range(55):
        await make_user(client.app[DB])
    html = await page(client, "q=example&users_page=2")
    token = csrf_from(html)
    target = re.search(r'action="(/admin/users/\d+/disable)"', html)
    assert target
    back = re.search(r'name="next" value="([^"]+)"', html)
    assert back
    response = await client.post(
        target.group(1), data={"csrf_token": token, "next": unescape(back.group(1))}, allow_redirects=False
    )
    assert response.headers["Location"] == "/admin?q=example&users_page=2"
    elsewhere = await client.post(
        target.group(1).replace("disable", "enable"),
        data={"csrf_token": token, "next": "https://evil.example/admin"},
        allow_redirects=False,
    )
    assert elsewhere.headers["Location"] == "/admin"


@pytest.mark.parametrize(
    "query",
    [
        "users_page=0",
        "users_page=x",
        "polls_page=-1",
        "polls_page=%C2%B2",
        "users_page=",
        "users_page=" + "9" * 5000,
        "q=" + "x" * 201,
    ],
)
async def test_bad_page_values_and_overlong_searches_are_400(client: Any, query: str) -> None:
    await as_admin(client)
    response = await client.get(f"/admin?{query}")
    assert response.status == 400


async def test_a_poll_of_a_deleted_account_cannot_be_restored(client: Any, another_browser: Any) -> None:
    """SPEC 14: deleting an account deletes its polls; an administrator must not bring one back
    public, owned by nobody."""
    await as_admin(client)
    owner = await another_browser(client)
    await register(owner, 2)
    owner_id = (await user.by_account(client.app[DB], "voter2@example.com"))["id"]
    qid = await make_question(client.app[DB], "Orphaned?", owner=owner_id)
    token = csrf_from(await (await owner.get("/account")).text())
    deleted = await owner.post(
        "/account/delete", data={"csrf_token": token, "current_password": PASSWORD}, allow_redirects=False
    )
    assert deleted.status == 302

    html = await page(client)
    assert "Not restorable: its owner deleted their account" in html
    assert f"/admin/questions/{qid}/restore" not in html
    restored = await client.post(
        f"/admin/questions/{qid}/restore", data={"csrf_token": csrf_from(html)}, allow_redirects=False
    )
    assert restored.status == 409
    assert "its owner deleted their account" in await restored.text()
    assert (await client.get(f"/questions/{qid}")).status == 404  # still gone, for the admin too
