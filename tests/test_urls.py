"""Every link and form on every page leads somewhere that answers it: URLs are built from the
routes' names (web/urls.py), in views and in templates, so none can drift from routes.py."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import make_mocked_request

from application.keys import DB
from application.web.urls import url_builder
from models import user
from tests.browser import register
from tests.factories import make_question


class Targets(HTMLParser):
    """The same-site paths a page links to (GET) and posts its forms to (POST)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: set[tuple[str, str]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag in ("a", "link") and (href := named.get("href")):
            self._add("GET", href)
        elif tag == "form":
            self._add(str(named.get("method") or "get").upper(), named.get("action") or "")

    def _add(self, method: str, target: str) -> None:
        if target.startswith("/") and not target.startswith("//"):
            self.found.add((method, urlsplit(target).path))


async def targets_of(client: Any, path: str) -> set[tuple[str, str]]:
    response = await client.get(path)
    assert response.status in (200, 403, 404), (path, response.status)
    parser = Targets()
    parser.feed(await response.text())
    return parser.found


async def test_every_link_and_form_on_every_page_is_answered(client: Any) -> None:
    db = client.app[DB]
    await register(client)
    me = await user.by_account(db, "voter1@example.com")
    assert me is not None
    await db.execute("UPDATE user SET is_admin = 1 WHERE id = %s", (me["id"],))
    mine = await make_question(db, owner=me["id"])
    other = await make_question(db, "Closed?", closes_in=None)
    pages = [
        "/",
        "/questions?page=1",
        f"/questions/{mine}",
        f"/questions/{mine}/results",
        f"/questions/{mine}/edit",
        f"/questions/{other}",
        "/questions/new",
        "/me",
        "/admin",
        "/no/such/page",
    ]
    found = set()
    for page in pages:
        found |= await targets_of(client, page)
    client.session.cookie_jar.clear()  # and as an anonymous visitor
    for page in ("/", f"/questions/{other}", "/login", "/register"):
        found |= await targets_of(client, page)
    assert ("POST", f"/questions/{mine}/vote") in found and ("GET", f"/questions/{mine}/results.csv") in found

    router = client.app.router
    for method, path in sorted(found):
        match = await router.resolve(make_mocked_request(method, path, app=client.app))
        assert match.http_exception is None, (method, path, match.http_exception)


def test_urls_come_from_the_routes_names(client: Any) -> None:
    url = url_builder(client.app.router)
    assert url("question_results", question_id=7) == "/questions/7/results"
    assert url("admin_user", user_id=3, action="disable") == "/admin/users/3/disable"
    assert url("index") == "/"
