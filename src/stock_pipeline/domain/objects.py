"""Identity of an S3 object as the pipeline sees it, and the names derived from it."""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from dataclasses import dataclass

from stock_pipeline.domain.errors import ObjectTooLargeError, UnreadableObjectError

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# What any one object may expand to in memory (gzip, an xlsx's zip entries, Parquet's uncompressed pages); the
# ingest function sets it from MAX_INFLATED_MB at cold start. A small upload that claims more is refused.
_limits = {"inflated_bytes": 1024 * 1024 * 1024}
# The codecs the AWS SDK for pandas layer's pyarrow is built with (Snappy and zlib); ZSTD, LZ4 or Brotli would
# fail inside the layer even where a local pyarrow reads them.
LAYER_PARQUET_CODECS = frozenset({"SNAPPY", "GZIP", "UNCOMPRESSED"})


# The largest object of each input kind, in MB as stored and (gzip) once inflated. The ingest function (1,769 MB)
# peaks at about 200 MB plus the kind's MB of memory per MB of input, measured by `make bench ARGS="--only
# object-memory"` (docs/benchmarks.md): each limit keeps the peak under 80% of the function's memory. Thresholds
# and counted files are bounded by time as well: one DynamoDB request or more per row (docs/scale.md).
MAX_OBJECT_MB = {
    "inventory": 200,  # 5.6 MB a MB: about 2 million rows
    "stock_updates": 500,  # 2.2 MB a MB of NDJSON; Firehose's own objects are at most 128 MB before GZIP
    "thresholds": 20,  # 28 MB a MB; about 280,000 entries, one UpdateItem each
    "supplier_feed": 40,  # 27 MB a MB of xlsx
    "counted": 2,  # 16 MB a MB; about 80,000 rows, three requests each
    "product_table": 50,  # 23 MB a MB
    "store_listings": 120,  # 9.5 MB a MB
}
KIND_NAMES = {
    "inventory": "an inventory file",
    "stock_updates": "a stock updates object",
    "thresholds": "a thresholds file",
    "supplier_feed": "a supplier feed",
    "counted": "a counted file",
    "product_table": "a product table",
    "store_listings": "a store listings file",
}


def check_object_size(size: int | None, kind: str) -> None:
    """Refuse an object larger than its kind may be, before reading it: ObjectTooLargeError names the size and the
    limit (a size S3 did not give is not checked here; decompression and the parsers bound what they inflate)."""
    limit = MAX_OBJECT_MB[kind]
    if size is not None and size > limit * 1_000_000:
        raise ObjectTooLargeError(
            f"refused before reading: {size / 1_000_000:,.1f} MB, over the {limit:,} MB {KIND_NAMES[kind]} may "
            f"have (the ingest function's memory); split it into files of at most {limit:,} MB"
        )


@dataclass(frozen=True, slots=True)
class ObjectRef:
    bucket: str
    key: str
    etag: str
    version_id: str | None = None
    size: int | None = None
    event_time: str | None = None  # when S3 received it (ISO-8601), from the notification
    # who put it there: the console's signed-in user (the object's uploaded-by metadata, fixed by the presigned
    # POST's policy) or, for an upload straight to S3, the principal the notification names
    uploaded_by: str | None = None

    @property
    def stem(self) -> str:
        """Stable name for everything written from this object: a re-delivery overwrites, never duplicates."""
        return hashlib.sha256(f"{self.key}\0{self.etag}".encode()).hexdigest()[:24]


DIRECT_UPLOAD = "uploaded to S3 directly"


def uploader_name(principal_id: str | None) -> str:
    """Who made an object, for people. The console's uploads carry the signed-in user's name; an upload straight
    to S3 has only the event's userIdentity.principalId: "AWS:<role id>:<session name>" for a role session (its
    session name is the one name the event carries), "AWS:<user id>" for an IAM user, whose name the event does
    not carry (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html)."""
    if not principal_id:
        return DIRECT_UPLOAD
    if not principal_id.startswith("AWS:"):
        return principal_id  # a name already (the console's user)
    parts = principal_id.split(":", 2)
    if len(parts) == 3 and parts[1].startswith("AROA") and parts[2]:
        return f"{parts[2]} (a role session, {DIRECT_UPLOAD})"
    return DIRECT_UPLOAD


def set_inflation_limit(megabytes: int) -> None:
    _limits["inflated_bytes"] = megabytes * 1024 * 1024


def inflation_limit() -> int:
    return _limits["inflated_bytes"]


def decompress(body: bytes, kind: str | None = None) -> bytes:
    """Firehose objects are GZIP when compression is on; plain otherwise. Decide by content, not by name.

    Inflated in steps, so that a small file that expands past the limit (the kind's, else MAX_INFLATED_MB) is
    refused before it fills the memory.
    """
    if body[:2] != GZIP_MAGIC:
        return body
    limit = min(inflation_limit(), MAX_OBJECT_MB[kind] * 1_000_000) if kind else inflation_limit()
    out, data = [], body
    size = 0
    try:
        while data:  # a gzip file may hold several members (concatenated gzip streams)
            inflater = zlib.decompressobj(wbits=31)
            chunk = inflater.decompress(data, limit - size + 1)
            while True:
                size += len(chunk)
                if size > limit:
                    if kind and limit == MAX_OBJECT_MB[kind] * 1_000_000:
                        raise ObjectTooLargeError(
                            f"refused: expands past {MAX_OBJECT_MB[kind]:,} MB when decompressed, the most "
                            f"{KIND_NAMES[kind]} may have (the ingest function's memory)"
                        )
                    raise UnreadableObjectError(
                        f"refused: expands past {limit // (1024 * 1024):,} MiB (MAX_INFLATED_MB) when decompressed"
                    )
                out.append(chunk)
                if not inflater.unconsumed_tail:
                    break
                chunk = inflater.decompress(inflater.unconsumed_tail, limit - size + 1)
            if not inflater.eof:
                raise UnreadableObjectError("corrupt gzip stream: truncated")
            data = inflater.unused_data.lstrip(b"\x00")
            if data and data[:2] != GZIP_MAGIC:
                break  # trailing garbage after the last member, as gzip itself ignores
    except zlib.error as exc:
        raise UnreadableObjectError(f"corrupt gzip stream: {exc}") from exc
    return b"".join(out)


def check_zip_size(data: bytes, what: str) -> None:
    """An xlsx is a zip: refuse one whose entries expand past the limit before a reader inflates them."""
    if data[:4] != ZIP_MAGIC:
        return
    try:
        declared = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError):
        return  # the workbook reader says what is wrong with it
    if declared > inflation_limit():
        raise UnreadableObjectError(
            f"{what}: refused: its parts expand to {declared / (1024 * 1024):,.0f} MiB, past the "
            f"{inflation_limit() // (1024 * 1024):,} MiB limit (MAX_INFLATED_MB)"
        )


def check_parquet(data: bytes, what: str) -> None:
    """Before reading: the codecs are ones the layer's pyarrow has, and the pages do not expand past the limit."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    except (pa.ArrowInvalid, OSError) as exc:
        raise UnreadableObjectError(f"{what}: unreadable Parquet: {exc}") from exc
    codecs, uncompressed = set(), 0
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        # encoded size, or 8 bytes a value once decoded (dictionary and run-length pages decode much larger)
        uncompressed += max(group.total_byte_size, group.num_rows * group.num_columns * 8)
        codecs.update(group.column(c).compression for c in range(group.num_columns))
    unsupported = sorted(codecs - LAYER_PARQUET_CODECS)
    if unsupported:
        raise UnreadableObjectError(
            f"{what}: Parquet compressed with {', '.join(unsupported)}, which the Lambda layer's pyarrow cannot "
            "read; write it with SNAPPY, GZIP or no compression"
        )
    if uncompressed > inflation_limit():
        raise UnreadableObjectError(
            f"{what}: refused: its pages expand to {uncompressed / (1024 * 1024):,.0f} MiB, past the "
            f"{inflation_limit() // (1024 * 1024):,} MiB limit (MAX_INFLATED_MB)"
        )


def is_parquet(body: bytes) -> bool:
    return len(body) >= 8 and body[:4] == PARQUET_MAGIC and body[-4:] == PARQUET_MAGIC
