"""Voting without an account in a real Chromium (tests/test_e2e.py's harness): an anonymous vote
from a shared link to the results; a meeting's invite cards, printed, scanned and used once (the
sheet's QR codes are decoded with zxing-cpp and must read as the URLs printed under them); and a
member on a phone without JavaScript who mistypes their code, votes, and sees results shown to voters."""

from __future__ import annotations

import io
import re
from pathlib import Path

from tests.test_e2e import Watch, chromium, register, serve
from tests.test_ui import DESKTOP, PHONE, create_poll


def decode_qr(png: bytes) -> list[str]:
    import zxingcpp
    from PIL import Image

    return [found.text for found in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


def test_an_anonymous_visitor_votes_from_the_shared_link_to_the_results(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "link.sqlite3") as base:
        watch = Watch()
        owner = watch.attach(browser.new_context(**DESKTOP).new_page())
        register(owner, base, 1)
        owner.get_by_role("link", name="New poll").first.click()
        owner.get_by_label("Question").fill("Pizza or sushi on Friday?")
        owner.get_by_label("Choice 1", exact=True).fill("Pizza")
        owner.get_by_label("Choice 2", exact=True).fill("Sushi")
        owner.get_by_label("Anyone with the link").check()
        owner.get_by_role("button", name="Create poll").click()
        expect(owner.get_by_role("status").first).to_contain_text("Your poll is published")
        shared = owner.locator(".share-link").input_value()
        owner.get_by_role("link", name="See the results").click()
        expect(owner.locator(".live-status")).to_contain_text("Live")

        context = browser.new_context(**PHONE)
        guest = watch.attach(context.new_page())
        guest.goto(shared)
        expect(guest.locator(".poll-card")).to_contain_text("one vote per browser")
        guest.get_by_label("Sushi").check()
        guest.get_by_role("button", name="Vote").click()
        expect(guest.get_by_role("status").first).to_contain_text("your vote was counted")
        expect(guest.locator(".result.is-mine")).to_contain_text("Sushi")
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert "vote_session" not in cookies  # no account, no session
        assert cookies["voter"]["httpOnly"] and cookies["voter"]["sameSite"] == "Lax"
        guest.goto(shared)
        expect(guest.locator(".poll-card")).to_contain_text("You have already voted in this poll.")

        expect(owner.locator(".results-total")).to_have_text("1")  # live, without a reload
        assert watch.problems == []


def test_a_meeting_prints_invite_cards_whose_qr_codes_vote_once(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "meeting.sqlite3") as base:
        watch = Watch()
        owner = watch.attach(browser.new_context(**DESKTOP, device_scale_factor=2).new_page())
        register(owner, base, 1)
        poll = create_poll(owner, base, "Approve the budget?", ["Yes", "No", "Abstain"], access="invite", secret=True)
        owner.goto(f"{base}/questions/{poll}")
        owner.get_by_role("link", name="Invite codes").click()
        owner.get_by_label("Or one name per line").fill("\n".join(f"Member {n}" for n in range(1, 15)))
        owner.get_by_role("button", name="Make codes").first.click()
        expect(owner.locator(".turnout")).to_contain_text("0 of 14 invited have voted")

        owner.get_by_role("link", name="Printable sheet (A4)").click()
        cards = owner.locator(".card")
        expect(cards).to_have_count(14)
        urls = []
        for index in range(14):
            card = cards.nth(index)
            printed = card.locator(".card-url").inner_text()
            assert re.fullmatch(rf"{re.escape(base)}/v/[0-9A-Z]{{4}}-[0-9A-Z]{{4}}-[0-9A-Z]{{4}}", printed)
            assert decode_qr(card.locator(".card-qr").screenshot()) == [printed]
            urls.append(printed)
        pdf = owner.pdf(format="A4")
        assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) == 2  # 12 cards a page

        voter = watch.attach(browser.new_context(**PHONE).new_page())
        voter.goto(urls[0])
        expect(voter.locator(".poll-card")).to_contain_text("Secret ballot")
        voter.get_by_label("Yes").check()
        voter.get_by_role("button", name="Vote").click()
        expect(voter.locator("h1")).to_contain_text("your vote was counted")
        receipt = voter.locator(".receipt-code").inner_text()
        assert re.fullmatch(r"[0-9A-Z]{5}(-[0-9A-Z]{5}){3}", receipt)
        voter.get_by_role("link", name="Check my ballot").click()
        expect(voter.locator(".choice-list")).to_have_text("Yes")
        voter.goto(urls[0])
        expect(voter.locator("body")).to_contain_text("This invite code has already been used to vote.")

        owner.goto(f"{base}/questions/{poll}/invites")
        expect(owner.locator(".turnout")).to_contain_text("1 of 14 invited have voted")
        assert watch.problems == []


def test_a_member_without_javascript_types_their_code_votes_and_sees_the_results(tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with chromium() as browser, serve(tmp_path / "typed.sqlite3") as base:
        watch = Watch()
        owner = watch.attach(browser.new_context(**DESKTOP).new_page())
        register(owner, base, 1)
        hidden_till_voted = {"access": "invite", "results_visibility": "after_vote"}
        poll = create_poll(owner, base, "Move the meeting?", ["Yes", "No"], **hidden_till_voted)
        owner.goto(f"{base}/questions/{poll}/invites")
        owner.get_by_label("How many codes").fill("1")
        owner.get_by_role("button", name="Make codes").first.click()
        code = owner.locator("td code").first.inner_text()

        member = watch.attach(browser.new_context(**PHONE, java_script_enabled=False).new_page())
        member.goto(f"{base}/questions/{poll}")
        box = member.get_by_label("Or type the code on your card")
        box.fill(code[:-1] + ("X" if code[-1] != "X" else "Y"))  # one character wrong
        member.get_by_role("button", name="Go to the vote").click()
        expect(member.locator(".form-alert")).to_contain_text("This invite code is not valid")
        expect(box).to_have_attribute("aria-invalid", "true")
        box.fill(code.lower().replace("-", " "))
        member.get_by_role("button", name="Go to the vote").click()
        member.get_by_label("No").check()
        member.get_by_role("button", name="Vote").click()
        member.get_by_role("link", name="See the results").click()
        expect(member.locator(".results-total")).to_have_text("1")  # shown to voters only: this one
        expect(member.locator(".is-mine")).to_have_count(0)  # but how a code voted, to nobody

        again = watch.attach(browser.new_context(**PHONE).new_page())  # the card scanned on another phone
        again.goto(f"{base}/v/{code}")
        expect(again.locator("h1")).to_contain_text("already been used to vote")
        again.get_by_role("link", name="See the results").click()
        expect(again.locator(".results-total")).to_have_text("1")
        assert watch.problems == []
