"""Event-source pollers with Lambda's semantics, for the mappings the template declares.

SQS: receive up to BatchSize messages (gathering for at most MaximumBatchingWindowInSeconds), invoke the
function once per batch, delete what succeeded. With ReportBatchItemFailures only the reported messages stay;
otherwise an error keeps the whole batch. Kept messages are received again, and SQS's redrive policy moves a
message to the DLQ after maxReceiveCount receives. The one liberty taken: a failed message is made visible at
once instead of after the queue's visibility timeout, so retries happen in seconds rather than half an hour.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from local_aws.runtime import LocalFunction
from stock_pipeline.domain.event_filters import matches_any

log = logging.getLogger("local_aws.pollers")


@dataclass
class SqsPoller:
    sqs: Any
    queue_url: str
    queue_arn: str
    function: LocalFunction
    batch_size: int = 10
    report_batch_item_failures: bool = False
    region: str = "us-east-1"
    batches: int = 0
    failed_messages: int = 0
    errors: list[str] = field(default_factory=list)

    def poll_once(self) -> int:
        """One receive-invoke-settle round; returns how many messages were handed to the function."""
        messages: list[dict[str, Any]] = []
        while len(messages) < self.batch_size:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            received = response.get("Messages", [])
            if not received:
                break
            messages.extend(received)
        if not messages:
            return 0
        self.batches += 1
        failed = self._invoke(messages, _twins(messages))
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.failed_messages += len(failed)
        return len(messages)

    def _invoke(self, messages: list[dict[str, Any]], twins: list[dict[str, Any]] | None = None) -> set[str]:
        """Invoke with the batch (and, at the same time, another container with the twins: messages SQS handed
        to a second poller too); the batch's own answer settles it."""
        everything = {m["MessageId"] for m in messages}
        try:
            if twins:
                response, twin = self.function.invoke_concurrently([self.event(messages), self.event(twins)])
                if isinstance(twin, Exception):
                    log.warning("the concurrent twin invocation of %s failed: %s", self.function.name, twin)
                if isinstance(response, Exception):
                    raise response
            else:
                response = self.function.invoke(self.event(messages))
        except Exception as exc:  # the function's error: the whole batch is retried
            log.warning("function %s failed on a batch of %d: %s", self.function.name, len(messages), exc)
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return everything
        if not self.report_batch_item_failures:
            return set()
        try:
            failures = (response or {}).get("batchItemFailures", [])
            reported = {item["itemIdentifier"] for item in failures}
        except (AttributeError, KeyError, TypeError):
            return everything  # a malformed response fails the batch, as Lambda does
        if not reported <= everything or any(not x for x in reported):
            return everything
        return reported

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The event Lambda builds for an SQS batch."""
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": _lambda_message_attributes(m.get("MessageAttributes", {})),
                    "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),  # noqa: S324
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": self.region,
                }
                for m in messages
            ]
        }

    def backlog(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def _twins(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages an injected fault also delivers to a second, concurrent invocation (local_aws.faults)."""
    from local_aws import faults

    injector = faults.ACTIVE
    if injector is None:
        return []
    return [m for m in messages if injector.duplicated(m["Body"])]


def _lambda_message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    converted = {}
    for name, value in attributes.items():
        converted[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
    return json.loads(json.dumps(converted, default=str))


@dataclass
class DynamoDbStreamPoller:
    """DynamoDB stream -> function, as Lambda's stream mapping does it.

    Records are read in order from TRIM_HORIZON or LATEST; FilterCriteria drop records before the function
    sees them; a batch that fails is retried from the failing record (ReportBatchItemFailures) or bisected
    (BisectBatchOnFunctionError); after MaximumRetryAttempts the batch is described to the OnFailure
    destination and skipped, as Lambda does, so one poison record does not stop the shard forever.
    """

    streams: Any
    sqs: Any
    stream_arn: str
    function: LocalFunction
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    filters: list[dict[str, Any]] = field(default_factory=list)
    on_failure_queue_url: str | None = None
    region: str = "us-east-1"
    batches: int = 0
    failed_batches: int = 0
    errors: list[str] = field(default_factory=list)
    _iterators: dict[str, str] = field(default_factory=dict)

    def poll_once(self) -> int:
        """Read on from each shard's checkpoint (the last sequence number handed on), as Lambda checkpoints.

        A fresh iterator per poll also follows moto replacing a table's stream shard on a cancelled transaction.
        """
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        delivered = 0
        for shard in shards:
            shard_id = shard["ShardId"]
            checkpoint = self._iterators.get(shard_id)
            position = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": checkpoint}
                if checkpoint
                else {"ShardIteratorType": self.starting_position}
            )
            iterator = self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **position)
            # Lambda reads a shard in GetRecords calls of up to 1,000 records and filters them before it batches
            # (records the filter drops never reach the function, nor count towards a batch).
            response = self.streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=GET_RECORDS_LIMIT)
            raw = response.get("Records", [])
            if not raw:
                continue
            records = [self._lambda_record(r) for r in raw if matches_any(self.filters, self._shaped(r))]
            for start in range(0, len(records), self.batch_size):
                self.batches += 1
                self._deliver(records[start : start + self.batch_size])
            self._iterators[shard_id] = raw[-1]["dynamodb"]["SequenceNumber"]
            delivered += len(raw)
        return delivered

    def backlog(self) -> int:
        return 0  # read positions advance on every poll; drain() polls until a round moves nothing

    def _shaped(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record's fields as the function sees them, without copying its images (for filtering)."""
        return {"eventSource": "aws:dynamodb", "awsRegion": self.region, **record, "eventSourceARN": self.stream_arn}

    def _lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        record = json.loads(json.dumps(record, default=_epoch_seconds))
        record.setdefault("eventSource", "aws:dynamodb")
        record.setdefault("awsRegion", self.region)
        record["eventSourceARN"] = self.stream_arn
        return record

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        attempts = 0
        while records:
            failed_index = self._invoke(records)
            if failed_index is None:
                return
            attempts += 1
            if failed_index == -1 and self.bisect_on_error and len(records) > 1:
                middle = len(records) // 2
                self._deliver(records[:middle])
                self._deliver(records[middle:])
                return
            if failed_index > 0:
                records = records[failed_index:]  # what came before the failing record is done
            if 0 <= self.maximum_retry_attempts < attempts:
                self._give_up(records, attempts)
                return

    def _invoke(self, records: list[dict[str, Any]]) -> int | None:
        """None: success; -1: function error; n >= 0: retry from record n."""
        try:
            response = self.function.invoke({"Records": records})
        except Exception as exc:
            log.warning("function %s failed on %d stream records: %s", self.function.name, len(records), exc)
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return -1
        if not self.report_batch_item_failures:
            return None
        failures = (response or {}).get("batchItemFailures") or []
        if not failures:
            return None
        sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
        positions = [sequences.index(f["itemIdentifier"]) for f in failures if f.get("itemIdentifier") in sequences]
        return min(positions) if positions else 0

    def _give_up(self, records: list[dict[str, Any]], attempts: int) -> None:
        self.failed_batches += 1
        if self.on_failure_queue_url:
            self.sqs.send_message(
                QueueUrl=self.on_failure_queue_url,
                MessageBody=json.dumps(
                    {
                        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": attempts},
                        "DDBStreamBatchInfo": {
                            "shardId": next(iter(self._iterators), ""),
                            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                            "batchSize": len(records),
                            "streamArn": self.stream_arn,
                        },
                    }
                ),
            )


GET_RECORDS_LIMIT = 1000  # DynamoDB Streams' most records per GetRecords


def _epoch_seconds(value: Any) -> Any:
    """Lambda's stream records carry ApproximateCreationDateTime as epoch seconds (a number)."""
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
        return float(int(moment.timestamp()))
    return str(value)


class InProcessStreams:
    """DynamoDB Streams read straight from moto's backend, with the boto3 client's method shapes.

    Lambda's poller reads and filters a stream inside AWS; the local stand-in for it runs in the moto server's
    process, so it reads there too instead of sending every record through HTTP and botocore's parser (11 of the
    17 seconds a 9,000-record object took end to end, for records the filter then drops). Records are moto's own;
    the poller copies only the ones it hands to the function.
    """

    def __init__(self, account_id: str, region: str) -> None:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        self._backend = dynamodbstreams_backends[account_id][region]

    def describe_stream(self, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": self._backend.describe_stream(StreamArn)}

    def get_shard_iterator(
        self,
        StreamArn: str,
        ShardId: str,
        ShardIteratorType: str,
        SequenceNumber: str | None = None,
    ) -> dict[str, Any]:
        sequence = int(SequenceNumber) if SequenceNumber is not None else None
        iterator = self._backend.get_shard_iterator(StreamArn, ShardId, ShardIteratorType, sequence)
        return {"ShardIterator": iterator.arn}

    def get_records(self, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:
        return self._backend.get_records(ShardIterator, Limit)
