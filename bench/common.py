"""Helpers the benchmarks share."""

from __future__ import annotations

import asyncio

import aiohttp


async def wait_ready(session: aiohttp.ClientSession, base_url: str) -> None:
    """Until the app at ``base_url`` answers /readyz (20 s at most)."""
    for _ in range(200):
        try:
            async with session.get(f"{base_url}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{base_url} never became ready")
