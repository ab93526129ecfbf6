"""Presenter mode: the big screen for owners and admins, joining by code, revealing results live."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest

from application import init
from application.keys import DB, HUB, SETTINGS
from application.services import join_codes
from config import Settings
from models import api_token, question
from models.clock import utcnow
from models.db import Database
from tests.browser import csrf_from, form_token, register, session_id, use_session
from tests.factories import make_question, make_user
from tests.test_access import vote_form

CHOICES = ["Tea", "Coffee"]


async def bearer(db: Database, user_id: int | None = None) -> dict[str, str]:
    _, token = await api_token.create(db, user_id or await make_user(db), "present")
    return {"Authorization": f"Bearer {token}"}


async def new_poll(client: Any, owner: dict[str, str], **fields: Any) -> dict[str, Any]:
    """A poll created through the API, as its answer shows it."""
    body = {"question_text": "Tea or coffee?", "choices": CHOICES, **fields}
    response = await client.post("/api/v1/questions", json=body, headers=owner)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def owner_signed_in(client: Any, n: int = 1) -> int:
    """Register user ``n`` on this client (signed in); their id."""
    assert (await register(client, n)).status == 302
    row = await client.app[DB].fetch_one("SELECT id FROM user WHERE email = %s", (f"voter{n}@example.com",))
    return int(row["id"])


async def vote_api(client: Any, poll: dict[str, Any], headers: dict[str, str]) -> None:
    response = await client.post(
        f"/api/v1/questions/{poll['id']}/votes", json={"choice_ids": [poll["choices"][0]["id"]]}, headers=headers
    )
    assert response.status == 201, await response.text()


# --- The presenter screen --------------------------------------------------------------


async def test_the_owner_presents_with_qr_code_short_url_and_join_code(client: Any) -> None:
    owner = await owner_signed_in(client)
    poll = await new_poll(client, await bearer(client.app[DB], owner))
    code = poll["join_code"]
    assert re.fullmatch(r"[0-9]{6}", code)
    detail = await (await client.get(f"/questions/{poll['id']}")).text()
    assert f'href="/questions/{poll["id"]}/present"' in detail  # the "Present" button
    page = await client.get(f"/questions/{poll['id']}/present")
    assert page.status == 200
    html = await page.text()
    public = client.app[SETTINGS].public_url
    host = public.split("://", 1)[1]
    assert "<svg" in html and 'class="qr-code"' in html
    assert f"{host}/j/{code}" in html
    assert f"{code[:3]}\u202f{code[3:]}" in html
    assert "Tea or coffee?" in html and 'class="results present-results"' in html
    assert 'data-key="c"' in html and 'data-key="r"' not in html  # nothing to reveal: always visible
    assert "theme-dark" in html
    assert "theme-light" in await (await client.get(f"/questions/{poll['id']}/present?theme=light")).text()
    assert "<script>" not in html and "style=" not in html  # the CSP allows neither


async def test_only_the_owner_and_administrators_may_present(client: Any) -> None:
    db = client.app[DB]
    owner = await make_user(db)
    poll = await new_poll(client, await bearer(db, owner))
    path = f"/questions/{poll['id']}/present"
    anonymous = await client.get(path, allow_redirects=False)
    assert anonymous.status == 302 and anonymous.headers["Location"].startswith("/login")
    await owner_signed_in(client, 2)
    refused = await client.get(path)
    assert refused.status == 403
    assert "Only the poll&#39;s owner or an administrator may do this." in await refused.text()
    assert 'present"' not in await (await client.get(f"/questions/{poll['id']}")).text()
    await db.execute("UPDATE user SET is_admin = 1 WHERE email = %s", ("voter2@example.com",))
    assert (await client.get(path)).status == 200
    assert (await client.get("/questions/999999/present")).status == 404
    token = await form_token(client, f"/questions/{poll['id']}")
    deleted = await client.post(f"/questions/{poll['id']}/delete", data={"csrf_token": token}, allow_redirects=False)
    assert deleted.status == 302
    assert (await client.get(path)).status == 404


async def test_a_poll_older_than_join_codes_gets_one_when_presented(client: Any) -> None:
    owner = await owner_signed_in(client)
    db = client.app[DB]
    poll = await make_question(db, owner=owner)  # as the migration left it: no code
    html = await (await client.get(f"/questions/{poll}/present")).text()
    row = await db.fetch_one("SELECT join_code FROM question WHERE id = %s", (poll,))
    assert re.fullmatch(r"[0-9]{6}", row["join_code"])
    assert f"/j/{row['join_code']}" in html


async def test_closing_from_the_screen_comes_back_to_the_screen(client: Any) -> None:
    owner = await owner_signed_in(client)
    poll = await new_poll(client, await bearer(client.app[DB], owner))
    screen = f"/questions/{poll['id']}/present"
    token = csrf_from(await (await client.get(screen)).text())
    closed = await client.post(
        f"/questions/{poll['id']}/close", data={"csrf_token": token, "back": "present"}, allow_redirects=False
    )
    assert (closed.status, closed.headers["Location"]) == (302, screen)
    html = await (await client.get(screen)).text()
    assert "Voting is closed" in html and 'class="qr-code"' not in html and 'data-key="c"' not in html


# --- Join codes ------------------------------------------------------------------------


async def test_a_join_code_takes_a_phone_to_the_vote_form(client: Any) -> None:
    poll = await new_poll(client, await bearer(client.app[DB]))
    code = poll["join_code"]
    direct = await client.get(f"/j/{code}", allow_redirects=False)
    assert (direct.status, direct.headers["Location"]) == (302, f"/questions/{poll['id']}")
    box = await client.get("/join")
    assert box.status == 200 and 'name="code"' in await box.text()
    typed = await client.get(f"/join?code={code[:3]}+{code[3:]}", allow_redirects=False)
    assert (typed.status, typed.headers["Location"]) == (302, f"/questions/{poll['id']}")
    followed = await client.get(f"/j/{code}")
    assert followed.status == 200 and 'name="choice"' in await followed.text()


async def test_codes_that_lead_nowhere_get_a_clear_page(client: Any) -> None:
    db = client.app[DB]
    headers = await bearer(db)
    closed, deleted = await new_poll(client, headers), await new_poll(client, headers)
    await question.close(db, closed["id"], utcnow())
    await question.set_deleted(db, deleted["id"], True)
    for poll in (closed, deleted):
        page = await client.get(f"/j/{poll['join_code']}")
        assert page.status == 403
        assert "The poll with this code has ended: it takes no more votes." in await page.text()
    held = {closed["join_code"], deleted["join_code"]}
    unused = next(code for code in (f"{n:06d}" for n in range(10**6)) if code not in held)
    unknown = await client.get(f"/j/{unused}")
    assert unknown.status == 404
    assert "No open poll has this code." in await unknown.text()
    for typed in ("12345", "abcdef", "1234567", "١٢٣٤٥٦", "x" * 500):
        bad = await client.get("/join", params={"code": typed})
        assert bad.status == 400, typed
        assert "A join code has six digits" in await bad.text()
    assert (await client.get("/j/12345a")).status == 404


async def test_codes_are_unique_among_open_polls_and_freed_when_a_poll_ends(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = client.app[DB]
    headers = await bearer(db)
    first = await new_poll(client, headers)
    drawn = iter([first["join_code"], "000001"])
    monkeypatch.setattr(join_codes, "draw", lambda: next(drawn))
    second = await new_poll(client, headers)
    assert second["join_code"] == "000001"  # the open poll's code was drawn, and passed over
    await question.close(db, first["id"], utcnow())
    monkeypatch.setattr(join_codes, "draw", lambda: first["join_code"])
    third = await new_poll(client, headers)
    assert third["join_code"] == first["join_code"]  # a closed poll's code is free again
    taken = await client.get(f"/api/v1/questions/{first['id']}")
    assert (await taken.json())["join_code"] is None
    assert (await client.get(f"/j/{first['join_code']}", allow_redirects=False)).headers["Location"] == (
        f"/questions/{third['id']}"
    )


async def test_the_database_refuses_two_polls_one_code(db: Database) -> None:
    owner = await make_user(db)
    await question.create(db, user_id=owner, question_text="A?", pub_date=utcnow(), join_code="424242")
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await question.create(db, user_id=owner, question_text="B?", pub_date=utcnow(), join_code="424242")


# --- Reveal ------------------------------------------------------------------------------


async def test_on_reveal_hides_results_until_the_presenter_reveals_them(client: Any) -> None:
    db = client.app[DB]
    owner = await owner_signed_in(client)
    poll = await new_poll(client, await bearer(db, owner), results_visibility="on_reveal")
    qid = poll["id"]
    screen = await (await client.get(f"/questions/{qid}/present")).text()
    assert 'data-key="r"' in screen
    voter = await bearer(db)
    await vote_api(client, poll, voter)
    assert (await client.get(f"/api/v1/questions/{qid}/results", headers=voter)).status == 403
    assert "votes" not in (await (await client.get(f"/api/v1/questions/{qid}", headers=voter)).json())["choices"][0]

    use_session(client, None)  # a phone: signed out
    hidden = await client.get(f"/questions/{qid}/results")
    assert hidden.status == 403
    assert "as soon as the presenter reveals them" in await hidden.text()
    async with client.ws_connect(f"/questions/{qid}/live") as ws:
        assert await ws.receive_json(timeout=1) == {"question_id": qid, "results_hidden": True}
        await owner_signed_in_again(client)
        refused = await client.post(f"/questions/{qid}/reveal", data={}, allow_redirects=False)
        assert refused.status == 403  # no CSRF token
        token = csrf_from(await (await client.get(f"/questions/{qid}/present")).text())
        revealed = await client.post(f"/questions/{qid}/reveal", data={"csrf_token": token}, allow_redirects=False)
        assert (revealed.status, revealed.headers["Location"]) == (302, f"/questions/{qid}/present")
        shown = await ws.receive_json(timeout=2)
        assert shown["total"] == 1
    use_session(client, None)
    assert (await client.get(f"/questions/{qid}/results")).status == 200
    assert (await client.get(f"/api/v1/questions/{qid}/results", headers=voter)).status == 200


async def owner_signed_in_again(client: Any) -> None:
    token = await form_token(client, "/login")
    response = await client.post(
        "/login",
        data={"account": "voter1@example.com", "password": "correct horse battery", "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == 302


async def test_only_managers_may_reveal(client: Any) -> None:
    db = client.app[DB]
    poll = await new_poll(client, await bearer(db), results_visibility="on_reveal")
    await owner_signed_in(client, 2)
    token = await form_token(client, f"/questions/{poll['id']}")
    response = await client.post(f"/questions/{poll['id']}/reveal", data={"csrf_token": token})
    assert response.status == 403
    row = await db.fetch_one("SELECT revealed_at FROM question WHERE id = %s", (poll["id"],))
    assert row["revealed_at"] is None


async def test_only_an_on_reveal_poll_is_revealed_and_an_edit_forgets_a_reveal(client: Any) -> None:
    db = client.app[DB]
    owner = await owner_signed_in(client)
    auth = await bearer(db, owner)
    shown = await new_poll(client, auth, results_visibility="always")
    waiting = await new_poll(client, auth, results_visibility="on_reveal")
    token = csrf_from(await (await client.get(f"/questions/{shown['id']}/present")).text())
    refused = await client.post(f"/questions/{shown['id']}/reveal", data={"csrf_token": token}, allow_redirects=False)
    assert refused.status == 409
    assert "Only a poll whose results wait for the presenter can be revealed." in await refused.text()

    async def edit(qid: int, visibility: str) -> None:
        data = [("csrf_token", token), ("question_text", "Tea or coffee?"), ("results_visibility", visibility)]
        data += [("choice", text) for text in CHOICES]
        assert (await client.post(f"/questions/{qid}/edit", data=data, allow_redirects=False)).status == 302

    phone = await bearer(db)
    results = f"/api/v1/questions/{waiting['id']}/results"
    revealed = await client.post(
        f"/questions/{waiting['id']}/reveal", data={"csrf_token": token}, allow_redirects=False
    )
    assert revealed.status == 302 and (await client.get(results, headers=phone)).status == 200
    # Made on_reveal again before the first vote: its results wait for a new reveal, not the old one.
    await edit(shown["id"], "on_reveal")
    await edit(waiting["id"], "always")
    await edit(waiting["id"], "on_reveal")
    for qid in (shown["id"], waiting["id"]):
        assert (await client.get(f"/api/v1/questions/{qid}/results", headers=phone)).status == 403, qid


async def test_the_reveal_reaches_phones_held_by_another_process(mysql_settings: Settings, aiohttp_client: Any) -> None:
    a, b = await aiohttp_client(init(mysql_settings)), await aiohttp_client(init(mysql_settings))
    db = a.app[DB]
    owner = await owner_signed_in(b)
    poll = await new_poll(b, await bearer(db, owner), results_visibility="on_reveal")
    await vote_api(b, poll, await bearer(db))
    phones = [await a.ws_connect(f"/questions/{poll['id']}/live") for _ in range(3)]
    try:
        for ws in phones:
            assert (await ws.receive_json(timeout=1))["results_hidden"] is True
        token = csrf_from(await (await b.get(f"/questions/{poll['id']}/present")).text())
        started = asyncio.get_running_loop().time()
        await b.post(f"/questions/{poll['id']}/reveal", data={"csrf_token": token}, allow_redirects=False)
        for ws in phones:
            assert (await ws.receive_json(timeout=2))["total"] == 1
        assert asyncio.get_running_loop().time() - started < 1.0
    finally:
        for ws in phones:
            await ws.close()


async def test_a_socket_that_waits_for_the_reveal_still_closes_when_the_poll_is_deleted(client: Any) -> None:
    db = client.app[DB]
    owner = await owner_signed_in(client)
    poll = await new_poll(client, await bearer(db, owner), results_visibility="on_reveal")
    live = client.make_url(f"/questions/{poll['id']}/live")
    async with aiohttp.ClientSession() as other, other.ws_connect(live) as ws:
        assert (await ws.receive_json(timeout=1))["results_hidden"] is True
        token = await form_token(client, f"/questions/{poll['id']}")
        await client.post(f"/questions/{poll['id']}/delete", data={"csrf_token": token})
        message = await ws.receive(timeout=2)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 4403


async def test_on_a_link_poll_a_phone_joins_and_votes_without_an_account(client: Any, aiohttp_client: Any) -> None:
    db = client.app[DB]
    owner = await owner_signed_in(client)
    poll = await new_poll(client, await bearer(db, owner), access="link", results_visibility="on_reveal")
    phone = await aiohttp_client(client.server)  # another browser, signed out
    joined = await phone.get(f"/j/{poll['join_code']}", allow_redirects=False)
    assert joined.headers["Location"] == f"/questions/{poll['id']}"
    voted = await vote_form(phone, joined.headers["Location"], poll["choices"][1]["id"])
    assert (voted.status, voted.headers["Location"]) == (302, f"/questions/{poll['id']}/results")
    thanks = await phone.get(voted.headers["Location"])
    html = await thanks.text()
    assert "Thank you: your vote was counted." in html
    assert "as soon as the presenter reveals them" in html and f'data-awaiting-reveal="{poll["id"]}"' in html
    token = csrf_from(await (await client.get(f"/questions/{poll['id']}/present")).text())
    await client.post(f"/questions/{poll['id']}/reveal", data={"csrf_token": token})
    shown = await phone.get(voted.headers["Location"])
    assert shown.status == 200 and 'class="results-total">1<' in await shown.text()


async def test_the_reveal_reaches_a_waiting_phone_while_others_join(client: Any) -> None:
    """A phone opening between the reveal and the next update must not make the hub think the
    waiting ones were already sent the results (the counts did not change, who sees them did)."""
    db = client.app[DB]
    owner = await owner_signed_in(client)
    poll = await new_poll(client, await bearer(db, owner), results_visibility="on_reveal")
    qid = poll["id"]
    await vote_api(client, poll, await bearer(db))
    owner_session = session_id(client)
    token = csrf_from(await (await client.get(f"/questions/{qid}/present")).text())
    use_session(client, None)
    async with client.ws_connect(f"/questions/{qid}/live") as waiting:
        assert (await waiting.receive_json(timeout=1))["results_hidden"] is True
        hub = client.app[HUB]
        hub.last_flush[qid], hub.interval[qid] = asyncio.get_running_loop().time(), 0.5  # a busy hall's window
        use_session(client, owner_session)
        revealed = await client.post(f"/questions/{qid}/reveal", data={"csrf_token": token}, allow_redirects=False)
        assert revealed.status == 302
        use_session(client, None)
        async with client.ws_connect(f"/questions/{qid}/live") as joining:
            assert (await joining.receive_json(timeout=1))["total"] == 1
            assert (await waiting.receive_json(timeout=2))["total"] == 1
