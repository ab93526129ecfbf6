"""Polls in the browser: the Django tutorial's cases, every status, visibility, owners' tools."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from application.keys import DB, POLL_CACHE, SETTINGS
from application.services import polls
from application.web.csrf import VISITOR_TOKEN_SECONDS, visitor_token
from application.web.sessions import COOKIE_NAME
from models import question, user
from tests.browser import csrf_from, form_token, login, logout, register, session_id
from tests.factories import make_question, make_user


async def logged_in(client: Any, n: int = 1) -> int:
    """Register voter n on this client; returns their user id."""
    assert (await register(client, n)).status == 302
    found = await user.by_account(client.app[DB], f"voter{n}@example.com")
    return int(found["id"])


async def choice_ids(client: Any, question_id: int) -> list[int]:
    rows = await client.app[DB].fetch_all("SELECT id FROM choice WHERE question_id = %s ORDER BY id", (question_id,))
    return [row["id"] for row in rows]


async def vote(client: Any, question_id: int, *choices: int) -> Any:
    token = csrf_from(await (await client.get(f"/questions/{question_id}")).text())
    data = [("csrf_token", token)] + [("choice", str(c)) for c in choices]
    return await client.post(f"/questions/{question_id}/vote", data=data, allow_redirects=False)


async def votes_of(client: Any, question_id: int) -> list[int]:
    rows = await client.app[DB].fetch_all("SELECT votes FROM choice WHERE question_id = %s ORDER BY id", (question_id,))
    return [row["votes"] for row in rows]


# --- The Django tutorial's cases -------------------------------------------------


async def test_future_question_is_hidden_on_index_and_detail(client: Any) -> None:
    future = await make_question(client.app[DB], "Future question?", published=-timedelta(days=30))
    assert "Future question?" not in await (await client.get("/")).text()
    for path in (f"/questions/{future}", f"/questions/{future}/results", f"/api/v1/questions/{future}"):
        assert (await client.get(path)).status == 404, path


async def test_past_question_is_shown(client: Any) -> None:
    past = await make_question(client.app[DB], "Past question?", published=timedelta(days=30))
    assert "Past question?" in await (await client.get("/")).text()
    detail = await client.get(f"/questions/{past}")
    assert detail.status == 200
    assert "Past question?" in await detail.text()


async def test_vote_increments_and_redirects_to_results(client: Any) -> None:
    qid = await make_question(client.app[DB])
    await logged_in(client)
    _first, second = await choice_ids(client, qid)
    response = await vote(client, qid, second)
    assert response.status == 302
    assert response.headers["Location"] == f"/questions/{qid}/results"
    assert await votes_of(client, qid) == [0, 1]
    results = await (await client.get(f"/questions/{qid}/results")).text()
    assert 'class="mine-label"' in results and "Your vote" in results and "100.0" in results


async def test_no_choice_re_renders_the_form(client: Any) -> None:
    qid = await make_question(client.app[DB])
    await logged_in(client)
    response = await vote(client, qid)
    assert response.status == 400
    html = await response.text()
    assert "You didn&#39;t select a choice." in html
    assert 'name="choice"' in html
    assert await votes_of(client, qid) == [0, 0]


# --- Every status -------------------------------------------------------------------


async def test_anonymous_vote_goes_to_login(client: Any) -> None:
    qid = await make_question(client.app[DB])
    await client.get("/login")  # a session, so the CSRF check passes and the login check answers
    token = await form_token(client, "/login")
    response = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/login")
    detail = await (await client.get(f"/questions/{qid}")).text()
    assert "You will be asked to log in first." in detail


async def test_second_vote_from_a_stale_tab_is_409_on_the_poll_page(client: Any) -> None:
    qid = await make_question(client.app[DB], "Stale tab?")
    await logged_in(client)
    first, second = await choice_ids(client, qid)
    stale = csrf_from(await (await client.get(f"/questions/{qid}")).text())  # a second tab, still showing the form
    await vote(client, qid, first)
    again = await client.post(f"/questions/{qid}/vote", data={"csrf_token": stale, "choice": str(second)})
    assert again.status == 409
    html = await again.text()
    assert re.search(r"<h1[^>]*>Stale tab\?</h1>", html)  # the poll, not a bare error page
    assert "You have already voted in this poll." in html
    assert re.search(r'<li class="is-mine">red <span class="mine-label">', html)  # the vote they did cast
    assert 'action="/questions/' not in html.split("Share this poll")[0]  # no vote form again
    assert await votes_of(client, qid) == [1, 0]
    assert "You have already voted" in await (await client.get(f"/questions/{qid}")).text()


async def test_closed_poll_is_403_on_the_poll_page(client: Any) -> None:
    qid = await make_question(client.app[DB], "Closed already?", closes_in=-timedelta(minutes=1))
    await logged_in(client)
    token = csrf_from(await (await client.get("/me")).text())
    first, _ = await choice_ids(client, qid)
    response = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, "choice": str(first)})
    assert response.status == 403
    html = await response.text()
    assert re.search(r"<h1[^>]*>Closed already\?</h1>", html)
    assert "This poll is closed." in html
    assert await votes_of(client, qid) == [0, 0]


# --- Anonymous visitors: a shared, session-free page whose form still works ----------


def login_next(location: str) -> str:
    parts = urlsplit(location)
    assert parts.path == "/login", location
    return parse_qs(parts.query)["next"][0]


async def anonymous_form(client: Any, question_id: int) -> str:
    """The poll page as a visitor without a session sees it: its form's token; no session made."""
    page = await client.get(f"/questions/{question_id}")
    assert page.status == 200
    assert COOKIE_NAME not in page.cookies and session_id(client) is None
    return csrf_from(await page.text())


async def test_anonymous_vote_goes_to_login_and_back_with_the_choice_kept(client: Any) -> None:
    await register(client)
    await logout(client)
    qid = await make_question(client.app[DB], choices=("red", "green", "blue"))
    _red, green, _blue = await choice_ids(client, qid)
    token = await anonymous_form(client, qid)

    bare = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token}, allow_redirects=False)
    assert bare.status == 302
    assert bare.headers["Location"] == f"/login?next=/questions/{qid}"
    picked = await client.post(
        f"/questions/{qid}/vote", data={"csrf_token": token, "choice": str(green)}, allow_redirects=False
    )
    assert picked.status == 302
    assert picked.headers["Location"] == f"/login?next=/questions/{qid}"
    assert session_id(client) is None and await votes_of(client, qid) == [0, 0, 0]
    html = await (await client.get(f"/questions/{qid}")).text()
    assert re.findall(r'value="(\d+)" checked', html) == []  # a signed-out page is shared: nothing ticked

    back = await login(client, "voter1@example.com", next=login_next(picked.headers["Location"]))
    assert back.headers["Location"] == f"/questions/{qid}"
    html = await (await client.get(back.headers["Location"])).text()
    assert re.findall(r'value="(\d+)" checked', html) == [str(green)]
    html = await (await client.get(back.headers["Location"])).text()
    assert re.findall(r'value="(\d+)" checked', html) == []  # ticked once, then forgotten
    assert (await vote(client, qid, green)).status == 302
    assert await votes_of(client, qid) == [0, 1, 0]


async def test_only_the_polls_own_choices_are_kept_through_logging_in(client: Any) -> None:
    await register(client)
    await logout(client)
    qid = await make_question(client.app[DB], choices=("a", "b", "c"))
    other = await make_question(client.app[DB])
    a, b, c = await choice_ids(client, qid)
    foreign = (await choice_ids(client, other))[0]
    await client.app[DB].execute("UPDATE question SET max_choices = 2 WHERE id = %s", (qid,))
    client.app[POLL_CACHE].clear()
    token = await anonymous_form(client, qid)
    named = [str(c), str(foreign), "x", "99999999999999999999999", str(a), str(b)]
    form = [("csrf_token", token), *(("choice", value) for value in named)]
    answer = await client.post(f"/questions/{qid}/vote", data=form, allow_redirects=False)
    assert answer.headers["Location"] == f"/login?next=/questions/{qid}"
    await login(client, "voter1@example.com")
    html = await (await client.get(f"/questions/{other}")).text()
    assert re.findall(r'value="(\d+)" checked', html) == []  # another poll's page is not told
    html = await (await client.get(f"/questions/{qid}")).text()
    assert re.findall(r'value="(\d+)" checked', html) == [str(a), str(b)]  # at most max_choices, in order


async def test_a_forged_expired_or_cross_site_visitor_token_is_refused(client: Any) -> None:
    qid = await make_question(client.app[DB])
    token = await anonymous_form(client, qid)
    secret = client.app[SETTINGS].secret_key
    issued, _, signature = token.partition(".")
    refused = {
        "forged": f"{int(issued) + 1}.{signature}",
        "expired": visitor_token(secret, time.time() - VISITOR_TOKEN_SECONDS - 60),
        "another site's key": visitor_token("another secret", time.time()),
        "empty": "",
        "a huge time": "9" * 5000 + "." + signature,
    }
    for what, bad in refused.items():
        response = await client.post(f"/questions/{qid}/vote", data={"csrf_token": bad}, allow_redirects=False)
        assert response.status == 403, what
        assert "The form has expired" in await response.text(), what
    cross_site = await client.post(
        f"/questions/{qid}/vote",
        data={"csrf_token": token},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert cross_site.status == 403
    assert "Cross-site request refused." in await cross_site.text()
    week_old = visitor_token(secret, time.time() - VISITOR_TOKEN_SECONDS + 3600)  # a tab left open for days
    kept = await client.post(f"/questions/{qid}/vote", data={"csrf_token": week_old}, allow_redirects=False)
    assert kept.status == 302


async def test_a_visitor_token_works_only_without_a_session_and_only_where_visitors_post(client: Any) -> None:
    qid = await make_question(client.app[DB])
    token = await anonymous_form(client, qid)
    for path in ("/login", "/register", "/logout"):  # forms that a session's token guards
        response = await client.post(path, data={"csrf_token": token}, allow_redirects=False)
        assert response.status == 403, path
    await logged_in(client)
    first, _ = await choice_ids(client, qid)
    response = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, "choice": str(first)})
    assert response.status == 403  # a signed-in voter's request needs their session's token
    assert await votes_of(client, qid) == [0, 0]


async def test_choice_of_another_question_is_400_and_changes_nothing(client: Any) -> None:
    qid = await make_question(client.app[DB])
    other = await make_question(client.app[DB], "Other?")
    await logged_in(client)
    foreign, _ = await choice_ids(client, other)
    response = await vote(client, qid, foreign)
    assert response.status == 400
    assert await votes_of(client, qid) == [0, 0] and await votes_of(client, other) == [0, 0]
    assert await client.app[DB].fetch_all("SELECT id FROM ballot") == []
    own, _ = await choice_ids(client, qid)
    assert (await vote(client, qid, own)).status == 302  # the refused attempt did not use up the ballot


async def test_too_many_choices_is_400_and_multi_choice_counts_each(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, "Pick two?", ("a", "b", "c"))
    await db.execute("UPDATE question SET max_choices = 2 WHERE id = %s", (qid,))
    await logged_in(client)
    a, b, c = await choice_ids(client, qid)
    detail = await (await client.get(f"/questions/{qid}")).text()
    assert 'type="checkbox"' in detail and "Pick up to 2 choices" in detail
    assert (await vote(client, qid, a, b, c)).status == 400
    assert await votes_of(client, qid) == [0, 0, 0]
    assert (await vote(client, qid, a, c)).status == 302
    assert await votes_of(client, qid) == [1, 0, 1]


async def test_a_refused_vote_keeps_the_ticks(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db, "Pick two?", ("a", "b", "c", "d"))
    await db.execute("UPDATE question SET max_choices = 2 WHERE id = %s", (qid,))
    await logged_in(client)
    a, b, c, d = await choice_ids(client, qid)
    refused = await vote(client, qid, a, b, d)
    assert refused.status == 400
    html = await refused.text()
    assert "You selected more choices than this poll allows." in html
    ticked = re.findall(r'type="checkbox" name="choice" id="choice\d" value="(\d+)"( checked)?[^>]*>', html)
    assert ticked == [(str(a), " checked"), (str(b), " checked"), (str(c), ""), (str(d), " checked")]
    assert await votes_of(client, qid) == [0, 0, 0, 0]


async def test_refused_forms_name_the_error_in_the_title_and_lead_to_it(client: Any) -> None:
    qid = await make_question(client.app[DB], "Tea & coffee?")
    failed_login = await client.post("/login", data={"csrf_token": await form_token(client, "/login"), "account": "x"})
    failed_register = await client.post("/register", data={"csrf_token": await form_token(client, "/register")})
    await logged_in(client)
    failed_poll = await create_form(client, question_text="")
    failed_vote = await vote(client, qid)
    chinese_vote = await client.post(
        f"/questions/{qid}/vote",
        data={"csrf_token": await form_token(client, f"/questions/{qid}")},
        headers={"Accept-Language": "zh-CN"},
    )
    titles = (
        "Error: Log in",
        "Error: Register",
        "Error: New poll",
        "Error: Tea &amp; coffee?",
        "错误：Tea &amp; coffee?",  # noqa: RUF001 - the Chinese colon
    )
    for response, title in zip(
        (failed_login, failed_register, failed_poll, failed_vote, chinese_vote), titles, strict=True
    ):
        assert response.status == 400
        html = await response.text()
        assert f"<title>{title} · vote</title>" in html
        assert re.search(r'<a class="skip-link" href="#error-summary">', html)  # without JavaScript too
        assert html.count('id="error-summary" role="alert" tabindex="-1"') == 1
    html = await failed_vote.text()
    assert '<fieldset aria-describedby="error-summary">' in html  # the message describes the choices
    assert html.count('name="choice"') == html.count('aria-invalid="true"') == 2
    fine = await (await client.get(f"/questions/{qid}")).text()
    assert "<title>Tea &amp; coffee? · vote</title>" in fine and 'href="#main"' in fine and "aria-invalid" not in fine


async def test_garbage_choice_values_are_400(client: Any) -> None:
    qid = await make_question(client.app[DB])
    await logged_in(client)
    token = csrf_from(await (await client.get(f"/questions/{qid}")).text())
    for value in ("abc", "-1", "1.5", ""):
        response = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, "choice": value})
        assert response.status == 400, value


# --- Creating, editing, closing, deleting -------------------------------------------


async def create_form(client: Any, **fields: Any) -> Any:
    token = await form_token(client, "/questions/new")
    data: list[tuple[str, str]] = [("csrf_token", token)]
    choices = fields.pop("choices", ["Tea", "Coffee"])
    data += [(key, str(value)) for key, value in fields.items()]
    data += [("choice", text) for text in choices]
    return await client.post("/questions/new", data=data, allow_redirects=False)


async def test_create_poll_by_form(client: Any) -> None:
    await logged_in(client)
    response = await create_form(client, question_text="Tea or coffee?", choices=["Tea", "", "Coffee", "  "])
    assert response.status == 302
    qid = int(response.headers["Location"].rsplit("/", 1)[1])
    page = await (await client.get(f"/questions/{qid}")).text()
    assert "Tea or coffee?" in page and 'type="radio"' in page
    assert len(await choice_ids(client, qid)) == 2  # blank boxes were ignored


@pytest.mark.parametrize("editing", [False, True])
async def test_more_choices_without_javascript_keeps_the_texts_and_adds_boxes(client: Any, editing: bool) -> None:
    await logged_in(client)
    path = "/questions/new"
    if editing:
        created = await create_form(client, question_text="Typo?")
        path = created.headers["Location"] + "/edit"
    data = [("csrf_token", await form_token(client, path)), ("question_text", "Lunch?"), ("max_choices", "2")]
    data += [("choice", text) for text in ("Soup", "", "Noodles", "Rice")]
    response = await client.post(path, data=[*data, ("add_choice", "1")], allow_redirects=False)
    assert response.status == 200
    html = await response.text()
    boxes = re.findall(r'<input class="input" id="choice(\d+)" name="choice" maxlength="200" value="([^"]*)"', html)
    assert [text for _, text in boxes] == ["Soup", "Noodles", "Rice"] + [""] * 5  # four more than were sent
    assert 'id="choice4" name="choice" maxlength="200" value="" autofocus' in html  # the first new box
    assert 'value="Lunch?"' in html and 'name="max_choices" type="number" value="2"' in html
    assert "could not be saved" not in html and "field-error" not in html
    texts = [row["question_text"] for row in await client.app[DB].fetch_all("SELECT question_text FROM question")]
    assert texts == (["Typo?"] if editing else [])  # nothing was saved


async def test_more_choices_stops_at_twenty_boxes(client: Any) -> None:
    await logged_in(client)
    data = [("csrf_token", await form_token(client, "/questions/new")), ("add_choice", "1")]
    data += [("choice", f"c{n}") for n in range(18)]
    html = await (await client.post("/questions/new", data=data)).text()
    assert html.count('name="choice"') == 20
    assert 'name="add_choice"' not in html


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"question_text": ""}, "question_text"),
        ({"question_text": "x" * 201}, "question_text"),
        ({"question_text": "Q?", "choices": ["only one"]}, "choice"),
        ({"question_text": "Q?", "choices": [f"c{n}" for n in range(21)]}, "choice"),
        ({"question_text": "Q?", "choices": ["Same", "same"]}, "choice"),
        ({"question_text": "Q?", "choices": ["x" * 201, "y"]}, "choice"),
        ({"question_text": "Q?", "max_choices": 3}, "max_choices"),
        ({"question_text": "Q?", "max_choices": "two"}, "max_choices"),
        ({"question_text": "Q?", "closes_at": "yesterday"}, "closes_at"),
        ({"question_text": "Q?", "closes_at": "2001-01-01T00:00"}, "closes_at"),
        ({"question_text": "Q?", "results_visibility": "never"}, "results_visibility"),
    ],
)
async def test_create_form_errors_are_per_field_and_store_nothing(
    client: Any, fields: dict[str, Any], field: str
) -> None:
    await logged_in(client)
    response = await create_form(client, **fields)
    assert response.status == 400
    html = await response.text()
    assert "field-error" in html and "could not be saved" in html
    assert re.search(r'has-error"?[^>]*>\s*<(label|legend)[^>]*>', html) or field in html
    assert await client.app[DB].fetch_all("SELECT id FROM question") == []


async def test_scheduled_poll_is_visible_only_to_owner_and_admins(client: Any) -> None:
    await logged_in(client)
    response = await create_form(client, question_text="Later?", pub_date="2099-01-01T10:00")
    qid = int(response.headers["Location"].rsplit("/", 1)[1])
    owner_view = await client.get(f"/questions/{qid}")
    assert owner_view.status == 200
    assert "not published yet" in await owner_view.text()
    assert "Later?" not in await (await client.get("/")).text()
    assert "Later?" in await (await client.get("/me")).text()
    client.session.cookie_jar.clear()  # a stranger
    assert (await client.get(f"/questions/{qid}")).status == 404


async def test_owner_edits_before_the_first_vote_only(client: Any) -> None:
    await logged_in(client)
    qid = int((await create_form(client, question_text="Typo?")).headers["Location"].rsplit("/", 1)[1])
    form = await client.get(f"/questions/{qid}/edit")
    assert form.status == 200
    token = csrf_from(await form.text())
    data = [
        ("csrf_token", token),
        ("question_text", "Fixed?"),
        ("choice", "Yes"),
        ("choice", "No"),
        ("choice", "Maybe"),
    ]
    assert (await client.post(f"/questions/{qid}/edit", data=data, allow_redirects=False)).status == 302
    assert "Fixed?" in await (await client.get(f"/questions/{qid}")).text()
    assert len(await choice_ids(client, qid)) == 3

    yes = (await choice_ids(client, qid))[0]
    await vote(client, qid, yes)
    refused = await client.post(f"/questions/{qid}/edit", data=data, allow_redirects=False)
    assert refused.status == 409
    refused_html = await refused.text()
    assert "This poll has votes already, so it can no longer be edited." in refused_html
    assert re.search(r"<h1[^>]*>Fixed\?</h1>", refused_html)  # the poll's page says so
    assert (await question.get_with_choices(client.app[DB], qid))["question_text"] == "Fixed?"


async def test_a_poll_with_votes_offers_no_edit_form(client: Any) -> None:
    await logged_in(client)
    qid = int((await create_form(client, question_text="Voted on?")).headers["Location"].rsplit("/", 1)[1])
    assert f'href="/questions/{qid}/edit"' in await (await client.get(f"/questions/{qid}")).text()
    await vote(client, qid, (await choice_ids(client, qid))[0])
    assert f'href="/questions/{qid}/edit"' not in await (await client.get(f"/questions/{qid}")).text()
    page = await client.get(f"/questions/{qid}/edit")
    assert page.status == 409
    html = await page.text()
    assert "This poll has votes already, so it can no longer be edited." in html
    assert 'name="question_text"' not in html  # no form whose save would fail
    assert re.search(r"<h1[^>]*>Voted on\?</h1>", html) and 'href="/"' in html


async def test_only_the_owner_edits_and_only_owner_or_admin_closes_or_deletes(client: Any) -> None:
    qid = await make_question(client.app[DB])
    await logged_in(client)
    token = csrf_from(await (await client.get("/me")).text())
    assert (await client.get(f"/questions/{qid}/edit")).status == 403
    for action in ("close", "delete"):
        response = await client.post(f"/questions/{qid}/{action}", data={"csrf_token": token})
        assert response.status == 403
    assert (await client.get(f"/questions/{qid}/results.csv")).status == 403


async def test_owner_closes_and_deletes(client: Any) -> None:
    await logged_in(client)
    qid = int((await create_form(client, question_text="Short lived?")).headers["Location"].rsplit("/", 1)[1])
    token = csrf_from(await (await client.get(f"/questions/{qid}")).text())
    assert (
        await client.post(f"/questions/{qid}/close", data={"csrf_token": token}, allow_redirects=False)
    ).status == 302
    page = await (await client.get(f"/questions/{qid}")).text()
    assert "This poll is closed" in page
    first = (await choice_ids(client, qid))[0]
    closed_vote = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, "choice": str(first)})
    assert closed_vote.status == 403
    assert (
        await client.post(f"/questions/{qid}/delete", data={"csrf_token": token}, allow_redirects=False)
    ).status == 302
    for path in (
        f"/questions/{qid}",
        f"/questions/{qid}/results",
        f"/questions/{qid}/choice",
        f"/api/v1/questions/{qid}",
    ):
        assert (await client.get(path)).status == 404, path
    row = await client.app[DB].fetch_one("SELECT delete_flag FROM question WHERE id = %s", (qid,))
    assert row["delete_flag"] == 1  # soft: the row stays


async def test_admin_deletes_and_restores(client: Any) -> None:
    qid = await make_question(client.app[DB], "Moderated?")
    admin_id = await logged_in(client)
    await client.app[DB].execute("UPDATE user SET is_admin = 1 WHERE id = %s", (admin_id,))
    page = await client.get("/admin")
    assert "Moderated?" in await page.text()
    token = csrf_from(await page.text())
    await client.post(f"/admin/questions/{qid}/delete", data={"csrf_token": token})
    assert (await client.get(f"/questions/{qid}")).status == 404
    await client.post(f"/admin/questions/{qid}/restore", data={"csrf_token": token})
    assert (await client.get(f"/questions/{qid}")).status == 200


# --- Results and their visibility ---------------------------------------------------


async def test_results_page_shows_counts_percentages_and_total(client: Any) -> None:
    qid = await make_question(client.app[DB], "Counted?", ("a", "b", "c"), votes=(1, 2, 1))
    html = await (await client.get(f"/questions/{qid}/results")).text()
    assert re.search(r'class="results-total">4</span>\s*<span class="results-total-unit">votes</span> in total', html)
    assert re.findall(r'class="result-percent">([\d.]+)<', html) == ["25.0", "50.0", "25.0"]
    assert re.findall(r'class="result-votes">(\d+)<', html) == ["1", "2", "1"]
    assert "<progress" in html  # bars readable without JavaScript
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in html  # refreshes without it
    assert re.search(r'<script src="/static/js/live.js\?v=[^"]+" defer></script>', html)


async def test_results_of_a_closed_poll_are_final_not_live(client: Any) -> None:
    db = client.app[DB]
    closing = await make_question(db, "Closing soon?", closes_in=timedelta(hours=1), votes=(1, 0))
    closed = await make_question(db, "Closed?", closes_in=-timedelta(minutes=1), votes=(2, 1))
    live = await (await client.get(f"/questions/{closing}/results")).text()
    assert "js/live.js" in live and "updates by itself" in live and ">Live<" in live
    closes_at = (await question.get_with_choices(db, closing))["closes_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'data-closes-at="{closes_at}"' in live  # live.js comes again when it closes by itself
    final = await client.get(f"/questions/{closed}/results")
    assert final.status == 200
    html = await final.text()
    assert "Final results" in html and "these are its final results" in html
    assert re.findall(r'class="result-votes">(\d+)<', html) == ["2", "1"]
    for live_only in ("js/live.js", 'http-equiv="refresh"', ">Live<", "live-status", "updates by itself"):
        assert live_only not in html, live_only


async def test_results_hidden_until_vote_or_close(client: Any) -> None:
    db = client.app[DB]
    after_vote = await make_question(db, "After vote?")
    after_close = await make_question(db, "After close?")
    await db.execute("UPDATE question SET results_visibility = 'after_vote' WHERE id = %s", (after_vote,))
    await db.execute("UPDATE question SET results_visibility = 'after_close' WHERE id = %s", (after_close,))
    await logged_in(client)
    for qid in (after_vote, after_close):
        page = await client.get(f"/questions/{qid}/results")
        assert page.status == 403
        assert "hidden" in await page.text() or "once you have voted" in await page.text()
        assert (await client.get(f"/api/v1/questions/{qid}/results")).status == 403
        assert (await client.get(f"/questions/{qid}/choice")).status == 403
        # The vote form offers no link to results this voter may not see yet.
        assert f'href="/questions/{qid}/results"' not in await (await client.get(f"/questions/{qid}")).text()
    await vote(client, after_vote, (await choice_ids(client, after_vote))[0])
    await vote(client, after_close, (await choice_ids(client, after_close))[0])
    assert (await client.get(f"/questions/{after_vote}/results")).status == 200
    assert (await client.get(f"/questions/{after_close}/results")).status == 403
    await polls.close_poll(client.app, {"id": after_close})  # as the owner's Close button does
    assert (await client.get(f"/questions/{after_close}/results")).status == 200


async def test_csv_for_the_owner(client: Any) -> None:
    owner = await logged_in(client)
    qid = await make_question(client.app[DB], "Export?", ("x, with comma", 'say "hi"'), owner=owner, votes=(3, 1))
    response = await client.get(f"/questions/{qid}/results.csv")
    assert response.status == 200
    assert response.content_type == "text/csv"
    assert await response.text() == 'choice,votes,percent\r\n"x, with comma",3,75.0\r\n"say ""hi""",1,25.0\r\n'


@pytest.mark.parametrize("admin", [False, True], ids=["owner", "administrator"])
async def test_csv_neutralises_spreadsheet_formulas(client: Any, admin: bool) -> None:
    """A choice text that a spreadsheet would run as a formula arrives as text, prefixed with '."""
    db = client.app[DB]
    formulas = ('=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A9)", "\tx=1", "\r=1+1")
    harmless = ("plain", " =spaced", "a=b", "1-2", "'quoted", "投票 =1")
    if admin:
        owner = await make_user(db)
        await db.execute("UPDATE user SET is_admin = 1 WHERE id = %s", (await logged_in(client),))
    else:
        owner = await logged_in(client)
    qid = await make_question(db, "Export?", formulas + harmless, owner=owner, votes=(1,) * 12)
    response = await client.get(f"/questions/{qid}/results.csv")
    assert response.status == 200
    rows = list(csv.reader(io.StringIO(await response.text(), newline="")))
    assert rows[0] == ["choice", "votes", "percent"]
    assert [row[0] for row in rows[1:]] == ["'" + text for text in formulas] + list(harmless)
    assert {tuple(row[1:]) for row in rows[1:]} == {("1", "8.3")}  # numbers stay numbers


async def test_me_lists_my_polls_and_my_votes(client: Any) -> None:
    theirs = await make_question(client.app[DB], "Someone else's?")
    await logged_in(client)
    await create_form(client, question_text="Mine?")
    await vote(client, theirs, (await choice_ids(client, theirs))[0])
    html = await (await client.get("/me")).text()
    my_polls, my_votes = html.split("My votes")
    assert "Mine?" in my_polls and "Someone else&#39;s?" in my_votes


async def test_html_is_escaped_everywhere(client: Any) -> None:
    evil = "<img src=x onerror=alert(1)>"
    qid = await make_question(client.app[DB], evil + "?", (evil, "<b>b</b>"))
    await logged_in(client)
    for path in ("/", f"/questions/{qid}", f"/questions/{qid}/results", "/me"):
        assert "<img src=x" not in await (await client.get(path)).text(), path
