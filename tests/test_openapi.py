"""openapi.yaml against the live app: schemathesis finds no server error and no answer off the schema."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from application.routes import setup_routes
from tests.test_cli import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"


def post_json(url: str, body: dict[str, object], headers: dict[str, str] | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_every_api_route_is_described_and_nothing_more() -> None:
    from aiohttp import web

    app = web.Application()
    setup_routes(app)
    routes = {
        (route.method, resource.canonical.replace(r"{question_id:\d{1,18}}", "{question_id}"))
        for resource in app.router.resources()
        for route in resource
        if resource.canonical.startswith("/api/")
    }
    spec = yaml.safe_load(SPEC.read_text())
    for path, item in spec["paths"].items():
        for method in item:
            if method != "parameters":
                assert any(p.startswith(path.split("{")[0]) for _, p in routes), (method, path)
    described = set(spec["paths"])
    served = {path.replace(r"{token_id:\d{1,18}}", "{token_id}") for _, path in routes}
    assert described == served


def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/api.sqlite3",
        "VOTE_SECRET_KEY": "x",
        "VOTE_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [sys.executable, "main.py", "--port", str(port)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_until_serving(f"{base}/readyz", server)
        account = {
            "name": "Schema",
            "email": "schema@example.com",
            "phone": "13311112222",
            "password": "schema-pass-2026",
        }
        post_json(f"{base}/api/v1/register", account)
        token = post_json(
            f"{base}/api/v1/tokens", {"account": account["email"], "password": account["password"], "name": "st"}
        )["token"]
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                str(SPEC),
                "--url",
                base,
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "all",
                # Schema-valid is not always acceptable: common passwords, foreign choice ids, taken emails.
                "--exclude-checks",
                "positive_data_acceptance",
                # Fuzzing DELETE /tokens/{id} would revoke the token this run authenticates with.
                "--exclude-name",
                "DELETE /api/v1/tokens/{token_id}",
                "--max-examples",
                "30",
                "--seed",
                "1",
                "--no-color",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    finally:
        server.terminate()
        server.wait(timeout=20)
