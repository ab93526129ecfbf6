"""English and Simplified Chinese: choosing the language, the switch, translated messages, flash
messages without sessions, and catalogues that are complete and compiled."""

from __future__ import annotations

import asyncio
import gettext
import re
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from application.keys import DB
from application.web import i18n
from application.web.i18n import CHINESE, ENGLISH, N_, Msg
from application.web.rendering import FLASH_COOKIE
from application.web.sessions import COOKIE_NAME
from tests.browser import PASSWORD, csrf_from, form_token, register
from tests.factories import make_question

ROOT = Path(__file__).resolve().parent.parent
PO_FILE = ROOT / "translations" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", CHINESE),
        ("en-US,en;q=0.9,zh-CN;q=0.8", ENGLISH),
        ("fr-FR, zh-TW;q=0.5, en;q=0.4", CHINESE),  # our only Chinese serves every variant
        ("de;q=1.0, en;q=0.2, zh-Hans;q=0.7", CHINESE),  # q-values, not order
        ("zh;q=0, en", ENGLISH),  # q=0 means "not this one"
        ("fr, de", None),
        ("*", None),
        ("", None),
        ("zh;q=abc, en", ENGLISH),  # a broken q-value counts as 0
    ],
)
def test_accept_language(header: str, expected: i18n.Language | None) -> None:
    assert i18n._from_accept_language(header) == expected


def test_messages_keep_their_msgid_and_stay_english_strings() -> None:
    text = N_("Use at most %(count)s characters.", count=40)
    assert isinstance(text, Msg) and text == "Use at most 40 characters."
    assert i18n.translate_with(i18n.catalogue(CHINESE), text) == "最多 40 个字符。"
    assert N_("Plain.") == "Plain." and not isinstance(N_("Plain."), Msg)


async def test_accept_language_chooses_chinese_without_a_session(client: Any) -> None:
    response = await client.get("/", headers=ZH)
    html = await response.text()
    assert '<html lang="zh-Hans">' in html and "最新投票" in html and "暂时没有投票。" in html
    assert response.headers["Content-Language"] == "zh-Hans"
    assert "Accept-Language" in response.headers["Vary"] and "Cookie" in response.headers["Vary"]
    assert COOKIE_NAME not in response.cookies
    english = await client.get("/")
    assert '<html lang="en">' in await english.text()


async def test_the_switch_sets_a_cookie_that_beats_accept_language(client: Any) -> None:
    response = await client.get("/language/zh-Hans?next=/questions%3Fpage%3D1", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/questions?page=1"
    cookie = response.cookies["lang"]
    assert cookie.value == "zh-Hans"
    assert int(cookie["max-age"]) == 365 * 24 * 3600 and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert COOKIE_NAME not in response.cookies  # no session for a preference
    assert "最新投票" in await (await client.get("/questions")).text()
    back = await client.get("/language/en?next=/", headers=ZH)
    assert back.status == 200  # followed the redirect
    assert "Latest polls" in await back.text()  # the cookie wins over Accept-Language


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil"])
async def test_the_switch_only_returns_to_this_site(client: Any, target: str) -> None:
    response = await client.get("/language/en", params={"next": target}, allow_redirects=False)
    assert response.headers["Location"] == "/"


async def test_unknown_language_is_404_and_a_bad_cookie_is_ignored(client: Any) -> None:
    assert (await client.get("/language/fr")).status == 404
    client.session.cookie_jar.update_cookies({"lang": "fr"}, response_url=client.make_url("/"))
    assert '<html lang="zh-Hans">' in await (await client.get("/", headers=ZH)).text()


async def test_footer_links_come_back_to_the_same_page(client: Any) -> None:
    qid = await make_question(client.app[DB])
    html = await (await client.get(f"/questions/{qid}/results")).text()
    assert f'href="/language/zh-Hans?next=/questions/{qid}/results"' in html
    assert 'aria-current="true" lang="en"' in html


async def test_form_errors_are_translated_field_by_field(client: Any) -> None:
    token = await form_token(client, "/register")
    fields = {"csrf_token": token, "name": "x", "email": "bad", "phone": "123", "password": "short"}
    response = await client.post("/register", data=fields, headers=ZH)
    html = await response.text()
    assert response.status == 400
    assert "注册失败" in html
    assert "请输入有效的电子邮箱地址。" in html and "请输入中国大陆手机号" in html
    assert "至少需要 8 个字符。" in html  # a models/ message with a number, translated
    assert 'aria-describedby="phone-error"' in html


async def test_refusals_from_shared_code_are_translated_on_pages_but_not_in_the_api(client: Any) -> None:
    assert (await register(client, 1)).status == 302
    token = csrf_from(await (await client.get("/me")).text())
    data = [("csrf_token", token), ("question_text", "Q?"), ("choice", "only one")]
    html = await (await client.post("/questions/new", data=data, headers=ZH)).text()
    assert "请给出 2 到 20 个选项。" in html and "投票未能保存" in html
    client.session.cookie_jar.clear()
    again = await client.post(
        "/register",
        data={
            "csrf_token": await form_token(client, "/register"),
            "name": "Again",
            "email": "voter1@example.com",
            "phone": "13700000001",
            "password": PASSWORD,
        },
        headers=ZH,
    )
    assert again.status == 409
    assert "该电子邮箱已被注册。" in await again.text()  # application/services/accounts.py's message
    api = await client.post("/api/v1/register", json={"name": "x"}, headers=ZH)
    assert (await api.json())["fields"]["email"] == "This field is required."


async def test_vote_states_and_error_pages_in_chinese(client: Any) -> None:
    qid = await make_question(client.app[DB], "Tea or coffee?", ("tea", "coffee"))
    assert (await register(client, 1)).status == 302
    token = csrf_from(await (await client.get(f"/questions/{qid}")).text())
    missing = await client.post(f"/questions/{qid}/vote", data={"csrf_token": token}, headers=ZH)
    assert missing.status == 400 and "你还没有选择任何选项。" in await missing.text()
    results = await (await client.get(f"/questions/{qid}/results", headers=ZH)).text()
    assert 'data-unit-one="票" data-unit-other="票"' in results  # live.js's words
    assert '共 <span class="results-total">0</span> <span class="results-total-unit">票</span>' in results
    not_found = await client.get("/no/such/page", headers=ZH)
    assert not_found.status == 404 and "页面不存在" in await not_found.text()


async def test_every_public_page_describes_itself_in_its_language(client: Any) -> None:
    qid = await make_question(client.app[DB], "Tea or coffee?", ("tea", "coffee"))
    paths = ("/", f"/questions/{qid}", f"/questions/{qid}/results", "/login", "/register", "/no/such/page")
    seen = set()
    for path in paths:
        english = await (await client.get(path)).text()
        chinese = await (await client.get(path, headers=ZH)).text()
        described = [re.findall(r'<meta name="description" content="([^"]+)">', html) for html in (english, chinese)]
        assert all(len(found) == 1 for found in described), path
        (text,), (chinese_text,) = described
        assert re.search("[\u4e00-\u9fff]", chinese_text) and not re.search("[\u4e00-\u9fff]", text), path
        seen.add(text)
    assert len(seen) == len(paths)  # each page says what it is
    assert "Tea or coffee?" in " ".join(seen)


async def test_concurrent_requests_keep_their_own_language(client: Any) -> None:
    async def fetch(chinese: bool) -> bool:
        html = await (await client.get("/", headers=ZH if chinese else {})).text()
        return ("最新投票" in html) == chinese and ("Latest polls" in html) != chinese

    assert all(await asyncio.gather(*(fetch(n % 2 == 0) for n in range(30))))


async def test_flash_messages_show_once(client: Any) -> None:
    response = await register(client, 1)
    assert response.cookies[FLASH_COOKIE].value == "registered"
    home = await client.get("/")
    assert "Welcome! Your account is ready" in await home.text()
    assert home.cookies[FLASH_COOKIE].value == ""  # deleted: shown once
    assert "Welcome!" not in await (await client.get("/")).text()


async def test_logout_message_needs_no_session(client: Any) -> None:
    qid = await make_question(client.app[DB])
    assert (await register(client, 1)).status == 302
    token = csrf_from(await (await client.get("/me")).text())
    await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    home = await client.get("/", headers=ZH)
    assert "你已退出登录" in await home.text()
    assert COOKIE_NAME not in home.cookies  # an anonymous page view still creates no session
    for path in (f"/questions/{qid}", f"/questions/{qid}/results", "/language/zh-Hans?next=/"):
        assert COOKIE_NAME not in (await client.get(path, headers=ZH)).cookies, path


def _extracted() -> set[str]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_the_chinese_catalogue_is_complete_and_checked() -> None:
    with PO_FILE.open("rb") as file:
        catalogue = read_po(file, locale="zh_Hans")
    translated = {
        (message.id[0] if isinstance(message.id, tuple) else message.id)
        for message in catalogue
        if message.id
        and all(message.string if isinstance(message.string, tuple) else [message.string])
        and not message.fuzzy
    }
    assert _extracted() - translated == set(), "run make i18n-update and translate the new texts"
    problems = [(message.id, errors) for message, errors in catalogue.check() if errors]
    assert problems == []


def test_the_compiled_catalogue_matches_the_po_file() -> None:
    with PO_FILE.open("rb") as file:
        catalogue = read_po(file, locale="zh_Hans")
    compiled = i18n.catalogue(CHINESE)
    assert isinstance(compiled, gettext.GNUTranslations)
    for message in catalogue:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            assert compiled.ngettext(message.id[0], message.id[1], 2) == message.string[0], message.id
        else:
            assert compiled.gettext(message.id) == message.string, "run make i18n-compile"
