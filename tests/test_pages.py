"""The seed's read pages on real data, on the embedded default and on MariaDB + Redis."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web

from application import init
from application.keys import DB
from config import Settings
from models import seed
from tests.factories import make_question


async def test_hello_and_health(client: Any) -> None:
    response = await client.get("/hello")
    assert response.status == 200
    assert await response.text() == "Hello Aiohttp!"
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert await ready.text() == "ready"


async def test_index_lists_the_sample_polls_newest_first(client: Any) -> None:
    await seed.load_sample_data(client.app[DB])
    for path in ("/", "/questions"):
        response = await client.get(path)
        assert response.status == 200
        html = await response.text()
        titles = re.findall(r'<a href="/questions/\d+">([^<]+)</a>', html)
        assert titles == ["最喜欢的季节?", "最受欢迎的水果?", "最受欢迎的计算机语言?"]
        assert "6 votes" in html
        assert "Open" in html


async def test_empty_index_says_so(client: Any) -> None:
    html = await (await client.get("/")).text()
    assert "No polls are available." in html


async def test_future_questions_are_hidden_and_closed_ones_marked(client: Any) -> None:
    db = client.app[DB]
    future = await make_question(db, "Not yet?", published=-timedelta(days=1))
    await make_question(db, "Past and closed?", closes_in=-timedelta(minutes=1))
    html = await (await client.get("/")).text()
    assert "Not yet?" not in html
    assert "Past and closed?" in html
    assert "Closed" in html
    assert (await client.get(f"/questions/{future}")).status == 404
    assert (await client.get(f"/questions/{future}/choice")).status == 404


async def test_pagination(client: Any) -> None:
    db = client.app[DB]
    for n in range(23):
        await make_question(db, f"Question {n:02d}?", published=timedelta(minutes=100 - n))
    first = await (await client.get("/")).text()
    assert first.count('class="poll-item"') == 20
    assert "Question 22?" in first and "Question 03?" in first and "Question 02?" not in first
    second = await (await client.get("/?page=2")).text()
    assert second.count('class="poll-item"') == 3
    assert "Page 2 of 2" in second
    assert (await client.get("/?page=3")).status == 404
    bad = await client.get("/?page=abc")
    assert bad.status == 400
    assert "page must be a whole number from 1 to 1000000." in await bad.text()


async def test_seed_choice_json(client: Any) -> None:
    await seed.load_sample_data(client.app[DB])
    index = await (await client.get("/")).text()
    language_id = re.search(r'<a href="/questions/(\d+)">最受欢迎的计算机语言', index).group(1)  # type: ignore[union-attr]
    response = await client.get(f"/questions/{language_id}/choice")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert [(c["choice_text"], c["votes"]) for c in body] == [("python", 3), ("java", 2), ("go", 1)]
    assert set(body[0]) == {"id", "choice_text", "votes", "question_id", "create_time"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", body[0]["create_time"])
    assert all(c["question_id"] == int(language_id) for c in body)


async def test_detail_page_escapes_html(client: Any) -> None:
    qid = await make_question(client.app[DB], "<script>alert(1)</script>?", ("<b>bold</b>", "plain"))
    html = await (await client.get(f"/questions/{qid}")).text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;?" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


async def test_unknown_pages_get_a_styled_404_with_request_id(client: Any) -> None:
    response = await client.get("/no/such/page")
    assert response.status == 404
    html = await response.text()
    request_id = response.headers["X-Request-ID"]
    assert "Page not found" in html and request_id in html
    assert '<link rel="stylesheet"' in html
    assert (await client.get("/questions/424242")).status == 404


async def test_json_errors_under_api_and_for_json_views(client: Any) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status == 404
    assert await response.json() == {"error_code": 20006, "error_msg": "Not Found."}
    missing = await client.get("/questions/424242/choice")
    assert missing.status == 404
    assert (await missing.json())["error_code"] == 20006


async def test_wrong_method_is_405(client: Any) -> None:
    response = await client.post("/hello")
    assert response.status == 405
    assert "GET" in response.headers["Allow"]


async def test_unexpected_errors_get_a_500_page_with_request_id_and_no_traceback(
    settings: Settings, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app = init(settings)
    app.router.add_get("/_test/broken", broken)
    app.router.add_get("/api/v1/_test/broken", broken)
    client = await aiohttp_client(app)
    response = await client.get("/_test/broken")
    assert response.status == 500
    html = await response.text()
    request_id = response.headers["X-Request-ID"]
    assert "Something went wrong" in html and request_id in html
    assert "Traceback" not in html and "secret internals" not in html
    assert request_id in caplog.text  # the log line names the request, for whoever reads the report
    api = await client.get("/api/v1/_test/broken")
    assert api.status == 500
    assert await api.json() == {"error_code": 20018, "error_msg": "An unexpected error occurred."}


async def test_a_client_gone_mid_request_is_no_error(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    runner = web.AppRunner(init(settings))  # as main.py serves: a handler runs on when its client goes
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        _, writer = await asyncio.open_connection(*runner.addresses[0][:2])
        writer.write(
            b"POST /api/v1/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"name"'
        )
        await writer.drain()
        await asyncio.sleep(0.1)  # the view is waiting for the rest of the body...
        writer.close()  # ...which never comes
        await writer.wait_closed()
        for _ in range(50):
            if "client disconnected" in caplog.text:
                break
            await asyncio.sleep(0.02)
    finally:
        await runner.cleanup()
    assert "client disconnected" in caplog.text
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_the_share_link_starts_with_the_public_url_whatever_the_host_header(
    settings: Settings, aiohttp_client: Any
) -> None:
    public = settings.model_copy(update={"public_url": "https://vote.example.com"})
    client = await aiohttp_client(init(public))
    qid = await make_question(client.app[DB])
    html = await (await client.get(f"/questions/{qid}", headers={"Host": "evil.example"})).text()
    assert f'value="https://vote.example.com/questions/{qid}"' in html
    assert "evil.example" not in html
