"""The app on a distributed engine, for real, on loopback: a three-node MariaDB Galera cluster
behind HAProxy, Redis as a primary, a replica and three Sentinels, and the app stack
(deploy/stack.py: supervisord + 4 processes + nginx) on top.

    python deploy/cluster.py up       # install what is missing, start what is not running
    python deploy/cluster.py down     # stop every process it started; the data stays
    python deploy/cluster.py clean    # down, then remove CLUSTER_DIR
    python deploy/cluster.py status
    python deploy/cluster.py writer | redis-primary
    python deploy/cluster.py kill-node N | freeze-node N | thaw-node N | start-node N | kill-redis-primary

Everything lives in var/cluster/ (CLUSTER_DIR): data directories, rendered configurations, pid
files, sockets and logs. The app answers on 127.0.0.1:CLUSTER_PORT (8018), HAProxy on
CLUSTER_DB_PORT (3406); the other ports are in `Ports` and docs/deploy.md. Only processes found
through this directory's pid files are ever signalled: the machine's own MariaDB and Redis are
never touched.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pymysql
import redis
from galera_check import is_synced, wsrep_status

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PYTHON = sys.executable
SERVICE = "vote"  # the Sentinel service and the database name
MYSQL_USER = "mysql"  # mariadbd and its rsync SST daemon run as this user (see galera-node.cnf.in)
MARIADBD = "/usr/sbin/mariadbd"
STRAYS = ("rsync", "wsrep_sst", "mariadbd")
# What the cluster runs, and the Debian package that brings it when it is missing.
REQUIRED = {
    MARIADBD: "mariadb-server",
    "/usr/bin/mariadb-install-db": "mariadb-server",
    "/usr/lib/galera/libgalera_smm.so": "galera-4",
    "/usr/bin/rsync": "rsync",
    "/usr/sbin/haproxy": "haproxy",
    "/usr/bin/redis-server": "redis-server",
    "/usr/bin/redis-sentinel": "redis-sentinel",
    "/usr/sbin/nginx": "nginx",
}


class ClusterError(RuntimeError):
    """A part of the cluster did not come up or go down; the message says which and where to look."""


@dataclass(frozen=True)
class Ports:
    app: int = 8018  # nginx in front of the app processes
    db: int = 3406  # HAProxy: the app's database address
    nodes: tuple[int, ...] = (3307, 3308, 3309)  # each Galera node's own MariaDB port
    gcomm: tuple[int, ...] = (4567, 4577, 4587)  # Galera group communication
    ist: tuple[int, ...] = (4568, 4578, 4588)  # incremental state transfer
    sst: tuple[int, ...] = (4569, 4579, 4589)  # full state transfer (rsync daemon on a joiner)
    checks: tuple[int, ...] = (9201, 9202, 9203)  # deploy/galera_check.py, asked by HAProxy
    redis: tuple[int, ...] = (6380, 6381)  # started as primary and replica
    sentinels: tuple[int, ...] = (26380, 26381, 26382)

    @classmethod
    def from_env(cls) -> Ports:
        return cls(app=int(os.environ.get("CLUSTER_PORT", "8018")), db=int(os.environ.get("CLUSTER_DB_PORT", "3406")))

    @classmethod
    def free(cls) -> Ports:
        """Ports nothing listens on, for a private cluster next to the default one (tests). Taken
        below the range the kernel hands to outgoing connections: in the seconds before the cluster
        binds them, no client's connection can take one."""
        sizes = {"app": 1, "db": 1, "nodes": 3, "gcomm": 3, "ist": 3, "sst": 3, "checks": 3, "redis": 2, "sentinels": 3}
        ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
        numbers: list[int] = []
        with ExitStack() as stack:  # each held until all are chosen, so none is chosen twice
            while len(numbers) < sum(sizes.values()):
                port = random.randrange(10000, ephemeral)
                sock = stack.enter_context(socket.socket())
                with suppress(OSError):
                    sock.bind(("127.0.0.1", port))
                    numbers.append(port)
        ports = iter(numbers)
        chosen = {name: tuple(next(ports) for _ in range(size)) for name, size in sizes.items()}
        return cls(**{name: found[0] if sizes[name] == 1 else found for name, found in chosen.items()})


# --- processes ---------------------------------------------------------------------


def alive(pid: int) -> bool:
    """True while the process runs; a zombie (killed, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def live_pid(pid_file: Path, marker: str) -> int | None:
    """The pid in pid_file while that process runs and is ours: its command line names marker."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive(pid) and marker in command_line(pid) else None


def stop(pid: int | None, timeout: float) -> None:
    """SIGTERM (thawed first, or a frozen process never sees it), SIGKILL after timeout."""
    if pid is None:
        return
    with suppress(ProcessLookupError):  # gone by itself meanwhile
        for sig in (signal.SIGTERM, signal.SIGCONT):
            os.kill(pid, sig)
        if not wait_until(lambda: not alive(pid), timeout):
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not alive(pid), 5)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def spawn(command: list[str], log: Path, pid_file: Path) -> int:
    """Start a process that outlives us, in its own session, with its pid written down."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    pid_file.write_text(f"{process.pid}\n")
    return process.pid


def render_template(template: str, target: Path, values: dict[str, object]) -> Path:
    text = (DEPLOY / template).read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    target.write_text(text)
    return target


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} is missing)"


def free_for_mysql(path: Path) -> None:
    """mariadbd runs as mysql: it must reach its directory through every parent."""
    for parent in path.parents:
        if parent.stat().st_mode & 0o001 == 0:
            raise ClusterError(f"{parent} is closed to other users; mariadbd (user mysql) cannot reach {path}")


# --- MariaDB Galera ------------------------------------------------------------------


class GaleraNode:
    def __init__(self, directory: Path, index: int, ports: Ports) -> None:
        self.index = index
        self.name = f"node{index + 1}"
        self.dir = directory / self.name
        self.data = self.dir / "data"
        self.cnf = self.dir / "my.cnf"
        self.pid_file = self.dir / "started.pid"  # ours, written at once (mariadbd writes its own later)
        self.log = self.dir / "error.log"
        self.port = ports.nodes[index]
        self.ports = ports

    def render(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        for folder in (self.dir, self.data):
            shutil.chown(folder, MYSQL_USER, MYSQL_USER)
        others = [f"node{other + 1}" for other in range(len(self.ports.nodes)) if other != self.index]
        render_template(
            "galera-node.cnf.in",
            self.cnf,
            {
                "node_dir": self.dir,
                "port": self.port,
                "cluster_name": SERVICE,
                "peers": ",".join(f"127.0.0.1:{port}" for port in self.ports.gcomm),
                "node_name": self.name,
                "gcomm_port": self.ports.gcomm[self.index],
                "ist_port": self.ports.ist[self.index],
                "sst_port": self.ports.sst[self.index],
                "donors": ",".join(reversed(others)) + ",",  # the trailing comma: any node if those cannot
            },
        )

    def pid(self) -> int | None:
        return live_pid(self.pid_file, str(self.cnf))

    @property
    def initialised(self) -> bool:
        return (self.data / "mysql").is_dir()

    def install(self) -> None:
        """A fresh data directory; only the node that bootstraps a new cluster needs one."""
        subprocess.run(
            [
                "mariadb-install-db",
                f"--defaults-file={self.cnf}",
                "--auth-root-authentication-method=normal",  # root without a password, on loopback only
                "--skip-test-db",
                f"--user={MYSQL_USER}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            check=True,
        )

    def grastate(self) -> dict[str, str]:
        try:
            text = (self.data / "grastate.dat").read_text()
        except OSError:
            return {}
        return dict(re.findall(r"^(\w+):\s*(\S+)", text, flags=re.MULTILINE))

    def position(self) -> tuple[str, int]:
        """Cluster id and seqno of the last committed transaction; after a crash (seqno -1 in
        grastate.dat) recovered from InnoDB, as Debian's galera_recovery does for systemd."""
        state = self.grastate()
        if int(state.get("seqno", "-1")) >= 0:
            return state["uuid"], int(state["seqno"])
        recover_log = self.dir / "recover.log"
        recover_log.unlink(missing_ok=True)
        subprocess.run(
            [MARIADBD, f"--defaults-file={self.cnf}", "--wsrep-recover", f"--log-error={recover_log}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            check=False,
        )
        found = re.findall(r"Recovered position: ([0-9a-f-]+):(-?\d+)", tail(recover_log, 50))
        return (found[-1][0], int(found[-1][1])) if found else ("", -1)

    def allow_bootstrap(self) -> None:
        path = self.data / "grastate.dat"
        path.write_text(re.sub(r"safe_to_bootstrap:\s*0", "safe_to_bootstrap: 1", path.read_text()))

    def start(self, bootstrap: bool = False) -> None:
        command = [MARIADBD, f"--defaults-file={self.cnf}"] + (["--wsrep-new-cluster"] if bootstrap else [])
        if self.initialised and self.grastate().get("seqno") == "-1":
            # Killed: say where it stopped, so a joiner catches up incrementally (IST) from the
            # others' write-set cache instead of copying the whole data directory (SST).
            uuid, seqno = self.position()
            if seqno >= 0:
                command.append(f"--wsrep-start-position={uuid}:{seqno}")
        spawn(command, self.dir / "mariadbd.out", self.pid_file)

    def state(self) -> dict[str, str]:
        """wsrep status; empty while the node cannot answer."""
        try:
            return wsrep_status(self.port)
        except pymysql.MySQLError:
            return {}

    def synced(self) -> bool:
        return is_synced(self.state())

    def wait_synced(self, timeout: float = 180) -> None:
        """Joining may copy the whole data directory first (SST): allow for it."""
        if not wait_until(lambda: self.synced() or self.gone(), timeout, 0.25) or not self.synced():
            output = self.dir / "mariadbd.out"
            raise ClusterError(
                f"galera {self.name} did not reach synced (pid {self.pid()}); {self.log}:\n{tail(self.log)}\n"
                f"{output}:\n{tail(output)}"
            )

    def gone(self) -> bool:
        """Not running, and still not a moment later: once, on the loaded shared machine, a joining
        node was found missing for an instant and yet ran on (the cause is not known)."""
        return self.pid() is None and not wait_until(lambda: self.pid() is not None, 2, 0.2)

    def signal(self, sig: signal.Signals) -> int:
        pid = self.pid()
        if pid is None:
            raise ClusterError(f"galera {self.name} is not running")
        os.kill(pid, sig)
        return pid

    def stop(self) -> None:
        stop(self.pid(), timeout=60)


class Galera:
    def __init__(self, directory: Path, ports: Ports) -> None:
        self.dir = directory
        self.nodes = [GaleraNode(directory, index, ports) for index in range(len(ports.nodes))]

    def render(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        free_for_mysql(self.dir)
        for node in self.nodes:
            node.render()

    def up(self) -> None:
        self.render()
        for node in self.nodes:
            if (pid := node.pid()) is not None:
                os.kill(pid, signal.SIGCONT)  # a node frozen by a fault test takes part again
        running = [node for node in self.nodes if node.pid() is not None]
        if not running:
            self._bootstrap()
        else:
            self._regain_primary(running)
        for node in self.nodes:
            self.start_node(node)

    def start_node(self, node: GaleraNode) -> None:
        """Join a node (state transfer from a synced one) unless it runs already; wait until synced."""
        if node.pid() is None:
            if not any(other.synced() for other in self.nodes):
                raise ClusterError(f"galera {node.name}: no synced node to join; run `up` to bootstrap")
            node.start()
        node.wait_synced()

    def _bootstrap(self) -> None:
        """The whole cluster is down: start a new one from the node holding the latest data."""
        initialised = [node for node in self.nodes if node.initialised]
        if not initialised:
            first = self.nodes[0]
            first.install()
        else:
            safe = [node for node in initialised if node.grastate().get("safe_to_bootstrap") == "1"]
            # The last node to leave cleanly says so in grastate.dat; after a crash of all of them,
            # the one with the highest recovered position is the one that lost nothing.
            first = safe[0] if safe else max(initialised, key=lambda node: node.position()[1])
            first.allow_bootstrap()
        first.start(bootstrap=True)
        first.wait_synced()

    def _regain_primary(self, running: list[GaleraNode]) -> None:
        """Survivors without a majority wait for the others forever: let the most advanced go on."""
        if any(node.state().get("wsrep_cluster_status") == "Primary" for node in running):
            return
        leader = max(running, key=lambda node: int(node.state().get("wsrep_last_committed", "-1")))
        conn = pymysql.connect(host="127.0.0.1", port=leader.port, user="root", connect_timeout=2)
        with closing(conn), conn.cursor() as cursor:
            cursor.execute("SET GLOBAL wsrep_provider_options = 'pc.bootstrap=YES'")
        leader.wait_synced()

    def down(self) -> None:
        # One at a time, the first node last: it leaves with safe_to_bootstrap, so `up` restarts
        # from it without a recovery pass.
        for node in reversed(self.nodes):
            node.stop()

    def pids(self) -> list[int]:
        return [pid for node in self.nodes if (pid := node.pid()) is not None]


# --- HAProxy and its health checks -----------------------------------------------------


class HAProxy:
    def __init__(self, directory: Path, ports: Ports) -> None:
        self.dir = directory
        self.ports = ports
        self.cfg = directory / "haproxy.cfg"
        self.pid_file = directory / "haproxy.pid"
        self.stats_socket = directory / "haproxy.sock"
        self.check_pid_file = directory / "galera_check.pid"
        self.check_pairs = [f"{check}:{node}" for check, node in zip(ports.checks, ports.nodes, strict=True)]

    def render(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        servers = []
        for index, (port, check) in enumerate(zip(self.ports.nodes, self.ports.checks, strict=True)):
            role = "on-marked-up shutdown-backup-sessions" if index == 0 else "backup"
            servers.append(f"    server node{index + 1} 127.0.0.1:{port} check port {check} {role}")
        render_template(
            "haproxy.cfg.in",
            self.cfg,
            {"run_dir": self.dir, "db_port": self.ports.db, "servers": "\n".join(servers)},
        )

    def pid(self) -> int | None:
        return live_pid(self.pid_file, str(self.cfg))

    def check_pid(self) -> int | None:
        return live_pid(self.check_pid_file, " ".join(self.check_pairs))

    def up(self) -> None:
        self.render()
        if self.check_pid() is None:
            command = [PYTHON, str(DEPLOY / "galera_check.py"), *self.check_pairs]
            spawn(command, self.dir / "galera_check.log", self.check_pid_file)
        # Listening before HAProxy asks: a refused check would start node1 as down, and the writes
        # would move back to it (cutting every connection) moments after `up` returned.
        if not wait_until(lambda: all(listening(port) for port in self.ports.checks), 10, 0.1):
            raise ClusterError(f"galera_check does not listen: {self.dir / 'galera_check.log'}")
        if self.pid() is None:
            subprocess.run(["/usr/sbin/haproxy", "-c", "-q", "-f", str(self.cfg)], check=True)
            subprocess.run(["/usr/sbin/haproxy", "-D", "-f", str(self.cfg)], check=True)
        if not wait_until(lambda: self.settled() and self.writer() is not None, 30, 0.25):
            raise ClusterError(f"HAProxy on 127.0.0.1:{self.ports.db} reaches no synced node: {self.servers()}")

    def settled(self) -> bool:
        """Every node plainly up or down in HAProxy's view, none half-way ("UP 1/2", "DOWN 1/2")."""
        states = self.servers()
        return bool(states) and all(state in ("UP", "DOWN") for state in states.values())

    def writer(self) -> str | None:
        """The Galera node a new connection through HAProxy lands on (None: none reachable)."""
        try:
            conn = pymysql.connect(host="127.0.0.1", port=self.ports.db, user="root", connect_timeout=1, read_timeout=2)
        except pymysql.MySQLError:
            return None
        with closing(conn), conn.cursor() as cursor:
            try:
                cursor.execute("SELECT @@wsrep_node_name")
            except pymysql.MySQLError:
                return None
            return str(cursor.fetchone()[0])

    def servers(self) -> dict[str, str]:
        """HAProxy's own view: node name -> UP / DOWN / ..., from its stats socket."""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(self.stats_socket))
                sock.sendall(b"show stat\n")
                answer = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
        except OSError:
            return {}
        rows = [line.split(",") for line in answer.splitlines() if line.startswith("galera_writer,node")]
        return {row[1]: row[17] for row in rows}

    def down(self) -> None:
        stop(self.pid(), timeout=10)
        stop(self.check_pid(), timeout=10)

    def pids(self) -> list[int]:
        return [pid for pid in (self.pid(), self.check_pid()) if pid is not None]


# --- Redis with Sentinel ----------------------------------------------------------------


class RedisServers:
    """A primary and a replica watched by three Sentinels, which fail over in a few seconds."""

    def __init__(self, directory: Path, ports: Ports) -> None:
        self.dir = directory
        self.ports = ports

    @property
    def url(self) -> str:
        """The app's VOTE_REDIS_URL: the Sentinels and the service they watch."""
        sentinels = ",".join(f"127.0.0.1:{port}" for port in self.ports.sentinels)
        return f"redis+sentinel://{sentinels}/{SERVICE}/0"

    def _server_dir(self, port: int) -> Path:
        return self.dir / f"redis-{port}"

    def _sentinel_dir(self, port: int) -> Path:
        return self.dir / f"sentinel-{port}"

    def render(self) -> None:
        """Rendered once: afterwards the Sentinels rewrite these files with the current roles."""
        primary = self.ports.redis[0]
        for port in self.ports.redis:
            folder = self._server_dir(port)
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / "redis.conf").exists():
                role = "" if port == primary else f"replicaof 127.0.0.1 {primary}"
                values = {"port": port, "dir": folder, "role": role}
                render_template("redis-node.conf.in", folder / "redis.conf", values)
        for port in self.ports.sentinels:
            folder = self._sentinel_dir(port)
            folder.mkdir(parents=True, exist_ok=True)
            if not (folder / "sentinel.conf").exists():
                values = {"port": port, "dir": folder, "service": SERVICE, "primary_port": primary}
                render_template("sentinel.conf.in", folder / "sentinel.conf", values)

    def server_pid(self, port: int) -> int | None:
        return live_pid(self._server_dir(port) / "redis.pid", f"127.0.0.1:{port}")

    def sentinel_pid(self, port: int) -> int | None:
        return live_pid(self._sentinel_dir(port) / "sentinel.pid", f"127.0.0.1:{port}")

    def up(self) -> None:
        self.render()
        primary = self.primary()  # None unless the Sentinels run
        for port in self.ports.redis:
            if self.server_pid(port) is None:
                # A server coming back after a failover starts as the new primary's replica at once,
                # rather than as a stale primary until the Sentinels notice and demote it.
                role = [] if primary in (None, port) else ["--replicaof", "127.0.0.1", str(primary)]
                subprocess.run(["redis-server", str(self._server_dir(port) / "redis.conf"), *role], check=True)
        for port in self.ports.sentinels:
            if self.sentinel_pid(port) is None:
                subprocess.run(["redis-sentinel", str(self._sentinel_dir(port) / "sentinel.conf")], check=True)
        if not wait_until(self.healthy, 30, 0.25):
            raise ClusterError(f"Redis Sentinel does not report a healthy '{SERVICE}' set: see {self.dir}/*/*.log")

    def healthy(self) -> bool:
        """Every Sentinel knows the others and a primary whose replica is in sync."""
        for port in self.ports.sentinels:
            try:
                with closing(redis.Redis("127.0.0.1", port, socket_timeout=1, decode_responses=True)) as sentinel:
                    primary = sentinel.sentinel_master(SERVICE)
                    replicas = sentinel.sentinel_slaves(SERVICE)
            except redis.RedisError:
                return False
            in_sync = [r for r in replicas if r["master-link-status"] == "ok" and not r["is_sdown"]]
            if primary["is_sdown"] or primary["num-other-sentinels"] < len(self.ports.sentinels) - 1 or not in_sync:
                return False
        return True

    def primary(self) -> int | None:
        """The primary's port according to the first Sentinel that answers."""
        for port in self.ports.sentinels:
            try:
                with closing(redis.Redis("127.0.0.1", port, socket_timeout=1)) as sentinel:
                    address = sentinel.sentinel_get_master_addr_by_name(SERVICE)
            except redis.RedisError:
                continue
            if address:
                return int(address[1])
        return None

    def kill_primary(self) -> int:
        """SIGKILL the Redis server the Sentinels name as primary; returns its port."""
        port = self.primary()
        pid = self.server_pid(port) if port else None
        if port is None or pid is None:
            raise ClusterError("no running Redis primary")
        os.kill(pid, signal.SIGKILL)
        return port

    def down(self) -> None:
        # Sentinels first: a primary going down under their eyes would start a failover.
        for port in self.ports.sentinels:
            stop(self.sentinel_pid(port), timeout=10)
        for port in reversed(self.ports.redis):
            stop(self.server_pid(port), timeout=30)

    def pids(self) -> list[int]:
        found = [self.server_pid(port) for port in self.ports.redis]
        found += [self.sentinel_pid(port) for port in self.ports.sentinels]
        return [pid for pid in found if pid is not None]


# --- the whole cluster -------------------------------------------------------------------


class Cluster:
    def __init__(self, directory: Path, ports: Ports) -> None:
        self.dir = directory.resolve()
        self.ports = ports
        self.galera = Galera(self.dir / "galera", ports)
        self.haproxy = HAProxy(self.dir / "haproxy", ports)
        self.redis = RedisServers(self.dir / "redis", ports)
        self.stack_dir = self.dir / "stack"

    @classmethod
    def from_env(cls) -> Cluster:
        return cls(Path(os.environ.get("CLUSTER_DIR", ROOT / "var" / "cluster")), Ports.from_env())

    @property
    def database_url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.ports.db}/{SERVICE}"

    def stack(self, command: str) -> None:
        """deploy/stack.py against the cluster: it creates the database and migrates once on `up`."""
        env = {
            **os.environ,
            "STACK_DIR": str(self.stack_dir),
            "STACK_PORT": str(self.ports.app),
            "VOTE_DATABASE_URL": self.database_url,
            "VOTE_REDIS_URL": self.redis.url,
        }
        subprocess.run([PYTHON, str(DEPLOY / "stack.py"), command], cwd=ROOT, env=env, check=True)

    def up(self, app: bool = True) -> None:
        install_missing()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        try:
            self.redis.up()
            self.galera.up()
            self.haproxy.up()
            if app:
                self.stack("up")
        except BaseException:
            self.down()  # a half-started cluster would leave processes behind
            raise
        print(f"cluster up: http://127.0.0.1:{self.ports.app} (database via HAProxy 127.0.0.1:{self.ports.db})")

    def down(self) -> None:
        if (self.stack_dir / "supervisord.conf").exists():
            self.stack("down")
        self.haproxy.down()
        self.galera.down()
        self.redis.down()
        for pid in self.strays():
            print(f"stopping {pid} ({command_line(pid).strip()}), left behind in {self.dir}")
            stop(pid, timeout=10)
        if left := self.pids() + self.strays():
            raise ClusterError(f"processes still running after down: {left}")
        print("cluster down")

    def clean(self) -> None:
        self.down()
        shutil.rmtree(self.dir, ignore_errors=True)
        print(f"removed {self.dir}")

    def pids(self) -> list[int]:
        return self.redis.pids() + self.galera.pids() + self.haproxy.pids()

    def strays(self) -> list[int]:
        """State-transfer helpers of a node killed mid-transfer (rsync daemon, wsrep_sst script)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and alive(pid := int(entry.name)):
                line = command_line(pid)
                if str(self.dir) + "/" in line and any(name in line for name in STRAYS):
                    found.append(pid)
        return found

    def status(self) -> None:
        for node in self.galera.nodes:
            state = node.state()
            summary = f"{state.get('wsrep_local_state_comment', '-')}, {state.get('wsrep_cluster_status', '-')}"
            print(f"galera {node.name} 127.0.0.1:{node.port}: pid {node.pid()}, {summary}")
        servers = ", ".join(f"{name} {status}" for name, status in self.haproxy.servers().items()) or "not running"
        writer = self.haproxy.writer()
        print(f"haproxy 127.0.0.1:{self.ports.db}: pid {self.haproxy.pid()}, writer {writer} ({servers})")
        primary = self.redis.primary()
        for port in self.ports.redis:
            role = "primary" if port == primary else "replica"
            print(f"redis 127.0.0.1:{port}: pid {self.redis.server_pid(port)}, {role}")
        for port in self.ports.sentinels:
            print(f"sentinel 127.0.0.1:{port}: pid {self.redis.sentinel_pid(port)}")
        if (self.stack_dir / "supervisord.conf").exists():
            self.stack("status")

    # --- for fault tests and experiments (the node's own signal(), redis.kill_primary()) ---

    def node(self, number: int) -> GaleraNode:
        if not 1 <= number <= len(self.galera.nodes):
            raise ClusterError(f"no galera node {number}: they are 1-{len(self.galera.nodes)}")
        return self.galera.nodes[number - 1]


def install_missing() -> None:
    """apt-get install what the cluster needs, with no service started by the packages."""
    missing = sorted({package for path, package in REQUIRED.items() if not Path(path).exists()})
    if not missing:
        return
    if os.geteuid() != 0:
        raise ClusterError(f"missing packages; run as root: apt-get install {' '.join(missing)}")
    with no_service_starts():
        subprocess.run(["apt-get", "update", "-q"], check=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env)


@contextmanager
def no_service_starts() -> Iterator[None]:
    """A policy-rc.d refusing every start: installing mariadb-server must not (re)start a server."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\n# written by deploy/cluster.py for the length of an apt-get install\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink()


def main() -> None:
    cluster = Cluster.from_env()
    commands = {
        "up": cluster.up,
        "down": cluster.down,
        "clean": cluster.clean,
        "status": cluster.status,
        "writer": lambda: print(cluster.haproxy.writer()),
        "redis-primary": lambda: print(cluster.redis.primary()),
        "kill-redis-primary": lambda: print(cluster.redis.kill_primary()),
    }
    node_commands = {
        "kill-node": lambda node: node.signal(signal.SIGKILL),
        "freeze-node": lambda node: node.signal(signal.SIGSTOP),
        "thaw-node": lambda node: node.signal(signal.SIGCONT),
        "start-node": cluster.galera.start_node,
    }
    args = sys.argv[1:]
    try:
        if len(args) == 1 and args[0] in commands:
            commands[args[0]]()
        elif len(args) == 2 and args[0] in node_commands and args[1].isdigit():
            node_commands[args[0]](cluster.node(int(args[1])))
        else:
            raise SystemExit(f"usage: {sys.argv[0]} {{{'|'.join(commands)}}} | {{{'|'.join(node_commands)}}} N")
    except ClusterError as exc:
        raise SystemExit(f"cluster: {exc}") from None


if __name__ == "__main__":
    main()
