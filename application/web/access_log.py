"""Access log lines without query strings: WeChat's carry follower openids and signatures."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.1fms "%s"',
            request.remote,
            request.method,
            request.path,
            response.status,
            response.body_length,
            time * 1000,
            request.headers.get("User-Agent", "-"),
        )
