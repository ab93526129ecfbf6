"""Prometheus metrics over HTTP: each request counted and timed by its route's name, and the
exposition of every process's metrics (``models/metrics.py``) to this machine and trusted proxies.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from application.keys import SETTINGS
from application.web.errors import AppError
from application.web.i18n import N_
from application.web.security import client_ip
from models.metrics import LATENCY, REQUESTS

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def route_name(request: web.Request) -> str:
    """The route's name (a bounded set of labels), ``unmatched`` for a URL no route has."""
    resource = request.match_info.route.resource
    return (resource.name if resource is not None else None) or "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: it sees the status the visitor gets, a redirect raised as an exception too."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_name(request)
        _counted(route, request.method, status).inc()
        if status != 101:  # a live socket's time is its whole life, not a latency
            _timed(route).observe(time.perf_counter() - started)


# The labelled series of each route, looked up once: .labels() checks and locks on every call.
@lru_cache(maxsize=4096)
def _counted(route: str, method: str, status: int) -> Counter:
    return REQUESTS.labels(route, method, str(status))


@lru_cache(maxsize=1024)
def _timed(route: str) -> Histogram:
    return LATENCY.labels(route)


def may_scrape(request: web.Request) -> bool:
    """This machine or a trusted proxy asking for itself; through a proxy, the client it names."""
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return address.is_loopback or any(address in network for network in request.app[SETTINGS].trusted_proxies)


def exposition(request: web.Request) -> web.Response:
    if not may_scrape(request):
        raise AppError(403, N_("Metrics are shown to this machine and its trusted proxies only."))
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # every process's files: one scrape for the machine
    else:
        registry = REGISTRY
    response = web.Response(body=generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


def forget_dead_processes() -> None:
    """Drop the live gauges (sockets, pool) left by processes that are gone: after a kill -9 or a
    crash nobody said goodbye for them, and their last values would be summed for ever."""
    directory = os.environ.get(MULTIPROC_DIR)
    if not directory:
        return
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        if not Path(f"/proc/{pid}").exists():
            # Processes starting together all find the same dead files; the first one removes them.
            path.unlink(missing_ok=True)


async def metrics_context(app: web.Application) -> AsyncIterator[None]:
    """On start, forget the processes that died; on a clean stop, say this one goes."""
    forget_dead_processes()
    yield
    if os.environ.get(MULTIPROC_DIR):
        mark_process_dead(os.getpid())
