"""axe-core's accessibility rules on every page and state, in Chromium, under the real
Content-Security-Policy: at phone and desktop widths, in English and in Chinese, zero violations.

axe comes from PyPI's axe-playwright-python (its bundled axe.min.js; only the file is used). The page
loads it from its own origin, /__axe.js, which this test's browser answers itself (Playwright's
route): the app's CSP (script-src 'self') stays exactly as served. Uses tests/test_e2e.py's harness:
skipped with the reason when Chromium is missing, a failure instead when CI=true or
VOTE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import run
from tests.test_e2e import PASSWORD, Watch, chromium, serve
from tests.test_ui import DESKTOP, PHONE, create_poll

AXE_URL = "/__axe.js"
ADMIN = "admin@example.com"
people = itertools.count(100)


def axe_source() -> str:
    try:
        import axe_playwright_python
    except ImportError:
        pytest.fail("axe-playwright-python is not installed (pip install -r requirements-dev.txt)")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


@dataclass
class Site:
    browser: Any
    base: str
    axe: str
    polls: dict[str, int]
    codes: list[str]  # invite codes of the "invite" poll, one used per run
    used: list[str] = dataclass_field(default_factory=list)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server with an administrator who owns four polls: open, closed, results hidden, shown when revealed."""
    database = tmp_path_factory.mktemp("a11y") / "a11y.sqlite3"
    with chromium() as browser, serve(database) as base:
        env = {
            "VOTE_DATABASE_URL": f"sqlite:///{database}",
            "VOTE_SECRET_KEY": "e2e",
            "VOTE_REDIS_URL": "",
            "VOTE_SUPERUSER_PASSWORD": PASSWORD,
        }
        made = run("createsuperuser", "--name", "Admin", "--email", ADMIN, "--phone", "13800000000", env=env)
        assert made.returncode == 0, made.stderr
        page = browser.new_page()
        log_in(page, base, ADMIN)
        polls = {
            "open": create_poll(page, base, "Which day for the team lunch?", ["Monday", "Friday"]),
            "closed": create_poll(page, base, "Closed already?", ["Yes", "No"]),
            "hidden": create_poll(page, base, "Secret until the end?", ["A", "B"], results_visibility="after_close"),
            "link": create_poll(page, base, "Pizza or sushi?", ["Pizza", "Sushi"], access="link"),
            "invite": create_poll(page, base, "Approve the budget?", ["Yes", "No"], access="invite", secret=True),
            "reveal": create_poll(page, base, "Shown when revealed?", ["A", "B"], results_visibility="on_reveal"),
            "ranked": create_poll(page, base, "Rank the rooms?", ["Hall", "Lab", "Roof"], method="ranked"),
            "score": create_poll(page, base, "Stars for the talks?", ["Keynote", "Demo"], method="score"),
        }
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        for poll in ("ranked", "score"):  # one ballot each, so that rounds and stars show
            found = page.request.get(f"{base}/api/v1/questions/{polls[poll]}").json()
            ids = [choice["id"] for choice in found["choices"]]
            ballot = {"ranking": [ids[1], ids[0]]} if poll == "ranked" else {"scores": {str(ids[0]): 4}}
            cast = page.request.post(
                f"{base}/api/v1/questions/{polls[poll]}/votes", data=ballot, headers={"X-CSRF-Token": token}
            )
            assert cast.status == 201, cast.text()
        closed = page.request.post(f"{base}/api/v1/questions/{polls['closed']}/close", headers={"X-CSRF-Token": token})
        assert closed.ok, closed.text()
        made = page.request.post(
            f"{base}/api/v1/questions/{polls['invite']}/invites",
            data={"labels": ["Ana", "Bo", "Chen", "Dana"]},
            headers={"X-CSRF-Token": token},
        )
        assert made.status == 201, made.text()
        codes = [item["code"] for item in made.json()["invites"]]
        page.close()
        yield Site(browser, base, axe_source(), polls, codes)


def log_in(page: Any, base: str, account: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#account").fill(account)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password").press("Enter")
    page.wait_for_url(f"{base}/")


def violations(page: Any, site: Site) -> list[str]:
    """axe's findings on the page as it is now, one line per rule and element."""
    page.add_script_tag(url=site.base + AXE_URL)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .flatMap(rule => rule.nodes.map(node => `${rule.id} (${rule.impact}): ${node.target.join(" ")}`))"""
    )
    return [f"{page.url}: {line}" for line in found]


def submit(element: str) -> Step:
    """Sends the form this element is in (Enter in a field, or a click on a button)."""

    def press(page: Any, site: Site) -> None:
        found = page.locator(element)
        if found.evaluate("node => node.tagName") == "BUTTON":
            found.click()
        else:
            found.press("Enter")
        page.wait_for_load_state()

    return press


# Each state: a name and what brings the page there (after the previous state, same person).
Step = Callable[[Any, Site], None]


def go(path: str) -> Step:
    return lambda page, site: page.goto(site.base + path.format(**site.polls))


def visitor_states() -> list[tuple[str, Step]]:
    return [
        ("polls", go("/")),
        ("a poll, anonymous", go("/questions/{open}")),
        ("live results", go("/questions/{open}/results")),
        ("final results", go("/questions/{closed}/results")),
        ("hidden results", go("/questions/{hidden}/results")),
        ("waiting for the reveal", go("/questions/{reveal}/results")),
        ("join", go("/join")),
        ("join refused", go("/join?code=12")),
        ("404", go("/no/such/page")),
        ("a link poll", go("/questions/{link}")),
        ("a link vote counted", vote_on_the_link_poll),
        ("an invite poll", go("/questions/{invite}")),
        ("an unknown code", go("/v/0000-0000-0000")),
        ("a wrong code typed on the poll", go("/v?poll={invite}&code=7KQ2-9XMV-4DHX")),
        ("an invite code's form", invited),
        ("a secret vote's receipt", submit(".vote-form button[type=submit]")),
        ("the ballot of a receipt", check_the_ballot),
        ("a receipt to type", go("/questions/{invite}/receipt")),
        ("a receipt typed wrong", go("/questions/{invite}/receipt?code=AAAAA-AAAAA")),
        ("a used invite code", lambda page, site: page.goto(f"{site.base}/v/{site.used[-1]}")),
        ("log in", go("/login")),
        ("log in refused", submit("#account")),
        ("register", go("/register")),
        ("register refused", submit("#name")),
        ("forgot password", go("/password/forgot")),
        ("reset link mailed", submit("#account")),
        ("reset link refused", go("/password/reset/" + "x" * 43)),
    ]


def vote_on_the_link_poll(page: Any, site: Site) -> None:
    page.goto(f"{site.base}/questions/{site.polls['link']}")
    page.locator("#choice1").check()
    submit(".vote-form button[type=submit]")(page, site)


def invited(page: Any, site: Site) -> None:
    site.used.append(site.codes.pop())
    page.goto(f"{site.base}/v/{site.used[-1]}")
    page.locator("#choice1").check()


def check_the_ballot(page: Any, site: Site) -> None:
    page.locator(".receipt a").click()
    page.wait_for_load_state()


def voter_states() -> list[tuple[str, Step]]:
    def welcome(page: Any, site: Site) -> None:
        n = next(people)
        page.goto(f"{site.base}/register")
        for field, value in (("name", f"Person {n}"), ("email", f"a11y{n}@example.com"), ("phone", f"1350000{n:04d}")):
            page.locator(f"#{field}").fill(value)
        page.locator("#password").fill(PASSWORD)
        page.locator("#password").press("Enter")
        page.wait_for_url(f"{site.base}/")

    def tick_the_limit(page: Any, site: Site) -> None:
        poll = create_poll(page, site.base, "Two fruits?", ["Apple", "Pear", "Plum"], max_choices=2)
        page.goto(f"{site.base}/questions/{poll}")  # the owner's tools too
        page.locator("#choice1").check()
        page.locator("#choice2").check()

    def vote(page: Any, site: Site) -> None:
        page.locator("#choice2").check()
        submit(".vote-form button[type=submit]")(page, site)

    def ranked_form(page: Any, site: Site) -> None:
        poll = create_poll(page, site.base, "Rank the lunch places?", ["Pizza", "Noodles", "Salad"], method="ranked")
        page.goto(f"{site.base}/questions/{poll}")

    def rank_twice(page: Any, site: Site) -> None:
        page.locator(".rank-select").nth(0).select_option("1")
        page.locator(".rank-select").nth(1).select_option("1")
        submit(".vote-form button[type=submit]")(page, site)

    def ranked_results(page: Any, site: Site) -> None:
        page.locator(".rank-select").nth(1).select_option("2")
        submit(".vote-form button[type=submit]")(page, site)

    def score_form(page: Any, site: Site) -> None:
        poll = create_poll(page, site.base, "Stars for the films?", ["Alien", "Brazil"], method="score")
        page.goto(f"{site.base}/questions/{poll}")

    def score_results(page: Any, site: Site) -> None:
        page.locator(".stars").first.locator("label").nth(4).click()
        submit(".vote-form button[type=submit]")(page, site)

    return [
        ("welcome", welcome),
        ("new poll", go("/questions/new")),
        ("new poll refused", submit("#question_text")),
        ("vote form", go("/questions/{open}")),
        ("vote refused", submit(".vote-form button[type=submit]")),
        ("vote counted", vote),
        ("already voted", go("/questions/{open}")),
        ("closed poll", go("/questions/{closed}")),
        ("limit ticked", tick_the_limit),
        ("ranked vote form", ranked_form),
        ("ranked vote refused", rank_twice),
        ("ranked results", ranked_results),
        ("score vote form", score_form),
        ("score results", score_results),
        ("me", go("/me")),
        ("account", go("/account")),
        ("account refused", submit("#profile-current-password")),
        ("token made", make_token),
    ]


def make_token(page: Any, site: Site) -> None:
    page.locator("#token_name").fill("laptop")
    submit("#token_name")(page, site)


def admin_states() -> list[tuple[str, Step]]:
    return [
        ("log in", lambda page, site: log_in(page, site.base, ADMIN)),
        ("admin", go("/admin")),
        ("invite codes", go("/questions/{invite}/invites")),
        ("invite codes refused", submit("#count")),
        ("invite sheet", go("/questions/{invite}/invites/print")),
        ("presenter, dark", go("/questions/{open}/present")),
        ("presenter, light", go("/questions/{open}/present?theme=light")),
        ("presenter, before the reveal", go("/questions/{reveal}/present")),
        ("presenter, closed", go("/questions/{closed}/present")),
        ("presenter, ranked", go("/questions/{ranked}/present")),
        ("presenter, score, light", go("/questions/{score}/present?theme=light")),
    ]


@pytest.mark.parametrize(
    ("device", "locale"),
    [(PHONE, "en-US"), (DESKTOP, "en-US"), (PHONE, "zh-CN"), (DESKTOP, "zh-CN")],
    ids=["phone-en", "desktop-en", "phone-zh", "desktop-zh"],
)
def test_every_page_passes_axe(site: Site, device: dict[str, Any], locale: str) -> None:
    watch = Watch()
    found: list[str] = []
    for person in (visitor_states(), voter_states(), admin_states()):
        context = site.browser.new_context(**device, locale=locale)
        context.route(site.base + AXE_URL, lambda route: route.fulfill(body=site.axe, content_type="text/javascript"))
        page = watch.attach(context.new_page())
        for name, step in person:
            step(page, site)
            assert page.locator("html").get_attribute("lang") == ("zh-Hans" if locale == "zh-CN" else "en"), name
            found += violations(page, site)
        context.close()
    assert found == []
    assert watch.problems == []  # axe came in through the CSP without a refusal
