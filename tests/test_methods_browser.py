"""Ranked and score ballots in a real Chromium (tests/test_e2e.py's harness): a voter orders the
choices by keyboard alone and votes, and the owner's results page shows the new rounds without a
reload; star ballots by keyboard. Skipped with the reason when Chromium is missing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_e2e import Watch, chromium, register, serve


def test_rank_by_keyboard_and_watch_the_rounds_move(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "ranked.sqlite3") as base:
        watch = Watch()
        owner = watch.attach(browser.new_context(viewport={"width": 1280, "height": 900}).new_page())
        register(owner, base, 1)
        owner.goto(f"{base}/questions/new")
        owner.get_by_label("Question").fill("Where do we eat?")
        for number, place in enumerate(["Pizza", "Noodles", "Salad"], start=1):
            owner.get_by_label(f"Choice {number}", exact=True).fill(place)
        owner.get_by_label("Rank choices").check()
        owner.get_by_role("button", name="Create poll").click()
        poll_url = owner.url
        assert re.fullmatch(rf"{base}/questions/\d+", poll_url)
        owner.goto(poll_url + "/results")
        expect(owner.locator(".live-status")).to_contain_text("Live")
        expect(owner.locator(".method-results")).to_contain_text("No ballots yet")
        owner.evaluate("window.stillTheSamePage = true")

        voter = watch.attach(browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page())
        register(voter, base, 2)
        voter.goto(poll_url)
        # Keyboard only: to Salad's "up" button, pressed twice; then Noodles down once.
        voter.get_by_role("button", name="Move Salad up").focus()
        voter.keyboard.press("Enter")
        voter.keyboard.press("Enter")
        expect(voter.get_by_role("button", name="Move Salad up")).to_be_focused()
        expect(voter.locator("[data-rank-status]")).to_have_text("Salad is now number 1.")
        voter.get_by_role("button", name="Move Pizza down").focus()
        voter.keyboard.press("Space")
        expect(voter.locator(".rank-label")).to_have_text(["Salad", "Noodles", "Pizza"])
        expect(voter.get_by_label("Salad", exact=True)).to_have_value("1")
        expect(voter.get_by_label("Pizza", exact=True)).to_have_value("3")
        voter.get_by_role("button", name="Vote").press("Enter")
        expect(voter.get_by_role("status").first).to_contain_text("your vote was counted")

        # The owner's page drew the rounds by itself.
        expect(owner.locator(".results-total")).to_have_text("1")
        expect(owner.locator(".round")).to_have_count(1)
        expect(owner.locator(".winner").first).to_contain_text("Salad")
        assert owner.evaluate("window.stillTheSamePage") is True

        dragger = watch.attach(browser.new_page())
        register(dragger, base, 4)
        dragger.goto(poll_url)
        dragger.locator(".rank-item", has_text="Salad").drag_to(dragger.locator(".rank-item", has_text="Pizza"))
        expect(dragger.locator(".rank-label")).to_have_text(["Salad", "Pizza", "Noodles"])
        expect(dragger.get_by_label("Salad", exact=True)).to_have_value("1")
        dragger.close()

        third = watch.attach(browser.new_context().new_page())
        register(third, base, 3)
        third.goto(poll_url)
        third.get_by_label("Pizza", exact=True).select_option("1")  # the numbered selects, as without JavaScript
        third.get_by_label("Noodles", exact=True).select_option("2")
        third.get_by_role("button", name="Vote").click()
        expect(third.get_by_role("status").first).to_contain_text("your vote was counted")
        expect(owner.locator(".results-total")).to_have_text("2")
        # Pizza 1, Noodles 0, Salad 1: Noodles goes; then Pizza and Salad tie, with as many first
        # preferences, and the later-listed goes; Pizza wins in round 3.
        expect(owner.locator(".round")).to_have_count(3)
        expect(owner.locator(".round").first.locator(".round-figure.is-out")).to_contain_text("Noodles")
        expect(owner.locator(".winner").first).to_contain_text("Pizza")
        assert owner.evaluate("window.stillTheSamePage") is True
        assert watch.problems == []


def test_stars_by_keyboard(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "score.sqlite3") as base:
        watch = Watch()
        page = watch.attach(browser.new_page())
        register(page, base, 1)
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        made = page.request.post(
            f"{base}/api/v1/questions",
            data={"question_text": "Films?", "choices": ["Alien", "Brazil"], "method": "score"},
            headers={"X-CSRF-Token": token},
        )
        poll = made.json()["id"]
        page.goto(f"{base}/questions/{poll}")
        alien = page.get_by_role("group", name="Alien")
        alien.get_by_role("radio", name="3 stars").focus()
        page.keyboard.press("Space")
        page.keyboard.press("ArrowRight")  # 4 stars
        expect(alien.get_by_role("radio", name="4 stars")).to_be_checked()
        page.get_by_role("group", name="Brazil").locator("label", has_text="None").click()
        page.get_by_role("button", name="Vote").click()
        expect(page.get_by_role("status").first).to_contain_text("your vote was counted")
        expect(page.locator(".winner").first).to_contain_text("Alien")
        expect(page.locator(".score-row").first).to_contain_text("4.00 stars on average")
        assert watch.problems == []
