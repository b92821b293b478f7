"""S3 objects: read what an event announced, write derived files. AWS errors become domain errors."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from stock_pipeline.domain.errors import ObjectGoneError
from stock_pipeline.domain.objects import ObjectRef


class ObjectStore:
    def __init__(self, s3_client: Any) -> None:
        self._s3 = s3_client

    def read(self, ref: ObjectRef) -> bytes:
        """Read exactly the version the event announced, when the bucket is versioned."""
        kwargs: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id and ref.version_id != "null":
            kwargs["VersionId"] = ref.version_id
        try:
            return self._s3.get_object(**kwargs)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "NoSuchVersion", "404"}:
                raise ObjectGoneError(f"s3://{ref.bucket}/{ref.key} no longer exists") from exc
            raise

    def write(self, bucket: str, key: str, body: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
