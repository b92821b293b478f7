"""Lambda's event filtering (FilterCriteria), the part of EventBridge's pattern syntax the template's mappings use:
exact values, `prefix` and `exists` (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html).
The local stack's stream poller filters with it as Lambda's poller does, and `stockctl redrive` with it when it
replays a failed batch, so a function is given again only the records its mapping lets through."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any


def matches_any(filters: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Lambda event filtering (the subset of EventBridge patterns: values, prefix, exists)."""
    if not filters:
        return True
    return any(_matches(_pattern(f["Pattern"]), record) for f in filters)


@lru_cache(maxsize=64)
def _pattern(text: str) -> Any:
    """A mapping's pattern, parsed once: the poller filters every stream record with the same few patterns."""
    return json.loads(text)


def _matches(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(_matches(p, value.get(k, _MISSING)) for k, p in pattern.items())
    if isinstance(pattern, list):
        return any(_matches_one(p, value) for p in pattern)
    return pattern == value


def _matches_one(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        if "exists" in rule:
            return (value is not _MISSING) == bool(rule["exists"])
        raise NotImplementedError(f"filter rule {rule}: only values, prefix and exists are read here")
    return value is not _MISSING and value == rule


_MISSING = object()
