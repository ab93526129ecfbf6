"""Helpers the benchmarks share."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
from pathlib import Path

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


def pids(*pgrep_arguments: str) -> list[str]:
    """The processes ``pgrep`` finds with these arguments (none is no error)."""
    return subprocess.run(["pgrep", *pgrep_arguments], capture_output=True, text=True).stdout.split()


def cpu_seconds(process_ids: list[str]) -> float:
    """User + system CPU seconds these processes (all their threads) have used so far."""
    ticks = 0
    for pid in process_ids:
        with contextlib.suppress(FileNotFoundError):  # gone meanwhile
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def write_marked(path: Path, start: str, end: str, block: str) -> None:
    """Put ``block`` between the lines ``start`` and ``end`` of ``path``, or at its end the first time."""
    text = path.read_text()
    marked = f"{start}\n{block}\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: marked, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + marked + "\n"
    path.write_text(text)
