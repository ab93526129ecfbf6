"""`python main.py` as a newcomer and an operator run it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from models import seed
from tests.conftest import free_port, mysql_connect

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def wait_until_serving(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def serve_once(env: dict[str, str], port: int, check: Callable[[str], None] = lambda url: None) -> str:
    """Serve on ``port`` until ``check`` has run, stop gracefully; returns what the process logged."""
    process = subprocess.Popen(
        [sys.executable, "main.py", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/hello", process)
        check(f"http://127.0.0.1:{port}")
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    assert process.returncode == 0, log
    return log


def test_serve_creates_the_embedded_database_with_sample_polls(tmp_path: Path) -> None:
    env = {"VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/fresh.sqlite3", "VOTE_SECRET_KEY": "x"}
    port = free_port()

    def sample_polls_listed(url: str) -> None:
        assert "最受欢迎的计算机语言?" in get(url + "/")

    first = serve_once(env, port, sample_polls_listed)
    # A newcomer's first start says where to go and how to log in, from the seed's own accounts.
    assert f"serving on http://127.0.0.1:{port}" in first
    assert f"log in at http://127.0.0.1:{port}/login" in first
    for demo in seed.DEMO_USERS:
        assert f"{demo['email']}  {demo['phone']}  {demo['password']}" in first
    again = serve_once(env, port)
    assert f"serving on http://127.0.0.1:{port}" in again
    assert "log in at" not in again and seed.DEMO_USERS[0]["password"] not in again


def test_the_vote_script_runs_main_py_in_the_virtualenv_without_activating_it(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/v.sqlite3", "VOTE_SECRET_KEY": "x"}
    migrated = subprocess.run([ROOT / "vote", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr
    assert "applied 0001_initial" in migrated.stdout


def make_dry_run(*args: str, tmp_path: Path) -> str:
    """What make would run, for a machine without a virtualenv yet (VENV names an empty place)."""
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "-n", *args, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_run_installs_only_the_runtime_and_takes_host_and_port(tmp_path: Path) -> None:
    run_commands = make_dry_run("run", "HOST=0.0.0.0", "PORT=9001", tmp_path=tmp_path)
    assert "pip install --quiet -r requirements.txt" in run_commands
    assert "requirements-dev.txt" not in run_commands
    assert "main.py serve --host 0.0.0.0 --port 9001" in run_commands
    assert "main.py serve --host 127.0.0.1 --port 9000" in make_dry_run("run", tmp_path=tmp_path)
    test_commands = make_dry_run("test", tmp_path=tmp_path)
    assert "-r requirements.txt" in test_commands and "-r requirements-dev.txt" in test_commands


def test_serve_on_a_unix_socket(tmp_path: Path) -> None:
    sock_path = tmp_path / "vote.sock"
    env = {**os.environ, "VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/s.sqlite3", "VOTE_SECRET_KEY": "x"}
    process = subprocess.Popen(
        [sys.executable, "main.py", "serve", "--path", str(sock_path)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not sock_path.exists():
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        result = subprocess.run(
            ["curl", "-s", "--unix-socket", str(sock_path), "http://vote/hello"], capture_output=True, text=True
        )
        assert result.stdout == "Hello Aiohttp!"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


@pytest.fixture
def empty_mysql_url(mysql_url: str) -> Iterator[str]:
    """A second, empty database next to the session's one."""
    name = mysql_url.rsplit("/", 1)[1] + "_cli"
    conn = mysql_connect()
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield mysql_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE `{name}`")
        conn.close()


def test_mysql_refuses_to_serve_until_migrated_then_migrate_and_seed(empty_mysql_url: str) -> None:
    env = {"VOTE_DATABASE_URL": empty_mysql_url, "VOTE_SECRET_KEY": "x"}
    refused = run("serve", "--port", str(free_port()), env=env)
    assert refused.returncode == 1
    assert "run `./vote migrate` first" in refused.stderr
    assert "Traceback" not in refused.stderr

    first = run("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    again = run("migrate", env=env)
    assert again.returncode == 0 and "up to date" in again.stdout

    seeded = run("seed", env=env)
    assert seeded.returncode == 0 and "sample data loaded" in seeded.stdout
    assert "already present" in run("seed", env=env).stdout
    counted = run("check-counts", env=env)  # the sample counts are ballots, as votes make them
    assert counted.returncode == 0, counted.stdout + counted.stderr


def test_the_sample_polls_count_ballots_and_the_demo_accounts_may_still_vote(tmp_path: Path) -> None:
    env = {"VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/seeded.sqlite3", "VOTE_SECRET_KEY": "x"}
    assert run("migrate", env=env).returncode == 0 and run("seed", env=env).returncode == 0
    counted = run("check-counts", env=env)
    assert counted.returncode == 0, counted.stdout + counted.stderr
    with sqlite3.connect(tmp_path / "seeded.sqlite3") as conn:
        tallies = conn.execute("SELECT question_id, votes FROM choice ORDER BY question_id, id").fetchall()
        demo_ballots = conn.execute("SELECT COUNT(*) FROM ballot WHERE user_id IS NOT NULL").fetchone()[0]
    assert [votes for _, votes in tallies] == [3, 2, 1] * 3
    assert demo_ballots == 0


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = run("migrate", env={"VOTE_DATABASE_URL": "mysql://root@127.0.0.1:1/x", "VOTE_SECRET_KEY": "x"})
    assert result.returncode == 1
    assert "cannot connect to MySQL at 127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


def test_createsuperuser_makes_an_admin_who_can_log_in(tmp_path: Path) -> None:
    env = {"VOTE_DATABASE_URL": f"sqlite:///{tmp_path}/admin.sqlite3", "VOTE_SECRET_KEY": "x"}
    assert run("migrate", env=env).returncode == 0
    args = ("createsuperuser", "--name", "Root", "--email", "root@example.com", "--phone", "13900000000")
    weak = run(*args, env={**env, "VOTE_SUPERUSER_PASSWORD": "password"})
    assert weak.returncode == 1 and "too common" in weak.stderr
    no_terminal = run(*args, env=env)
    assert no_terminal.returncode == 1 and "VOTE_SUPERUSER_PASSWORD" in no_terminal.stderr
    created = run(*args, env={**env, "VOTE_SUPERUSER_PASSWORD": "admin-pass-2026"})
    assert created.returncode == 0, created.stderr
    assert "administrator root@example.com created" in created.stdout
    again = run(*args, env={**env, "VOTE_SUPERUSER_PASSWORD": "admin-pass-2026"})
    assert again.returncode == 1 and "already registered" in again.stderr

    with sqlite3.connect(tmp_path / "admin.sqlite3") as conn:
        row = conn.execute("SELECT is_admin, password FROM user WHERE email = 'root@example.com'").fetchone()
    assert row[0] == 1 and row[1].startswith("$argon2id$")
