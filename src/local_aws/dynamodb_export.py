"""DynamoDB's export to S3 on the local stack, in the layout DynamoDB writes: what a reader of the export (Athena,
the reconciliation) finds in AWS, it finds here.

moto exports a table as one file under a folder named by another id than the export's, writes no manifest and
names the export `.../import/<id>`. DynamoDB (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
S3DataExport.Output.html) writes, under `<prefix>/AWSDynamoDB/<export id>/`: an empty `_started`, the items as
gzipped DynamoDB JSON lines `{"Item": {...}}` in `data/<name>.json.gz` (at least one file per partition: here one
per 10,000 items), `manifest-files.json` (a JSON line per data file: itemCount, md5Checksum, etag,
dataFileS3Key), `manifest-summary.json` (exportArn, times, itemCount, outputFormat, manifestFilesS3Key, ...) and
their `.checksum` files. The export's ARN is `<table ARN>/export/<export id>`. The table must have point-in-time
recovery on (moto checks it: PointInTimeRecoveryUnavailableException), and the export writes to S3 as its caller
("the IAM principal that requests the export must have s3:PutObject on the bucket",
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport_Requesting.html), checked here by
the local IAM enforcer. Exports finish at once here (in AWS: minutes, whatever the size).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

ITEMS_PER_FILE = 10_000


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table_export import TableExport

    if getattr(TableExport, "_local_layout", False):
        return
    original_init = TableExport.__init__
    original_export = DynamoDBBackend.export_table

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.export_id = f"{int(time.time() * 1000):014d}-{uuid.uuid4().hex[:8]}"
        self.arn = f"{self.table.table_arn}/export/{self.export_id}"
        self.start_time = datetime.now(UTC)

    def export_table(self: Any, s3_bucket: str, s3_prefix: str, *args: Any, **kwargs: Any) -> Any:
        _require_put(self.region_name, s3_bucket, s3_prefix)
        return original_export(self, s3_bucket, s3_prefix, *args, **kwargs)

    TableExport.__init__ = init  # type: ignore[method-assign]
    TableExport._backup_to_s3_file = _write  # type: ignore[method-assign]
    TableExport.start = TableExport.run  # type: ignore[method-assign]  # done when the call returns
    DynamoDBBackend.export_table = export_table  # type: ignore[method-assign]
    TableExport._local_layout = True  # type: ignore[attr-defined]


def _require_put(region: str, bucket: str, prefix: str) -> None:
    from local_aws.iam.enforcer import CALLER, ENFORCEMENT
    from local_aws.iam.model import Need

    principal = getattr(CALLER, "principal", None)
    if principal is None or not ENFORCEMENT.enabled or principal.kind == "admin":
        return
    key = f"{prefix.strip('/')}/AWSDynamoDB/" if prefix else "AWSDynamoDB/"
    ENFORCEMENT.require(principal, [Need("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}_started")], region)


def _write(self: Any, s3_backend: Any) -> None:
    """The export's objects, as DynamoDB lays them out."""
    base = (
        f"{self.s3_prefix.strip('/')}/AWSDynamoDB/{self.export_id}"
        if self.s3_prefix
        else (f"AWSDynamoDB/{self.export_id}")
    )
    s3_backend.put_object(self.s3_bucket, f"{base}/_started", b"")
    manifest_lines, lines, count = [], [], 0

    def flush() -> None:
        body = gzip.compress(("\n".join(lines) + "\n").encode() if lines else b"")
        key = f"{base}/data/{uuid.uuid4().hex[:26]}.json.gz"
        stored = s3_backend.put_object(self.s3_bucket, key, body)
        manifest_lines.append(
            json.dumps(
                {
                    "itemCount": len(lines),
                    "md5Checksum": hashlib.md5(body).hexdigest(),  # noqa: S324 (S3's checksum, not a secret)
                    "etag": getattr(stored, "etag", "").strip('"'),
                    "dataFileS3Key": key,
                }
            )
        )
        lines.clear()

    for item in self.table.all_items():
        document = item.to_json(root_attr_name="Item")
        lines.append(json.dumps(document, separators=(",", ":")))
        self.processed_bytes += len(lines[-1])
        count += 1
        if len(lines) >= ITEMS_PER_FILE:
            flush()
    if lines or not manifest_lines:
        flush()
    self.item_count = count
    files = ("\n".join(manifest_lines) + "\n").encode()
    s3_backend.put_object(self.s3_bucket, f"{base}/manifest-files.json", files)
    s3_backend.put_object(self.s3_bucket, f"{base}/manifest-files.checksum", hashlib.md5(files).hexdigest().encode())  # noqa: S324
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    summary = {
        "version": "2020-06-30",
        "exportArn": self.arn,
        "startTime": self.start_time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "endTime": now,
        "tableArn": self.table.table_arn,
        "tableId": getattr(self.table, "table_id", ""),
        "exportTime": now,
        "s3Bucket": self.s3_bucket,
        "s3Prefix": self.s3_prefix,
        "s3SseAlgorithm": "AES256",
        "s3SseKmsKeyId": None,
        "manifestFilesS3Key": f"{base}/manifest-files.json",
        "billedSizeBytes": self.processed_bytes,
        "itemCount": count,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": "FULL_EXPORT",
    }
    body = json.dumps(summary).encode()
    s3_backend.put_object(self.s3_bucket, f"{base}/manifest-summary.json", body)
    s3_backend.put_object(self.s3_bucket, f"{base}/manifest-summary.checksum", hashlib.md5(body).hexdigest().encode())  # noqa: S324
    self.status = "COMPLETED"
