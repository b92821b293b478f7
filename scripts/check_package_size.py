"""Fails when a built function package exceeds the limit (MB, unzipped); the managed layers carry the heavy libs."""

import sys
from pathlib import Path


def size_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1024 / 1024


def main(build_dir: str, limit_mb: str) -> int:
    limit = float(limit_mb)
    folders = [p for p in Path(build_dir).iterdir() if p.is_dir()]
    if not folders:
        print(f"no function packages under {build_dir}")
        return 1
    worst = 0
    for folder in sorted(folders):
        mb = size_mb(folder)
        print(f"  {folder.name:<28} {mb:8.2f} MB unzipped")
        worst = max(worst, mb)
    if worst > limit:
        print(f"a function package exceeds {limit} MB")
        return 1
    print(f"every function package is under {limit} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
