"""Debian's Chromium, headless, for looking at the pages the project makes (installed by `make browser`)."""

import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed network refuses.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",
]
OUTPUT = Path(__file__).parents[2] / "test-output"  # screenshots for a person to look at (ignored by git)


def chromium(url: str, profile: Path, *extra: str) -> str:
    result = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def rendered_dom(url: str, profile: Path) -> str:
    """The DOM after the page's scripts ran (load event included)."""
    return chromium(url, profile, "--dump-dom")


def screenshot(url: str, profile: Path, name: str, size: str = "1200,2600") -> Path:
    OUTPUT.mkdir(exist_ok=True)
    target = OUTPUT / name
    chromium(url, profile, f"--screenshot={target}", f"--window-size={size}")
    return target
