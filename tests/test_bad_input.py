# ruff: noqa: RUF001  # the Chinese messages use full-width punctuation, on purpose
"""Bad input of any shape gets a 4xx with a message and changes nothing, never a 500 (SPEC §9).

One test per kind of input found to fail (query and path numbers, URLs in headers, JSON and form
bodies), the text rules of every field people write in, and a bounded fuzz of every form and API
operation (see the end of this file).
"""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import aiohttp
import pytest

from application.keys import DB
from models import api_token
from models.db import Database
from tests.browser import form_token, register
from tests.factories import make_question, make_user
from tests.test_openapi import documented_error

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


async def bearer(db: Database) -> dict[str, str]:
    _, token = await api_token.create(db, await make_user(db), "bad-input")
    return {"Authorization": f"Bearer {token}"}


async def stored(db: Database) -> dict[str, int]:
    """How many rows each table a request could write to holds."""
    tables = ("user", "question", "choice", "api_token", "ballot")
    return {table: int((await db.fetch_one(f"SELECT COUNT(*) AS n FROM {table}"))["n"]) for table in tables}


async def signed_in(client: Any) -> str:
    """Register and sign in on this client; the session's CSRF token."""
    assert (await register(client, 900)).status == 302
    return await form_token(client, "/questions/new")


def field_error(page: str, name: str) -> str:
    """The message a page shows under a form field, or ""."""
    found = re.search(rf'id="{name}-error">.*?</span> (.*?)</p>', page)
    return html.unescape(found.group(1)) if found else ""


async def raw_status(client: Any, request: bytes) -> int:
    """The status of a request sent byte for byte (headers no client library would send)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


# --- Numbers in query strings and paths ---------------------------------------------------------

BAD_NUMBERS = ["99999999999999999999", "1000001", "%C2%B2", "%D9%A3", "-1", "0", "1.5", "1e3", "9" * 5000, "%20"]


@pytest.mark.parametrize("value", BAD_NUMBERS)
async def test_page_numbers_out_of_every_range_are_400_with_a_message(client: Any, value: str) -> None:
    for path in ("/", "/questions"):
        page = await client.get(f"{path}?page={value}")
        assert page.status == 400, (path, value)
        assert "page must be a whole number from 1 to 1000000." in await page.text()
    for name, maximum in (("page", 1_000_000), ("per_page", 100)):
        answer = await client.get(f"/api/v1/questions?{name}={value}")
        assert answer.status == 400, (name, value)
        body = await answer.json()
        assert body["error_code"] == 20005
        assert body["fields"] == {name: f"{name} must be a whole number from 1 to {maximum}."}


async def test_ids_in_paths_are_ascii_digits_only(client: Any) -> None:
    qid = await make_question(client.app[DB])
    assert (await client.get(f"/questions/{qid}")).status == 200
    other_digits = str(qid).translate(ARABIC_INDIC)  # the same number to int(), not the same URL
    for path in (f"/questions/{other_digits}", f"/api/v1/questions/{other_digits}"):
        assert (await client.get(path)).status == 404, path


# --- URLs the app reads: next, Origin, Referer; and the Authorization header ----------------------


async def test_urls_that_cannot_be_parsed_are_treated_as_foreign(client: Any) -> None:
    login_page = await client.get("/login?next=//%5B")
    assert login_page.status == 200 and 'name="next" value="/"' in await login_page.text()
    switched = await client.get("/language/en?next=http://%5B::1", allow_redirects=False)
    assert switched.status == 302 and switched.headers["Location"] == "/"

    token = await form_token(client, "/login")
    form = {"account": "nobody@example.com", "password": "wrong password", "csrf_token": token}
    cross = await client.post("/login", data=form, headers={"Origin": "http://["})
    assert cross.status == 403 and "Cross-site request refused." in await cross.text()
    refused = await client.post("/login", data=form, headers={"Referer": "http://["})
    assert refused.status == 400 and "The account or password is incorrect." in await refused.text()

    qid = await make_question(client.app[DB])
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(f"/questions/{qid}/live", headers={"Origin": "http://["})
    assert caught.value.status == 403


async def test_a_bearer_token_that_is_not_text_is_401(client: Any) -> None:
    request = b"GET /api/v1/tokens HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n"
    assert await raw_status(client, request) == 401


# --- JSON bodies -------------------------------------------------------------------------------

DEEP = "[" * 1000 + "]" * 1000
POLL = '"question_text": "Tea?", "choices": ["tea", "coffee"]'
REGISTRATION = '"name": "N", "email": "n@example.com", "phone": "13912345678"'


@pytest.mark.parametrize(
    ("operation", "body", "problem"),
    [
        ("create", DEEP, "nested more than 32 levels"),
        ("create", '{"a": ' + DEEP + "}", "nested more than 32 levels"),
        ("create", '{"a": ' + "[" * 32 + "]" * 32 + ", " + POLL + "}", "nested more than 32 levels"),
        ("create", '{"question_text": "\\ud83d tea?", "choices": ["tea", "coffee"]}', "not valid Unicode"),
        ("create", '{"\\udc00": 1, ' + POLL + "}", "not valid Unicode"),
        ("register", "{" + REGISTRATION + ', "password": "correct horse \\ud83d"}', "not valid Unicode"),
        ("token", '{"account": "n@example.com", "password": "x", "name": "\\ude00"}', "not valid Unicode"),
        ("create", "{" + POLL + ', "max_choices": NaN}', "NaN, Infinity"),
        ("create", "{" + POLL + ', "max_choices": -Infinity}', "NaN, Infinity"),
        ("create", "{" + POLL + ', "max_choices": 1e400}', "NaN, Infinity"),
        ("create", "{" + POLL + ', "max_choices": ' + "9" * 25 + "}", "more than 20 digits"),
        ("create", "{" + POLL + ', "max_choices": "' + "9" * 5000 + '"}', "Enter a whole number."),
        ("create", "{" + POLL + ', "max_choices": "²"}', "Enter a whole number."),
        ("create", "{" + POLL + ', "max_choices": 1.0}', "Enter a whole number."),
        ("create", "{" + POLL + ', "max_choices": true}', "Enter a whole number."),
        ("create", "{" + POLL + ', "results_visibility": {}}', "Choose always, after_vote or after_close."),
        ("vote", '{"choice_ids": ["²"]}', "Not a choice id."),
        ("vote", '{"choice_ids": [1.5]}', "Not a choice id."),
        ("vote", '{"choice_ids": [true]}', "Not a choice id."),
        ("vote", '{"choice_ids": [null]}', "Not a choice id."),
        ("vote", '{"choice_ids": ["' + "9" * 5000 + '"]}', "Not a choice id."),
        ("vote", '{"choice_ids": [-1]}', "Unknown choice."),
        ("vote", '{"choice_ids": [2147483648]}', "Unknown choice."),
    ],
)
async def test_json_that_no_field_takes_is_400_and_changes_nothing(
    client: Any, operation: str, body: str, problem: str
) -> None:
    db = client.app[DB]
    auth = await bearer(db)
    qid = await make_question(db)
    method, path = {
        "create": ("post", "/api/v1/questions"),
        "register": ("post", "/api/v1/register"),
        "token": ("post", "/api/v1/tokens"),
        "vote": ("post", "/api/v1/questions/{question_id}/votes"),
    }[operation]
    before = await stored(db)
    answer = await client.post(
        path.format(question_id=qid), data=body.encode(), headers={**auth, "Content-Type": "application/json"}
    )
    assert answer.status == 400
    refusal = await answer.json()
    assert problem in refusal["error_msg"] + " ".join(refusal.get("fields", {}).values())
    assert documented_error(method, path, 400, refusal["error_code"])
    assert await stored(db) == before


# --- Form bodies -------------------------------------------------------------------------------


async def test_forms_that_cannot_be_read_as_utf8_text_are_400(client: Any) -> None:
    token = await signed_in(client)
    db = client.app[DB]
    before = await stored(db)
    fields = f"csrf_token={token}&question_text=Tea%3F&choice=tea&choice=coffee"
    bodies = [
        # Python would decode this "charset" into a lone surrogate, which no database can store.
        ("application/x-www-form-urlencoded; charset=unicode_escape", fields + "&choice=\\ud83d", "not valid UTF-8"),
        ("application/x-www-form-urlencoded; charset=bogus", fields, "not valid UTF-8"),
        ("multipart/form-data; boundary=zz", fields, "could not be read"),
        ("multipart/form-data", fields, "could not be read"),
    ]
    for content_type, body, problem in bodies:
        answer = await client.post("/questions/new", data=body.encode(), headers={"Content-Type": content_type})
        assert answer.status == 400, content_type
        assert problem in await answer.text(), content_type
    upload = aiohttp.FormData()
    upload.add_field("csrf_token", token)
    upload.add_field("question_text", b"Tea?", filename="question.txt", content_type="text/plain")
    upload.add_field("choice", "tea")
    upload.add_field("choice", "coffee")
    answer = await client.post("/questions/new", data=upload)
    assert answer.status == 400 and "could not be read" in await answer.text()
    assert await stored(db) == before


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "-1", "1.5"])
async def test_numbers_in_forms_that_are_not_whole_numbers_are_400(client: Any, value: str) -> None:
    token = await signed_in(client)
    db = client.app[DB]
    qid = await make_question(db)
    before = await stored(db)
    form = [("csrf_token", token), ("question_text", "Tea?"), ("choice", "tea"), ("choice", "coffee")]
    created = await client.post("/questions/new", data=[*form, ("max_choices", value)])
    assert created.status == 400 and field_error(await created.text(), "max_choices") == "Enter a whole number."
    voted = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token, "choice": value})
    assert voted.status == 400 and "Choices are identified by whole numbers." in await voted.text()
    assert await stored(db) == before


# --- Texts people write: names, questions, choices, token names -----------------------------------

REFUSED_TEXTS = {
    "NUL": ("Ann\x00Lee", "control characters"),
    "ESC": ("\x1b[31mAnn", "control characters"),
    "tab": ("Ann\tLee", "control characters"),
    "line break": ("Ann\nLee", "control characters"),
    "line separator": ("Ann\u2028Lee", "control characters"),
    "right-to-left override": ("Ann\u202eeeL", "writing direction"),
    "isolate": ("\u2067Ann\u2069", "writing direction"),
    "zero-width spaces only": ("\u200b\u200b\u200b", "only invisible characters"),
    "BOM and joiners only": ("\ufeff\u200d\u2060", "only invisible characters"),
    "Hangul filler only": ("\u3164", "only invisible characters"),
}
IN_CHINESE = {
    "control characters": "请删除控制字符（如制表符或换行符）。",
    "writing direction": "请删除会改变书写方向的字符（如 U+202E）。",
    "only invisible characters": "请写一些看得见的内容：这段文字只有不可见字符。",
}
ACCEPTED_TEXTS = [
    "张伟",
    "👨\u200d👩\u200d👧",  # one family emoji: three people joined by ZERO WIDTH JOINER
    "Family 👨\u200d👩\u200d👧",
    "שלום\u200f 123",  # a RIGHT-TO-LEFT MARK keeps the number after the Hebrew
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland's flag: tag characters
]


async def submit_text(client: Any, place: str, text: str, n: int, auth: dict[str, str]) -> tuple[int, str]:
    """Send ``text`` in one human-written field (``n`` keeps accounts and polls apart); the status,
    and the message about that field when refused."""
    if place.startswith("api "):
        path, body, field = {
            "api register name": (
                "/api/v1/register",
                {"name": text, "email": f"t{n}@example.com", "phone": f"1391111{n:04d}", "password": "tea or coffee"},
                "name",
            ),
            "api token name": (
                "/api/v1/tokens",
                {"account": "voter900@example.com", "password": "correct horse battery", "name": text},
                "name",
            ),
            "api question_text": (
                "/api/v1/questions",
                {"question_text": text, "choices": ["tea", "coffee"]},
                "question_text",
            ),
            "api choices": ("/api/v1/questions", {"question_text": f"Q{n}?", "choices": [text, "tea"]}, "choices"),
        }[place]
        answer = await client.post(path, json=body, headers=auth)  # a bearer token: no CSRF token needed
        return answer.status, (await answer.json()).get("fields", {}).get(field, "")
    if place == "form register name":  # signs out; signs in as the new account when it is accepted
        client.session.cookie_jar.clear()
        answer = await register(client, n, name=text)
        return answer.status, field_error(await answer.text(), "name")
    question, choices = (text, ["tea", "coffee"]) if place == "form question_text" else (f"Q{n}?", [text, "tea"])
    token = await form_token(client, "/questions/new")
    form = [("csrf_token", token), ("question_text", question), *(("choice", item) for item in choices)]
    answer = await client.post("/questions/new", data=form, allow_redirects=False)
    return answer.status, field_error(
        await answer.text(), "question_text" if place == "form question_text" else "choice"
    )


PLACES = [
    "form question_text",
    "form choice",
    "api register name",
    "api token name",
    "api question_text",
    "api choices",
    "form register name",  # last: it signs out
]


@pytest.mark.parametrize("kind", list(REFUSED_TEXTS))
async def test_control_bidi_and_invisible_only_texts_are_refused_in_every_field(client: Any, kind: str) -> None:
    text, problem = REFUSED_TEXTS[kind]
    await signed_in(client)
    db = client.app[DB]
    auth = await bearer(db)
    for n, place in enumerate(PLACES):
        before = await stored(db)
        status, message = await submit_text(client, place, text, n, auth)
        assert status == 400, place
        assert problem in message, (place, message)
        assert await stored(db) == before, place
    client.session.cookie_jar.update_cookies({"lang": "zh-Hans"}, response_url=client.make_url("/"))
    page = await register(client, 901, name=text)
    assert field_error(await page.text(), "name") == IN_CHINESE[problem]


async def test_real_texts_in_any_script_with_emoji_sequences_are_kept_as_written(client: Any) -> None:
    await signed_in(client)
    db = client.app[DB]
    auth = await bearer(db)
    for n, text in enumerate(ACCEPTED_TEXTS):
        for m, place in enumerate(PLACES):
            status, message = await submit_text(client, place, text, 100 + 10 * n + m, auth)
            assert status in (201, 302), (place, text, message)
    names = {row["name"] for row in await db.fetch_all("SELECT name FROM user")}
    token_names = {row["name"] for row in await db.fetch_all("SELECT name FROM api_token")}
    questions = {row["question_text"] for row in await db.fetch_all("SELECT question_text FROM question")}
    choices = {row["choice_text"] for row in await db.fetch_all("SELECT choice_text FROM choice")}
    assert set(ACCEPTED_TEXTS) <= names & token_names & questions & choices
