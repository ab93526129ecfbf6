"""Smoke and health routes for people, load balancers and supervisors."""

from __future__ import annotations

import asyncio

from aiohttp import web

from application.keys import DB, REDIS, SETTINGS
from application.web.errors import AppError
from application.web.metrics import exposition


class Hello(web.View):
    async def get(self) -> web.Response:
        return web.Response(text="Hello Aiohttp!")


class Healthz(web.View):
    """The process is alive; says nothing about its dependencies."""

    async def get(self) -> web.Response:
        return web.Response(text="ok")


class Readyz(web.View):
    """Ready to serve: the database and, when configured, Redis answer in time."""

    async def get(self) -> web.Response:
        app = self.request.app
        deadline = app[SETTINGS].db_acquire_timeout + app[SETTINGS].db_query_timeout
        try:
            async with asyncio.timeout(deadline):
                await app[DB].ping()
                redis = app[REDIS]
                if redis is not None:
                    await redis.ping()
        except TimeoutError:
            raise AppError(503, "A dependency did not answer in time.") from None
        return web.Response(text="ready")


class Metrics(web.View):
    """Prometheus metrics of every process of this machine, for this machine and trusted proxies."""

    async def get(self) -> web.Response:
        return exposition(self.request)
