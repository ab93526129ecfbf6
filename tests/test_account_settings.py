"""/account: details, password, API tokens, sessions, my data, deleting the account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from application.keys import DB
from tests.browser import PASSWORD, csrf_from, login, logout, register
from tests.factories import make_question

NEW_PASSWORD = "a brand new passphrase"


async def post_account(client: Any, path: str, **fields: str) -> Any:
    token = csrf_from(await (await client.get("/account")).text())
    return await client.post(path, data={"csrf_token": token, **fields}, allow_redirects=False)


async def signed_in(client: Any) -> bool:
    return (await client.get("/me", allow_redirects=False)).status == 200


async def second_browser(client: Any, another_browser: Any) -> Any:
    other = await another_browser(client)
    assert (await login(other, "voter1@example.com")).status == 302
    return other


async def test_the_page_needs_a_sign_in(client: Any) -> None:
    response = await client.get("/account", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"] == "/login?next=/account"


async def test_details_change_only_with_the_current_password(client: Any) -> None:
    await register(client)
    fields = {"name": "Renamed", "email": "new@example.com", "phone": "+44 7911 123456"}
    wrong = await post_account(client, "/account/profile", current_password="not my password", **fields)
    assert wrong.status == 400
    assert "Your current password is not correct." in await wrong.text()
    saved = await post_account(client, "/account/profile", current_password=PASSWORD, **fields)
    assert saved.status == 302
    row = await client.app[DB].fetch_one("SELECT name, email, phone FROM user")
    assert dict(row) == {"name": "Renamed", "email": "new@example.com", "phone": "+447911123456"}
    await logout(client)
    assert (await login(client, "+447911123456")).status == 302


async def test_details_taken_by_another_account_are_refused(client: Any) -> None:
    await register(client, 1)
    await logout(client)
    await register(client, 2)
    taken = await post_account(
        client, "/account/profile", name="Two", email="voter1@example.com", phone="", current_password=PASSWORD
    )
    assert taken.status == 409
    assert "This email address is already registered." in await taken.text()
    bad = await post_account(client, "/account/profile", name="", email="x", phone="12", current_password=PASSWORD)
    assert bad.status == 400
    text = await bad.text()
    assert "This field is required." in text
    assert "international one starting with +" in text


async def test_a_password_change_signs_out_the_other_sessions(client: Any, another_browser: Any) -> None:
    await register(client)
    other = await second_browser(client, another_browser)
    mismatch = await post_account(
        client, "/account/password", current_password=PASSWORD, password=NEW_PASSWORD, password2="different one"
    )
    assert mismatch.status == 400
    changed = await post_account(
        client, "/account/password", current_password=PASSWORD, password=NEW_PASSWORD, password2=NEW_PASSWORD
    )
    assert changed.status == 302
    assert await signed_in(client)  # this browser goes on
    assert not await signed_in(other)  # the other one is signed out
    assert (await login(other, "voter1@example.com")).status == 400
    assert (await login(other, "voter1@example.com", NEW_PASSWORD)).status == 302


async def test_tokens_are_made_shown_once_and_revoked_in_the_browser(client: Any) -> None:
    await register(client)
    made = await post_account(client, "/account/tokens", token_name="laptop")
    assert made.status == 201
    page = await made.text()
    secret = page.split("data-new-token>")[1].split("<")[0]
    assert secret.startswith("vote_")
    assert secret not in await (await client.get("/account")).text()  # shown once
    api = await client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {secret}"})
    assert api.status == 200
    token_id = (await api.json())["items"][0]["id"]
    assert (await post_account(client, f"/account/tokens/{token_id}/revoke")).status == 302
    refused = await client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status == 401
    assert (await post_account(client, f"/account/tokens/{token_id}/revoke")).status == 404
    assert (await post_account(client, "/account/tokens", token_name=" ")).status == 400


async def test_sessions_are_listed_and_signed_out_everywhere(client: Any, another_browser: Any) -> None:
    await register(client)
    other = await second_browser(client, another_browser)
    page = await (await client.get("/account", headers={"User-Agent": "Mozilla/5.0 (X11; Linux) Firefox/130.0"})).text()
    assert page.count("127.0.0.1") >= 2
    assert "this browser" in page
    assert (await post_account(client, "/account/sessions/end")).headers["Location"] == "/login"
    assert not await signed_in(client)
    assert not await signed_in(other)


async def test_my_data_downloads_as_json(client: Any) -> None:
    await register(client)
    me = (await client.app[DB].fetch_one("SELECT id FROM user"))["id"]
    mine = await make_question(client.app[DB], "Mine?", owner=me)
    theirs = await make_question(client.app[DB], "Theirs?")
    token = csrf_from(await (await client.get(f"/questions/{theirs}")).text())
    choice_id = (await client.app[DB].fetch_one("SELECT id FROM choice WHERE question_id = %s", (theirs,)))["id"]
    await client.post(f"/questions/{theirs}/vote", data={"choice": str(choice_id), "csrf_token": token})
    response = await client.get("/account/data.json")
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(await response.text())
    assert data["account"]["email"] == "voter1@example.com"
    assert [poll["id"] for poll in data["polls"]] == [mine]
    assert data["votes"][0]["question_id"] == theirs
    assert data["votes"][0]["choices"][0]["id"] == choice_id
    assert "password" not in json.dumps(data)


async def test_deleting_the_account_keeps_its_votes_counted_and_nameless(client: Any, another_browser: Any) -> None:
    db = client.app[DB]
    await register(client)
    me = (await db.fetch_one("SELECT id FROM user"))["id"]
    mine = await make_question(db, "Mine?", owner=me)
    theirs = await make_question(db, "Theirs?")
    choice_id = (await db.fetch_one("SELECT id FROM choice WHERE question_id = %s", (theirs,)))["id"]
    token = csrf_from(await (await client.get(f"/questions/{theirs}")).text())
    await client.post(f"/questions/{theirs}/vote", data={"choice": str(choice_id), "csrf_token": token})
    other = await second_browser(client, another_browser)

    assert (await post_account(client, "/account/delete", current_password="wrong guess")).status == 400
    deleted = await post_account(client, "/account/delete", current_password=PASSWORD)
    assert deleted.status == 302
    assert not await signed_in(client)
    assert not await signed_in(other)
    assert (await client.get(f"/questions/{mine}")).status == 404
    results = await (await client.get(f"/questions/{theirs}/results")).text()
    assert '<span class="results-total">1</span>' in results
    ballot = await db.fetch_one("SELECT user_id, voter_deleted FROM ballot WHERE question_id = %s", (theirs,))
    assert dict(ballot) == {"user_id": None, "voter_deleted": 1}
    row = await db.fetch_one("SELECT name, email, phone FROM user WHERE id = %s", (me,))
    assert "voter1" not in json.dumps(dict(row)) and row["phone"] is None
    assert (await login(client, "voter1@example.com")).status == 400
    assert (await register(client)).status == 302  # the address is free again


@pytest.mark.parametrize(
    "path", ["/account/profile", "/account/password", "/account/tokens", "/account/sessions/end", "/account/delete"]
)
async def test_every_account_form_needs_its_csrf_token(client: Any, path: str) -> None:
    await register(client)
    response = await client.post(path, data={"current_password": PASSWORD}, allow_redirects=False)
    assert response.status == 403
    assert await signed_in(client)
