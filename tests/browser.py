"""Helpers that act like a browser on the test client: fetch a form's CSRF token, post it."""

from __future__ import annotations

import re
from typing import Any

from application.web.sessions import COOKIE_NAME

PASSWORD = "correct horse battery"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token in the page"
    return match.group(1)


def session_id(client: Any) -> str | None:
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/")).get(COOKIE_NAME)
    return cookie.value if cookie else None


async def form_token(client: Any, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200
    return csrf_from(await response.text())


async def register(client: Any, n: int = 1, password: str = PASSWORD, **overrides: str) -> Any:
    fields = {"name": f"Voter {n}", "email": f"voter{n}@example.com", "phone": f"1370000{n:04d}", "password": password}
    fields.update(overrides)
    fields["csrf_token"] = await form_token(client, "/register")
    return await client.post("/register", data=fields, allow_redirects=False)


async def login(client: Any, account: str, password: str = PASSWORD, **extra: str) -> Any:
    data = {"account": account, "password": password, "csrf_token": await form_token(client, "/login"), **extra}
    return await client.post("/login", data=data, allow_redirects=False)


async def logout(client: Any) -> Any:
    token = csrf_from(await (await client.get("/me")).text())
    return await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)


def use_session(client: Any, value: str | None) -> None:
    """Replace the client's cookies by this session id, as someone replaying a copied cookie."""
    client.session.cookie_jar.clear()
    if value:
        client.session.cookie_jar.update_cookies({COOKIE_NAME: value}, response_url=client.make_url("/"))
