"""Event-source pollers with Lambda's semantics, for the mappings the template declares.

SQS: receive up to BatchSize messages (gathering for at most MaximumBatchingWindowInSeconds), invoke the
function once per batch, delete what succeeded. With ReportBatchItemFailures only the reported messages stay;
otherwise an error keeps the whole batch. Kept messages are received again, and SQS's redrive policy moves a
message to the DLQ after maxReceiveCount receives. The one liberty taken: a failed message is made visible at
once instead of after the queue's visibility timeout, so retries happen in seconds rather than half an hour.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from local_aws.runtime import LocalFunction

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
        failed = self._invoke(messages)
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.failed_messages += len(failed)
        return len(messages)

    def _invoke(self, messages: list[dict[str, Any]]) -> set[str]:
        everything = {m["MessageId"] for m in messages}
        try:
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
