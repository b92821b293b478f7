"""S3 objects: read what an event announced, write derived files. AWS errors become domain errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

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

    def write_once(self, bucket: str, key: str, body: bytes, content_type: str) -> bool:
        """Create the object unless it exists (If-None-Match: *): False when an earlier write is kept."""
        try:
            self._s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "ConditionalRequestConflict"}:
                return False
            raise
        return True

    def presigned_post(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str,
        max_bytes: int,
        expires_s: int = 300,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A browser upload to exactly `key`, of this content type, 1 byte to max_bytes, with exactly this user
        metadata (each field an `eq` condition of the signed policy): S3 refuses anything else."""
        fields = {"Content-Type": content_type}
        fields.update({f"x-amz-meta-{name}": quote(value, safe="@._-+") for name, value in (metadata or {}).items()})
        return self._s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields=fields,
            Conditions=[*({name: value} for name, value in fields.items()), ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_s,
        )

    def uploaded_by(self, ref: ObjectRef) -> str | None:
        """The uploaded-by metadata a console upload carries (None for other objects, or one gone since)."""
        kwargs: dict[str, str] = {"Bucket": ref.bucket, "Key": ref.key}
        if ref.version_id and ref.version_id != "null":
            kwargs["VersionId"] = ref.version_id
        try:
            value = self._s3.head_object(**kwargs).get("Metadata", {}).get("uploaded-by")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "NoSuchVersion", "404"}:
                return None
            raise
        return unquote(value) if value else None

    def presigned_get(self, bucket: str, key: str, *, download_name: str, expires_s: int = 300) -> str:
        return self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{download_name}"',
            },
            ExpiresIn=expires_s,
        )

    def list_objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        """Key, ETag (unquoted), size and time of each object under the prefix."""
        found = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(
                    {
                        "key": item["Key"],
                        "etag": item["ETag"].strip('"'),
                        "size": item["Size"],
                        "last_modified": item["LastModified"],
                    }
                )
        return found

    def read_object(self, bucket: str, key: str) -> bytes | None:
        """A derived file of the lake, or None when there is none yet."""
        try:
            return self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise

    def list_keys(self, bucket: str, prefix: str, *, start_after: str | None = None) -> list[str]:
        """Keys under `prefix` (after `start_after`: S3 lists in key order, so a date partition skips the older)."""
        keys: list[str] = []
        extra = {"StartAfter": start_after} if start_after else {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, **extra):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def put_if_newer(self, bucket: str, key: str, body: bytes, content_type: str, *, order: str) -> bool:
        """Replace the object unless it already holds something newer (its `order` metadata sorts after ours).

        A compare-and-swap on the ETag (If-Match / If-None-Match) closes the race between two writers: the loser
        re-reads and decides again. An equal order is rewritten, so a retry of the same input is harmless.
        """
        for _ in range(10):
            try:
                head = self._s3.head_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
                    raise
                head = None
            if head is not None and head.get("Metadata", {}).get(ORDER_METADATA, "") > order:
                return False
            condition = {"IfMatch": head["ETag"]} if head is not None else {"IfNoneMatch": "*"}
            try:
                self._s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentType=content_type,
                    Metadata={ORDER_METADATA: order},
                    **condition,
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "ConditionalRequestConflict"}:
                    continue  # another writer got there first: look again
                raise
            return True
        raise RuntimeError(f"s3://{bucket}/{key}: could not replace the object after 10 concurrent attempts")

    def read_if_changed(self, bucket: str, key: str, etag: str | None) -> tuple[bytes, str] | None:
        """(body, ETag) of the current object, or None when it is still `etag` (HTTP 304, no body sent).

        Raises ObjectGoneError when there is no such object.
        """
        kwargs: dict[str, str] = {"Bucket": bucket, "Key": key}
        if etag:
            kwargs["IfNoneMatch"] = etag
        try:
            response = self._s3.get_object(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"304", "NotModified"}:
                return None
            if code in {"NoSuchKey", "404"}:
                raise ObjectGoneError(f"s3://{bucket}/{key} does not exist") from exc
            raise
        return response["Body"].read(), response["ETag"]


ORDER_METADATA = "order"
