"""`GET /metrics`: what an operator's Prometheus sees, aggregated over a machine's processes, and
shown to nobody else."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from application import init
from application.keys import DB, REDIS
from application.web.metrics import MULTIPROC_DIR, forget_dead_processes
from deploy.stack import Stack
from tests.conftest import free_port, make_settings
from tests.factories import make_question
from tests.test_cli import ROOT, get, wait_until_serving
from tests.test_live import first_choice, vote, voter

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: Any) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return parse(await response.text())


async def test_requests_votes_refusals_and_live_sockets_are_counted(client: Any) -> None:
    db = client.app[DB]
    qid = await make_question(db)
    choice, headers = await first_choice(db, qid), await voter(db)
    before = await scrape(client)

    for _ in range(2):
        assert (await client.get("/hello")).status == 200
    assert (await client.get("/no/such/page")).status == 404
    assert (await client.get("/questions/new", allow_redirects=False)).status == 302  # raised, to the login
    await vote(client, qid, choice, headers)
    again = await client.post(f"/api/v1/questions/{qid}/votes", json={"choice_ids": [choice]}, headers=headers)
    assert again.status == 409
    async with client.ws_connect(f"/questions/{qid}/live") as ws:
        await ws.receive_json()  # watching now
        during = await scrape(client)
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("vote_http_requests_total", route="hello", method="GET", status="200") == 2
    assert delta("vote_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("vote_http_requests_total", route="question_new", method="GET", status="302") == 1
    assert delta("vote_http_requests_total", route="api_votes", method="POST", status="201") == 1
    assert delta("vote_http_requests_total", route="api_votes", method="POST", status="409") == 1
    assert delta("vote_http_request_duration_seconds_count", route="hello") == 2
    assert delta("vote_http_request_duration_seconds_bucket", route="hello", le="+Inf") == 2
    assert delta("vote_votes_counted_total") == 1
    assert delta("vote_votes_refused_total", reason="AlreadyVoted") == 1
    assert delta("vote_vote_batch_size_count") == 2  # the refused one went to the database too
    assert delta("vote_vote_batch_size_sum") == 2
    assert value(during, "vote_live_sockets") - value(before, "vote_live_sockets") == 1
    assert value(after, "vote_live_sockets") == value(before, "vote_live_sockets")
    assert ("vote_db_pool_in_use", frozenset()) in after and ("vote_db_pool_waits_total", frozenset()) in after
    assert ("vote_mails_queued", frozenset()) in after


async def test_metrics_are_for_this_machine_and_trusted_proxies_only(client: Any) -> None:
    # The test client's address, 127.0.0.1, is a trusted proxy: the client it names is asking.
    refused = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert refused.status == 403
    page = await refused.text()
    assert "vote_http_requests_total" not in page and "this machine and its trusted proxies only" in page
    assert (await client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})).status == 200


async def test_a_connection_redis_lost_and_made_again_counts_as_a_reconnect(
    clean_mysql: str, private_redis: Any, aiohttp_client: Any
) -> None:
    settings = make_settings({"VOTE_DATABASE_URL": clean_mysql, "VOTE_REDIS_URL": private_redis.url})
    client = await aiohttp_client(init(settings))
    redis = client.app[REDIS]
    await redis.ping()
    before = value(await scrape(client), "vote_redis_reconnects_total")
    private_redis.stop()
    private_redis.start()
    await redis.ping()  # the pooled connection is dead: redis-py connects it again
    # That one, and the change bus's subscription when it has noticed.
    assert value(await scrape(client), "vote_redis_reconnects_total") - before in (1, 2)


def test_one_scrape_sums_the_processes_of_the_machine(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/vote.sqlite3",
        "VOTE_SECRET_KEY": "x",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    subprocess.run([sys.executable, "main.py", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen([sys.executable, "main.py", "--port", str(port)], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        for port in ports
    ]
    try:
        for port, process, hellos in zip(ports, processes, (3, 2), strict=True):
            wait_until_serving(f"http://127.0.0.1:{port}/hello", process)  # one more /hello each
            for _ in range(hellos):
                get(f"http://127.0.0.1:{port}/hello")
        samples = parse(get(f"http://127.0.0.1:{ports[0]}/metrics"))
        assert value(samples, "vote_http_requests_total", route="hello", method="GET", status="200") == 7

        processes[1].send_signal(signal.SIGTERM)
        assert processes[1].wait(20) == 0
        samples = parse(get(f"http://127.0.0.1:{ports[0]}/metrics"))
        assert value(samples, "vote_http_requests_total", route="hello", method="GET", status="200") == 7
    finally:
        for process in processes:
            process.kill()
            process.wait()


def test_processes_starting_together_share_the_clean_up_of_the_dead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROC_DIR, str(tmp_path))
    beyond_any_pid = int(Path("/proc/sys/kernel/pid_max").read_text())
    dead = [tmp_path / f"gauge_livesum_{beyond_any_pid + n}.db" for n in range(3000)]
    mine = tmp_path / f"gauge_livesum_{os.getpid()}.db"
    for path in (*dead, mine):
        path.write_bytes(b"")
    together = threading.Barrier(4)

    def start() -> None:
        together.wait()
        forget_dead_processes()

    with ThreadPoolExecutor(4) as starting:
        for started in [starting.submit(start) for _ in range(4)]:
            started.result()  # each one starts, whoever removed a file first
    assert sorted(tmp_path.iterdir()) == [mine]


def status_from(address: str, port: int, path: str) -> int:
    """GET path with the connection's source address set to ``address``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(address, 0))
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_nginx_serves_metrics_to_loopback_only(nginx_site: Stack) -> None:
    assert status_from("127.0.0.2", nginx_site.port, "/metrics") == 403  # another address, as the world's
    assert status_from("127.0.0.1", nginx_site.port, "/metrics") == 502  # let through: no app behind it
