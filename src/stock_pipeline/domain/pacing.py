"""Write pacing per partition key: a token bucket, so that a large file for one warehouse stays under DynamoDB's
per-partition write limit instead of being throttled there (and, through GSI back-pressure, on every index).

Pure: the clock and the sleep are given, so the bucket is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# DynamoDB serves at most 1,000 write units a second on one partition, on the table and on each index
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html); the ingest keeps
# a warehouse's partition at 80% of it, leaving room for the alert function's and the console's writes.
PARTITION_WRITE_UNITS_PER_SECOND = 800


class Pacer:
    """At most `rate` units a second per key, with a burst of one second's worth: a small file is not slowed."""

    def __init__(
        self,
        rate: float = PARTITION_WRITE_UNITS_PER_SECOND,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock, self._sleep = clock, sleep
        self._tokens: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self.waited_s = 0.0

    def spend(self, key: str, units: float) -> None:
        """Take `units` for `key`, first waiting until the bucket has them (a debt is paid by waiting)."""
        now = self._clock()
        tokens, at = self._tokens.get(key, (self.rate, now))
        tokens = min(self.rate, tokens + (now - at) * self.rate) - units
        if tokens < 0:
            wait = -tokens / self.rate
            self._sleep(wait)
            self.waited_s += wait
            now += wait
            tokens = 0.0
        self._tokens[key] = (tokens, now)
