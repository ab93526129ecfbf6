"""Time (SPEC 15): pages show times in the visitor's zone with the zone named, the poll forms take
local times in that zone, the API speaks ISO 8601 with offsets, and out-of-range times are a 400."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from application import init
from application.keys import DB
from application.services.poll_fields import parse_time
from config import Settings
from models import choice, question
from models.clock import utcnow
from models.db import Database
from tests.browser import csrf_from
from tests.factories import make_user
from tests.test_api_polls import token_for
from tests.test_polls import logged_in

CLOSES = datetime(2099, 12, 1, 10, 0)  # UTC: 18:00 in Shanghai, 05:00 in New York
OUT_OF_RANGE = [
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-14:00",  # after 9999 in UTC
    "1969-12-31T23:59:59Z",  # before what the databases are asked to hold
    "9999-12-31T12:00Z",  # too late for the zones east of UTC to show
]
TIME_TAG = re.compile(r'<time datetime="([^"]+)"[^>]*>([^<]+)</time>')


async def poll_closing(db: Database, closes_at: datetime = CLOSES, text: str = "When do we meet?") -> int:
    owner = await make_user(db)
    qid = await question.create(
        db, user_id=owner, question_text=text, pub_date=utcnow() - timedelta(hours=1), closes_at=closes_at
    )
    for choice_text in ("Monday", "Tuesday"):
        await choice.create(db, question_id=qid, choice_text=choice_text)
    return qid


def use_zone(client: Any, name: str | None) -> None:
    """What static/js/app.js does in a browser whose zone is ``name`` (None: no script ran yet)."""
    if name is None:
        client.session.cookie_jar.clear(lambda cookie: cookie.key == "tz")
    else:
        client.session.cookie_jar.update_cookies({"tz": name}, response_url=client.make_url("/"))


async def times_on(client: Any, path: str, **kwargs: Any) -> list[tuple[str, str]]:
    """(datetime attribute, text) of every <time> on the page."""
    response = await client.get(path, **kwargs)
    assert response.status == 200, path
    return TIME_TAG.findall(await response.text())


async def stored_times(db: Database, text: str) -> tuple[datetime, datetime | None]:
    row = await db.fetch_one("SELECT pub_date, closes_at FROM question WHERE question_text = %s", (text,))
    assert row is not None
    return row["pub_date"], row["closes_at"]


async def post_poll_form(client: Any, path: str, text: str, **times: str) -> Any:
    """Submit the poll form as a browser would: its hidden fields as served, these times typed in."""
    html = await (await client.get(path)).text()
    zone = re.search(r'name="timezone" value="([^"]+)"', html)
    assert zone, "the form names no zone"
    data = {"csrf_token": csrf_from(html), "timezone": zone.group(1), "question_text": text, **times}
    return await client.post(path, data=[*data.items(), ("choice", "Tea"), ("choice", "Coffee")], allow_redirects=False)


# --- Pages ----------------------------------------------------------------------------


async def test_pages_show_times_in_the_visitors_zone_with_the_zone_named(client: Any) -> None:
    qid = await poll_closing(client.app[DB])
    pages = ("/", f"/questions/{qid}")
    for path in pages:  # the browser has not said its zone yet: the configured default
        assert await times_on(client, path) == [("2099-12-01T18:00+08:00", "2099-12-01 18:00 (Asia/Shanghai)")], path
    use_zone(client, "America/New_York")
    for path in pages:
        assert await times_on(client, path) == [("2099-12-01T05:00-05:00", "2099-12-01 05:00 (America/New_York)")], path
    chinese = await times_on(client, f"/questions/{qid}", headers={"Accept-Language": "zh-CN"})
    assert chinese == [("2099-12-01T05:00-05:00", "2099-12-01 05:00（America/New_York）")]  # noqa: RUF001


async def test_my_polls_show_times_in_my_zone(client: Any) -> None:
    await logged_in(client)
    use_zone(client, "Europe/Paris")
    assert (await post_poll_form(client, "/questions/new", "Mine?", closes_at="2099-12-01T11:00")).status == 302
    assert await times_on(client, "/me") == [("2099-12-01T11:00+01:00", "2099-12-01 11:00 (Europe/Paris)")]


@pytest.mark.parametrize(
    "cookie",
    ["tz=Mars/Olympus_Mons", "tz=../../../../etc/passwd", "tz=/usr/share/zoneinfo/UTC", "tz=", "tz=" + "A" * 4000],
)
async def test_a_cookie_naming_no_zone_is_ignored(client: Any, cookie: str) -> None:
    qid = await poll_closing(client.app[DB])
    shown = await times_on(client, f"/questions/{qid}", headers={"Cookie": cookie})
    assert shown == [("2099-12-01T18:00+08:00", "2099-12-01 18:00 (Asia/Shanghai)")]


async def test_a_page_shared_between_anonymous_visitors_is_never_shown_in_another_zone(client: Any) -> None:
    qid = await poll_closing(client.app[DB])
    expected = {
        "America/New_York": "2099-12-01 05:00 (America/New_York)",
        None: "2099-12-01 18:00 (Asia/Shanghai)",
        "Europe/London": "2099-12-01 10:00 (Europe/London)",
    }
    for _ in range(2):  # the second round comes from the shared pages
        for zone, text in expected.items():
            use_zone(client, zone)
            for path in ("/", f"/questions/{qid}"):
                assert [shown for _, shown in await times_on(client, path)] == [text], (zone, path)


async def test_the_configured_default_zone_serves_visitors_without_a_cookie(
    settings: Settings, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(init(settings.model_copy(update={"default_timezone": "Europe/Berlin"})))
    qid = await poll_closing(client.app[DB])
    assert await times_on(client, f"/questions/{qid}") == [
        ("2099-12-01T11:00+01:00", "2099-12-01 11:00 (Europe/Berlin)")
    ]


async def test_a_stored_time_no_zone_can_show_is_shown_in_utc(client: Any) -> None:
    """A row written before times were range-checked: 23:59 UTC on 31 December 9999 has no
    Shanghai equivalent."""
    qid = await poll_closing(client.app[DB], closes_at=datetime(9999, 12, 31, 23, 59))
    assert await times_on(client, f"/questions/{qid}") == [("9999-12-31T23:59+00:00", "9999-12-31 23:59 (UTC)")]


# --- The poll forms ----------------------------------------------------------------------


async def test_the_form_takes_local_times_and_the_edit_form_shows_them_back(client: Any) -> None:
    db = client.app[DB]
    await logged_in(client)
    use_zone(client, "Asia/Shanghai")
    form = await (await client.get("/questions/new")).text()
    assert "Close at (Asia/Shanghai time, optional)" in form
    created = await post_poll_form(client, "/questions/new", "Local?", closes_at="2099-12-31T18:00")
    assert created.status == 302
    assert (await stored_times(db, "Local?"))[1] == datetime(2099, 12, 31, 10, 0)
    edit = created.headers["Location"] + "/edit"

    edit_form = await (await client.get(edit)).text()
    assert 'name="closes_at" type="datetime-local" value="2099-12-31T18:00"' in edit_form

    use_zone(client, "America/New_York")
    edit_form = await (await client.get(edit)).text()
    assert "Close at (America/New_York time, optional)" in edit_form
    assert 'name="closes_at" type="datetime-local" value="2099-12-31T05:00"' in edit_form
    pub_date = re.search(r'name="pub_date" type="datetime-local" value="([^"]+)"', edit_form)
    assert pub_date
    saved = await post_poll_form(client, edit, "Local?", pub_date=pub_date.group(1), closes_at="2099-12-31T05:00")
    assert saved.status == 302
    stored_pub_date, closes_at = await stored_times(db, "Local?")
    assert closes_at == datetime(2099, 12, 31, 10, 0)  # the same moment, seen from New York
    assert abs(stored_pub_date - utcnow()) < timedelta(minutes=2)


async def test_the_form_keeps_the_zone_it_named_when_the_cookie_changes_meanwhile(client: Any) -> None:
    db = client.app[DB]
    await logged_in(client)
    use_zone(client, "Asia/Shanghai")
    html = await (await client.get("/questions/new")).text()
    use_zone(client, "America/New_York")  # the laptop landed before the form was sent
    data = [("csrf_token", csrf_from(html)), ("timezone", "Asia/Shanghai"), ("question_text", "Named zone?")]
    data += [("closes_at", "2099-12-31T18:00"), ("choice", "Tea"), ("choice", "Coffee")]
    assert (await client.post("/questions/new", data=data, allow_redirects=False)).status == 302
    assert (await stored_times(db, "Named zone?"))[1] == datetime(2099, 12, 31, 10, 0)

    data = [(key, "Nowhere/Land" if key == "timezone" else value) for key, value in data]
    data = [(key, "Bad zone?" if key == "question_text" else value) for key, value in data]
    assert (await client.post("/questions/new", data=data, allow_redirects=False)).status == 302
    assert (await stored_times(db, "Bad zone?"))[1] == datetime(2099, 12, 31, 23, 0)  # the cookie's zone


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("2099-12-31T18:00+01:00", datetime(2099, 12, 31, 17, 0)), ("2099-12-31T18:00Z", datetime(2099, 12, 31, 18, 0))],
)
async def test_the_form_honours_an_explicit_offset(client: Any, typed: str, stored: datetime) -> None:
    await logged_in(client)
    use_zone(client, "Asia/Shanghai")
    assert (await post_poll_form(client, "/questions/new", "Offset?", closes_at=typed)).status == 302
    assert (await stored_times(client.app[DB], "Offset?"))[1] == stored


@pytest.mark.parametrize("field", ["pub_date", "closes_at"])
@pytest.mark.parametrize("typed", [*OUT_OF_RANGE, "9999-12-31T08:00"])  # the last: local, in Shanghai
async def test_the_form_refuses_out_of_range_times_with_a_message(client: Any, field: str, typed: str) -> None:
    await logged_in(client)
    response = await post_poll_form(client, "/questions/new", "Out of range?", **{field: typed})
    assert response.status == 400
    html = await response.text()
    assert f'id="{field}-error"' in html and "Use a time between 1970-01-01 and 9999-12-30." in html
    assert await client.app[DB].fetch_all("SELECT id FROM question") == []


def test_local_times_a_clock_change_repeats_or_skips_read_before_the_change() -> None:
    new_york = ZoneInfo("America/New_York")
    errors: dict[str, str] = {}
    assert parse_time("2026-11-01T01:30", "t", errors, new_york) == datetime(2026, 11, 1, 5, 30)  # first 01:30, EDT
    assert parse_time("2026-03-08T02:30", "t", errors, new_york) == datetime(2026, 3, 8, 7, 30)  # = 03:30 EDT
    assert errors == {}


# --- The API -------------------------------------------------------------------------------

UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


async def test_the_api_speaks_utc_with_an_explicit_offset(client: Any) -> None:
    db = client.app[DB]
    _, auth = await token_for(db)
    # A tz cookie is for pages: the API reads a time without an offset as UTC whatever it says.
    headers = {**auth, "Cookie": "tz=Asia/Shanghai"}
    body = {"question_text": "API times?", "choices": ["a", "b"], "closes_at": "2099-12-31T18:00+08:00"}
    created = await client.post("/api/v1/questions", json=body, headers=headers)
    assert created.status == 201
    poll = await created.json()
    assert poll["closes_at"] == "2099-12-31T10:00:00Z" and UTC_TIME.fullmatch(poll["pub_date"])

    body = {"question_text": "Naive?", "choices": ["a", "b"], "closes_at": "2099-12-31T18:00"}
    naive = await (await client.post("/api/v1/questions", json=body, headers=headers)).json()
    assert naive["closes_at"] == "2099-12-31T18:00:00Z"

    read = await (await client.get(f"/api/v1/questions/{poll['id']}")).json()
    assert read["closes_at"] == "2099-12-31T10:00:00Z"
    listing = await (await client.get("/api/v1/questions")).json()
    assert {item["closes_at"] for item in listing["items"]} == {"2099-12-31T10:00:00Z", "2099-12-31T18:00:00Z"}
    assert all(UTC_TIME.fullmatch(item["pub_date"]) for item in listing["items"])
    # The seed's JSON keeps its own form for its old consumers.
    seed = await (await client.get(f"/questions/{poll['id']}/choice")).json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", seed[0]["create_time"])


@pytest.mark.parametrize("field", ["pub_date", "closes_at"])
@pytest.mark.parametrize("sent", OUT_OF_RANGE)
async def test_the_api_refuses_out_of_range_times_with_a_message(client: Any, field: str, sent: str) -> None:
    _, auth = await token_for(client.app[DB])
    body = {"question_text": "Out of range?", "choices": ["a", "b"], field: sent}
    response = await client.post("/api/v1/questions", json=body, headers=auth)
    assert response.status == 400
    error = await response.json()
    assert error["error_code"] == 20005
    assert error["fields"] == {field: "Use a time between 1970-01-01 and 9999-12-30."}
    assert await client.app[DB].fetch_all("SELECT id FROM question") == []
