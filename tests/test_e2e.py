"""End to end in a real Chromium (Debian's package, driven by Playwright) against `python main.py`.

Two browser contexts are two people: one watches a results page while the other votes, and the
bars move without a reload. Skipped with the reason when Chromium is missing; a failure instead
when CI=true or VOTE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from application.web.sessions import COOKIE_NAME
from models import seed
from tests.conftest import service_missing
from tests.test_cli import ROOT, free_port, wait_until_serving

CHROMIUM = Path(os.environ.get("VOTE_CHROMIUM", "/usr/bin/chromium"))
# As root and on a closed network: no sandbox, no GPU, and none of Chromium's own connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "e2e correct horse"


@contextmanager
def serve(database: Path, **settings: str) -> Iterator[str]:
    """`python main.py` on a fresh SQLite file (so with the sample polls), with these VOTE_*
    settings besides; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "VOTE_DATABASE_URL": f"sqlite:///{database}",
        "VOTE_SECRET_KEY": "e2e",
        "VOTE_REDIS_URL": "",
        "VOTE_PUBLIC_URL": base,
        **settings,
    }
    process = subprocess.Popen(
        [sys.executable, "main.py", "--port", str(port)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until_serving(f"{base}/hello", process)
        # Keep reading what it logs (a line per request): a full pipe would stop it mid-request.
        threading.Thread(target=process.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium, or a skip (a failure in CI) saying what is missing."""
    if not CHROMIUM.exists():
        service_missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watch:
    """Collects what a page must never show: script errors and Content-Security-Policy refusals."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def attach(self, page: Any) -> Any:
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        text = message.text
        if re.search(r"status of 4\d\d \(", text):
            return  # a refused form (400) or an error page (403, 404, 409) visited on purpose
        if message.type == "error" or "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"console {message.type}: {text}")


def register(page: Any, base: str, n: int, name: str = "") -> None:
    page.goto(f"{base}/register")
    page.get_by_label("Name").fill(name or f"Browser {n}")
    page.get_by_label("Email").fill(f"browser{n}@example.com")
    page.get_by_label("Mobile number").fill(f"1390000{n:04d}")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{base}/")


def test_register_create_vote_live_switch_language_log_out(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "e2e.sqlite3") as base:
        watch = Watch()
        owner = watch.attach(browser.new_context(viewport={"width": 1280, "height": 900}).new_page())

        # Register: logged in, welcomed, name in the navigation.
        register(owner, base, 1)
        expect(owner.get_by_role("status")).to_contain_text("Welcome! Your account is ready")
        expect(owner.get_by_role("navigation", name="Main")).to_contain_text("Browser 1")

        # Log out and back in by the phone number.
        owner.get_by_role("button", name="Log out").click()
        expect(owner.get_by_role("status")).to_contain_text("You are logged out")
        owner.get_by_role("link", name="Log in").click()
        owner.get_by_label("Email or mobile number").fill("13900000001")
        owner.get_by_label("Password").fill("wrong password")
        owner.get_by_role("button", name="Log in").click()
        expect(owner.get_by_role("alert")).to_contain_text("The account or password is incorrect.")
        owner.get_by_label("Password").fill(PASSWORD)
        owner.get_by_role("button", name="Log in").click()
        expect(owner.get_by_role("status")).to_contain_text("You are logged in.")

        # Create a poll: an inline error first, then five choices (the fifth box added by script, no reload).
        owner.get_by_role("link", name="New poll").first.click()
        owner.get_by_label("Question").fill("Which day for the team lunch?")
        owner.get_by_role("button", name="Create poll").click()
        expect(owner.locator("#choice-error")).to_contain_text("Give between 2 and 20 choices.")
        for number, day in enumerate(["Monday", "Tuesday", "Wednesday", "Thursday"], start=1):
            owner.get_by_label(f"Choice {number}", exact=True).fill(day)
        owner.evaluate("window.stillTheSamePage = true")
        owner.get_by_role("button", name="More choices").click()
        expect(owner.get_by_label("Choice 5", exact=True)).to_be_focused()
        owner.get_by_label("Choice 5", exact=True).fill("Friday")
        assert owner.evaluate("window.stillTheSamePage") is True
        owner.get_by_role("button", name="Create poll").click()
        expect(owner.get_by_role("status").first).to_contain_text("Your poll is published")
        poll_url = owner.url
        assert re.fullmatch(rf"{base}/questions/\d+", poll_url)
        expect(owner.locator(".share-link")).to_have_value(poll_url)

        # Watch the results; mark the window so a reload would show.
        owner.get_by_role("link", name="See the results").click()
        expect(owner.locator(".results-total")).to_have_text("0")
        expect(owner.locator(".live-status")).to_contain_text("Live")
        owner.evaluate("window.stillTheSamePage = true")

        # Someone else votes from another browser context.
        voter = watch.attach(browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page())
        register(voter, base, 2)
        voter.goto(poll_url)
        voter.get_by_label("Wednesday").check()
        voter.get_by_role("button", name="Vote").click()
        expect(voter.get_by_role("status").first).to_contain_text("your vote was counted")
        expect(voter.locator(".result.is-mine")).to_contain_text("Wednesday")

        # The first page moved by itself.
        expect(owner.locator(".results-total")).to_have_text("1")
        wednesday = owner.locator(".result", has_text="Wednesday")
        expect(wednesday.locator(".result-votes")).to_have_text("1")
        expect(wednesday.locator(".result-percent")).to_have_text("100.0")
        expect(owner.locator(".results-total-unit")).to_have_text("vote")
        expect(wednesday.locator("progress")).to_have_js_property("value", 100)  # the bar glided there
        assert owner.evaluate("window.stillTheSamePage") is True

        # Switch to Chinese in the footer: same page, in Chinese, and still live.
        owner.get_by_role("navigation", name="Language").get_by_role("link", name="简体中文").click()
        expect(owner.locator("html")).to_have_attribute("lang", "zh-Hans")
        expect(owner.locator(".results-kicker")).to_have_text("结果")
        expect(owner.locator(".results-summary")).to_contain_text("共 1 票")
        expect(owner.locator(".live-status")).to_contain_text("实时")
        assert owner.url.endswith("/results")

        # Keyboard: the first Tab reaches the skip link.
        owner.keyboard.press("Tab")
        assert owner.evaluate("document.activeElement.className") == "skip-link"

        # Log out, in Chinese.
        owner.get_by_role("button", name="退出").click()
        expect(owner.get_by_role("status")).to_contain_text("你已退出登录")
        expect(owner.get_by_role("link", name="登录")).to_be_visible()

        assert watch.problems == []


def test_times_follow_the_browsers_time_zone(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "e2e.sqlite3") as base:
        watch = Watch()
        # Someone in New York: their first page has told the server their zone before the form.
        owner = watch.attach(browser.new_context(timezone_id="America/New_York").new_page())
        register(owner, base, 1)
        owner.get_by_role("link", name="New poll").first.click()
        owner.get_by_label("Question").fill("When is the launch party?")
        owner.get_by_label("Choice 1", exact=True).fill("Friday")
        owner.get_by_label("Choice 2", exact=True).fill("Saturday")
        owner.get_by_label("Close at (America/New_York time, optional)").fill("2099-12-31T18:00")
        owner.get_by_role("button", name="Create poll").click()
        expect(owner.locator(".poll-facts time")).to_have_text("2099-12-31 18:00 (America/New_York)")
        poll_url = owner.url

        # Someone in Tokyo opens the link first thing: the server, not knowing their zone yet,
        # writes Shanghai time, and the script shows Tokyo's at once.
        tokyo = browser.new_context(timezone_id="Asia/Tokyo")
        guest = watch.attach(tokyo.new_page())
        guest.goto(poll_url)
        expect(guest.locator(".poll-facts time")).to_have_text("2100-01-01 08:00 (Asia/Tokyo)")
        assert {"name": "tz", "value": "Asia/Tokyo"}.items() <= next(
            cookie for cookie in tokyo.cookies() if cookie["name"] == "tz"
        ).items()
        # From then on the server writes Tokyo time itself.
        html = tokyo.request.get(poll_url).text()
        assert '<time datetime="2100-01-01T08:00+09:00" data-zone="Asia/Tokyo"' in html

        # Without JavaScript the page is still right, in the default zone.
        no_script = watch.attach(browser.new_context(timezone_id="Asia/Tokyo", java_script_enabled=False).new_page())
        no_script.goto(poll_url)
        expect(no_script.locator(".poll-facts time")).to_have_text("2100-01-01 07:00 (Asia/Shanghai)")
        assert watch.problems == []


def test_signed_out_visitor_votes_after_logging_in_and_a_stale_tab_is_told(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    demo = seed.DEMO_USERS[0]
    with chromium() as browser, serve(tmp_path / "anonymous.sqlite3") as base:
        watch = Watch()
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        visitor = watch.attach(context.new_page())
        visitor.goto(base)
        visitor.get_by_role("link", name="最喜欢的季节?").click()
        poll_url = visitor.url
        assert [cookie for cookie in context.cookies() if cookie["name"] == COOKIE_NAME] == []  # no session
        visitor.get_by_label("秋天").check()
        visitor.get_by_role("button", name="Vote").click()

        visitor.wait_for_url(re.compile(r".*/login\?next=.*"))
        visitor.get_by_label("Email or mobile number").fill(demo["email"])
        visitor.get_by_label("Password").fill(demo["password"])
        visitor.get_by_role("button", name="Log in").click()
        expect(visitor.get_by_label("秋天")).to_be_checked()  # back on the poll, the choice kept
        assert visitor.url == poll_url

        stale = watch.attach(context.new_page())
        stale.goto(poll_url)
        visitor.get_by_role("button", name="Vote").click()
        expect(visitor.get_by_role("status").first).to_contain_text("your vote was counted")

        stale.get_by_label("冬天").check()
        stale.get_by_role("button", name="Vote").click()
        expect(stale.get_by_role("alert")).to_contain_text("You have already voted in this poll.")
        expect(stale.locator(".is-mine")).to_contain_text("秋天")
        assert watch.problems == []


def test_a_results_page_whose_poll_is_deleted_shows_it_is_gone(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "e2e.sqlite3") as base:
        watch = Watch()
        owner = watch.attach(browser.new_context().new_page())
        register(owner, base, 1)
        owner.goto(f"{base}/questions/new")
        owner.get_by_label("Question").fill("Tea or coffee?")
        owner.get_by_label("Choice 1", exact=True).fill("Tea")
        owner.get_by_label("Choice 2", exact=True).fill("Coffee")
        owner.get_by_role("button", name="Create poll").click()
        expect(owner.get_by_role("status").first).to_contain_text("Your poll is published")
        poll_url = owner.url

        audience = watch.attach(browser.new_context(viewport={"width": 390, "height": 844}).new_page())
        audience.goto(f"{poll_url}/results")
        expect(audience.locator(".live-status")).to_contain_text("Live")
        expect(audience.locator(".results-total")).to_have_text("0")

        owner.on("dialog", lambda dialog: dialog.accept())
        owner.get_by_role("button", name="Delete").click()
        expect(owner.get_by_role("status").first).to_contain_text("deleted")

        # The socket closed with 4403: the page reloads by itself and says the poll is gone.
        expect(audience.locator(".error-message")).to_have_text("Poll not found.")
        expect(audience.locator(".results-total")).to_have_count(0)
        # Only the 404 of the reloaded page itself may show in the console.
        assert [problem for problem in watch.problems if "404 (Not Found)" not in problem] == []
