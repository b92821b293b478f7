"""Run a benchmark process with the CPU share Lambda gives a memory size (1,769 MB = one vCPU, proportional).

A cgroup CPU quota (v1 `cpu.cfs_quota_us`, or v2 `cpu.max`) caps the child process the way Lambda's share caps a
function: 512 MB gets 29% of a core, 3,008 MB 1.7 cores. Needs a writable cgroup (root on Linux); where there
is none, `available()` says why and the suite reports the sizes as not measured instead of guessing.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

FULL_VCPU_MB = 1769
PERIOD_US = 100_000
_V1 = Path("/sys/fs/cgroup/cpu")
_V2 = Path("/sys/fs/cgroup")


def lambda_vcpus(memory_mb: int) -> float:
    return memory_mb / FULL_VCPU_MB


def available() -> str | None:
    """None when a quota can be set here, else the reason it cannot."""
    try:
        with CpuQuota(1.0):
            return None
    except OSError as exc:
        return f"no writable cgroup CPU controller ({exc.strerror or exc})"


class CpuQuota:
    """`with CpuQuota(0.29) as quota: subprocess.run(..., preexec_fn=quota.join)`."""

    def __init__(self, vcpus: float) -> None:
        self.vcpus = vcpus
        self._dir: Path | None = None

    def __enter__(self) -> CpuQuota:
        name = f"stock-pipeline-bench-{uuid.uuid4().hex[:8]}"
        quota = max(1000, int(self.vcpus * PERIOD_US))
        if (_V1 / "cpu.cfs_quota_us").exists():
            self._dir = _V1 / name
            self._dir.mkdir()
            (self._dir / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self._dir / "cpu.cfs_quota_us").write_text(str(quota))
        elif (_V2 / "cgroup.controllers").exists() and "cpu" in (_V2 / "cgroup.subtree_control").read_text():
            self._dir = _V2 / name
            self._dir.mkdir()
            (self._dir / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            raise OSError(0, "neither cgroup v1 cpu nor v2 cpu.max is available")
        return self

    def join(self) -> None:
        """In the child, before exec: move this process into the cgroup."""
        assert self._dir is not None
        (self._dir / "cgroup.procs").write_text(str(os.getpid()))

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.rmdir()
