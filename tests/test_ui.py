"""Pages in a real Chromium (Debian's, driven by Playwright) against `python main.py`: a phone's
header and form controls, the new-poll form without JavaScript, voting and results, error
summaries, and axe-core's accessibility rules on every page under the real Content-Security-Policy.

Uses tests/test_e2e.py's harness: skipped with the reason when Chromium is missing, a failure
instead when CI=true or VOTE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.test_e2e import Watch, chromium, register, serve

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
LONG_NAME = "Maximiliane Wolfeschlegelsteinhausenberg"  # 40 characters, the longest a name may be
people = itertools.count(1)  # a new account per test: one server serves the whole module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """One Chromium and one `python main.py` (a fresh SQLite file) for every test of the module."""
    with chromium() as browser, serve(tmp_path_factory.mktemp("ui") / "ui.sqlite3") as base:
        yield browser, base


@pytest.fixture
def watch() -> Iterator[Watch]:
    """Fails the test on any script error or Content-Security-Policy refusal."""
    seen = Watch()
    yield seen
    assert seen.problems == []


def open_page(browser: Any, watch: Watch, device: dict[str, Any], **options: Any) -> Any:
    return watch.attach(browser.new_context(**device, **options).new_page())


def test_a_phone_header_wraps_and_cuts_a_long_name(site: tuple[Any, str], watch: Watch) -> None:
    from playwright.sync_api import expect

    browser, base = site
    page = open_page(browser, watch, PHONE)
    register(page, base, next(people), name=LONG_NAME)
    page.goto(f"{base}/questions/new")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls sideways
    assert page.locator(".site-nav").evaluate("nav => nav.scrollWidth <= nav.clientWidth")
    log_out = page.get_by_role("button", name="Log out").bounding_box()
    assert log_out is not None and log_out["x"] >= 0 and log_out["x"] + log_out["width"] <= 390
    name = page.locator(".nav-user-name")
    assert name.evaluate("cut => cut.scrollWidth > cut.clientWidth")  # cut short, with an ellipsis
    expect(page.get_by_role("link", name=LONG_NAME)).to_be_visible()  # its name stays whole


def test_the_select_shows_its_arrow(site: tuple[Any, str], watch: Watch) -> None:
    browser, base = site
    page = open_page(browser, watch, PHONE)
    register(page, base, next(people))
    page.goto(f"{base}/questions/new")
    select = page.get_by_label("Who sees the results")
    drawn = "s => getComputedStyle(s).appearance !== 'none' || getComputedStyle(s).backgroundImage.startsWith('url(')"
    assert select.evaluate(drawn)  # the browser's own arrow, or ours


def test_more_choices_without_javascript(site: tuple[Any, str], watch: Watch) -> None:
    from playwright.sync_api import expect

    browser, base = site
    page = open_page(browser, watch, PHONE, java_script_enabled=False)
    register(page, base, next(people))
    page.goto(f"{base}/questions/new")
    page.get_by_label("Question").fill("Which fruit for the picnic?")
    fruits = ["Apple", "Banana", "Cherry", "Date", "Elderberry", "Fig"]
    for number, fruit in enumerate(fruits[:4], start=1):
        page.get_by_label(f"Choice {number}", exact=True).fill(fruit)
    page.get_by_role("button", name="More choices").click()
    expect(page.get_by_label("Choice 5", exact=True)).to_be_focused()  # the first new box
    expect(page.get_by_label("Choice 4", exact=True)).to_have_value("Date")
    page.get_by_label("Choice 5", exact=True).fill(fruits[4])
    page.get_by_label("Choice 6", exact=True).fill(fruits[5])
    page.get_by_label("Choice 6", exact=True).press("Enter")  # Enter saves the poll
    expect(page.get_by_role("status").first).to_contain_text("Your poll is published")
    expect(page.locator(".choice-option label")).to_have_text(fruits)


def create_poll(page: Any, base: str, text: str, choices: list[str], **fields: Any) -> int:
    """A poll by the JSON API, as the page's logged-in user (session cookie and CSRF header)."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(
        f"{base}/api/v1/questions",
        data={"question_text": text, "choices": choices, **fields},
        headers={"X-CSRF-Token": token},
    )
    assert response.status == 201, response.text()
    return int(response.json()["id"])


def sockets_opened(page: Any, path: str) -> int:
    """How many WebSockets the page at ``path`` opens once it has settled."""
    opened: list[Any] = []

    def count(socket: Any) -> None:
        opened.append(socket)

    page.on("websocket", count)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    page.remove_listener("websocket", count)
    return len(opened)


def test_results_are_live_only_while_the_poll_is_open(site: tuple[Any, str], watch: Watch) -> None:
    from playwright.sync_api import expect

    browser, base = site
    page = open_page(browser, watch, DESKTOP)
    register(page, base, next(people))
    poll = create_poll(page, base, "Close me?", ["Yes", "No"])
    assert sockets_opened(page, f"{base}/questions/{poll}/results") == 1
    expect(page.locator(".live-status")).to_contain_text("Live")

    page.goto(f"{base}/questions/{poll}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close now").click()
    expect(page.get_by_role("status").first).to_contain_text("You closed the poll")
    assert sockets_opened(page, f"{base}/questions/{poll}/results") == 0
    expect(page.locator(".results-kicker")).to_have_text("Final results")
    expect(page.get_by_role("main")).not_to_contain_text("Live")
    expect(page.get_by_role("main")).not_to_contain_text("updates by itself")


def test_results_turn_final_when_the_poll_closes_by_itself(site: tuple[Any, str], watch: Watch) -> None:
    from playwright.sync_api import expect

    browser, base = site
    page = open_page(browser, watch, PHONE)
    register(page, base, next(people))
    closes_at = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    poll = create_poll(page, base, "Quick one?", ["Yes", "No"], closes_at=closes_at)
    page.goto(f"{base}/questions/{poll}/results")
    expect(page.locator(".live-status")).to_contain_text("Live")
    expect(page.locator(".results-kicker")).to_have_text("Final results", timeout=15_000)  # reloaded
    expect(page.locator(".live-status")).to_have_count(0)


def test_checkboxes_stop_at_the_most_a_poll_allows(site: tuple[Any, str], watch: Watch) -> None:
    from playwright.sync_api import expect

    browser, base = site
    page = open_page(browser, watch, PHONE)
    register(page, base, next(people))
    poll = create_poll(page, base, "Two fruits?", ["Apple", "Pear", "Plum", "Kiwi"], max_choices=2)
    page.goto(f"{base}/questions/{poll}")
    apple, pear, plum, kiwi = (page.get_by_label(name) for name in ("Apple", "Pear", "Plum", "Kiwi"))
    apple.check()
    expect(plum).to_be_enabled()
    pear.check()
    expect(plum).to_be_disabled()
    expect(kiwi).to_be_disabled()
    expect(page.get_by_role("group").get_by_role("status")).to_have_text(
        "You picked 2 choices, the most this poll allows: untick one to pick another."
    )
    pear.uncheck()
    expect(kiwi).to_be_enabled()
    expect(page.get_by_role("group").get_by_role("status")).to_have_text("")
    kiwi.check()
    page.get_by_role("button", name="Vote").click()
    expect(page.locator(".result.is-mine")).to_have_count(2)


def test_a_refused_form_leads_to_its_error(site: tuple[Any, str], watch: Watch) -> None:
    from playwright.sync_api import expect

    browser, base = site
    page = open_page(browser, watch, PHONE)
    page.goto(f"{base}/login")
    link = page.get_by_role("link", name="Create an account")
    assert link.evaluate("a => getComputedStyle(a).textDecorationLine") == "underline"  # a link, not by colour alone
    page.get_by_label("Email or mobile number").fill("nobody@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_title("Error: Log in · vote")
    expect(page.get_by_role("alert")).to_be_focused()  # read first
    expect(page.get_by_role("alert")).to_have_text("The account or password is incorrect.")

    register(page, base, next(people))
    poll = create_poll(page, base, "Lunch at noon?", ["Yes", "No"])
    page.goto(f"{base}/questions/{poll}")
    page.get_by_role("button", name="Vote").click()
    expect(page.get_by_role("alert")).to_be_focused()
    choices = page.get_by_role("group", name="Pick one choice")
    expect(choices).to_have_accessible_description("You didn't select a choice.")
    expect(page.get_by_role("radio", name="Yes")).to_have_attribute("aria-invalid", "true")

    # Without JavaScript the focus cannot move; the title says it, and the skip link leads there.
    still = open_page(browser, watch, PHONE, java_script_enabled=False)
    still.goto(f"{base}/login")
    still.get_by_label("Password").press("Enter")
    expect(still).to_have_title("Error: Log in · vote")
    still.keyboard.press("Tab")
    expect(still.get_by_role("link", name="Skip to the error")).to_be_focused()
    still.keyboard.press("Enter")
    expect(still.get_by_role("alert")).to_be_focused()
