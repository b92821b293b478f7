"""The supplier profiles: those bundled with the code, overridden per supplier by a JSON object in the bucket.
Apart from the product table (adapters.reference): what reads only the profiles (the console) imports no Arrow."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from importlib import resources

from stock_pipeline.adapters.s3 import ObjectStore
from stock_pipeline.domain.errors import ObjectGoneError
from stock_pipeline.domain.objects import ObjectRef
from stock_pipeline.domain.supplier_profiles import SupplierProfile, merge_profiles, parse_profiles

BUNDLED_PROFILES = "supplier_profiles.json"


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
