"""Rejected rows: where (source, line) and why, written next to the lake as JSON lines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str
    record: str | None = None


def rejections_to_jsonl(rejections: Iterable[Rejection], *, source_key: str, source_etag: str) -> bytes:
    """One JSON object per rejected row, so Athena or `jq` can read the file as it is."""
    out = [
        json.dumps(
            {
                "source_key": source_key,
                "source_etag": source_etag,
                "line": r.line,
                "reason": r.reason,
                "record": r.record,
            },
            ensure_ascii=False,
        )
        for r in rejections
    ]
    return ("\n".join(out) + "\n").encode() if out else b""
