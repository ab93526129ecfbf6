"""openapi.yaml against the app: the router's operations (path and method) and the document's are
the same; each error code it names is one the app has, under the status docs/api.md gives it; the
refusals any request can meet are listed; schemathesis finds no server error and no answer (status,
body, error code) that the document does not list."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from aiohttp import hdrs, web

from application.routes import setup_routes
from application.web.errors import ErrorCode
from tests.test_cli import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
CODE_ROW = re.compile(r"^\| (2\d{4}) \| (\d{3}) \|", re.MULTILINE)


def post_json(url: str, body: dict[str, object], headers: dict[str, str] | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@cache
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text())


def served_operations() -> set[tuple[str, str]]:
    """(method, path) of every API operation the router serves, paths written as in OpenAPI."""
    app = web.Application()
    setup_routes(app)
    served = set()
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("formatter") or info.get("path") or ""  # the formatter is the path without regexes
        if not path.startswith("/api/"):
            continue
        for route in resource:
            if route.method == hdrs.METH_ANY:  # a class-based view: the methods it defines
                methods = {method for method in HTTP_METHODS if hasattr(route.handler, method)}
            else:
                methods = {route.method.lower()}
            served |= {(method, path) for method in methods}
    return served


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method, path): operation
        for path, item in spec()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def resolved(node: dict[str, Any]) -> dict[str, Any]:
    """``node``, following ``$ref`` within the document."""
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def error_codes(response: dict[str, Any]) -> set[int]:
    """The codes an error response's schema allows (its ``error_code`` enum)."""
    schema = resolved(resolved(response)["content"]["application/json"]["schema"])
    return {
        code
        for part in schema.get("allOf", [])
        for code in resolved(part).get("properties", {}).get("error_code", {}).get("enum", [])
    }


def documented_error(method: str, path: str, status: int, code: int) -> bool:
    """Whether the document lists this status, with this error code, for the operation."""
    response = operations()[(method, path)]["responses"].get(str(status))
    return response is not None and code in error_codes(response)


def test_the_document_has_exactly_the_operations_the_router_serves() -> None:
    assert set(operations()) == served_operations()


def test_error_codes_are_the_apps_under_the_statuses_the_docs_give_them() -> None:
    in_docs = {int(code): int(status) for code, status in CODE_ROW.findall((ROOT / "docs/api.md").read_text())}
    code_schema = spec()["components"]["schemas"]["ErrorCode"]
    in_spec = {int(code): int(status) for code, status in CODE_ROW.findall(code_schema["description"])}
    assert in_docs == in_spec
    assert set(in_docs) == set(code_schema["enum"]) == {int(code) for code in ErrorCode}
    for (method, path), operation in operations().items():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                codes = error_codes(response)
                assert codes, (method, path, status)
                assert {in_docs[code] for code in codes} == {int(status)}, (method, path, status, codes)


def test_each_operation_lists_the_refusals_any_request_to_it_can_meet() -> None:
    for (method, path), operation in operations().items():
        listed = {int(status) for status in operation["responses"]}
        # Anywhere under /api/: a bad Authorization header, an unexpected error, the database or Redis down.
        expected = {401, 500, 503}
        if method != "get":
            expected.add(403)  # a session cookie without X-CSRF-Token
            assert documented_error(method, path, 403, ErrorCode.CSRF_FAILED), (method, path)
        if "requestBody" in operation:
            expected |= {400, 413, 415}
        if "{" in path:
            expected.add(404)
        assert expected <= listed, (method, path, expected - listed)


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
