# ruff: noqa: RUF001  # the Chinese messages use full-width punctuation, on purpose
"""Bad input of any shape gets a 4xx with a message and changes nothing, never a 500 (SPEC §9).

One test per kind of input found to fail (query and path numbers, URLs in headers, JSON and form
bodies), the text rules of every field people write in, and a bounded fuzz of every form and API
operation (see the end of this file).
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
from typing import Any

import aiohttp
import pytest
from argon2 import PasswordHasher

from application.keys import DB
from models import api_token, passwords
from models.db import Database
from tests.browser import csrf_from, form_token, register
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


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /api/v1/tokens HTTP/1.1\r\nAuthorization: Bearer \xff\xfe\r\n", 401),
        (b"GET /login HTTP/1.1\r\nCookie: vote_session=\xff\xfe\r\n", 200),  # no such session: a fresh one
        (
            b"GET /questions/{qid}/live HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: \xff\r\n",
            400,
        ),
        (
            b"POST /api/v1/register HTTP/1.1\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: 2\r\n\r\n{}",
            400,
        ),
        (
            b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: 3\r\n\r\na=b",
            400,
        ),
    ],
)
async def test_raw_requests_no_browser_sends_get_a_clear_answer(client: Any, request_bytes: bytes, status: int) -> None:
    """Bytes that are not UTF-8 in a header, a body its Content-Encoding does not describe."""
    qid = await make_question(client.app[DB])
    head, _, body = request_bytes.replace(b"{qid}", str(qid).encode()).partition(b"\r\n\r\n")
    head = head.rstrip(b"\r\n") + b"\r\nHost: t\r\nConnection: close\r\n\r\n"
    assert await raw_status(client, head + body) == status


async def test_api_calls_with_a_session_cookie_send_the_csrf_header_not_a_form_field(client: Any) -> None:
    """The API reads no form body, not even for the CSRF token: a write without the header is 403."""
    token = await signed_in(client)
    found = await client.app[DB].fetch_one("SELECT id FROM user WHERE email = %s", ("voter900@example.com",))
    token_id, _ = await api_token.create(client.app[DB], found["id"], "mine")
    refused = await client.delete(f"/api/v1/tokens/{token_id}", data={"csrf_token": token})
    assert refused.status == 403 and (await refused.json())["error_code"] == 20013
    assert (await client.delete(f"/api/v1/tokens/{token_id}", headers={"X-CSRF-Token": token})).status == 204


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
        ("create", "{" + POLL + ', "results_visibility": {}}', "Choose always, after_vote, after_close or on_reveal."),
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
        ("multipart/form-data; boundary=X", "--X\r\ngarbage", "could not be read"),  # a part's headers broken
        ("application/x-www-form-urlencoded", fields + "&choice=x" * 3000, "too many fields"),  # 30 KiB
    ]
    for content_type, body, problem in bodies:
        answer = await client.post("/questions/new", data=body.encode(), headers={"Content-Type": content_type})
        assert answer.status == 400, content_type
        assert problem in await answer.text(), content_type
    broken = {"Content-Type": "multipart/form-data; boundary=X"}
    assert (await client.post("/login", data=b"--X\r\ngarbage", headers=broken)).status == 400  # before CSRF
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
    "zero-width space inside": ("Ann\u200bLee", "zero-width"),
    "word joiner inside": ("Ann\u2060Lee", "zero-width"),
    "BOM in front": ("\ufeffAnn", "zero-width"),
    "joiner joining nothing": ("Ann Lee\u200d", "zero-width"),
    "non-joiner beside a space": ("Ann \u200cLee", "zero-width"),
}
IN_CHINESE = {
    "control characters": "请删除控制字符（如制表符或换行符）。",
    "writing direction": "请删除会改变书写方向的字符（如 U+202E）。",
    "only invisible characters": "请写一些看得见的内容：这段文字只有不可见字符。",
    "zero-width": "请删除零宽字符（如 U+200B）：它们藏在文字里，看不见。",
}
ACCEPTED_TEXTS = [
    "张伟",
    "👨\u200d👩\u200d👧",  # one family emoji: three people joined by ZERO WIDTH JOINER
    "Family 👨\u200d👩\u200d👧",
    "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",  # Persian "I want": a ZERO WIDTH NON-JOINER inside the word
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


# --- A bounded fuzz: each field of each form and API operation, one nasty value at a time ----------

# Texts a person or a script might send; a lone surrogate only fits JSON. Times with an offset are
# left to the time-zone tests (tests of poll_fields.parse_time).
NASTY_TEXTS = [
    *("", " ", "0", "-1", "1.5", "1e3", "0x10", "²", "٣", "𝟗", "99999999999999999999", "9" * 5000, "1" * 21),
    *("\x00", "a\x00b", "\x1b[2J", "\x7f", "\x85", "\t", "\r\n", "\u2028", "\u202e", "\u2066x", "\u200b"),
    *("\ufeff", "\ufffe", "\U0010ffff", "\u3164", "👨\u200d👩\u200d👧", "张伟", "a" * 201, "x" * 70_000),
    *("<script>alert(1)</script>", "' OR 1=1 --", "%s%n{0}", "{{7*7}}", "null", "[]", "true", "always"),
    *("//evil.example", "/\\evil.example", "http://[", "javascript:alert(1)", "/%0d%0aSet-Cookie:x", "../../etc"),
    *("0001-01-01T00:00:00", "9999-12-31T23:59:59", "2026-02-30T10:00", "2026-01-01T25:61", "T", "now"),
]
NASTY_JSON: list[Any] = [
    *NASTY_TEXTS,
    *(None, True, False, 0, -1, 1, 2, 2**31, 2**63, -(2**63) - 1, 10**20, 1.5, -0.0, 1e308),
    *([], {}, [[]], [None], [1, "1", 1.5], {"a": "b"}, ["\ud83d"], "\ud83d", {"\udc00": 1}),
    *(json.loads("[" * 40 + "]" * 40), ["a"] * 1000, list(range(5000)), "correct horse \ud83d"),
]
# Longer request lines and headers are refused by the HTTP parser before the app sees them.
URL_TEXTS = [text for text in NASTY_TEXTS if len(text) < 4000]
FUZZ_ACCOUNTS = itertools.count(1)
FUZZ_REGISTRATION = {"name": "F", "email": "", "phone": "", "password": "fuzz-pass-2026"}
FUZZ_POLL: dict[str, str | list[str]] = {"question_text": "Q?", "choice": ["a", "b"], "max_choices": "1"}
HEADERS = ("Origin", "Referer", "Accept-Language", "X-Forwarded-For", "Authorization", "X-CSRF-Token", "Cookie")


def fuzzed(base: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    """``base`` with ``field`` set to ``value``, its other account fields unique: each registration
    gets as far as the database, each login as far as the password hash (never to the throttle)."""
    n = next(FUZZ_ACCOUNTS)
    unique = {"email": f"fuzz{n}@example.com", "phone": f"136{n:08d}", "account": f"nobody{n}@example.com"}
    return {**base, **{key: unique[key] for key in base if key in unique}, field: value}


def api_problem(method: str, template: str, status: int, body: Any, sent: set[str]) -> str | None:
    """What is wrong with an API answer: a server error, or a refusal off the document."""
    if status >= 500:
        return "server error"
    if status < 400:
        return None
    if not (isinstance(body, dict) and body.get("error_msg")):
        return "no message"
    if not documented_error(method, template, status, body["error_code"]):
        return f"{status}/{body['error_code']} not in openapi.yaml"
    if not set(body.get("fields", {})) <= sent:
        return f"fields {set(body['fields'])} are not the request's {sent}"
    return None


async def fuzz_api(client: Any, auth: dict[str, str], qid: int) -> list[str]:
    """Each field of each API write, and each query parameter, with each value of NASTY_JSON."""
    operations = [
        ("/api/v1/register", FUZZ_REGISTRATION),
        ("/api/v1/tokens", {"account": "", "password": "x", "name": "fuzz"}),
        ("/api/v1/questions", {"question_text": "Q?", "choices": ["a", "b"], "max_choices": 1}),
        ("/api/v1/questions/{question_id}/votes", {"choice_ids": [1]}),
    ]
    failures = []
    for template, base in operations:
        path = template.format(question_id=qid)
        for field in [*base, "extra"]:
            for value in NASTY_JSON:
                body = fuzzed(base, field, value)
                answer = await client.post(path, json=body, headers=auth)
                if problem := api_problem("post", template, answer.status, await answer.json(), set(body)):
                    failures.append(f"POST {path} {field}={value!r:.60}: {problem}")
    for name in ("page", "per_page"):
        for value in URL_TEXTS:
            answer = await client.get("/api/v1/questions", params={name: value})
            if problem := api_problem("get", "/api/v1/questions", answer.status, await answer.json(), {name}):
                failures.append(f"GET /api/v1/questions {name}={value!r:.60}: {problem}")
    return failures


def multi(fields: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    """Form fields as pairs, a list giving the field once per item (the repeated ``choice``)."""
    return [(name, item) for name, items in fields.items() for item in ([items] if isinstance(items, str) else items)]


FUZZ_PROFILE = {"name": "Fuzzed", "email": "fuzz@example.com", "phone": "+44 7911 123456", "current_password": "x"}


def page_problem(status: int, location: str) -> str | None:
    if status >= 500:
        return "server error"
    if location and not (location.startswith("/") and not location.startswith(("//", "/\\"))):
        return f"redirected off the site to {location!r}"
    return None


async def fuzz_pages(client: Any, qid: int, own: int) -> list[str]:
    """Each field of each form, each query parameter and each header the app reads, with each of
    NASTY_TEXTS; ``client`` is signed in and owns the poll ``own``."""
    forms: list[tuple[str, str, dict[str, str | list[str]]]] = [
        ("/login", "/login", {"account": "", "password": "wrong password", "next": "/"}),
        ("/questions/new", "/questions/new", FUZZ_POLL),
        (f"/questions/{own}/edit", f"/questions/{own}/edit", FUZZ_POLL),
        (f"/questions/{qid}", f"/questions/{qid}/vote", {"choice": "1"}),
        ("/password/forgot", "/password/forgot", {"account": "someone@example.com"}),
        ("/password/forgot", "/password/reset/" + "x" * 43, {"password": "new passphrase", "password2": "x"}),
        ("/account", "/account/profile", FUZZ_PROFILE),
        ("/account", "/account/password", {"current_password": "x", "password": "p" * 9, "password2": "p" * 9}),
        ("/account", "/account/tokens", {"token_name": "laptop"}),
        ("/account", "/account/delete", {"current_password": "not the password"}),
    ]
    failures = []
    for form_page, path, base in forms:
        token = csrf_from(await (await client.get(form_page)).text())  # the session's: it stays
        for field in [*base, "pub_date", "closes_at", "results_visibility"] if "question_text" in base else base:
            for value in NASTY_TEXTS:
                fields = [("csrf_token", token), *multi(fuzzed(base, field, value))]
                answer = await client.post(path, data=fields, allow_redirects=False)
                if problem := page_problem(answer.status, answer.headers.get("Location", "")):
                    failures.append(f"POST {path} {field}={value!r:.60}: {problem}")
    async with aiohttp.ClientSession() as anonymous:
        token = ""
        for value in NASTY_TEXTS:
            for field in ("name", "email", "phone", "password"):
                fields = fuzzed(FUZZ_REGISTRATION, field, value)
                if not token:  # at first, and after each registration: it signs in with a new session
                    token = csrf_from(await (await anonymous.get(client.make_url("/register"))).text())
                answer = await anonymous.post(
                    client.make_url("/register"), data={**fields, "csrf_token": token}, allow_redirects=False
                )
                token = "" if answer.status == 302 else token
                if problem := page_problem(answer.status, answer.headers.get("Location", "")):
                    failures.append(f"POST /register {field}={value!r:.60}: {problem}")
    for path, name in (("/", "page"), ("/questions", "page"), ("/login", "next"), ("/language/zh-Hans", "next")):
        for value in URL_TEXTS:
            answer = await client.get(path, params={name: value}, allow_redirects=False)
            if problem := page_problem(answer.status, answer.headers.get("Location", "")):
                failures.append(f"GET {path} {name}={value!r:.60}: {problem}")
    for header in HEADERS:
        for value in URL_TEXTS:
            sent = f"lang={value}; vote_flash={value}; vote_session={value}" if header == "Cookie" else value
            for method, path in (
                ("GET", "/"),
                ("POST", "/logout"),
                ("GET", f"/questions/{qid}/results"),
                ("GET", "/api/v1/tokens"),
            ):
                try:
                    answer = await client.request(method, path, headers={header: sent}, allow_redirects=False)
                except (ValueError, aiohttp.ClientError):
                    continue  # a header no HTTP client can send (a line break in it)
                if problem := page_problem(answer.status, answer.headers.get("Location", "")):
                    failures.append(f"{method} {path} {header}: {value!r:.60}: {problem}")
    return failures


async def test_fuzz_every_form_and_api_operation_finds_no_server_error(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic and bounded (about 4,000 requests): each value of NASTY_TEXTS or NASTY_JSON
    in each field, one field at a time, on a signed-in client, with a bearer token, and anonymous."""
    # Hundreds of registrations and logins: with Argon2's real cost they would take minutes. What is
    # fuzzed here is what reaches the hash and the database, not the hash's cost.
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    # Unknown accounts check a dummy hash: each app makes its own on first need, at that cost too.
    await signed_in(client)
    db = client.app[DB]
    auth = await bearer(db)
    qid = await make_question(db, choices=("a", "b", "c"))
    token = await form_token(client, "/questions/new")
    mine = await client.post("/questions/new", data=[("csrf_token", token), *multi(FUZZ_POLL)], allow_redirects=False)
    own = int(mine.headers["Location"].rsplit("/", 1)[1])
    failures = await fuzz_api(client, auth, qid) + await fuzz_pages(client, qid, own)
    assert not failures, "\n".join(failures[:40])
