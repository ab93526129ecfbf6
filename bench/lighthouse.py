"""Lighthouse (mobile) on every public page of the embedded default: `make lighthouse`.

Serves `python main.py` on a fresh SQLite file (the sample polls), makes the polls the public
pages need through the forms (a demo user's link, ranked, score, secret and invite polls; a phone
without an account voting in them; a password reset mail), runs npm's Lighthouse
(bench/lighthouse/, installed by `npm ci`) in Debian's Chromium on each page, and writes scores,
metrics and first-load weights into docs/performance.md. Each page is run `--runs` times; a
figure is the median of its runs.

Weights are what a first visit downloads (the page, its CSS, JavaScript and images, no cache):
as the app sends them (uncompressed), and gzipped at level 5 as nginx sends them
(deploy/nginx-site.conf.in).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import gzip
import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import write_section  # noqa: E402

from tests.test_e2e import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402 - needs the path above

LIGHTHOUSE = ROOT / "bench" / "lighthouse" / "node_modules" / "lighthouse" / "cli" / "index.js"
DOCS = ROOT / "docs" / "performance.md"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
METRICS = {
    "first-contentful-paint": "first paint",
    "largest-contentful-paint": "largest paint",
    "total-blocking-time": "blocking",
    "cumulative-layout-shift": "layout shift",
}
DEMO = ("luxi@qq.com", "luxi-demo-2018")
GZIP_LEVEL = 5  # nginx's gzip_comp_level in deploy/nginx-site.conf.in


@dataclass
class Page:
    name: str
    path: str
    visitor: Browser | None = None  # whose cookies the page is loaded with: none, a voter's, the demo user's
    error_page: bool = False  # answered with an error status on purpose
    scores: dict[str, list[float]] = field(default_factory=dict)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, set[str]] = field(default_factory=dict)
    plain_bytes: int = 0
    gzip_bytes: int = 0
    requests: int = 0


class Browser:
    """A cookie-keeping HTTP client that fills in forms as a person would (CSRF token included)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.read()

    def submit(self, form_path: str, action: str, fields: list[tuple[str, str]]) -> str:
        """Posts ``fields`` with the token of the form at ``form_path``; returns where it led."""
        return self.post(form_path, action, fields)[0]

    def post(self, form_path: str, action: str, fields: list[tuple[str, str]]) -> tuple[str, bytes]:
        """Like ``submit``; also returns the page it led to."""
        token = re.search(rb'name="csrf_token" value="([^"]+)"', self.get(form_path))
        assert token, f"no form at {form_path}"
        body = urllib.parse.urlencode([("csrf_token", token.group(1).decode()), *fields]).encode()
        with self.opener.open(self.base + action, data=body, timeout=10) as response:
            return urllib.parse.urlsplit(response.url).path, response.read()

    def cookie_header(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)


def new_poll(owner: Browser, text: str, *fields: tuple[str, str]) -> str:
    """A poll made through the form, as its owner would; returns its path (/questions/<id>)."""
    choices = [("choice", choice) for choice in ("Tea", "Coffee", "Water")]
    led_to = owner.submit("/questions/new", "/questions/new", [("question_text", text), *choices, *fields])
    made = re.match(r"/questions/\d+", led_to)  # an invite poll leads on to its codes' page
    assert made, f"no poll made: {led_to}"
    return made.group(0)


def vote(phone: Browser, form_path: str, action: str) -> bytes:
    """Fills in the vote form at ``form_path`` whatever the poll's method; returns the answer."""
    form = phone.get(form_path)
    ids = list(dict.fromkeys(re.findall(rb'name="(?:choice"[^>]*value="|rank_|score_)(\d+)"', form)))
    method = re.search(rb'name="(rank|score)_', form)
    if method is None:
        fields = [("choice", ids[0].decode())]
    else:  # 1, 2, 3 in the order shown; or 5, 4, 3 stars
        start, step = (1, 1) if method.group(1) == b"rank" else (5, -1)
        fields = [(f"{method.group(1).decode()}_{i.decode()}", str(start + n * step)) for n, i in enumerate(ids)]
    return phone.post(form_path, action, fields)[1]


def reset_link(user: Browser, mail_dir: Path) -> str:
    """The path of a password reset link, asked for and read from the mail written under ``mail_dir``."""
    user.submit("/password/forgot", "/password/forgot", [("account", DEMO[0])])
    for _ in range(50):
        for path in mail_dir.rglob("*"):
            if path.is_file():
                mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
                return urllib.parse.urlsplit(re.search(r"http\S+/password/reset/\S+", text).group(0)).path  # type: ignore[union-attr]
        time.sleep(0.1)
    raise SystemExit(f"no reset mail under {mail_dir}")


def prepare(base: str, mail_dir: Path) -> list[Page]:
    """The pages to measure, with the polls they need made as people would: the demo user's
    closed, link, secret, ranked, score and invite polls, and phones (no account) voting in them."""
    user = Browser(base)
    user.submit("/login", "/login", [("account", DEMO[0]), ("password", DEMO[1])])
    closed = new_poll(user, "Tea or coffee?")
    user.submit(closed, f"{closed}/close", [])
    link = new_poll(user, "Tea, coffee or water?", ("access", "link"))
    join_code = re.search(rb'class="present-code">.*?</span>(\d{3})\D+(\d{3})<', user.get(f"{link}/present"))
    assert join_code, "no join code on the presenter screen"
    ranked = new_poll(user, "Rank the drinks", ("method", "ranked"), ("access", "link"))
    score = new_poll(user, "Star the drinks", ("method", "score"), ("access", "link"))
    secret = new_poll(user, "Secret: tea or coffee?", ("access", "link"), ("secret", "1"))
    invited = new_poll(user, "Invited: tea or coffee?", ("access", "invite"))
    user.submit(f"{invited}/invites", f"{invited}/invites", [("count", "3")])
    codes = re.findall(r"^[^,]*,([^,]+),", user.get(f"{invited}/invites.csv").decode(), re.MULTILINE)[1:]
    phone = Browser(base)  # a phone with no account that voted in the link polls
    for poll in (link, ranked, score):
        vote(phone, poll, f"{poll}/vote")
    receipt = re.search(rb'class="receipt-code"><code>([^<]+)<', vote(phone, secret, f"{secret}/vote"))
    assert receipt, "no receipt after a secret vote"
    vote(Browser(base), f"/v/{codes[1]}", f"/v/{codes[1]}")
    return [
        Page("index", "/"),
        Page("poll", "/questions/1"),
        Page("results", "/questions/1/results"),
        Page("closed results", f"{closed}/results"),
        Page("log in", "/login"),
        Page("register", "/register"),
        Page("forgot password", "/password/forgot"),
        Page("reset password", reset_link(user, mail_dir)),
        Page("join", "/join"),
        Page("join code", f"/j/{b''.join(join_code.groups()).decode()}"),
        Page("join code unknown", "/join?code=000000", error_page=True),
        Page("link poll", link),
        Page("link results (voted)", f"{link}/results", phone),
        Page("ranked poll", ranked),
        Page("ranked results", f"{ranked}/results", phone),
        Page("score poll", score),
        Page("score results", f"{score}/results", phone),
        Page("secret poll", secret),
        Page("receipt box", f"{secret}/receipt"),
        Page("receipt", f"{secret}/receipt?code={receipt.group(1).decode()}"),
        Page("invite vote", f"/v/{codes[0]}"),
        Page("invite used", f"/v/{codes[1]}", error_page=True),
        Page("invite unknown", "/v/NO-SUCH-CODE", error_page=True),
        Page("invite mistyped", f"/v?code=NO-SUCH-CODE&poll={invited.rsplit('/', 1)[1]}", error_page=True),
        Page("404", "/no-such-page", error_page=True),
        Page("poll (logged in)", "/questions/2", user),
        Page("new poll (logged in)", "/questions/new", user),
        Page("me (logged in)", "/me", user),
    ]


def lighthouse(url: str, cookie: str | None, error_page: bool) -> dict:
    command = [
        "node",
        str(LIGHTHOUSE),
        url,
        "--quiet",
        "--output=json",
        "--output-path=stdout",
        f"--only-categories={','.join(CATEGORIES)}",
        "--form-factor=mobile",
        "--disable-full-page-screenshot",
        f"--chrome-flags={' '.join(CHROMIUM_ARGS)}",
    ]
    if error_page:
        command.append("--ignore-status-code")
    if cookie:
        command.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
    env = {**os.environ, "CHROME_PATH": str(CHROMIUM)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"lighthouse failed on {url}:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)


def first_load(report: dict, fetch: Browser | None) -> tuple[int, int, int]:
    """Bytes of the document and its CSS, JavaScript and images: as sent, and gzipped."""
    plain = packed = count = 0
    client = fetch or Browser("")
    for item in report["audits"]["network-requests"]["details"]["items"]:
        kind = item.get("resourceType")
        if kind not in ("Document", "Stylesheet", "Script", "Image", "Font") or not item["url"].startswith("http"):
            continue  # data: URLs are inside the CSS already counted
        try:
            body = client.opener.open(item["url"], timeout=10).read()
        except urllib.error.HTTPError as error:  # the 404 page is a document too
            body = error.read()
        plain += len(body)
        # nginx gzips all but the PNG/JPEG images (gzip_types in deploy/nginx-site.conf.in)
        compressible = kind != "Image" or urllib.parse.urlsplit(item["url"]).path.endswith(".svg")
        packed += len(gzip.compress(body, GZIP_LEVEL)) if compressible else len(body)
        count += 1
    return plain, packed, count


def measure(page: Page, base: str, runs: int) -> None:
    cookie = page.visitor.cookie_header() if page.visitor else None
    for _ in range(runs):
        report = lighthouse(base + page.path, cookie, page.error_page)
        for name in CATEGORIES:
            page.scores.setdefault(name, []).append(100 * (report["categories"][name]["score"] or 0))
            for ref in report["categories"][name]["auditRefs"]:
                audit = report["audits"][ref["id"]]
                if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
                    page.failed.setdefault(name, set()).add(ref["id"])
        for audit in METRICS:
            page.metrics.setdefault(audit, []).append(report["audits"][audit]["numericValue"])
    page.plain_bytes, page.gzip_bytes, page.requests = first_load(report, page.visitor)
    print(f"{page.name}: {summary_row(page)}", flush=True)


def kib(count: int) -> str:
    return f"{count / 1024:.1f}"


def metric(page: Page, audit: str) -> str:
    value = statistics.median(page.metrics[audit])
    if audit == "cumulative-layout-shift":
        return f"{value:.3f}"
    return f"{value:.0f} ms" if audit == "total-blocking-time" else f"{value / 1000:.1f} s"


def summary_row(page: Page) -> str:
    scores = " | ".join(f"{statistics.median(page.scores[name]):.0f}" for name in CATEGORIES)
    metrics = " | ".join(metric(page, audit) for audit in METRICS)
    return f"{scores} | {metrics} | {page.requests} | {kib(page.plain_bytes)} | {kib(page.gzip_bytes)}"


def report(pages: list[Page], runs: int) -> str:
    head = (
        "| page | Performance | Accessibility | Best Practices | SEO | "
        + " | ".join(METRICS.values())
        + " | requests | KiB as sent | KiB gzipped |"
    )
    lines = [
        f"Lighthouse 12.2.3, mobile (simulated slow 4G, 4x CPU slowdown), Debian's Chromium, {date.today()};"
        f" median of {runs} run{'s' if runs != 1 else ''} per page. First-load weights: the page and every"
        " CSS, JavaScript and image file it loads, with an empty cache.",
        "",
        head,
        "|---" * (head.count("|") - 1) + "|",
    ]
    lines += [f"| {page.name} | {summary_row(page)} |" for page in pages]
    missed = [
        f"- {page.name}, {name}: {', '.join(sorted(audits))}"
        for page in pages
        for name, audits in page.failed.items()
        if name != "performance"
    ]
    if missed:
        lines += ["", "Audits not passed (outside Performance):", *missed]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Lighthouse runs per page; figures are medians")
    parser.add_argument("--only", help="measure only the pages whose name contains this; implies --no-docs")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        raise SystemExit("Lighthouse is missing: cd bench/lighthouse && npm ci (make lighthouse does it)")
    if not CHROMIUM.exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        mail_dir = Path(tmp) / "mail"
        with serve(Path(tmp) / "lighthouse.sqlite3", VOTE_MAIL_DIR=str(mail_dir), VOTE_SMTP_URL="") as base:
            pages = [page for page in prepare(base, mail_dir) if not args.only or args.only in page.name]
            for page in pages:
                measure(page, base, args.runs)
    text = report(pages, args.runs)
    print(text)
    if not (args.no_docs or args.only):
        write_section(DOCS, "lighthouse", text)


if __name__ == "__main__":
    main()
