"""Looking after an account in a real Chromium against `python main.py` (tests/test_e2e.py's set-up):
forgot -> mail -> reset -> log in; a password change signs the other browser out; delete the account.
Without a mail server the mail is an .eml file under VOTE_MAIL_DIR, as a newcomer would find it."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from tests.mail_server import body_of, read_mail
from tests.test_e2e import PASSWORD, Watch, chromium, register, serve

NEW_PASSWORD = "browser new passphrase"


def mailed_link(mail_dir: Path) -> str:
    """The reset link of the one mail written so far, waiting for it."""
    deadline = time.monotonic() + 10
    while not (files := list(mail_dir.glob("*.eml"))):
        assert time.monotonic() < deadline, "no mail written"
        time.sleep(0.1)
    match = re.search(r"\S+/password/reset/\S+", body_of(read_mail(files[0].read_bytes())))
    assert match
    files[0].unlink()
    return match.group(0)


def log_in(page: Any, base: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email or mobile number").fill("browser1@example.com")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_forgot_mail_reset_log_in_change_password_delete(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    mail_dir = tmp_path / "mail"
    with chromium() as browser, serve(tmp_path / "accounts.sqlite3", VOTE_MAIL_DIR=str(mail_dir)) as base:
        watch = Watch()
        me = watch.attach(browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page())
        register(me, base, 1)
        me.get_by_role("button", name="Log out").click()

        # Forgot: the same answer for anyone; the mail's link sets a new password.
        me.goto(f"{base}/login")
        me.get_by_role("link", name="Forgot your password?").click()
        me.get_by_label("Email or mobile number").fill("139 0000 0001")
        me.get_by_role("button", name="Mail me a link").click()
        expect(me.get_by_role("status")).to_contain_text("on its way")
        link = mailed_link(mail_dir)
        assert link.startswith(base + "/password/reset/")
        me.goto(link)
        me.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        me.get_by_label("New password again").fill(NEW_PASSWORD)
        me.get_by_role("button", name="Set the new password").click()
        expect(me.get_by_role("status")).to_contain_text("Your new password is set")
        log_in(me, base, NEW_PASSWORD)
        expect(me.get_by_role("status")).to_contain_text("You are logged in.")
        me.goto(link)  # once only
        expect(me.get_by_role("alert")).to_contain_text("expired or was used already")

        # A second browser; changing the password in the first signs it out.
        other = watch.attach(browser.new_context(viewport={"width": 1280, "height": 900}).new_page())
        log_in(other, base, NEW_PASSWORD)
        expect(other.get_by_role("status")).to_contain_text("You are logged in.")
        me.goto(f"{base}/account")
        expect(me.get_by_role("table").last).to_contain_text("this browser")
        me.locator("#password-current-password").fill(NEW_PASSWORD)
        me.locator("#password").fill(PASSWORD)
        me.locator("#password2").fill(PASSWORD)
        me.get_by_role("button", name="Change my password").click()
        expect(me.get_by_role("status")).to_contain_text("Your password is changed")
        other.goto(f"{base}/me")
        assert other.url.startswith(f"{base}/login")
        me.goto(f"{base}/me")
        assert me.url == f"{base}/me"  # the browser that changed it is still signed in

        # A token on a phone: its secret shown once, wrapped (nothing scrolls sideways); then revoked.
        me.goto(f"{base}/account")
        me.get_by_label("Name of a new token").fill("phone script")
        me.get_by_role("button", name="Create a token").click()
        expect(me.locator("[data-new-token]")).to_contain_text("vote_")
        assert me.evaluate("document.documentElement.scrollWidth") <= 390
        me.once("dialog", lambda dialog: dialog.accept())
        me.get_by_role("button", name="Revoke phone script").click()
        expect(me.get_by_role("status")).to_contain_text("The token is revoked")

        # Delete the account: asked to confirm, then gone; logging in fails.
        me.goto(f"{base}/account")
        me.once("dialog", lambda dialog: dialog.accept())
        me.locator("#delete-current-password").fill(PASSWORD)
        me.get_by_role("button", name="Delete my account").click()
        expect(me.get_by_role("status")).to_contain_text("Your account is deleted")
        log_in(me, base, PASSWORD)
        expect(me.get_by_role("alert")).to_contain_text("The account or password is incorrect.")

        assert watch.problems == []
