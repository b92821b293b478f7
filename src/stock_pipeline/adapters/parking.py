"""SQS: a message the ingest function will never be able to process, parked in the ingest dead-letter queue at
once with its reason (instead of five failed receives, each with a traceback, before SQS moves it there)."""

from __future__ import annotations

from typing import Any


class ParkingQueue:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._sqs = sqs_client
        self.queue_url = queue_url

    def park(self, body: str, *, reason: str, message_id: str) -> None:
        self._sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:1000]},
                "sourceMessageId": {"DataType": "String", "StringValue": message_id or "unknown"},
            },
        )
