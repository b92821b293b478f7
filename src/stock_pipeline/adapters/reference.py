"""Reference data in the bucket: the product table (one Parquet object) and the supplier profile override.

Both are cached per container by ETag: a warm function asks S3 "changed since?" and gets a 304 without a body.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from importlib import resources

import pyarrow as pa
import pyarrow.parquet as pq

from stock_pipeline.adapters.lake import PARQUET_CONTENT_TYPE, encode
from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.domain.errors import ObjectGoneError
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.products import SCHEMA, NoProductTableError, ProductMapping, mapping_from_table
from stock_pipeline.domain.supplier_profiles import SupplierProfile, merge_profiles, parse_profiles

PRODUCT_DATASET = "product"
PRODUCT_FILE = "product.snappy.parquet"
BUNDLED_PROFILES = "supplier_profiles.json"


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


class ProfileStore:
    """The profiles bundled with the code, overridden per supplier by a JSON object in the bucket (if any)."""

    def __init__(self, store: ObjectStore, bucket: str, override_key: str) -> None:
        self._store = store
        self.bucket = bucket
        self.override_key = override_key
        self._bundled = bundled_profiles()
        self._cached: tuple[str, Mapping[str, SupplierProfile]] | None = None
        self._lock = threading.Lock()

    def profiles(self) -> Mapping[str, SupplierProfile]:
        """Raises ProfileError when the override is invalid: better no feed than a feed read the wrong way.

        The override is looked up by listing its key, not by reading it: most buckets have none, and S3 tells a
        missing key from a refused read only to a role that may list the whole bucket (the console's may list
        only the input prefixes and this key)."""
        if not self.override_key:
            return self._bundled
        with self._lock:
            listed = [
                o for o in self._store.list_objects(self.bucket, self.override_key) if o["key"] == self.override_key
            ]
            if not listed:
                self._cached = None
                return self._bundled
            if self._cached is None or self._cached[0] != listed[0]["etag"]:
                try:
                    body = self._store.read(ObjectRef(self.bucket, self.override_key, listed[0]["etag"]))
                except ObjectGoneError:  # deleted since it was listed
                    self._cached = None
                    return self._bundled
                override = parse_profiles(body, source=f"s3://{self.bucket}/{self.override_key}")
                self._cached = (listed[0]["etag"], merge_profiles(self._bundled, override))
            return self._cached[1]


def bundled_profiles() -> dict[str, SupplierProfile]:
    text = resources.files("stock_pipeline").joinpath(BUNDLED_PROFILES).read_text(encoding="utf-8")
    return parse_profiles(text, source=f"stock_pipeline/{BUNDLED_PROFILES}")
