"""The production shape on loopback: supervisord + 4 app processes + nginx, for real.

    python deploy/stack.py up        # render configs, migrate, start supervisord and nginx
    python deploy/stack.py restart   # rolling restart, one process at a time
    python deploy/stack.py down      # stop everything; no process is left behind
    python deploy/stack.py status

Uses the MariaDB and Redis named by VOTE_DATABASE_URL / VOTE_REDIS_URL (defaults below; the
database is created when missing), nginx on 127.0.0.1:STACK_PORT (8008). State, rendered
configs, sockets and logs live in var/stack/ (STACK_DIR).
"""

from __future__ import annotations

import getpass
import http.client
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PYTHON = sys.executable
BIN = Path(PYTHON).parent
WORKERS = 4
# File descriptors per process: an open live-results socket costs its app process one and nginx
# two (phone and app). 65536, or the machine's hard limit when lower (20,000 on the development
# machine, where a process may not raise it).
FILES_WANTED = 65536
# nginx: 4 workers, each with its own accept queue (reuseport) and a quarter of the sockets, hold
# 20,000 WebSockets (40,000 connections) even where one process may open only 20,000 files.
NGINX_WORKERS = 4
NGINX_CONNECTIONS = 16384  # per worker; nginx preallocates ~0.4 KiB for each
DEFAULTS = {
    "VOTE_DATABASE_URL": "mysql://root@127.0.0.1:3306/vote_stack",
    "VOTE_REDIS_URL": "redis://127.0.0.1:6379/0",
}


class Stack:
    def __init__(self) -> None:
        self.dir = Path(os.environ.get("STACK_DIR", ROOT / "var" / "stack")).resolve()
        self.run_dir = self.dir / "run"
        self.log_dir = self.dir / "logs"
        self.port = int(os.environ.get("STACK_PORT", "8008"))
        self.env = {**os.environ}
        for key, value in DEFAULTS.items():
            self.env.setdefault(key, value)
        # nginx logs every request already; a second line per request in the app only costs CPU.
        self.env.setdefault("VOTE_ACCESS_LOG", "0")
        self.env.setdefault("VOTE_SECRET_KEY", self._secret())
        # The app processes' metrics files, read together by any process's /metrics
        # (models/metrics.py): one directory per stack, given to supervisor's program only and
        # emptied whenever supervisord starts afresh.
        self.metrics_dir = self.run_dir / "metrics"

    # --- configuration -----------------------------------------------------------

    def _secret(self) -> str:
        path = self.dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def _render(self, template: str, target: Path, values: dict[str, str]) -> Path:
        text = (DEPLOY / template).read_text()
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        target.write_text(text)
        return target

    def render(self) -> None:
        for folder in (self.run_dir, self.log_dir, self.dir / "nginx"):
            folder.mkdir(parents=True, exist_ok=True)
        shutdown_timeout = float(self.env.get("VOTE_SHUTDOWN_TIMEOUT", "10"))
        files = file_limit()
        values = {
            "root": str(ROOT),
            "python": PYTHON,
            "run_dir": str(self.run_dir),
            "log_dir": str(self.log_dir),
            "stop_wait": str(int(shutdown_timeout) + 5),
            "listen": f"127.0.0.1:{self.port}",
            "files": str(files),
            "metrics_dir": str(self.metrics_dir),
        }
        self._render("supervisord.conf.in", self.dir / "supervisord.conf", values)
        site = self._render("nginx-site.conf.in", self.dir / "nginx-site.conf", values)
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text(
            f"""# nginx for the loopback stack; the site itself is {site.name}.
{user}
worker_processes {NGINX_WORKERS};
worker_rlimit_nofile {files};
pid {self.run_dir}/nginx.pid;
error_log {self.log_dir}/nginx-error.log warn;
events {{ worker_connections {min(NGINX_CONNECTIONS, files - 64)}; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {self.log_dir}/nginx-access.log;
    client_body_temp_path {self.dir}/nginx/client_body;
    proxy_temp_path {self.dir}/nginx/proxy;
    fastcgi_temp_path {self.dir}/nginx/fastcgi;
    uwsgi_temp_path {self.dir}/nginx/uwsgi;
    scgi_temp_path {self.dir}/nginx/scgi;
    sendfile on;
    keepalive_timeout 65;
    include {site};
}}
"""
        )

    # --- processes ---------------------------------------------------------------

    def supervisorctl(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(self.dir / "supervisord.conf"), *args],
            capture_output=True,
            text=True,
            env=self.env,
        )
        if check and result.returncode not in (0, 3):  # 3: some process not running (status)
            raise SystemExit(f"supervisorctl {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def worker_pids(self) -> dict[str, int]:
        pids = {}
        for line in self.supervisorctl("status", check=False).splitlines():
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "RUNNING" and parts[2] == "pid":
                pids[parts[0]] = int(parts[3].rstrip(","))
        return pids

    def _pid(self, name: str) -> int | None:
        path = self.run_dir / name
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def wait_worker_ready(self, index: int, timeout: float = 30) -> None:
        path = str(self.run_dir / f"vote_{index}.sock")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                conn = UnixHTTPConnection(path)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"worker {index} is not ready after {timeout:.0f}s: see {self.log_dir}/vote_{index}.log")

    def wait_running(self, timeout: float = 15) -> None:
        """Until supervisor itself counts every process as started (after its startsecs)."""
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) < WORKERS:
            if time.monotonic() > deadline:
                raise SystemExit(f"supervisor does not report {WORKERS} running processes: {self.log_dir}")
            time.sleep(0.2)

    def wait_port(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"nginx is not listening on 127.0.0.1:{self.port}")

    # --- commands ----------------------------------------------------------------

    def prepare_database(self) -> None:
        url = self.env["VOTE_DATABASE_URL"]
        parts = urlsplit(url)
        if parts.scheme != "mysql" or not self.env.get("VOTE_REDIS_URL"):
            raise SystemExit("the stack runs on MySQL/MariaDB and Redis: set VOTE_DATABASE_URL and VOTE_REDIS_URL")
        import pymysql

        conn = pymysql.connect(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            autocommit=True,
        )
        name = parts.path.lstrip("/")
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.close()
        # `migrate` loads the app, whose metrics write into PROMETHEUS_MULTIPROC_DIR: it must exist
        # (after a `down`, or on the first `up` of a new stack directory, it does not).
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run([PYTHON, "main.py", "migrate"], cwd=ROOT, env=self.env, check=True)

    def up(self) -> None:
        if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
            raise SystemExit("nginx is not installed (Debian: apt-get install nginx)")
        self.prepare_database()
        self.render()
        try:
            if self._pid("supervisord.pid") is None:
                shutil.rmtree(self.metrics_dir, ignore_errors=True)
                self.metrics_dir.mkdir(parents=True)
                subprocess.run(
                    [str(BIN / "supervisord"), "-c", str(self.dir / "supervisord.conf")], env=self.env, check=True
                )
            for index in range(WORKERS):
                self.wait_worker_ready(index)
            self.wait_running()
            if self._pid("nginx.pid") is None:
                subprocess.run(
                    [nginx_binary(), "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)], env=self.env, check=True
                )
            self.wait_port()
        except BaseException:
            self.down()  # a half-started stack would leave processes behind
            raise
        print(f"stack up: http://127.0.0.1:{self.port} ({WORKERS} processes; logs in {self.log_dir})")

    def restart(self) -> None:
        """One process at a time, each ready before the next goes: nginx always has three."""
        for index in range(WORKERS):
            self.supervisorctl("restart", f"vote:vote_{index}")
            self.wait_worker_ready(index)
        self.wait_running()
        print("rolling restart done")

    def down(self) -> None:
        nginx_pid = self._pid("nginx.pid")
        if nginx_pid is not None:
            os.kill(nginx_pid, signal.SIGQUIT)  # graceful: finish open requests
            wait_gone(nginx_pid, 15)
        supervisor_pid = self._pid("supervisord.pid")
        if supervisor_pid is not None:
            workers = list(self.worker_pids().values())
            os.kill(supervisor_pid, signal.SIGTERM)  # stops the workers first, gracefully
            wait_gone(supervisor_pid, 60)
            for pid in workers:
                wait_gone(pid, 5)
        print("stack down")

    def status(self) -> None:
        print(self.supervisorctl("status", check=False), end="")
        print(f"nginx: {'running' if self._pid('nginx.pid') else 'stopped'} on 127.0.0.1:{self.port}")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=2)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(2)
        self.sock.connect(self.path)


def file_limit() -> int:
    """How many files each process of the stack may open: FILES_WANTED, or less where the hard
    limit is lower (supervisord would refuse a higher ``minfds``)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return FILES_WANTED if hard == resource.RLIM_INFINITY else min(FILES_WANTED, hard)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def main() -> None:
    commands = {"up": Stack.up, "down": Stack.down, "restart": Stack.restart, "status": Stack.status}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        raise SystemExit(f"usage: {sys.argv[0]} {{{'|'.join(commands)}}}")
    commands[sys.argv[1]](Stack())


if __name__ == "__main__":
    main()
