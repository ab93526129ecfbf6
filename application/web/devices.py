"""A browser's User-Agent header in a few words ("Firefox on Windows"), for the sessions list."""

from __future__ import annotations

DEVICE_MAX = 255

# First match wins: Edge and WeChat announce Chrome and Safari too, Chrome announces Safari.
BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("Edg", "Edge"),
    ("OPR", "Opera"),
    ("Firefox", "Firefox"),
    ("Chrome", "Chrome"),
    ("Chromium", "Chromium"),
    ("Safari", "Safari"),
    ("curl", "curl"),
)
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe(user_agent: str) -> str:
    """``Browser on System`` as far as the header tells; what it does not tell is left out."""
    browser = next((name for marker, name in BROWSERS if marker in user_agent), "")
    system = next((name for marker, name in SYSTEMS if marker in user_agent), "")
    if browser and system:
        return f"{browser} on {system}"
    return (browser or system or user_agent.strip()[:80] or "unknown")[:DEVICE_MAX]
