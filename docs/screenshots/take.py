"""Screenshots of the main pages at desktop (1280) and phone (390) widths: `make screenshots`.

Starts `python main.py` on a throw-away SQLite database (the sample data), plays a short story in
Debian's Chromium (a demo user creates a poll, a few people vote) and saves PNGs next to this file;
then a meeting's secret vote by invite codes: the form, the codes, the printable A4 sheet (also
printed to PDF by Chromium), a member's phone voting and its receipt (`take.py meeting`: only those).
Chinese text needs CJK fonts (Debian: fonts-noto-cjk); with pngquant installed (Debian: pngquant)
the PNGs are shrunk to a third, with no visible change.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.test_e2e import chromium, serve  # noqa: E402 - needs the path above

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
DEMO = ("luxi@qq.com", "luxi-demo-2018")
QUESTION = "Where should we hold the spring team day?"
CHOICES = ("By the lake", "In the mountains", "At the seaside", "In the old town")
VOTES = (1, 1, 2, 0, 1, 2, 1)  # choice index per extra voter
MEETING = "Do we approve the 2027 budget?"
MEMBERS = ("Ana Lima", "Bo Chen", "Chen Jing", "Dana Levi", "Eli Moreau", "Fatima Khan", "Gus Berg", "Hana Sato")


def new_page(browser: Any, kind: str, lang: str = "en") -> Any:
    width, height = WIDTHS[kind]
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=kind == "phone", locale=lang, device_scale_factor=1
    )
    return context.new_page()


def log_in(page: Any, base: str, account: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#account", account)
    page.fill("#password", password)
    page.click(".auth-form button[type=submit]")
    page.wait_for_url(f"{base}/")


def register(page: Any, base: str, n: int) -> None:
    page.goto(f"{base}/register")
    page.fill("#name", f"Voter {n}")
    page.fill("#email", f"voter{n}@example.com")
    page.fill("#phone", f"1370000{n:04d}")
    page.fill("#password", "screenshots only")
    page.click(".auth-form button[type=submit]")
    page.wait_for_url(f"{base}/")


def register_and_vote(browser: Any, base: str, poll_url: str, n: int, choice: int) -> None:
    page = new_page(browser, "desktop")
    register(page, base, n)
    page.goto(poll_url)
    page.check(f"#choice{choice + 1}")
    page.click(".vote-form button[type=submit]")
    page.wait_for_url(f"{poll_url}/results")
    page.context.close()


def shoot(page: Any, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, 0)")  # a sticky header stays at the top of a full-page shot
    page.wait_for_timeout(300)  # the bars' easing settles
    path = HERE / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if shutil.which("pngquant"):
        subprocess.run(
            ["pngquant", "--quality=70-95", "--speed=1", "--strip", "--force", "--output", path, path], check=True
        )
    print(f"{path.relative_to(HERE.parent.parent)}  {path.stat().st_size // 1024} KiB")


def meeting(browser: Any, base: str) -> None:
    """A secret vote by invite codes, from the new-poll form to a member's receipt."""
    owner = new_page(browser, "desktop")
    log_in(owner, base, *DEMO)
    owner.goto(f"{base}/questions/new")
    owner.fill("#question_text", MEETING)
    for index, text in enumerate(("Yes", "No", "Abstain"), start=1):
        owner.fill(f"#choice{index}", text)
    owner.check("#access-invite")
    owner.check("#secret")
    shoot(owner, "desktop-new-invite")
    owner.click(".poll-form .form-actions button[type=submit]")
    owner.wait_for_url(f"{base}/questions/*/invites")  # an invite poll's next step: its codes
    poll_url = owner.url.removesuffix("/invites")
    owner.fill("#labels", "\n".join(MEMBERS))
    owner.click(".form-card button[type=submit]")
    owner.wait_for_url(f"{poll_url}/invites")
    owner.goto(f"{poll_url}/invites/print")
    shoot(owner, "desktop-invites-print")
    owner.pdf(path=str(HERE / "invites-print.pdf"), format="A4")
    print("docs/screenshots/invites-print.pdf")
    first_card = owner.locator(".card-url").first.inner_text()
    member = new_page(browser, "phone")
    member.goto(first_card)
    member.check("#choice1")
    shoot(member, "phone-invite-vote")
    member.click(".vote-form button[type=submit]")
    member.wait_for_load_state()
    shoot(member, "phone-receipt")
    owner.goto(f"{poll_url}/invites")
    shoot(owner, "desktop-invites")


def main() -> None:
    if sys.argv[1:] == ["meeting"]:
        with tempfile.TemporaryDirectory() as tmp, chromium() as browser, serve(Path(tmp) / "meet.sqlite3") as base:
            meeting(browser, base)
        return
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser, serve(Path(tmp) / "shots.sqlite3") as base:
        meeting(browser, base)
        owner = new_page(browser, "desktop")
        log_in(owner, base, *DEMO)
        owner.goto(f"{base}/questions/new")
        owner.fill("#question_text", QUESTION)
        for index, text in enumerate(CHOICES, start=1):
            owner.fill(f"#choice{index}", text)
        owner.click(".poll-form .form-actions button[type=submit]")
        owner.wait_for_url(f"{base}/questions/*")
        poll_url = owner.url
        for n, choice in enumerate(VOTES, start=1):
            register_and_vote(browser, base, poll_url, n, choice)
        state = owner.context.storage_state()

        pages = {}
        for kind in WIDTHS:
            visitor = new_page(browser, kind)
            for name in ("login", "register"):
                visitor.goto(f"{base}/{name}")
                shoot(visitor, f"{kind}-{name}")
            page = pages[kind] = new_page(browser, kind)
            page.context.add_cookies(state["cookies"])
            for name, url in (("index", f"{base}/"), ("poll", poll_url), ("new", f"{base}/questions/new")):
                page.goto(url)
                shoot(page, f"{kind}-{name}")

        owner.goto(poll_url)
        owner.check("#choice2")
        owner.click(".vote-form button[type=submit]")  # the owner votes too: "Your vote" on the results
        owner.wait_for_url(f"{poll_url}/results")
        for kind, page in pages.items():
            page.goto(f"{poll_url}/results")
            shoot(page, f"{kind}-results")

        present_and_join(browser, base, poll_url, state["cookies"])

        chinese = new_page(browser, "desktop", "zh-CN")
        chinese.context.add_cookies(state["cookies"])
        for name, url in (("index", f"{base}/"), ("results", f"{poll_url}/results")):
            chinese.goto(url)
            shoot(chinese, f"zh-desktop-{name}")


def present_and_join(browser: Any, base: str, poll_url: str, cookies: list[Any]) -> None:
    """The presenter's screen at 1920x1080 in both themes, and a phone joining by its code."""
    screen = browser.new_context(viewport={"width": 1920, "height": 1080}, device_scale_factor=1).new_page()
    screen.context.add_cookies(cookies)
    for theme in ("dark", "light"):
        screen.goto(f"{poll_url}/present?theme={theme}")
        shoot(screen, f"presenter-{theme}")
    code = "".join(filter(str.isdigit, screen.locator(".present-code").inner_text()))
    phone = new_page(browser, "phone")
    register(phone, base, len(VOTES) + 1)
    phone.goto(f"{base}/join")
    phone.fill("#code", f"{code[:3]} {code[3:]}")
    shoot(phone, "phone-join")
    phone.click(".auth-form button[type=submit]")
    phone.wait_for_url(poll_url)
    shoot(phone, "phone-join-vote")
    phone.check("#choice3")
    phone.click(".vote-form button[type=submit]")
    phone.wait_for_url(f"{poll_url}/results")
    shoot(phone, "phone-join-thanks")


if __name__ == "__main__":
    main()
