"""Polls in the browser: the Django tutorial's cases, every status, visibility, owners' tools."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from application import polls
from application.keys import DB
from models import question, user
from tests.browser import csrf_from, form_token, register
from tests.factories import make_question


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


async def test_second_vote_is_409_and_changes_nothing(client: Any) -> None:
    qid = await make_question(client.app[DB])
    await logged_in(client)
    first, second = await choice_ids(client, qid)
    await vote(client, qid, first)
    token = csrf_from(await (await client.get("/me")).text())
    again = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, "choice": str(second)})
    assert again.status == 409
    assert "already voted" in await again.text()
    assert await votes_of(client, qid) == [1, 0]
    assert "You have already voted" in await (await client.get(f"/questions/{qid}")).text()


async def test_closed_poll_is_403(client: Any) -> None:
    qid = await make_question(client.app[DB], closes_in=-timedelta(minutes=1))
    await logged_in(client)
    token = csrf_from(await (await client.get("/me")).text())
    first, _ = await choice_ids(client, qid)
    response = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, "choice": str(first)})
    assert response.status == 403
    assert "closed" in await response.text()
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
    assert (await question.get_with_choices(client.app[DB], qid))["question_text"] == "Fixed?"


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
