"""Lighthouse (mobile) on every public page of the embedded default: `make lighthouse`.

Serves `python main.py` on a fresh SQLite file (the sample polls), logs a demo user in for the
pages that need an account, runs npm's Lighthouse (bench/lighthouse/, installed by `npm ci`) in
Debian's Chromium on each page, and writes scores, metrics and first-load weights into
docs/performance.md. Each page is run `--runs` times; a figure is the median of its runs.

Weights are what a first visit downloads (the page, its CSS, JavaScript and images, no cache):
as the app sends them (uncompressed), and gzipped at level 5 as nginx sends them
(deploy/nginx-site.conf.in).
"""

from __future__ import annotations

import argparse
import gzip
import http.cookiejar
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
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
    logged_in: bool = False
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
        token = re.search(rb'name="csrf_token" value="([^"]+)"', self.get(form_path))
        assert token, f"no form at {form_path}"
        body = urllib.parse.urlencode([("csrf_token", token.group(1).decode()), *fields]).encode()
        with self.opener.open(self.base + action, data=body, timeout=10) as response:
            return urllib.parse.urlsplit(response.url).path

    def cookie_header(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.jar)


def prepare(base: str) -> tuple[list[Page], Browser]:
    """The pages to measure; a demo user creates and closes a poll for the closed-results page."""
    user = Browser(base)
    user.submit("/login", "/login", [("account", DEMO[0]), ("password", DEMO[1])])
    choices = [("choice", text) for text in ("Tea", "Coffee", "Water")]
    closed = user.submit("/questions/new", "/questions/new", [("question_text", "Tea or coffee?"), *choices])
    user.submit(closed, f"{closed}/close", [])
    pages = [
        Page("index", "/"),
        Page("poll", "/questions/1"),
        Page("results", "/questions/1/results"),
        Page("closed results", f"{closed}/results"),
        Page("log in", "/login"),
        Page("register", "/register"),
        Page("404", "/no-such-page", error_page=True),
        Page("poll (logged in)", "/questions/2", logged_in=True),
        Page("new poll (logged in)", "/questions/new", logged_in=True),
        Page("me (logged in)", "/me", logged_in=True),
    ]
    return pages, user


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


def measure(page: Page, base: str, user: Browser, runs: int) -> None:
    cookie = user.cookie_header() if page.logged_in else None
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
    page.plain_bytes, page.gzip_bytes, page.requests = first_load(report, user if page.logged_in else None)
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
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "lighthouse.sqlite3") as base:
        pages, user = prepare(base)
        pages = [page for page in pages if not args.only or args.only in page.name]
        for page in pages:
            measure(page, base, user, args.runs)
    text = report(pages, args.runs)
    print(text)
    if not (args.no_docs or args.only):
        write_section(DOCS, "lighthouse", text)


if __name__ == "__main__":
    main()
