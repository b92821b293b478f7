"""Restock thresholds files: `{"ThresholdList": [{"ItemId": "a123v5", "RestockIfBelow": 25}, ...]}`."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from stock_pipeline.domain.errors import UnreadableObjectError
from stock_pipeline.domain.objects import decompress
from stock_pipeline.domain.rejections import Rejection

KEY_PATTERN = re.compile(r"^restock_thresholds/(\d{4})/(\d{2})/(\d{2})/(?i:restock_thresholds\.json)$")


@dataclass(frozen=True, slots=True)
class Threshold:
    item_id: str
    restock_if_below: int


@dataclass(frozen=True, slots=True)
class ThresholdChange:
    item_id: str
    old: int | None  # None: the item used the default until now
    new: int


def is_thresholds_key(key: str) -> bool:
    return bool(KEY_PATTERN.match(key))


def effective_from(key: str) -> str:
    """The day a thresholds file speaks for, from its key; a later day's file wins over an earlier one."""
    match = KEY_PATTERN.match(key)
    return "-".join(match.groups()) if match else "0000-00-00"


def parse_thresholds(body: bytes) -> tuple[list[Threshold], list[Rejection]]:
    """Each malformed entry is rejected with its index and reason; the others apply. Later duplicates win."""
    try:
        document = json.loads(decompress(body, "thresholds") or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UnreadableObjectError(f"thresholds file is not JSON: {exc}") from exc
    entries = document.get("ThresholdList") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise UnreadableObjectError('thresholds file has no "ThresholdList" array')
    accepted: dict[str, tuple[int, Threshold]] = {}
    rejections: list[Rejection] = []
    for index, entry in enumerate(entries):
        problem = _problem(entry)
        if problem:
            rejections.append(Rejection(index, f"ThresholdList[{index}]: {problem}", json.dumps(entry)[:500]))
            continue
        item_id = unicodedata.normalize("NFC", entry["ItemId"].strip())  # as inventory files store it
        if item_id in accepted:
            earlier = accepted[item_id][0]
            rejections.append(
                Rejection(earlier, f"ThresholdList[{earlier}]: ItemId {item_id!r} repeated at [{index}], which wins")
            )
        accepted[item_id] = (index, Threshold(item_id, entry["RestockIfBelow"]))
    return [t for _, t in accepted.values()], sorted(rejections, key=lambda r: r.line)


def _problem(entry: object) -> str | None:
    if not isinstance(entry, dict):
        return "expected an object with ItemId and RestockIfBelow"
    item_id, limit = entry.get("ItemId"), entry.get("RestockIfBelow")
    if not isinstance(item_id, str) or not item_id.strip():
        return "ItemId must be a non-empty string"
    if isinstance(limit, bool) or not isinstance(limit, int):
        return f"RestockIfBelow must be an integer, got {json.dumps(limit)}"
    if limit < 0:
        return f"RestockIfBelow must not be negative, got {limit}"
    return None
