"""HAProxy's health check for Galera nodes: HTTP 200 when a node may take writes, else 503.

    python deploy/galera_check.py CHECK_PORT:NODE_PORT [CHECK_PORT:NODE_PORT ...]

Listens on 127.0.0.1:CHECK_PORT for each node; every GET opens a fresh connection to the node
on 127.0.0.1:NODE_PORT and asks its wsrep status. A node is fit to be the writer only when it is
synced (wsrep_local_state 4, not joining or donating), ready, and in the primary component; a
node that does not answer within a second (frozen, dead) is not. deploy/cluster.py starts it.
"""

from __future__ import annotations

import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pymysql

SYNCED = {"wsrep_local_state": "4", "wsrep_ready": "ON", "wsrep_cluster_status": "Primary"}


def wsrep_status(port: int, timeout: float = 1.0) -> dict[str, str]:
    """The node's wsrep_* status variables, by lower-case name."""
    conn = pymysql.connect(host="127.0.0.1", port=port, user="root", connect_timeout=timeout, read_timeout=timeout)
    try:
        with conn.cursor() as cursor:
            # Causal, as the app's reads are (galera-node.cnf.in): a node thawed after a freeze
            # still shows the status it had, Synced and Primary, until it learns it was evicted;
            # this wait needs the current group, so it fails there instead of passing it.
            cursor.execute("SET SESSION wsrep_sync_wait = 1")
            cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep%'")
            return {str(name).lower(): str(value) for name, value in cursor.fetchall()}
    finally:
        conn.close()


def is_synced(status: dict[str, str]) -> bool:
    return all(status.get(name) == value for name, value in SYNCED.items())


def fit_to_write(port: int) -> tuple[bool, str]:
    try:
        status = wsrep_status(port)
    except pymysql.MySQLError as exc:
        return False, f"unreachable: {exc}"
    return is_synced(status), " ".join(f"{name}={status.get(name)}" for name in SYNCED)


class CheckHandler(BaseHTTPRequestHandler):
    server: NodeCheckServer

    def do_GET(self) -> None:
        fit, detail = fit_to_write(self.server.node_port)
        body = f"{'synced' if fit else 'not synced'}: {detail}\n".encode()
        self.send_response(200 if fit else 503)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """HAProxy asks twice a second per node; its own log says when a node changes state."""


class NodeCheckServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, check_port: int, node_port: int) -> None:
        super().__init__(("127.0.0.1", check_port), CheckHandler)
        self.node_port = node_port


def main() -> None:
    pairs = [argument.split(":") for argument in sys.argv[1:]]
    if not pairs or any(len(pair) != 2 or not all(part.isdigit() for part in pair) for pair in pairs):
        raise SystemExit(f"usage: {sys.argv[0]} CHECK_PORT:NODE_PORT [CHECK_PORT:NODE_PORT ...]")
    servers = [NodeCheckServer(int(check), int(node)) for check, node in pairs]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
