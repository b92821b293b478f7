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


def imported_in(code: str, quota: cpu_limit.CpuQuota | None = None) -> float:
    done = subprocess.run(  # noqa: S603 (this interpreter, our own code)
        [sys.executable, "-c", PROBE, code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "eu-central-1"},
        preexec_fn=quota.join if quota is not None else None,
    )
    return float(done.stdout.strip().splitlines()[-1])


def median(code: str, repeat: int, quota: cpu_limit.CpuQuota | None = None) -> float:
    imported_in(code, quota)  # the first one reads the files from disk: not what a warm host cache does
    return statistics.median(imported_in(code, quota) for _ in range(repeat))


def measure(repeat: int) -> dict[str, Any]:
    why_not = cpu_limit.available()
    results: dict[str, Any] = {"floor_s": median(FLOOR, repeat), "functions": {}, "cpu_share": why_not}
    floor_share: dict[int, float] = {}
    for lid, module, memory in functions():
        code = f"import {module}"
        entry: dict[str, Any] = {"module": module, "memory_mb": memory, "import_s": median(code, repeat)}
        if why_not is None:
            with cpu_limit.CpuQuota(cpu_limit.lambda_vcpus(memory)) as quota:
                entry["import_share_s"] = median(code, max(3, repeat // 2), quota)
                if memory not in floor_share:
                    floor_share[memory] = median(FLOOR, max(3, repeat // 2), quota)
            entry["floor_share_s"] = floor_share[memory]
        results["functions"][lid] = entry
    return results


def run(quick: bool = False) -> tuple[str, bool]:
    m = measure(3 if quick else 5)
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
        ratio = f["import_s"] / floor
        waited = lid in PEOPLE_WAIT_ON
        met_all &= ratio <= GOAL_RATIO or not waited
        share = (
            f"{f['import_share_s'] * 1000:,.0f} ms ({f['import_share_s'] / f['floor_share_s']:.1f}x its floor)"
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

Each handler module imported in a fresh interpreter, the median of {3 if quick else 5} (after one that warms the
disk cache), against the floor imported the same way in this run: `{FLOOR}` = **{floor * 1000:,.0f} ms**. Under
the CPU share of the function's MemorySize: {share_note}; the floor is measured under the same share.

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
