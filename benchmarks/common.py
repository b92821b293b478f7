"""Timing, machine description and the results document shared by every benchmark suite."""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True, slots=True)
class Timing:
    best_s: float
    runs: list[float]


def interleaved(contenders: dict[str, Callable[[], Any]], repeat: int) -> dict[str, Timing]:
    """Run the contenders in turn, `repeat` rounds, and keep each one's best time.

    Interleaving spreads background noise over all contenders alike; the minimum is the least disturbed run.
    """
    runs: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            runs[name].append(time.perf_counter() - start)
    return {name: Timing(min(times), times) for name, times in runs.items()}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
        mem = f", {memory:.0f} GiB"
    except (OSError, ValueError, IndexError):
        mem = ""
    system = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    return f"{os.cpu_count()} cores ({cpu}){mem}, {system}"


def stamp(command: str) -> str:
    return f"_Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()} by `{command}`._"


def write_section(name: str, markdown: str, path: Path = RESULTS) -> None:
    """Replace this suite's section of docs/benchmarks.md (or add it), leaving the other suites' figures."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


HEADER = """# Benchmarks

Produced by `make bench` (all suites) or `make bench ARGS="--only <suite>"`; every figure is a ratio against a
baseline measured in the same run on the same machine, so the numbers travel better than seconds do.
"""


BENCH_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "eu-central-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


def isolate() -> None:
    """A benchmark subprocess talks to no AWS and no moto server: fake credentials, no endpoint, quiet Powertools."""
    os.environ.update(BENCH_ENVIRONMENT)
    os.environ.pop("AWS_ENDPOINT_URL", None)


def measured_apart(module: str, *args: object) -> dict:
    """`python -m <module> <args>` in a process of its own (its moto, its memory, no AWS): the JSON it prints last."""
    import json
    import subprocess
    import sys

    completed = subprocess.run(  # noqa: S603 (our own module, our interpreter)
        [sys.executable, "-m", module, *(str(a) for a in args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "HOME": str(ROOT)},
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr[-4000:])
    return json.loads(completed.stdout.strip().splitlines()[-1])
