"""What a process measures for Prometheus, defined in one place so that every layer can feed it
(``models`` imports nothing above it). ``GET /metrics`` serves them (``web/metrics.py``).

Under supervisor each process writes its values into files in ``PROMETHEUS_MULTIPROC_DIR``
(deploy/stack.py sets it, one directory per stack) and a scrape of any process reads them all:
one scrape for the machine. A single process without it keeps them in memory. Gauges of several
processes are summed over the live ones (``livesum``).
"""

from __future__ import annotations

import os

from prometheus_client import Counter, Gauge, Histogram

if directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(directory, exist_ok=True)  # prometheus-client would fail on the first metric

REQUESTS = Counter(
    "vote_http_requests", "Requests answered, by route name, method and status.", ["route", "method", "status"]
)
LATENCY = Histogram(
    "vote_http_request_duration_seconds",
    "Time from the request's arrival to its answer (a live socket: to the upgrade), by route name.",
    ["route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
VOTES_COUNTED = Counter("vote_votes_counted", "Ballots written (committed).")
VOTES_REFUSED = Counter("vote_votes_refused", "Ballots refused, by the refusal's name.", ["reason"])
VOTE_BATCH_SIZE = Histogram(
    "vote_vote_batch_size",
    "Ballots per transaction of the ballot box (group commit), retries included.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 100),
)
DB_POOL_IN_USE = Gauge("vote_db_pool_in_use", "Database connections lent out now.", multiprocess_mode="livesum")
DB_POOL_WAITS = Counter("vote_db_pool_waits", "Borrowings that found the pool full and had to wait.")
REDIS_RECONNECTS = Counter(
    "vote_redis_reconnects", "A Redis connection opened again after it was lost (restart, failover)."
)
LIVE_SOCKETS = Gauge("vote_live_sockets", "Open live-results WebSockets.", multiprocess_mode="livesum")
# Set by the mail queue (models/mailer.py); each process has its own queue, so the machine's is their sum.
MAILS_QUEUED = Gauge("vote_mails_queued", "Mails waiting to be sent.", multiprocess_mode="livesum")
