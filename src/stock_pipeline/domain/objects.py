"""Identity of an S3 object as the pipeline sees it, and the names derived from it."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass

from stock_pipeline.domain.errors import UnreadableObjectError

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class ObjectRef:
    bucket: str
    key: str
    etag: str
    version_id: str | None = None
    size: int | None = None
    event_time: str | None = None  # when S3 received it (ISO-8601), from the notification

    @property
    def stem(self) -> str:
        """Stable name for everything written from this object: a re-delivery overwrites, never duplicates."""
        return hashlib.sha256(f"{self.key}\0{self.etag}".encode()).hexdigest()[:24]


def decompress(body: bytes) -> bytes:
    """Firehose objects are GZIP when compression is on; plain otherwise. Decide by content, not by name."""
    if body[:2] != GZIP_MAGIC:
        return body
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableObjectError(f"corrupt gzip stream: {exc}") from exc


def is_parquet(body: bytes) -> bool:
    return len(body) >= 8 and body[:4] == PARQUET_MAGIC and body[-4:] == PARQUET_MAGIC
