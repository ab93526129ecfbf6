"""Presenter mode in a real Chromium: the big screen in one browser, two phones (390x844) in others
joining by the code on the screen, voting, and watching the reveal; the screen moves by itself.

Uses tests/test_e2e.py's harness: skipped with the reason when Chromium is missing, a failure
instead when CI=true or VOTE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.test_e2e import Watch, chromium, register, serve
from tests.test_ui import PHONE, create_poll

SCREEN = {"viewport": {"width": 1920, "height": 1080}}


def join_and_vote(phone: Any, base: str, code: str, choice: str) -> None:
    """What a person in the hall does: the join page, the code from the screen, a choice, Vote."""
    from playwright.sync_api import expect

    phone.goto(f"{base}/join")
    phone.get_by_label("Code").fill(f"{code[:3]} {code[3:]}")
    phone.get_by_role("button", name="Join").click()
    expect(phone.get_by_role("button", name="Vote")).to_be_visible()  # straight to the vote form
    phone.get_by_label(choice).check()
    phone.get_by_role("button", name="Vote").click()
    expect(phone.get_by_role("status").first).to_contain_text("your vote was counted")
    expect(phone.locator("[data-awaiting-reveal]")).to_contain_text("as soon as the presenter reveals them")


def test_two_phones_vote_and_the_screen_moves_then_the_reveal_reaches_them(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "present.sqlite3") as base:
        watch = Watch()
        screen = watch.attach(browser.new_context(**SCREEN).new_page())
        register(screen, base, 1)
        poll = create_poll(screen, base, "Tea or coffee?", ["Tea", "Coffee"], results_visibility="on_reveal")
        screen.goto(f"{base}/questions/{poll}")
        screen.get_by_role("link", name="Present").click()
        expect(screen.locator(".present-question")).to_have_text("Tea or coffee?")
        expect(screen.locator(".live-status")).to_contain_text("Live")
        code = re.sub(r"\D", "", screen.locator(".present-code").inner_text())
        assert len(code) == 6
        expect(screen.locator(".present-url")).to_have_text(f"{base.split('://')[1]}/j/{code}")
        expect(screen.locator(".present-qr svg")).to_be_visible()
        screen.evaluate("window.stillTheSamePage = true")

        phones = []
        for n, choice in ((2, "Tea"), (3, "Coffee")):
            phone = watch.attach(browser.new_context(**PHONE).new_page())
            register(phone, base, n)
            join_and_vote(phone, base, code, choice)
            expect(screen.locator(".results-total")).to_have_text(str(n - 1))  # the screen moved by itself
            phones.append(phone)
        expect(screen.locator(".result", has_text="Tea").locator(".result-percent")).to_have_text("50.0")
        assert screen.evaluate("window.stillTheSamePage") is True
        for phone in phones:
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            phone.evaluate("window.stillWaiting = true")

        screen.keyboard.press("r")  # reveal
        expect(screen.locator(".present-flash")).to_contain_text("The results are revealed")
        for phone in phones:
            expect(phone.locator(".results-total")).to_have_text("2")  # came again by itself, with them
            assert phone.evaluate("window.stillWaiting === undefined")

        screen.once("dialog", lambda dialog: dialog.accept())
        screen.keyboard.press("c")  # close, after the browser's "are you sure"
        expect(screen.locator(".present-state")).to_contain_text("Voting is closed")
        expect(screen.locator(".present-qr")).to_have_count(0)
        phones[0].goto(f"{base}/j/{code}")
        expect(phones[0].get_by_role("alert")).to_contain_text("The poll with this code has ended")
        assert watch.problems == []
