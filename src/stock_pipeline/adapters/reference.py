"""Reference data in the bucket: the product table (one Parquet object; the supplier profiles are
adapters.profiles).

It is cached per container by ETag: a warm function asks S3 "changed since?" and gets a 304 without a body.
"""

from __future__ import annotations

import io
import threading

import pyarrow as pa
import pyarrow.parquet as pq

from stock_pipeline.adapters.lake import PARQUET_CONTENT_TYPE, encode
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.domain.errors import ObjectGoneError
from stock_pipeline.domain.products import SCHEMA, NoProductTableError, ProductMapping, mapping_from_table

PRODUCT_DATASET = "product"
PRODUCT_FILE = "product.snappy.parquet"


class ProductCatalog:
    def __init__(self, store: ObjectStore, bucket: str, lake_prefix: str = "curated/") -> None:
        self._store = store
        self.bucket = bucket
        self.key = f"{lake_prefix}{PRODUCT_DATASET}/{PRODUCT_FILE}"
        self._cached: ProductMapping | None = None
        self._lock = threading.Lock()

    def current(self) -> ProductMapping:
        """The table as it is now, read in one GET: either the old or the new version, never a mix."""
        with self._lock:
            cached = self._cached
            try:
                fresh = self._store.read_if_changed(self.bucket, self.key, cached.version if cached else None)
            except ObjectGoneError as exc:
                raise NoProductTableError(
                    f"no product table yet: upload one under reference/product/ (s3://{self.bucket}/{self.key})"
                ) from exc
            if fresh is not None:
                body, etag = fresh
                self._cached = mapping_from_table(pq.read_table(io.BytesIO(body)), etag)
            assert self._cached is not None
            return self._cached

    def replace(self, table: pa.Table, *, order: str, source_key: str) -> bool:
        """One PUT of the whole table; an upload older than the current table's source does not replace it."""
        n = table.num_rows
        full = table.select(SCHEMA.names).append_column("source_key", pa.array([source_key] * n, pa.string()))
        return self._store.put_if_newer(self.bucket, self.key, encode(full), PARQUET_CONTENT_TYPE, order=order)
