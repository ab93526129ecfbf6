"""Typed keys for what the app factory puts on the application."""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis

from config import Settings
from models.db import Database

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[Database] = web.AppKey("db")
REDIS: web.AppKey[Redis | None] = web.AppKey("redis")
