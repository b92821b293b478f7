"""Kinesis Firehose DirectPut -> S3 with the delivery semantics moto leaves out.

moto stores records at once, one object per call, at a fixed prefix, uncompressed and without delimiters.
Real Firehose buffers (size or interval), evaluates `!{timestamp:...}` prefixes, applies the
AppendDelimiterToRecord processor and compresses. This module gives moto's backend exactly that, driven by
the stream's own configuration (which the local stack takes from template.yaml).
"""

from __future__ import annotations

import gzip
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from moto.firehose.models import FirehoseBackend

_TIMESTAMP_TOKENS = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")]


def evaluate_prefix(prefix: str, when: datetime, error_type: str | None = None) -> str:
    """Firehose custom prefix expressions: `!{timestamp:<java format>}` and `!{firehose:...}`."""

    def timestamp(match: re.Match[str]) -> str:
        fmt = match.group(1)
        for java, strf in _TIMESTAMP_TOKENS:
            fmt = fmt.replace(java, strf)
        return when.strftime(fmt)

    result = re.sub(r"!\{timestamp:([^}]*)\}", timestamp, prefix)
    result = result.replace("!{firehose:error-output-type}", error_type or "processing-failed")
    result = result.replace("!{firehose:random-string}", uuid.uuid4().hex[:11])
    if prefix and "!{timestamp:" not in prefix and "!{" not in prefix:
        result = f"{result}{when:%Y/%m/%d/%H}/"  # Firehose's default time path for a plain prefix
    return result


def _delimiter(destination: dict[str, Any]) -> bytes | None:
    processing = destination.get("ProcessingConfiguration") or {}
    if processing.get("Enabled", False) not in (True, "true", "True"):
        return None
    for processor in processing.get("Processors", []):
        if processor.get("Type") == "AppendDelimiterToRecord":
            value = "\\n"
            for parameter in processor.get("Parameters", []):
                if parameter.get("ParameterName") == "Delimiter":
                    value = parameter.get("ParameterValue", value)
            return value.encode().decode("unicode_escape").encode()
    return None


@dataclass
class _Buffer:
    destination: dict[str, Any]
    version_id: str
    records: list[bytes] = field(default_factory=list)
    size: int = 0
    opened_at: float = 0.0
    opened_utc: datetime | None = None


class LocalFirehose:
    """Buffers records per stream and delivers objects to S3 through a real S3 client (so notifications fire),
    made with the stream's delivery role (`s3_client_for(role ARN)`), as Firehose writes.

    A refused or failed delivery keeps the buffer, as Firehose keeps retrying for up to 24 hours; the error is
    kept in `delivery_errors` (the DeliveryToS3.DataFreshness alarm is what tells it in AWS)."""

    def __init__(self, s3_client_for: Callable[[str], Any], *, clock: Any = time.monotonic) -> None:
        self._s3_for = s3_client_for
        self._clock = clock
        self._lock = threading.RLock()
        self._buffers: dict[str, _Buffer] = {}
        self.delivered: list[str] = []
        self.delivery_errors: list[str] = []
        self.failing = False  # the last delivery attempt was refused

    # Installed as FirehoseBackend.put_s3_records.
    def accept(
        self, stream: str, version_id: str, destination: dict[str, Any], records: list[dict[str, bytes]]
    ) -> list[dict[str, str]]:
        delimiter = _delimiter(destination)
        hints = destination.get("BufferingHints") or {}
        max_bytes = int(hints.get("SizeInMBs", 5)) * 1024 * 1024
        with self._lock:
            buffer = self._buffers.get(stream)
            if buffer is None:
                buffer = self._buffers[stream] = _Buffer(destination, version_id)
            if not buffer.records:
                buffer.opened_at = self._clock()
                buffer.opened_utc = datetime.now(UTC)
            for record in records:
                data = record["Data"] + (delimiter or b"")
                buffer.records.append(data)
                buffer.size += len(data)
            if buffer.size >= max_bytes:
                self._deliver(stream, buffer)
        return [{"RecordId": uuid.uuid4().hex} for _ in records]

    def flush_due(self) -> int:
        """Deliver buffers whose interval has passed; the local stack's timer calls this."""
        delivered = 0
        with self._lock:
            for stream, buffer in self._buffers.items():
                interval = int((buffer.destination.get("BufferingHints") or {}).get("IntervalInSeconds", 300))
                if buffer.records and self._clock() - buffer.opened_at >= interval:
                    self._deliver(stream, buffer)
                    delivered += 1
        return delivered

    def flush_all(self) -> int:
        """Deliver everything now (what a drained pipeline eventually does), so tests never wait on the clock."""
        delivered = 0
        with self._lock:
            for stream, buffer in self._buffers.items():
                if buffer.records:
                    self._deliver(stream, buffer)
                    delivered += 1
        return delivered

    def pending_records(self) -> int:
        with self._lock:
            return sum(len(b.records) for b in self._buffers.values())

    def _deliver(self, stream: str, buffer: _Buffer) -> None:
        destination = buffer.destination
        when = buffer.opened_utc or datetime.now(UTC)
        body = b"".join(buffer.records)
        name = f"{stream}-{buffer.version_id}-{when:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        compression = str(destination.get("CompressionFormat", "UNCOMPRESSED")).upper()
        if compression == "GZIP":
            body, name = gzip.compress(body), f"{name}.gz"
        elif compression not in ("UNCOMPRESSED", ""):
            raise NotImplementedError(f"local Firehose does not emulate {compression} compression")
        key = evaluate_prefix(destination.get("Prefix", ""), when) + name
        bucket = destination["BucketARN"].split(":::")[-1]
        encryption = (destination.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig") or {}
        sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": encryption["AWSKMSKeyARN"]} if encryption else {}
        try:
            self._s3_for(destination["RoleARN"]).put_object(Bucket=bucket, Key=key, Body=body, **sse)
        except ClientError as exc:
            self.failing = True
            self.delivery_errors.append(f"{stream}: s3://{bucket}/{key}: {exc}")
            return
        self.failing = False
        self.delivered.append(key)
        buffer.records, buffer.size = [], 0


_owners: dict[str, LocalFirehose] = {}  # stream name -> the emulator of the stack that created it
_latest: list[LocalFirehose] = []


def claim(stream_name: str, firehose: LocalFirehose) -> None:
    """A stack's stream is delivered by that stack's emulator, whichever stack of this process started last."""
    _owners[stream_name] = firehose


def install(firehose: LocalFirehose) -> None:
    """Route moto's S3 deliveries through the buffered emulator (in-process moto, server or decorator)."""
    _latest[:] = [firehose]

    def put_s3_records(
        self: FirehoseBackend,
        delivery_stream_name: str,
        version_id: str,
        s3_destination: dict[str, Any],
        records: list[dict[str, bytes]],
    ) -> list[dict[str, str]]:
        owner = _owners.get(delivery_stream_name) or _latest[0]
        return owner.accept(delivery_stream_name, version_id, s3_destination, records)

    FirehoseBackend.put_s3_records = put_s3_records  # type: ignore[method-assign,assignment]
