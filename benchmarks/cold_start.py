"""Cold starts: each function's handler module imported in a fresh interpreter, as Lambda's init phase imports it,
as a ratio to a floor imported the same way in the same run (boto3 and Powertools' Logger: what any function of
this stack imports), and the same under the CPU share of the function's MemorySize (issue 36).

What the CPU model assumes: Lambda gives a function CPU in proportion to its memory (1,769 MB = one vCPU). AWS's
serverless guidance says an on-demand function's init phase runs on a full vCPU, "non-throttled", for at most 10
seconds, while provisioned concurrency (and SnapStart's restore) has no such burst
(https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting).
So the full-CPU figure is an on-demand cold start's import; the share figure is the bound when no burst is given,
and what the first invocation pays for anything imported lazily. The platform's own start (the sandbox, the
runtime, the package download) comes on top of both and is the same for every function here.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from typing import Any

from benchmarks import cpu_limit
from benchmarks.common import ROOT, stamp

FLOOR = "import boto3; from aws_lambda_powertools import Logger"
PEOPLE_WAIT_ON = ("ConsoleFunction", "ReportsFunction", "ConsoleInviteFunction", "AlertFunction")
GOAL_RATIO = 1.5
PROBE = "import sys, time; t = time.perf_counter(); exec(sys.argv[1]); print(time.perf_counter() - t)"


def functions() -> list[tuple[str, str, int]]:
    """(logical id, handler module, MemorySize) of every function the template deploys."""
    from local_aws.template import load_template

    template = load_template(ROOT / "template.yaml")
    default = int(template["Globals"]["Function"].get("MemorySize", 128))
    found = []
    for lid, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            found.append((lid, props["Handler"].rsplit(".", 1)[0], int(props.get("MemorySize", default))))
    return found


PACKAGE: list[str] = []  # the package as `make build` ships it (see package())


def package() -> str:
    """stock_pipeline as the function package holds it: its bytecode compiled as src/Makefile compiles it
    (unchecked-hash), read with no new bytecode written, as Lambda's read-only /var/task is."""
    if not PACKAGE:
        import compileall
        import py_compile
        import shutil
        import tempfile

        folder = tempfile.mkdtemp(prefix="cold-start-package-")
        shutil.copytree(
            ROOT / "src" / "stock_pipeline", f"{folder}/stock_pipeline", ignore=shutil.ignore_patterns("__pycache__")
        )
        compileall.compile_dir(folder, quiet=1, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        PACKAGE.append(folder)
    return PACKAGE[0]


def imported_in(code: str, quota: cpu_limit.CpuQuota | None = None) -> float:
    done = subprocess.run(  # noqa: S603 (this interpreter, our own code)
        [sys.executable, "-c", PROBE, code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={
            "PYTHONPATH": package(),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": "/usr/bin:/bin",
            "AWS_DEFAULT_REGION": "eu-central-1",
        },
        preexec_fn=quota.join if quota is not None else None,
    )
    return float(done.stdout.strip().splitlines()[-1])


def paired(code: str, repeat: int, quota: cpu_limit.CpuQuota | None = None) -> tuple[float, float, float]:
    """(median import, median floor, median of the ratios) with the floor imported right before each import: a
    drift of the machine's speed (other processes, frequency) moves both alike and leaves the ratio."""
    imported_in(FLOOR, quota)  # the first ones read the files from disk: not what is measured
    imported_in(code, quota)
    pairs = [(imported_in(FLOOR, quota), imported_in(code, quota)) for _ in range(repeat)]
    floors, imports = [f for f, _ in pairs], [i for _, i in pairs]
    return statistics.median(imports), statistics.median(floors), statistics.median(i / f for f, i in pairs)


def measure(repeat: int) -> dict[str, Any]:
    why_not = cpu_limit.available()
    results: dict[str, Any] = {"functions": {}, "cpu_share": why_not}
    floors = []
    for lid, module, memory in functions():
        code = f"import {module}"
        seconds, floor, ratio = paired(code, repeat)
        floors.append(floor)
        entry: dict[str, Any] = {"module": module, "memory_mb": memory, "import_s": seconds, "ratio": ratio}
        if why_not is None:
            with cpu_limit.CpuQuota(cpu_limit.lambda_vcpus(memory)) as quota:
                share, share_floor, share_ratio = paired(code, max(3, repeat // 2), quota)
            entry.update({"import_share_s": share, "floor_share_s": share_floor, "share_ratio": share_ratio})
        results["functions"][lid] = entry
    results["floor_s"] = statistics.median(floors)
    return results


def run(quick: bool = False) -> tuple[str, bool]:
    m = measure(3 if quick else 7)
    if not quick:  # for `make cost` (docs/cost.md: the memory sizes and start-up options)
        import json

        results = ROOT / "docs" / "benchmarks.json"
        figures = json.loads(results.read_text()) if results.exists() else {}
        figures["cold_start"] = m
        results.write_text(json.dumps(figures, indent=2) + "\n")
    floor = m["floor_s"]
    rows = []
    met_all = True
    for lid, f in sorted(m["functions"].items(), key=lambda kv: (kv[0] not in PEOPLE_WAIT_ON, kv[0])):
        ratio = f["ratio"]
        waited = lid in PEOPLE_WAIT_ON
        met_all &= ratio <= GOAL_RATIO or not waited
        share = (
            f"{f['import_share_s'] * 1000:,.0f} ms ({f['share_ratio']:.1f}x its floor)"
            if "import_share_s" in f
            else "not measured"
        )
        rows.append(
            f"| {lid}{' (people wait)' if waited else ''} | {f['memory_mb']:,} | {f['import_s'] * 1000:,.0f} ms | "
            f"**{ratio:.2f}x** | {share} |"
        )
    goal = "met" if met_all else "**NOT met**"
    share_note = (
        "measured with a cgroup CPU quota of memory / 1,769 MB of a core (benchmarks/cpu_limit.py)"
        if m["cpu_share"] is None
        else f"not measured here: {m['cpu_share']}"
    )
    markdown = f"""
## Cold starts: each function's imports against the floor (issue 36)

{stamp("make bench")} (this suite alone: `make bench ARGS="--only cold-start"`)

Each handler module imported in a fresh interpreter from the package as `make build` ships it (its bytecode
included), each right after the floor imported the same way: the median of {3 if quick else 7} such pairs' ratios
(a drift of the machine's speed moves both alike), after one pair that warms the disk cache. The floor,
`{FLOOR}`, took **{floor * 1000:,.0f} ms** (median). Under the CPU share of the function's MemorySize:
{share_note}; the floor is measured under the same share.

| function | MemorySize (MB) | import | x floor | under its memory's CPU share |
|---|---:|---:|---:|---:|
{chr(10).join(rows)}

An on-demand function's init phase runs on a full vCPU for up to 10 s (AWS's serverless guidance: the
`import` column); provisioned concurrency gets no such burst (the share column). The data functions import
pyarrow (and the X-Ray SDK for their traces): they carry the AWS SDK for pandas layer; the functions people
wait on import neither (tests/unit/test_function_imports.py holds both).

- {goal}: the functions people wait on import in at most {GOAL_RATIO}x the floor
"""
    return markdown, met_all


if __name__ == "__main__":
    print(run(quick=True)[0])
