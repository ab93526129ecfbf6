"""Who may vote (SPEC section 11): account, link and invite polls, on SQLite and on MariaDB + Redis."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from typing import Any

import aiohttp
import pytest

from application import init
from application.keys import DB
from application.web.sessions import COOKIE_NAME
from application.web.voter_key import COOKIE_NAME as VOTER_COOKIE
from application.web.voter_key import INVITED_COOKIE
from config import Settings
from tests.browser import csrf_from, form_token, register
from tests.conftest import make_settings
from tests.factories import make_question
from tests.test_api_polls import choice_ids, token_for, total_votes

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


async def vote_form(client: Any, path: str, *choices: int) -> Any:
    """Open the poll's page at ``path`` as a browser does and send its vote form."""
    page = await client.get(path)
    assert page.status == 200, await page.text()
    html = await page.text()
    action = re.search(r'<form method="post" action="([^"]+)" class="vote-form"', html)
    assert action, "no vote form on the page"
    data = [("csrf_token", csrf_from(html))] + [("choice", str(c)) for c in choices]
    return await client.post(action.group(1), data=data, allow_redirects=False)


def cookie(client: Any, name: str) -> Any:
    return client.session.cookie_jar.filter_cookies(client.make_url("/")).get(name)


# --- access on the form, the API, the pages --------------------------------------------------


async def test_the_form_offers_each_access_with_what_it_guarantees_and_the_pages_say_it(client: Any) -> None:
    assert (await register(client, 1)).status == 302
    form = await (await client.get("/questions/new")).text()
    for sentence in ("one vote per account", "one vote per browser", "each code votes exactly once"):
        assert sentence in form
    data = {
        "csrf_token": csrf_from(form),
        "question_text": "Where do we meet?",
        "choice": ["Cafe", "Park"],
        "access": "link",
        "secret": "1",
    }
    created = await client.post("/questions/new", data=data, allow_redirects=False)
    assert created.status == 302
    qid = int(created.headers["Location"].rsplit("/", 1)[1])
    page = await (await client.get(f"/questions/{qid}")).text()
    assert "one vote per browser" in page and "Secret ballot" in page
    index = await (await client.get("/")).text()
    assert "anyone with the link" in index and "secret ballot" in index
    api = await (await client.get(f"/api/v1/questions/{qid}")).json()
    assert (api["access"], api["secret"], api["has_voted"], api["my_vote"]) == ("link", True, False, None)
    data["access"] = "everyone"
    refused = await client.post("/questions/new", data=data, allow_redirects=False)
    assert refused.status == 400 and "Choose account, link or invite." in await refused.text()


async def test_an_invite_poll_made_on_the_form_leads_to_its_page_and_from_there_to_its_codes(client: Any) -> None:
    assert (await register(client, 1)).status == 302
    form = await (await client.get("/questions/new")).text()
    data = {"csrf_token": csrf_from(form), "question_text": "Budget?", "choice": ["Yes", "No"], "access": "invite"}
    created = await client.post("/questions/new", data=data, allow_redirects=False)
    assert created.status == 302 and re.fullmatch(r"/questions/\d+", created.headers["Location"])  # SPEC section 5
    page = await (await client.get(created.headers["Location"])).text()
    assert "Only invite codes vote on it: make them with Invite codes below" in page
    assert f'href="{created.headers["Location"]}/invites"' in page


async def test_the_api_creates_each_access_and_refuses_others(client: Any) -> None:
    _, auth = await token_for(client.app[DB])
    body = {"question_text": "Q?", "choices": ["a", "b"]}
    default = await (await client.post("/api/v1/questions", json=body, headers=auth)).json()
    assert (default["access"], default["secret"]) == ("account", False)
    invited = await client.post("/api/v1/questions", json={**body, "access": "invite", "secret": True}, headers=auth)
    assert invited.status == 201 and (await invited.json())["access"] == "invite"
    for bad in ({"access": 3}, {"access": "LINK"}, {"secret": "maybe"}, {"secret": 1}):
        refused = await client.post("/api/v1/questions", json={**body, **bad}, headers=auth)
        assert refused.status == 400, bad
        assert set((await refused.json())["fields"]) == set(bad)


# --- link polls ------------------------------------------------------------------------------


async def test_an_anonymous_visitor_votes_on_a_link_poll_once_per_browser(client: Any, aiohttp_client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, access="link")
    first, second = await choice_ids(db, qid)
    page = await client.get(f"/questions/{qid}")
    assert "log in first" not in await page.text()
    assert cookie(client, COOKIE_NAME) is None  # viewing created no session
    voted = await vote_form(client, f"/questions/{qid}", first)
    assert voted.status == 302 and voted.headers["Location"] == f"/questions/{qid}/results"
    key = voted.cookies[VOTER_COOKIE]
    assert key["httponly"] and key["samesite"] == "Lax" and int(key["max-age"]) > 300 * 24 * 3600
    assert cookie(client, COOKIE_NAME) is None
    assert "You have already voted" in await (await client.get(f"/questions/{qid}")).text()
    again = await client.post(
        f"/questions/{qid}/vote", data={"csrf_token": csrf_from(await page.text()), "choice": str(second)}
    )
    assert again.status == 409 and "already voted" in await again.text()
    other_browser = await aiohttp_client(client.server)
    assert (await vote_form(other_browser, f"/questions/{qid}", second)).status == 302
    assert await total_votes(db, qid) == 2
    rows = await db.fetch_all("SELECT user_id, link_key FROM ballot WHERE question_id = %s", (qid,))
    assert all(row["user_id"] is None and len(row["link_key"]) == 32 for row in rows)


async def test_a_forged_voter_key_is_not_anyones_key(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, access="link")
    first, _ = await choice_ids(db, qid)
    assert (await vote_form(client, f"/questions/{qid}", first)).status == 302
    key, _, signature = cookie(client, VOTER_COOKIE).value.partition(".")
    forged = f"{key}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({VOTER_COOKIE: forged}, response_url=client.make_url("/"))
    page = await (await client.get(f"/questions/{qid}")).text()
    assert "You have already voted" not in page  # the page does not take the forged key as the voter's


async def test_a_refused_anonymous_vote_creates_no_session_and_other_tabs_still_vote(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, access="link")
    other = await make_question(db, access="link")
    other_tab = await (await client.get(f"/questions/{other}")).text()
    refused = await client.post(f"/questions/{qid}/vote", data={"csrf_token": csrf_from(other_tab)})
    assert refused.status == 400 and 'class="vote-form"' in await refused.text()
    assert cookie(client, COOKIE_NAME) is None
    first, _ = await choice_ids(db, other)
    voted = await client.post(
        f"/questions/{other}/vote",
        data={"csrf_token": csrf_from(other_tab), "choice": str(first)},
        allow_redirects=False,
    )
    assert voted.status == 302


async def test_a_signed_in_user_votes_on_a_link_poll_as_their_account(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, access="link")
    first, _ = await choice_ids(db, qid)
    assert (await register(client, 1)).status == 302
    assert (await vote_form(client, f"/questions/{qid}", first)).status == 302
    row = await db.fetch_one("SELECT user_id, link_key FROM ballot WHERE question_id = %s", (qid,))
    assert row["user_id"] is not None and row["link_key"] is None
    assert cookie(client, VOTER_COOKIE) is None


async def test_the_api_takes_link_votes_from_signed_in_callers_only(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, access="link")
    first, _ = await choice_ids(db, qid)
    anonymous = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first]})
    assert anonymous.status == 401
    _, auth = await token_for(db)
    assert (
        await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first]}, headers=auth)
    ).status == 201


async def capped_link_poll(settings: Settings, aiohttp_client: Any, cap: int) -> tuple[Any, int, int, int]:
    """A client of an app whose link polls take ``cap`` votes per address, and a link poll with
    its two choices."""
    client = await aiohttp_client(init(settings.model_copy(update={"link_votes_per_ip": cap})))
    qid = await make_question(client.app[DB], access="link")
    return (client, qid, *await choice_ids(client.app[DB], qid))


async def test_the_per_address_cap_answers_429_with_a_clear_page(settings: Settings, aiohttp_client: Any) -> None:
    client, qid, first, _ = await capped_link_poll(settings, aiohttp_client, 2)
    db = client.app[DB]
    other = await make_question(db, access="link")
    statuses = []
    for _ in range(3):
        browser = await aiohttp_client(client.server)
        statuses.append((await vote_form(browser, f"/questions/{qid}", first)).status)
    assert statuses == [302, 302, 429]
    refused = await vote_form(await aiohttp_client(client.server), f"/questions/{qid}", first)
    assert refused.status == 429 and "Too many votes from your network" in await refused.text()
    assert await total_votes(db, qid) == 2
    other_first, _ = await choice_ids(db, other)  # the cap is per poll
    assert (await vote_form(await aiohttp_client(client.server), f"/questions/{other}", other_first)).status == 302


async def test_the_cap_counts_votes_not_refused_attempts(settings: Settings, aiohttp_client: Any) -> None:
    client, qid, first, second = await capped_link_poll(settings, aiohttp_client, 2)
    token = csrf_from(await (await client.get(f"/questions/{qid}")).text())
    assert (await vote_form(client, f"/questions/{qid}", first)).status == 302
    for _ in range(3):  # the same browser again, and a choice of no poll: refused, not counted
        again = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, "choice": str(second)})
        assert again.status == 409
        assert (await vote_form(await aiohttp_client(client.server), f"/questions/{qid}", 10**9)).status == 400
    assert (await vote_form(await aiohttp_client(client.server), f"/questions/{qid}", second)).status == 302
    for _ in range(3):  # beyond the cap: 429, and the answers beyond it take nothing back either
        assert (await vote_form(await aiohttp_client(client.server), f"/questions/{qid}", first)).status == 429
    assert await total_votes(client.app[DB], qid) == 2


async def test_a_burst_of_link_votes_gets_exactly_the_cap_through(settings: Settings, aiohttp_client: Any) -> None:
    client, qid, first, _ = await capped_link_poll(settings, aiohttp_client, 5)
    page = await client.get(f"/questions/{qid}")
    form = {"csrf_token": csrf_from(await page.text()), "choice": str(first)}
    browsers = [await aiohttp_client(client.server) for _ in range(30)]
    for browser in browsers:  # the visitor token is tied to no session: every browser may send it
        browser.session.cookie_jar.update_cookies(client.session.cookie_jar.filter_cookies(client.make_url("/")))
    answers = await asyncio.gather(
        *(browser.post(f"/questions/{qid}/vote", data=form, allow_redirects=False) for browser in browsers)
    )
    statuses = sorted(answer.status for answer in answers)
    assert (statuses.count(302), statuses.count(429)) == (5, 25), statuses
    assert await total_votes(client.app[DB], qid) == 5


def test_the_cap_is_a_setting_with_an_office_sized_default() -> None:
    assert make_settings({"VOTE_DATABASE_URL": "sqlite:///x"}).link_votes_per_ip == 200
    assert make_settings({"VOTE_DATABASE_URL": "sqlite:///x", "VOTE_LINK_VOTES_PER_IP": "5"}).link_votes_per_ip == 5


# --- invite polls ----------------------------------------------------------------------------


async def owner_with_invite_poll(client: Any, **fields: Any) -> tuple[int, dict[str, str]]:
    db = client.app[DB]
    owner, auth = await token_for(db)
    return await make_question(db, owner=owner, access="invite", **fields), auth


async def make_codes(client: Any, qid: int, auth: dict[str, str], **body: Any) -> list[dict[str, Any]]:
    created = await client.post(f"/api/v1/questions/{qid}/invites", json=body, headers=auth)
    assert created.status == 201, await created.text()
    return list((await created.json())["invites"])


async def test_a_poll_for_accounts_has_no_codes_and_says_so_whatever_is_asked(client: Any) -> None:
    db = client.app[DB]
    owner, auth = await token_for(db)
    qid = await make_question(db, owner=owner, access="account")
    base = f"/api/v1/questions/{qid}/invites"
    for answer in (
        await client.get(base, headers=auth),
        await client.post(base, json={"count": 2}, headers=auth),
        await client.delete(f"{base}/1", headers=auth),
    ):
        error = await answer.json()
        assert answer.status == 400, error
        assert error["error_msg"] == "Only a poll for invited people has invite codes.", error


async def test_codes_by_count_or_labels_read_aloud_and_match_loosely(client: Any) -> None:
    qid, auth = await owner_with_invite_poll(client)
    counted = await make_codes(client, qid, auth, count=3)
    labelled = await make_codes(client, qid, auth, labels=["Ana", "Bo"])
    assert [item["label"] for item in counted + labelled] == ["", "", "", "Ana", "Bo"]
    assert all(CODE.match(item["code"]) and item["used"] is False for item in counted + labelled)
    assert all(item["url"] == "http://127.0.0.1:9000/v/" + item["code"] for item in counted)
    assert len({item["code"] for item in counted + labelled}) == 5
    loose = labelled[0]["code"].replace("-", "").lower()
    page = await client.get(f"/v/{loose}")
    assert page.status == 200 and 'class="vote-form"' in await page.text()
    poll_page = await (await client.get(f"/questions/{qid}")).text()
    assert 'action="/v"' in poll_page and "Or type the code on your card" in poll_page
    typed = await client.get("/v", params={"code": f" {loose[:6]} {loose[6:]} "}, allow_redirects=False)
    assert typed.status == 302 and typed.headers["Location"] == f"/v/{loose}"
    assert (await client.get("/v", params={"code": "7KQ2/../x"})).status == 403
    assert (await client.get("/v")).status == 403
    listing = await (await client.get(f"/api/v1/questions/{qid}/invites", headers=auth)).json()
    assert (listing["voted"], listing["invited"], len(listing["invites"])) == (0, 5, 5)
    for bad in ({"count": 0}, {"count": 5001}, {"count": "many"}, {"labels": ["x"] * 5001}, {"labels": "Ana"}, {}):
        assert (await client.post(f"/api/v1/questions/{qid}/invites", json=bad, headers=auth)).status == 400, bad


async def test_an_invite_code_votes_once_then_is_refused_with_a_clear_page(client: Any) -> None:
    qid, auth = await owner_with_invite_poll(client)
    first, _ = await choice_ids(client.app[DB], qid)
    code = (await make_codes(client, qid, auth, labels=["Ana"]))[0]["code"]
    poll_page = await (await client.get(f"/questions/{qid}")).text()
    assert "Only invited people vote here" in poll_page and 'class="vote-form"' not in poll_page
    voted = await vote_form(client, f"/v/{code}", first)
    assert voted.status == 200 and "your vote was counted" in await voted.text()
    used = await client.get(f"/v/{code}")
    assert used.status == 409 and "already been used" in await used.text()
    listing = await (await client.get(f"/api/v1/questions/{qid}/invites", headers=auth)).json()
    assert listing["invites"][0]["used"] is True and (listing["voted"], listing["invited"]) == (1, 1)
    unknown = await client.get("/v/0000-0000-0000")
    assert unknown.status == 403 and "not valid" in await unknown.text()
    assert (await client.get("/v/not-a-code")).status == 403


async def test_revoking_an_unused_code_and_not_a_used_one(client: Any) -> None:
    qid, auth = await owner_with_invite_poll(client)
    first, _ = await choice_ids(client.app[DB], qid)
    kept, dropped = await make_codes(client, qid, auth, count=2)
    vote = {"choice_ids": [first], "invite": kept["code"]}
    assert (await client.post(f"/api/v1/questions/{qid}/votes", json=vote)).status == 201
    assert (await client.delete(f"/api/v1/questions/{qid}/invites/{kept['id']}", headers=auth)).status == 409
    assert (await client.delete(f"/api/v1/questions/{qid}/invites/{dropped['id']}", headers=auth)).status == 204
    refused = await client.get(f"/v/{dropped['code']}")
    assert refused.status == 403 and "not valid" in await refused.text()
    again = {"choice_ids": [first], "invite": dropped["code"]}
    assert (await client.post(f"/api/v1/questions/{qid}/votes", json=again)).status == 403
    assert await total_votes(client.app[DB], qid) == 1
    for missing in (999999, 10**17):
        assert (await client.delete(f"/api/v1/questions/{qid}/invites/{missing}", headers=auth)).status == 404


async def test_only_invite_codes_vote_on_an_invite_poll(client: Any) -> None:
    qid, auth = await owner_with_invite_poll(client)
    first, _ = await choice_ids(client.app[DB], qid)
    signed_in = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first]}, headers=auth)
    assert signed_in.status == 403
    other, other_auth = await owner_with_invite_poll(client)
    elsewhere = (await make_codes(client, other, other_auth, count=1))[0]["code"]
    wrong_poll = {"choice_ids": [first], "invite": elsewhere}
    assert (await client.post(f"/api/v1/questions/{qid}/votes", json=wrong_poll)).status == 403
    assert await total_votes(client.app[DB], qid) == 0


async def test_fifty_parallel_votes_with_one_code_count_once(client: Any) -> None:
    qid, auth = await owner_with_invite_poll(client)
    first, _ = await choice_ids(client.app[DB], qid)
    code = (await make_codes(client, qid, auth, count=1))[0]["code"]
    vote = {"choice_ids": [first], "invite": code}
    answers = await asyncio.gather(*(client.post(f"/api/v1/questions/{qid}/votes", json=vote) for _ in range(50)))
    statuses = sorted(answer.status for answer in answers)
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409}, statuses
    assert await total_votes(client.app[DB], qid) == 1


async def test_votes_arriving_together_share_their_code_lookups(client: Any) -> None:
    qid, auth = await owner_with_invite_poll(client)
    first, _ = await choice_ids(client.app[DB], qid)
    codes = [item["code"] for item in await make_codes(client, qid, auth, count=60)]
    db, lookups = client.app[DB], []
    for name in ("fetch_one", "fetch_all"):  # the real queries, counted
        real = getattr(db, name)

        async def watched(sql: str, *args: Any, real: Any = real) -> Any:
            lookups.extend([sql] if "FROM invite WHERE code" in sql else [])
            return await real(sql, *args)

        setattr(db, name, watched)
    sent = [*codes, "0000-0000-0000", codes[0].lower()]  # an unknown code, and one sent twice
    answers = await asyncio.gather(
        *(client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first], "invite": c}) for c in sent)
    )
    assert sorted(answer.status for answer in answers) == [201] * 60 + [403, 409]
    assert await total_votes(db, qid) == 60
    assert 1 <= len(lookups) <= 10, len(lookups)  # not one per vote


async def test_two_processes_sharing_codes_count_each_code_once(mysql_settings: Settings, aiohttp_client: Any) -> None:
    one, two = await aiohttp_client(init(mysql_settings)), await aiohttp_client(init(mysql_settings))
    qid, auth = await owner_with_invite_poll(one)
    first, second = await choice_ids(one.app[DB], qid)
    codes = [item["code"] for item in await make_codes(one, qid, auth, count=40)]
    attempts = [
        client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first if n % 2 else second], "invite": code})
        for code in codes
        for n, client in enumerate((one, two, one, two))
    ]
    statuses = [answer.status for answer in await asyncio.gather(*attempts)]
    assert statuses.count(201) == 40 and statuses.count(409) == 120
    assert await total_votes(one.app[DB], qid) == 40
    listing = await (await two.get(f"/api/v1/questions/{qid}/invites", headers=auth)).json()
    assert (listing["voted"], listing["invited"]) == (40, 40)


async def signed_in_owner(client: Any) -> int:
    """Register on ``client`` and return an invite poll of the new account."""
    assert (await register(client, 1)).status == 302
    db = client.app[DB]
    owner = (await db.fetch_one("SELECT id FROM user WHERE email = %s", ("voter1@example.com",)))["id"]
    return await make_question(db, owner=owner, access="invite")


async def test_five_thousand_codes_in_one_call_fast_and_printed_in_pages(client: Any) -> None:
    qid = await signed_in_owner(client)
    token = await form_token(client, f"/questions/{qid}/invites")
    labels = "\n".join(f"Member {n}" for n in range(5000))
    started = time.perf_counter()
    made = await client.post(f"/questions/{qid}/invites", data={"csrf_token": token, "labels": labels})
    elapsed = time.perf_counter() - started
    assert made.status == 200 and "0 of 5000 invited have voted" in await made.text()
    assert elapsed < 5, f"5000 codes took {elapsed:.2f} s"
    codes = await client.app[DB].fetch_all("SELECT DISTINCT code FROM invite WHERE question_id = %s", (qid,))
    assert len(codes) == 5000
    started = time.perf_counter()
    first = await (await client.get(f"/questions/{qid}/invites/print")).text()
    drawn = time.perf_counter() - started
    assert first.count('class="card"') == 600 and "Page 1 of 9" in first and drawn < 5, drawn
    last = await (await client.get(f"/questions/{qid}/invites/print?page=9")).text()
    assert last.count('class="card"') == 200 and "Member 4999" in last
    assert (await client.get(f"/questions/{qid}/invites/print?page=10")).status == 400


async def test_the_owner_page_csv_and_turnout(client: Any, aiohttp_client: Any) -> None:
    qid = await signed_in_owner(client)
    first, _ = await choice_ids(client.app[DB], qid)
    token = await form_token(client, f"/questions/{qid}/invites")
    made = await client.post(
        f"/questions/{qid}/invites",
        data={"csrf_token": token, "labels": "Ana\r\n=cmd()\r\n\r\nBo"},
        allow_redirects=False,
    )
    assert made.status == 302
    page = await (await client.get(f"/questions/{qid}/invites")).text()
    assert "0 of 3 invited have voted" in page
    rows = list(csv.reader(io.StringIO(await (await client.get(f"/questions/{qid}/invites.csv")).text())))
    assert rows[0] == ["label", "code", "url", "used"] and [row[0] for row in rows[1:]] == ["Ana", "'=cmd()", "Bo"]
    holder = await aiohttp_client(client.server)  # Bo, with no account
    other = await holder.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [first], "invite": rows[3][1]})
    assert other.status == 201
    page = await (await client.get(f"/questions/{qid}/invites")).text()
    assert "1 of 3 invited have voted" in page
    refused = await client.post(
        f"/questions/{qid}/invites", data={"csrf_token": token, "count": "0"}, allow_redirects=False
    )
    assert refused.status == 400 and "from 1 to 5000" in await refused.text()
    revoke = re.search(r'action="(/questions/\d+/invites/\d+/revoke)"', page)
    assert revoke
    done = await client.post(revoke.group(1), data={"csrf_token": token}, allow_redirects=False)
    assert done.status == 302
    assert "1 of 2 invited have voted" in await (await client.get(f"/questions/{qid}/invites")).text()
    stranger = await client.get(f"/questions/{qid + 1000}/invites")
    assert stranger.status == 404


@pytest.mark.parametrize("path", ["/invites", "/invites.csv", "/invites/print"])
async def test_only_the_owner_manages_codes(client: Any, path: str) -> None:
    qid, _ = await owner_with_invite_poll(client)
    assert (await register(client, 2)).status == 302
    assert (await client.get(f"/questions/{qid}{path}")).status == 403


async def test_wechat_votes_with_the_code_as_last_word(settings: Settings, aiohttp_client: Any) -> None:
    from tests.test_wechat import connect

    platform = await connect(aiohttp_client, settings, safe=False)
    client = platform.client
    qid, auth = await owner_with_invite_poll(client)
    code = (await make_codes(client, qid, auth, count=1))[0]["code"]
    assert "invite codes only" in await platform.say(f"{qid} 1")
    assert "not valid" in await platform.say(f"{qid} 1 0000-0000-0000")
    assert "counted" in await platform.say(f"{qid} 2 {code.lower()}")
    assert "already been used" in await platform.say(f"{qid} 1 {code}")
    assert await total_votes(client.app[DB], qid) == 1
    secret = await make_question(client.app[DB], secret=True)
    receipt = await platform.say(f"{secret} 1")
    assert re.search(r"Your receipt: [0-9A-Z]{5}(-[0-9A-Z]{5}){3}", receipt), receipt
    shown = await platform.say(f"{secret}")
    assert "The ballot is secret" in shown and "Your vote" not in shown


# --- after voting, the voter sees the results (results_visibility after_vote) ----------------


async def after_vote_poll(client: Any, access: str) -> tuple[int, int, dict[str, str]]:
    db = client.app[DB]
    owner, auth = await token_for(db)
    qid = await make_question(db, owner=owner, access=access)
    await db.execute("UPDATE question SET results_visibility = 'after_vote' WHERE id = %s", (qid,))
    return qid, (await choice_ids(db, qid))[0], auth


async def live_results(client: Any, qid: int) -> Any:
    """The first message of the poll's live socket: its results, or the close of hidden ones."""
    async with client.ws_connect(f"/questions/{qid}/live") as ws:
        return await ws.receive(timeout=2)


async def test_an_invite_voter_sees_the_results_after_voting(client: Any, aiohttp_client: Any) -> None:
    qid, first, auth = await after_vote_poll(client, "invite")
    code, unused = (item["code"] for item in await make_codes(client, qid, auth, count=2))
    stranger = await aiohttp_client(client.server)
    assert (await stranger.get(f"/questions/{qid}/results")).status == 403
    voted = await vote_form(client, f"/v/{code}", first)
    assert voted.status == 200 and "See the results" in await voted.text()
    results = await client.get(f"/questions/{qid}/results")
    assert results.status == 200 and 'class="result-votes">1<' in (await results.text()).replace(" ", "")
    assert (await live_results(client, qid)).json()["total"] == 1
    assert (await stranger.get(f"/questions/{qid}/results")).status == 403  # not a page shared with them
    assert (await live_results(stranger, qid)).type == aiohttp.WSMsgType.CLOSE
    api = f"/api/v1/questions/{qid}/results"
    assert (await (await client.get(api, params={"invite": code.lower()})).json())["total"] == 1
    assert (await client.get(api, params={"invite": unused})).status == 403  # holds a code, has not voted
    assert (await client.get(api, params={"invite": "0000-0000-0000"})).status == 403
    detail = await (await client.get(f"/api/v1/questions/{qid}", params={"invite": code})).json()
    assert (detail["has_voted"], detail["my_vote"], detail["results_visible"]) == (True, None, True)


async def test_how_an_invite_code_voted_is_shown_to_nobody_not_even_the_owner(client: Any, aiohttp_client: Any) -> None:
    """The owner holds every code (to print them again): holding one must not tell how it voted
    (SPEC section 11), by the API, by the used code's page or by the poll's pages after it."""
    qid, auth = await owner_with_invite_poll(client, method="score", choices=("A", "B"))
    a, _ = await choice_ids(client.app[DB], qid)
    code = (await make_codes(client, qid, auth, count=1))[0]["code"]
    member = await aiohttp_client(client.server)
    cast = await member.post(f"/api/v1/questions/{qid}/votes", json={"scores": {str(a): 4}, "invite": code})
    assert cast.status == 201, await cast.text()
    detail = await (await client.get(f"/api/v1/questions/{qid}", params={"invite": code}, headers=auth)).json()
    assert (detail["has_voted"], detail["my_vote"]) == (True, None)
    assert (await client.get(f"/v/{code}")).status == 409  # the owner's browser now remembers the code
    for held in (member, client):
        await held.get(f"/v/{code}")
        page = await (await held.get(f"/questions/{qid}")).text()
        assert "This invite code has voted. How a code voted is shown to nobody" in page
        assert "is-mine" not in page and "You gave it" not in page and "Vote</button>" not in page
        results = await held.get(f"/questions/{qid}/results")
        assert results.status == 200 and "is-mine" not in await results.text()


async def test_a_forged_invite_memory_shows_nothing(client: Any) -> None:
    qid, first, auth = await after_vote_poll(client, "invite")
    code = (await make_codes(client, qid, auth, count=1))[0]["code"]
    assert (await vote_form(client, f"/v/{code}", first)).status == 200
    remembered = cookie(client, INVITED_COOKIE).value
    pairs, _, signature = remembered.rpartition(".")
    other_poll = pairs.replace(f"{qid}_", f"{qid + 1}_")
    for forged in (f"{pairs}.{signature[::-1]}", f"{other_poll}.{signature}", "junk", f"{qid}_1"):
        client.session.cookie_jar.update_cookies({INVITED_COOKIE: forged}, response_url=client.make_url("/"))
        assert (await client.get(f"/questions/{qid}/results")).status == 403, forged


async def test_a_link_voter_sees_live_results_after_voting(client: Any) -> None:
    qid, first, _ = await after_vote_poll(client, "link")
    assert (await live_results(client, qid)).type == aiohttp.WSMsgType.CLOSE
    assert (await vote_form(client, f"/questions/{qid}", first)).status == 302
    assert (await client.get(f"/questions/{qid}/results")).status == 200
    assert (await live_results(client, qid)).json()["total"] == 1


async def test_a_used_code_leads_to_the_results_and_a_wrong_one_can_be_corrected(
    client: Any, aiohttp_client: Any
) -> None:
    qid, first, auth = await after_vote_poll(client, "invite")
    code = (await make_codes(client, qid, auth, count=1))[0]["code"]
    form_page = await (await client.get(f"/v/{code}")).text()
    assert (await vote_form(client, f"/v/{code}", first)).status == 200
    poll_page = await (await client.get(f"/questions/{qid}")).text()
    assert "This invite code has voted" in poll_page and 'action="/v"' not in poll_page  # no box for a code now
    other_tab = await client.post(f"/v/{code}", data={"csrf_token": csrf_from(form_page), "choice": str(first)})
    card_again = await aiohttp_client(client.server)  # the card scanned again, on another phone
    for used in (other_tab, await card_again.get(f"/v/{code}")):
        html = await used.text()
        assert used.status == 409 and "already been used to vote" in html
        assert f'href="/questions/{qid}/results"' in html
    assert (await card_again.get(f"/questions/{qid}/results")).status == 200
    assert await total_votes(client.app[DB], qid) == 1

    stranger = await aiohttp_client(client.server)
    typed = await stranger.get("/v", params={"poll": str(qid), "code": "7KQ2-9XMV-4DHX"})
    html = await typed.text()
    assert typed.status == 403 and "This invite code is not valid" in html
    assert 'value="7KQ2-9XMV-4DHX"' in html and 'aria-invalid="true"' in html and 'action="/v"' in html
    clean = await (await stranger.get(f"/questions/{qid}")).text()
    assert "not valid" not in clean and 'value="7KQ2' not in clean  # the mistake was not kept for others
    for elsewhere in ({"poll": "999999", "code": "x"}, {"poll": "abc", "code": "x"}, {"code": "x"}):
        refused = await stranger.get("/v", params=elsewhere)
        assert refused.status == 403 and "This invite code is not valid" in await refused.text(), elsewhere
