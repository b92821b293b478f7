"""SNS: restock alerts published in batches of ten, with attributes subscribers can filter on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stock_pipeline.domain.alerts import RestockAlert, message, subject


class AlertPublisher:
    def __init__(self, sns_client: Any, topic_arn: str, *, immediate: bool = True) -> None:
        self._sns = sns_client
        self.topic_arn = topic_arn
        # AlertDelivery=digest: crossings are still claimed (once per crossing) but e-mailed by the daily digest
        self.immediate = immediate

    def publish(self, alerts: list[RestockAlert]) -> list[str]:
        """PublishBatch in tens; returns the alert ids SNS did not accept (the caller retries them)."""
        failed: list[str] = []
        if not self.immediate:
            return failed
        for start in range(0, len(alerts), 10):
            batch = alerts[start : start + 10]
            entries = [
                {
                    "Id": f"a{n}",
                    "Subject": subject(alert),
                    "Message": message(alert),
                    "MessageAttributes": {
                        "warehouse": {"DataType": "String", "StringValue": alert.warehouse},
                        "itemId": {"DataType": "String", "StringValue": alert.item_id},
                        "kind": {"DataType": "String", "StringValue": "restock"},
                    },
                }
                for n, alert in enumerate(batch)
            ]
            response = self._sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=entries)
            failed.extend(batch[int(f["Id"][1:])].alert_id for f in response.get("Failed", []))
        return failed


class NoticePublisher:
    """Completion notices: one message per file, attributes for subscription filter policies."""

    def __init__(self, sns_client: Any, topic_arn: str) -> None:
        self._sns = sns_client
        self.topic_arn = topic_arn

    def publish(self, subject: str, message: str, attributes: Mapping[str, str]) -> str:
        response = self._sns.publish(
            TopicArn=self.topic_arn,
            Subject=subject,
            Message=message,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
        return response["MessageId"]
